"""What became of a delivery or a build, seen from outside the bot: the commit status the forge
shows and what the bot's HTTP API says. One definition of "final" for every test."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.fakes.github import FakeGitHub
from tests.support import http
from tests.support.bot_process import RunningBot
from tests.support.forges import GitHubHarness, Harness, Status
from tests.support.wait import wait_until

# A real build (s2i, the engine, a push) on two shared cores: minutes when the machine is busy.
BUILD_TIMEOUT = 900
# The states a build's status ends in, in each forge's own words: GitHub's REST API, "Create a
# commit status" (error, failure, pending, success); GitLab's, "Set the pipeline status of a
# commit" (pending, running, success, failed, canceled, skipped).
FINAL_STATES = {
    "github": frozenset({"success", "failure", "error"}),
    "gitlab": frozenset({"success", "failed", "canceled", "skipped"}),
}


def final_status(
    forge: Harness | FakeGitHub,
    repo: str,
    sha: str,
    context: str = "s2i/web",
    timeout: float = BUILD_TIMEOUT,
) -> Status:
    """Wait until the newest `context` status of `sha` is final (FINAL_STATES), and return it.

    The newest, not any: a status posted after a final one (a rebuild) is what the forge
    shows, so the wait goes on until that one is final too. GitHub-only scenarios may pass
    the fake GitHub itself."""
    if isinstance(forge, FakeGitHub):
        forge = GitHubHarness(forge, forge.token)
    harness = forge
    return _wait_final(harness, lambda: harness.statuses(repo, sha), context, timeout)


def final_pull_status(
    forge: Harness, repo: str, number: int, context: str = "s2i/web", timeout: float = BUILD_TIMEOUT
) -> Status:
    """final_status of what pull request `number` itself shows (Harness.pull_statuses: on
    GitLab only statuses filed under the merge request's source branch are on it)."""
    return _wait_final(forge, lambda: forge.pull_statuses(repo, number), context, timeout)


def _wait_final(
    forge: Harness,
    statuses: Callable[[], list[Status]],
    context: str,
    timeout: float,
) -> Status:
    final = FINAL_STATES[forge.forge]

    def newest() -> Status | None:
        mine = [s for s in statuses() if s.context == context]
        return mine[-1] if mine else None

    def done() -> bool:
        status = newest()
        return status is not None and status.state in final

    forge.wait_for(done, timeout)
    status = newest()
    assert status is not None
    return status


def log_of(status: Status) -> str:
    """The log of the build the status reports: the raw log beside the page it links to."""
    return http.get(f"{status.target_url}/log", timeout=10).text


def build_of(status: Status) -> dict[str, Any]:
    """The build the status reports, as the bot's API gives it (GET /builds/{key}: its whole
    reason, which a status description cuts to the forge's limit; its digest, its state)."""
    response = http.get(status.target_url, timeout=10)
    response.raise_for_status()
    info: dict[str, Any] = response.json()
    return info


def delivery(bot: RunningBot, delivery_id: str) -> dict[str, Any]:
    """GET /deliveries/{id}: whether the bot processed it, its outcome, the builds it started."""
    response = http.get(f"{bot.url}/deliveries/{delivery_id}", timeout=10)
    response.raise_for_status()
    info: dict[str, Any] = response.json()
    return info


def processed(bot: RunningBot, delivery_id: str, timeout: float = 30) -> dict[str, Any]:
    """Wait until the bot has processed the delivery; what it made of it (see delivery())."""
    wait_until(
        lambda: bool(delivery(bot, delivery_id).get("processed")),
        timeout=timeout,
        what=f"delivery {delivery_id} to be processed",
    )
    return delivery(bot, delivery_id)


def build(bot: RunningBot, build_id: int) -> dict[str, Any] | None:
    """GET /builds/{id}: the build as JSON, or None when the bot has no such build."""
    response = http.get(f"{bot.url}/builds/{build_id}", timeout=10)
    if response.status_code == 404:
        return None
    response.raise_for_status()
    info: dict[str, Any] = response.json()
    return info
