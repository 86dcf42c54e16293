"""A real browser for the pages' tests: Playwright driving Debian's Chromium, which
scripts/provision.sh installs (`executable_path`; `playwright install` and its downloaded
browsers are never used). Screenshots go to the test artifacts directory: S2I_DEV_ARTIFACTS,
else test-artifacts/ in the repository (git ignores it); README's pictures are copied from
there (docs/images/)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from playwright.sync_api import Browser, Page, sync_playwright

CHROMIUM = Path("/usr/bin/chromium")
ROOT = Path(__file__).resolve().parents[2]
VIEWPORT = {"width": 1280, "height": 800}


def artifacts_dir() -> Path:
    path = Path(os.environ.get("S2I_DEV_ARTIFACTS") or ROOT / "test-artifacts") / "screenshots"
    path.mkdir(parents=True, exist_ok=True)
    return path


@contextmanager
def chromium() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        raise RuntimeError(f"{CHROMIUM} is missing: run scripts/provision.sh (its browser step)")
    with sync_playwright() as playwright:
        # As root (the dev machine, CI containers) Chromium runs only without its sandbox,
        # which Playwright passes unless chromium_sandbox is set.
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM))
        try:
            yield browser
        finally:
            browser.close()


@contextmanager
def open_page(browser: Browser, *, javascript: bool = True) -> Iterator[Page]:
    context = browser.new_context(viewport=VIEWPORT, java_script_enabled=javascript)  # type: ignore[arg-type]
    page = context.new_page()
    try:
        yield page
    finally:
        context.close()  # its event streams end with it, before the bot is stopped


def screenshot(page: Page, name: str, *, top: bool = False, javascript: bool = True) -> Path:
    """The window as the user sees it; `top`: scrolled to the page's top first (its summary).
    `javascript`: whether the page runs scripts (a page that does not never calls back)."""
    path = artifacts_dir() / f"{name}.png"
    if top:
        page.evaluate("window.scrollTo(0, 0)")
    if javascript:
        # Two animation frames: the scroll and the page's last update painted first.
        page.evaluate("() => new Promise(r => requestAnimationFrame(() => "
                      "requestAnimationFrame(r)))")  # fmt: skip
    page.screenshot(path=str(path))
    return path


def line_ids(page: Page) -> list[int]:
    """The numbers of the log lines the page shows, in order."""
    ids: list[str] = page.eval_on_selector_all("#log .line", "lines => lines.map(l => l.id)")
    return [int(i.removeprefix("L")) for i in ids]


def in_viewport(page: Page, selector: str) -> bool:
    """Whether the element is (at least partly) inside the visible part of the window."""
    visible: bool = page.eval_on_selector(
        selector,
        "e => { const r = e.getBoundingClientRect();"
        " return r.bottom > 0 && r.top < window.innerHeight; }",
    )
    return visible
