"""The build page in a real browser (issue 11: "How it must be tested"): Chromium, driven by
Playwright (tests/support/browser.py), opens the page a build's links lead to. Builds are
scripted (tests/fakes/executor.ScriptedBuilds: the log lines and the end the test chooses)
where the page's behaviour is the point, and real (the local executor: real s2i, engine and
registry) where the page must show what a real build writes. Marked e2e: it needs the
provisioned browser. Screenshots go to the test artifacts directory."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from playwright.sync_api import Browser, Page

from bot.build_result import BuildResult
from tests.fakes.executor import ScriptedBuilds
from tests.fakes.github import FakeGitHub
from tests.support import http
from tests.support.apps import APPS, app_files, app_repo
from tests.support.bot_in_process import InProcessBot, InProcessBotFactory
from tests.support.bot_process import BotProcess
from tests.support.browser import chromium, in_viewport, line_ids, open_page, screenshot
from tests.support.build_pages import PageBuild, page_bot_settings, start_build
from tests.support.deliveries import push_main
from tests.support.forges import GitHubHarness
from tests.support.outcomes import processed
from tests.support.testenv import ProvisionedEnv
from tests.support.wait import wait_until

pytestmark = pytest.mark.e2e

DIGEST = "sha256:" + "5e" * 32
SUCCEEDED = BuildResult(state="succeeded", image="x", digest=DIGEST, size=23_456_789)
REAL_BUILD_SECONDS = 600  # a Go build on a shared, loaded machine
UI_MS = 30_000  # what the page is given to show a change (Playwright waits in ms)

STEPS = [
    "==> fetch acme/app at 5e5e5e5e5e5e",
    "\x1b[2m$ git fetch --depth 1 origin 5e5e5e5e5e5e\x1b[0m",
    "<== fetch acme/app at 5e5e5e5e5e5e: done in 0.6s",
    "==> s2i build --as-dockerfile",
    "\x1b[33mwarning:\x1b[0m builder image has no s2i scripts URL label; using the default",
    "<== s2i build --as-dockerfile: done in 0.3s",
    "==> build 127.0.0.1:9/acme/app:main with docker",
    "Step 1/9 : FROM golang-builder AS builder",
]
COMPILE_ERROR = "./main.go:24:7: undefined: fmt.Nope"
FAILED = BuildResult(state="failed", reason=f"assemble failed: {COMPILE_ERROR}")
FAILING_TAIL = [
    "Step 5/9 : RUN /usr/libexec/s2i/assemble",
    "\x1b[1;32m---> Building application from source...\x1b[0m",
    *(f"go: downloading example.com/module{i} v1.{i}.0" for i in range(120)),
    "# hello",
    f"\x1b[31m{COMPILE_ERROR}\x1b[0m",
    "The command '/bin/sh -c /usr/libexec/s2i/assemble' returned a non-zero code: 1",
    "<== build 127.0.0.1:9/acme/app:main with docker: failed in 12.4s",
    f"BUILD FAILED: assemble failed: {COMPILE_ERROR.removeprefix('./')}",
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as browser:
        yield browser


@pytest.fixture
def executor() -> ScriptedBuilds:
    return ScriptedBuilds()


@pytest.fixture
def bot(start_bot_in_process: InProcessBotFactory, executor: ScriptedBuilds) -> InProcessBot:
    # Short event streams: the browser reconnects (and resumes) within a test's time.
    return start_bot_in_process(executor, event_stream_seconds=1, **page_bot_settings())


def log_line_count(build: PageBuild) -> int:
    return len(http.get(f"{build.url}/log").text.splitlines())


def shows_line(page: Page, number: int) -> None:
    page.wait_for_selector(f"#L{number}", timeout=UI_MS)


def test_a_running_builds_page_shows_lines_as_they_come_then_success_with_the_digest(
    github: FakeGitHub, bot: InProcessBot, executor: ScriptedBuilds, browser: Browser
) -> None:
    build = start_build(github, bot, executor, "acme/app")
    executor.write(build.id, "\n".join(STEPS[:3]) + "\n")
    with open_page(browser) as page:
        page.goto(build.url)
        shown = log_line_count(build)
        assert line_ids(page) == list(range(1, shown + 1))
        assert page.inner_text("#state") == "running" and page.is_visible("#live")
        for number, line in enumerate(STEPS[3:], start=shown + 1):
            executor.write(build.id, line + "\n")
            shows_line(page, number)  # came over the event stream, no reload
        assert page.inner_text(f"#L{shown}").endswith("done in 0.6s")
        assert page.get_attribute(f"#L{shown + 2} .lt span", "class") == "a-fg3"  # yellow
        screenshot(page, "build-page-running")

        executor.finish(build.id, SUCCEEDED)
        page.wait_for_selector("#state:text('succeeded')", timeout=UI_MS)
        assert page.inner_text("#digest") == DIGEST
        assert page.inner_text("#pull") == f"docker pull 127.0.0.1:9/acme/app@{DIGEST}"
        assert page.is_hidden("#live") and page.is_visible("button.copy")
        assert line_ids(page) == list(range(1, log_line_count(build) + 1))
        screenshot(page, "build-page-succeeded", top=True)


def test_a_failed_builds_page_opens_at_the_error_line(
    github: FakeGitHub, bot: InProcessBot, executor: ScriptedBuilds, browser: Browser
) -> None:
    build = start_build(github, bot, executor, "acme/app")
    executor.write(build.id, "\n".join(STEPS) + "\n")
    with open_page(browser) as page:
        page.goto(build.url)  # open while it runs: the failure comes live
        assert page.evaluate("window.scrollY") == 0
        executor.write(build.id, "\n".join(FAILING_TAIL) + "\n")
        executor.finish(build.id, BuildResult(state="failed", reason="assemble failed"))
        page.wait_for_selector("#state:text('failed')", timeout=UI_MS)
        error = page.wait_for_selector(".line.error-line", timeout=UI_MS)
        assert error is not None and COMPILE_ERROR in error.inner_text()
        wait_until(lambda: in_viewport(page, ".error-line"), timeout=10, what="the error in view")
        assert page.evaluate("window.scrollY") > 0
        failing_step = page.eval_on_selector_all(".failed-step", "ls => ls.length")
        assert failing_step == 2 + len(FAILING_TAIL) - 1  # from `==> build` to its `<==`

        # Opened afterwards (a status link), the page starts at the error as well.
        page.goto(build.url)
        number = int(page.get_attribute("body", "data-failure-line") or 0)
        assert COMPILE_ERROR in page.inner_text(f"#L{number}")
        wait_until(lambda: in_viewport(page, f"#L{number}"), timeout=10, what="the error in view")
        assert page.evaluate("window.scrollY") > 0
        assert page.inner_text("#failure-link") == f"line {number}"
        screenshot(page, "build-page-failed")
        # A link to another line wins over the error.
        page.goto(f"{build.url}#L2")
        wait_until(lambda: in_viewport(page, "#L2"), timeout=10, what="line 2 in view")
        assert not in_viewport(page, f"#L{number}")


def test_without_javascript_the_page_shows_the_log_and_reloads_while_running(
    github: FakeGitHub, bot: InProcessBot, executor: ScriptedBuilds, browser: Browser
) -> None:
    build = start_build(github, bot, executor, "acme/app")
    executor.write(build.id, "\n".join(STEPS) + "\n")
    with open_page(browser, javascript=False) as page:
        page.goto(build.url)
        shown = log_line_count(build)
        assert line_ids(page) == list(range(1, shown + 1))
        assert page.inner_text(f"#L{shown}") == STEPS[-1]
        refresh = page.eval_on_selector_all("meta[http-equiv=refresh]", "ms => ms.length")
        assert refresh == 1  # in <noscript>: active exactly when scripts are off
        executor.finish(build.id, SUCCEEDED)
        wait_until(lambda: http.get(build.url, headers={"Accept": "application/json"}).json()[
            "state"] == "succeeded", timeout=30, what="the build to end")  # fmt: skip
        page.goto(build.url)
        assert page.inner_text("#state") == "succeeded" and page.inner_text("#digest") == DIGEST
        assert page.is_hidden("button.copy")  # it needs a script; the command is there to copy
        assert page.eval_on_selector_all("meta[http-equiv=refresh]", "ms => ms.length") == 0


def test_reconnecting_streams_resume_without_duplicated_lines(
    github: FakeGitHub, bot: InProcessBot, executor: ScriptedBuilds, browser: Browser
) -> None:
    build = start_build(github, bot, executor, "acme/app")
    with open_page(browser) as page:
        page.goto(build.url)
        written = log_line_count(build)

        def connections() -> int:
            return int(page.get_attribute("body", "data-connections") or 0)

        for round_ in range(3):  # each stream lasts a second (event_stream_seconds): reconnects
            wait_until(lambda r=round_: connections() > r + 1, timeout=30, what="a reconnect")  # type: ignore[misc]
            executor.write(build.id, f"line {round_}a\nline {round_}b\n")
            written += 2
            shows_line(page, written)
        executor.finish(build.id, SUCCEEDED)
        page.wait_for_selector("#state:text('succeeded')", timeout=UI_MS)
        assert line_ids(page) == list(range(1, log_line_count(build) + 1))


def test_a_real_build_streams_its_log_and_ends_with_its_digest(
    github: FakeGitHub, github_forge: GitHubHarness, start_builder_bot: Callable[..., BotProcess],
    testenv: ProvisionedEnv, browser: Browser,
) -> None:  # fmt: skip
    """The local executor: the real runner, s2i, docker and registry."""
    bot = start_builder_bot()
    repo, image, sha = app_repo(github_forge, testenv.registry, "page", app_files("go-hello"))
    (key,) = processed(bot, push_main(github, bot, repo, sha)["accepted"])["builds"]
    url = f"{bot.url}/builds/{key}"
    with open_page(browser) as page:
        page.goto(url)
        first = line_ids(page)
        page.wait_for_selector(
            "#log .lt:text-matches('^==> s2i build')", timeout=REAL_BUILD_SECONDS * 1000
        )
        assert "==> s2i build" not in "".join(page.inner_text(f"#L{n}") for n in first)
        screenshot(page, "real-build-running", top=True)
        page.wait_for_selector("#state:text-matches('succeeded|failed|error')",
                               timeout=REAL_BUILD_SECONDS * 1000)  # fmt: skip
        info = http.get(url, headers={"Accept": "application/json"}).json()
        assert info["state"] == "succeeded", info["reason"]
        assert page.inner_text("#state") == "succeeded"
        assert page.inner_text("#digest") == info["digest"]
        assert page.inner_text("#pull") == f"docker pull {image}@{info['digest']}"
        assert line_ids(page) == list(range(1, len(http.get(f"{url}/log").text.splitlines()) + 1))
        assert set(info["timings"]) >= {"queue", "fetch", "s2i", "build", "push", "total"}
        screenshot(page, "real-build-succeeded", top=True)


def test_a_real_compile_error_opens_the_page_at_the_compilers_line(
    github: FakeGitHub, github_forge: GitHubHarness, start_builder_bot: Callable[..., BotProcess],
    testenv: ProvisionedEnv, browser: Browser,
) -> None:  # fmt: skip
    bot = start_builder_bot()
    main = (APPS / "go-hello" / "main.go").read_text().replace("greet.Hello(", "greet.Helo(")
    files = app_files("go-hello") | {"main.go": main}
    repo, _, sha = app_repo(github_forge, testenv.registry, "page-broken", files)
    (key,) = processed(bot, push_main(github, bot, repo, sha)["accepted"])["builds"]
    url = f"{bot.url}/builds/{key}"
    with open_page(browser) as page:
        page.goto(url)
        page.wait_for_selector("#state:text-matches('succeeded|failed|error')",
                               timeout=REAL_BUILD_SECONDS * 1000)  # fmt: skip
        assert page.inner_text("#state") == "failed"
        error = page.wait_for_selector(".line.error-line", timeout=UI_MS)
        assert error is not None and "undefined: greet.Helo" in error.inner_text()
        wait_until(lambda: in_viewport(page, ".error-line"), timeout=10, what="the error in view")
        assert page.eval_on_selector_all(".failed-step", "ls => ls.length") > 1
        screenshot(page, "real-build-failed")


def test_the_repository_page_filters_without_javascript_and_shows_badges(
    github: FakeGitHub, start_bot_in_process: InProcessBotFactory, executor: ScriptedBuilds,
    browser: Browser,
) -> None:  # fmt: skip
    bot = start_bot_in_process(executor, **page_bot_settings(["acme/app"]))
    for branch, result in (("main", SUCCEEDED), ("feature/login", FAILED)):
        build = start_build(github, bot, executor, "acme/app", branch=branch)
        executor.write(build.id, "\n".join(STEPS) + "\n")
        executor.finish(build.id, result)
        wait_until(lambda b=build, r=result: http.get(b.url).json()["state"] == r.state,  # type: ignore[misc]
                   timeout=30, what="the build to end")  # fmt: skip
    with open_page(browser, javascript=False) as page:
        page.goto(f"{bot.url}/builds?repo=acme/app")
        assert page.eval_on_selector_all("table.builds tbody tr", "rows => rows.length") == 2
        screenshot(page, "repository-page", javascript=False)
        page.select_option("select[name=state]", "failed")
        page.click("form.filters button[type=submit]")  # a plain GET form: no script needed
        page.wait_for_url("**state=failed**", timeout=UI_MS)
        rows = page.eval_on_selector_all("table.builds tbody tr", "rows => rows.length")
        assert rows == 1 and "feature/login" in page.inner_text("table.builds tbody")
        # The badges, as a README shows them: images the browser renders.
        for branch, word in (("main", "passing"), ("feature/login", "failing")):
            page.goto(f"{bot.url}/badges/acme/app/web/{branch}.svg")
            assert page.text_content("svg title") == f"web: {word}"
