"""Helpers for the build page's tests (tests/integration/test_build_page.py and the browser
tests, tests/e2e/test_build_page_browser.py): a build started by a push to the fake GitHub and
run by tests/fakes/executor.ScriptedBuilds, whose log lines the test writes; Server-Sent
Events read from GET /builds/{key}/events."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tests.fakes.executor import ScriptedBuilds
from tests.fakes.github import FakeGitHub
from tests.fakes.webhooks import ZERO_SHA, github_headers, push_payload
from tests.support import http
from tests.support.bot_in_process import InProcessBot
from tests.support.forges import WEBHOOK_SECRET
from tests.support.outcomes import processed
from tests.support.wait import wait_until

REGISTRY = "127.0.0.1:9"  # the images' registry, which the policy allows: nothing is pushed
BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


def page_bot_settings(public: list[str] | None = None) -> dict[str, Any]:
    return {
        "builder_registry": REGISTRY, "image_policy": {"registries": [REGISTRY]},
        "public_repositories": public or [],
    }  # fmt: skip


def s2i_yaml(repo: str, branch: str, name: str = "web") -> str:
    return (
        f"builds:\n  - name: {name}\n    template: go\n    image: {REGISTRY}/{repo.lower()}\n"
        f"    triggers: {{branches: [{json.dumps(branch)}]}}\n"
    )


@dataclass
class PageBuild:
    repo: str
    sha: str
    key: str
    id: int
    url: str  # the build page: {public_url}/builds/{key}


def start_build(
    github: FakeGitHub, bot: InProcessBot, executor: ScriptedBuilds, repo: str,
    branch: str = "main",
) -> PageBuild:  # fmt: skip
    """Push a commit with an .s2i.yaml to `repo` (made if new); the build it starts, running
    on `executor` once this returns."""
    try:
        fake = github.repo(repo)
    except KeyError:
        fake = github.create_repo(repo)
    sha = fake.commit({".s2i.yaml": s2i_yaml(fake.full_name, branch)}, "a change", branch=branch)
    body = json.dumps(
        push_payload(fake, ref=f"refs/heads/{branch}", before=ZERO_SHA, after=sha)
    ).encode()
    headers = github_headers("push", body, WEBHOOK_SECRET)
    started = len(executor.started)
    assert http.post(f"{bot.url}/webhooks/github", content=body, headers=headers).status_code == 202
    (key,) = processed(bot, headers["X-GitHub-Delivery"])["builds"]
    wait_until(lambda: len(executor.started) > started, timeout=30, what="the build to start")
    return PageBuild(fake.full_name, sha, key, executor.started[-1], f"{bot.url}/builds/{key}")


@dataclass
class Event:
    event: str
    data: Any
    id: int | None = None


@dataclass
class EventReader:
    """The events of one GET /builds/{key}/events, as they come."""

    events: list[Event] = field(default_factory=list)

    def lines(self) -> list[int]:
        return [e.data["n"] for e in self.events if e.event == "line"]


def read_events(
    url: str, until: Callable[[list[Event]], bool], *, headers: dict[str, str] | None = None,
    timeout: float = 30, between: Callable[[list[Event]], None] | None = None,
) -> list[Event]:  # fmt: skip
    """Read the stream until `until(events)` holds or it ends; `between(events)` runs after
    each event (a test writes the next log line there)."""
    events: list[Event] = []
    current: dict[str, str] = {}
    with http.stream("GET", url, headers=headers or {}, timeout=timeout) as response:
        assert response.status_code == 200, response.status_code
        assert response.headers["content-type"].startswith("text/event-stream")
        for line in response.iter_lines():
            if line:
                name, _, value = line.partition(":")
                current[name] = value.removeprefix(" ")
                continue
            if "event" in current:
                event_id = current.get("id")
                events.append(Event(current["event"], json.loads(current["data"]),
                                    int(event_id) if event_id else None))  # fmt: skip
                if until(events):
                    return events
                if between is not None:
                    between(events)
            current = {}
    return events
