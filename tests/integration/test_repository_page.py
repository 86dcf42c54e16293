"""The repository page and badges (issue 11: 2): a repository's recent builds, filtered by
branch, pull request and state, under the listing's access rule (public_repositories or the
api_token); a badge per build name and branch for public repositories only, so a badge never
tells anything about a private one. Builds are scripted (tests/fakes/executor.ScriptedBuilds)."""

from __future__ import annotations

import pytest

from bot.build_result import BuildResult
from tests.fakes.executor import ScriptedBuilds
from tests.fakes.github import FakeGitHub
from tests.support import http
from tests.support.bot_in_process import InProcessBot, InProcessBotFactory
from tests.support.build_pages import BROWSER_ACCEPT, PageBuild, page_bot_settings, start_build
from tests.support.names import unique
from tests.support.wait import wait_until

API_TOKEN = "listing-" + "p" * 30
DIGEST = "sha256:" + "cd" * 32
SUCCEEDED = BuildResult(state="succeeded", image="x", digest=DIGEST, size=1000)
FAILED = BuildResult(state="failed", reason="assemble failed: main.go:1:1: <oops>")
PUBLIC, PRIVATE = unique("acme/public"), unique("acme/private")


@pytest.fixture
def executor() -> ScriptedBuilds:
    return ScriptedBuilds()


@pytest.fixture
def bot(start_bot_in_process: InProcessBotFactory, executor: ScriptedBuilds) -> InProcessBot:
    return start_bot_in_process(executor, api_token=API_TOKEN, **page_bot_settings([PUBLIC]))


def ended(
    bot: InProcessBot, executor: ScriptedBuilds, build: PageBuild, result: BuildResult
) -> None:
    executor.finish(build.id, result)
    wait_until(lambda: http.get(build.url).json()["state"] == result.state, timeout=30,
               what=f"the build to end {result.state}")  # fmt: skip


def badge(bot: InProcessBot, path: str, **headers: str) -> tuple[int, str, dict[str, str]]:
    answer = http.get(f"{bot.url}/badges/{path}", headers=headers)
    return answer.status_code, answer.text, dict(answer.headers)


def test_badges_show_each_branchs_state_and_only_for_public_repositories(
    github: FakeGitHub, bot: InProcessBot, executor: ScriptedBuilds
) -> None:
    main = start_build(github, bot, executor, PUBLIC)
    status, svg, headers = badge(bot, f"{PUBLIC}/web/main.svg")
    assert status == 200 and headers["content-type"].startswith("image/svg+xml")
    assert ">web</text>" in svg and ">building</text>" in svg
    assert headers["cache-control"] == "max-age=60, must-revalidate" and headers["etag"]
    ended(bot, executor, main, SUCCEEDED)
    feature = start_build(github, bot, executor, PUBLIC, branch="feature/x")
    ended(bot, executor, feature, FAILED)

    status, svg, headers = badge(bot, f"{PUBLIC}/web/main.svg")
    assert ">passing</text>" in svg
    # Unchanged: the cached copy is still good (304, no body).
    again = http.get(f"{bot.url}/badges/{PUBLIC}/web/main.svg",
                     headers={"If-None-Match": headers["etag"]})  # fmt: skip
    assert again.status_code == 304 and again.content == b""
    # A branch with a slash, as a path or encoded.
    for path in (f"{PUBLIC}/web/feature/x.svg", f"{PUBLIC}/web/feature%2Fx.svg"):
        assert ">failing</text>" in badge(bot, path)[1], path
    assert ">unknown</text>" in badge(bot, f"{PUBLIC}/web/nothing-here.svg")[1]
    assert ">unknown</text>" in badge(bot, f"{PUBLIC}/other-name/main.svg")[1]

    # A private repository's badge is refused like a repository that does not exist, even
    # with the api_token (a badge is an image any README embeds).
    private = start_build(github, bot, executor, PRIVATE)
    ended(bot, executor, private, SUCCEEDED)
    token = f"Bearer {API_TOKEN}"
    refused = [badge(bot, f"{PRIVATE}/web/main.svg"), badge(bot, "acme/nobody/web/main.svg"),
               badge(bot, f"{PRIVATE}/web/main.svg", Authorization=token)]  # fmt: skip
    assert {(status, text) for status, text, _ in refused} == {
        (404, "no badge: the repository is not public\n")}  # fmt: skip


def test_the_repository_page_lists_builds_with_filters_under_the_listings_access_rule(
    github: FakeGitHub, bot: InProcessBot, executor: ScriptedBuilds
) -> None:
    main = start_build(github, bot, executor, PUBLIC)
    ended(bot, executor, main, SUCCEEDED)
    feature = start_build(github, bot, executor, PUBLIC, branch="feature/<b>")
    ended(bot, executor, feature, FAILED)
    running = start_build(github, bot, executor, PUBLIC)

    def page(**params: str) -> str:
        answer = http.get(f"{bot.url}/builds", params={"repo": PUBLIC, **params},
                          headers={"Accept": BROWSER_ACCEPT})  # fmt: skip
        assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/html")
        assert "script-src 'self'" in answer.headers["content-security-policy"]
        return answer.text

    def listed(html: str) -> list[str]:
        return [key for key in (main.key, feature.key, running.key) if f"builds/{key}" in html]

    everything = page()
    assert listed(everything) == [main.key, feature.key, running.key]
    assert everything.index(running.key) < everything.index(main.key)  # newest first
    assert "feature/&lt;b&gt;" in everything and "&lt;oops&gt;" in everything
    assert "<b>" not in everything and "<oops>" not in everything
    # Each build name's badge on each branch, as Markdown for a README (public repositories).
    assert f"![web]({bot.url}/badges/{PUBLIC}/web/main.svg)" in everything
    assert f"![web]({bot.url}/badges/{PUBLIC}/web/feature/%3Cb%3E.svg)" in everything
    assert listed(page(branch="main")) == [main.key, running.key]
    assert listed(page(branch="feature/<b>")) == [feature.key]
    assert listed(page(state="failed")) == [feature.key]
    assert listed(page(state="running", branch="main")) == [running.key]
    assert listed(page(pr="7")) == []
    as_json = http.get(f"{bot.url}/builds", params={"repo": PUBLIC, "state": "succeeded"}).json()
    assert [b["key"] for b in as_json["builds"]] == [main.key]
    for bad in ({"state": "green"}, {"pr": "x"}):
        answer = http.get(f"{bot.url}/builds", params={"repo": PUBLIC, **bad})
        assert answer.status_code == 400 and "must be" in answer.json()["error"]

    # A private repository: the page needs the token, as the JSON listing does.
    private = start_build(github, bot, executor, PRIVATE)
    browser = {"Accept": BROWSER_ACCEPT}
    assert (
        http.get(f"{bot.url}/builds", params={"repo": PRIVATE}, headers=browser).status_code == 401
    )
    with_token = browser | {"Authorization": f"Bearer {API_TOKEN}"}
    answer = http.get(f"{bot.url}/builds", params={"repo": PRIVATE}, headers=with_token)
    assert answer.status_code == 200 and f"builds/{private.key}" in answer.text
    assert "/badges/" not in answer.text  # a private repository has no badges
    for build in (running, private):
        executor.finish(build.id, SUCCEEDED)
