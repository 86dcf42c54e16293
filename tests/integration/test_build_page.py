"""The build page (issue 11: 1): GET /builds/{key} as HTML for browsers and JSON for the
rest, its live log as Server-Sent Events, everything from the build and its log escaped. The
bot runs in this process (tests/support/bot_in_process.py) with builds the test scripts
(tests/fakes/executor.ScriptedBuilds: log lines and results as the test says); a real build's
page is tests/e2e/test_build_page_browser.py's."""

from __future__ import annotations

from typing import Any

import pytest

from bot.build_result import BuildResult
from tests.fakes.executor import ScriptedBuilds
from tests.fakes.github import FakeGitHub
from tests.support import http
from tests.support.bot_in_process import InProcessBot, InProcessBotFactory
from tests.support.build_pages import (
    BROWSER_ACCEPT,
    Event,
    PageBuild,
    page_bot_settings,
    read_events,
    start_build,
)
from tests.support.names import unique
from tests.support.wait import wait_until

DIGEST = "sha256:" + "ab" * 32
SUCCEEDED = BuildResult(state="succeeded", image="x", digest=DIGEST, size=12_345_678)
FAILING_LOG = [
    "==> fetch acme/app at 0123456789ab",
    "<== fetch acme/app at 0123456789ab: done in 0.4s",
    "==> s2i build --as-dockerfile",
    "<== s2i build --as-dockerfile: done in 0.2s",
    "==> build 127.0.0.1:9/acme/app:main with docker",
    "Step 5/9 : RUN /usr/libexec/s2i/assemble",
    "\x1b[32m---> Building application from source...\x1b[0m",
    "./main.go:7:2: undefined: fmt.Nope",
    "The command '/bin/sh -c /usr/libexec/s2i/assemble' returned a non-zero code: 1",
    "<== build 127.0.0.1:9/acme/app:main with docker: failed in 3.1s",
    "BUILD FAILED: assemble failed: main.go:7:2: undefined: fmt.Nope",
]


@pytest.fixture
def executor() -> ScriptedBuilds:
    return ScriptedBuilds()


@pytest.fixture
def bot(start_bot_in_process: InProcessBotFactory, executor: ScriptedBuilds) -> InProcessBot:
    return start_bot_in_process(executor, **page_bot_settings())


def build_json(build: PageBuild) -> dict[str, Any]:
    response = http.get(build.url, headers={"Accept": "application/json"})
    assert response.status_code == 200
    info: dict[str, Any] = response.json()
    return info


def finished(build: PageBuild, executor: ScriptedBuilds, result: BuildResult) -> None:
    executor.finish(build.id, result)
    wait_until(lambda: build_json(build)["state"] == result.state, timeout=30,
               what=f"the build to end {result.state}")  # fmt: skip


def bot_lines(build: PageBuild) -> int:
    """How many lines the log has before the build writes any: the bot's own ("queued")."""
    return len(http.get(f"{build.url}/log").text.splitlines())


def test_a_browser_gets_the_page_and_api_clients_the_json_they_always_got(
    github: FakeGitHub, bot: InProcessBot, executor: ScriptedBuilds
) -> None:
    build = start_build(github, bot, executor, unique("acme/app"))
    executor.write(build.id, "\n".join(FAILING_LOG) + "\n")
    finished(
        build,
        executor,
        BuildResult(state="failed", reason="assemble failed: main.go:7:2: undefined: fmt.Nope"),
    )

    for accept in (None, "*/*", "application/json", "application/json, text/html;q=0.5"):
        headers = {"Accept": accept} if accept else {}
        answer = http.get(build.url, headers=headers)
        assert answer.headers["content-type"] == "application/json", accept
        assert "accept" in answer.headers["vary"].lower()
    info = build_json(build)
    assert info["key"] == build.key and info["state"] == "failed"
    assert info["log_url"] == f"{build.url}/log" and info["url"] == build.url
    assert info["trigger"] == "push" and info["ref"] == "refs/heads/main"
    assert info["commit_url"] == f"{github.url}/{build.repo}/commit/{build.sha}"
    log = http.get(f"{build.url}/log").text.splitlines()  # the bot's own lines come first
    assert info["failure_line"] == log.index("./main.go:7:2: undefined: fmt.Nope") + 1
    assert [(s["kind"], s["state"]) for s in info["steps"]] == [
        ("fetch", "done"), ("s2i", "done"), ("build", "failed")]  # fmt: skip
    assert info["timings"]["fetch"] == 0.4 and info["timings"]["build"] == 3.1
    assert "queue" in info["timings"] and "total" in info["timings"]

    page = http.get(build.url, headers={"Accept": BROWSER_ACCEPT})
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "script-src 'self'" in page.headers["content-security-policy"]
    html = page.text
    error = info["failure_line"]
    assert f'<span class="line failed-step error-line" id="L{error}">' in html
    assert f'href="#L{error}" id="failure-link"' in html
    assert '<span class="a-fg2">---&gt; Building application from source...</span>' in html
    assert f'href="{build.key}/log"' in html  # the raw download
    assert 'src="../assets/build_page.js"' in html and "http-equiv" not in html  # finished
    # The page's own assets, from the bot (package data), not a CDN.
    for asset, kind in (("build_page.js", "javascript"), ("pages.css", "text/css")):
        served = http.get(f"{bot.url}/assets/{asset}")
        assert served.status_code == 200 and kind in served.headers["content-type"]


def test_log_lines_and_branch_names_are_escaped_on_the_page_and_in_the_stream(
    github: FakeGitHub, bot: InProcessBot, executor: ScriptedBuilds
) -> None:
    # Both are the pusher's to choose: git allows < > " ' = ( ) in a branch name.
    branch = 'x"><script>alert(1)</script>'
    build = start_build(github, bot, executor, unique("acme/xss"), branch=branch)
    hostile = [
        "<script>alert('log')</script>",
        "\x1b[31m<img src=x onerror=alert(2)>\x1b[0m "
        "\x1b]8;;javascript:alert(3)\x07link\x1b]8;;\x07",
        '" onmouseover="alert(4)',
    ]
    total = bot_lines(build) + len(hostile)
    executor.write(build.id, "\n".join(hostile) + "\n")
    page = http.get(build.url, headers={"Accept": BROWSER_ACCEPT}).text
    streamed = read_events(f"{build.url}/events", lambda events: events[-1].id == total)
    executor.finish(build.id, SUCCEEDED)
    assert [e.event for e in streamed].count("state") == 1  # the summary: the branch again
    for html in (page, *(e.data.get("html") or e.data["summary"] for e in streamed)):
        for raw in ("<script>", "<img", 'onmouseover="', "javascript:"):
            assert raw not in html, raw
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page  # the branch, shown as text
    assert "&lt;script&gt;alert(&#x27;log&#x27;)&lt;/script&gt;" in page
    assert '<span class="a-fg1">&lt;img src=x onerror=alert(2)&gt;</span> link' in page


def test_the_stream_sends_each_line_as_written_then_the_final_state(
    github: FakeGitHub, bot: InProcessBot, executor: ScriptedBuilds
) -> None:
    build = start_build(github, bot, executor, unique("acme/live"))
    base = bot_lines(build)
    executor.write(build.id, "first line\nsecond ")  # the second is not whole yet

    def write_next(events: list[Event]) -> None:
        if events[-1].event != "line":
            return
        number = events[-1].data["n"] - base  # the build's own lines, counted from 1
        if number == 1:  # only once the stream sent it: the next lines come live
            executor.write(build.id, "line\nthird line\n")
        elif number == 3:
            executor.finish(build.id, SUCCEEDED)

    events = read_events(f"{build.url}/events", lambda events: events[-1].event == "end",
                         between=write_next)  # fmt: skip
    lines = [e for e in events if e.event == "line"]
    assert [e.id for e in lines] == [e.data["n"] for e in lines] == list(range(1, base + 4))
    assert [e.data["html"].count("second line") for e in lines[base:]] == [0, 1, 0]
    assert events[0].event == "state" and events[0].data["state"] == "running"
    end = events[-1].data
    assert end["state"] == "succeeded" and end["finished"] is True
    assert DIGEST in end["summary"] and "docker pull 127.0.0.1:9/" in end["summary"]


def test_a_reconnect_resumes_after_the_last_event_id_and_a_late_page_after_what_it_shows(
    github: FakeGitHub, bot: InProcessBot, executor: ScriptedBuilds
) -> None:
    build = start_build(github, bot, executor, unique("acme/resume"))
    base = bot_lines(build)
    executor.write(build.id, "one\ntwo\nthree\nfour (not yet whole")
    page = http.get(build.url, headers={"Accept": BROWSER_ACCEPT}).text
    # A page opened mid-build shows the whole lines so far, and where its stream goes on.
    shown = base + 3
    assert all(f'id="L{n}"' in page for n in range(1, shown + 1))
    assert f'id="L{shown + 1}"' not in page and "four" not in page
    assert f'data-lines="{shown}"' in page and 'data-finished="false"' in page
    assert '<meta http-equiv="refresh"' in page  # inside <noscript>: a page without JS reloads

    def complete_the_fourth(events: list[Event]) -> None:
        if [e.id for e in events if e.event == "line"] == [shown]:
            executor.write(build.id, ")\n")

    # The browser's reconnect: it sends the id of the last event it got.
    resumed = read_events(
        f"{build.url}/events", lambda events: len([e for e in events if e.event == "line"]) == 2,
        headers={"Last-Event-ID": str(shown - 1)}, between=complete_the_fourth,
    )  # fmt: skip
    assert [e.id for e in resumed if e.event == "line"] == [shown, shown + 1]
    assert "four (not yet whole)" in resumed[-1].data["html"]
    # The page's first connection asks for the lines after those it shows; a reconnect's
    # Last-Event-ID wins over that.
    last_seen = {"Last-Event-ID": str(shown)}
    for url, headers in ((f"{build.url}/events?after={shown}", {}),
                         (f"{build.url}/events?after=1", last_seen)):  # fmt: skip
        first = read_events(url, lambda events: events[-1].event == "line", headers=headers)
        assert [e.id for e in first] == [shown + 1], (url, headers)
    executor.finish(build.id, SUCCEEDED)
