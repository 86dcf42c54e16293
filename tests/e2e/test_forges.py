"""End to end on both forges (each against its fake), with the real s2i, engine and registry:
tags, pull requests from forks, drafts marked ready, `/s2i` commands and their permissions,
rate limits."""

from __future__ import annotations

import re

import httpx
import pytest

from tests.support.apps import app_files, app_repo, s2i_yaml, slow_go_app
from tests.support.bot_process import BotProcess
from tests.support.forges import Harness
from tests.support.images import image_exists, skopeo_inspect
from tests.support.outcomes import delivery, final_pull_status, final_status, processed
from tests.support.testenv import ProvisionedEnv

pytestmark = pytest.mark.e2e
WRITER = "maintainer"
TRIGGERS = '{branches: [main], tags: ["v*"], pull_requests: true}'
_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")


def repo_with_app(forge: Harness, testenv: ProvisionedEnv, name: str) -> tuple[str, str, str]:
    """The Go sample, built on pushes to main, tags v* and pull requests; WRITER may write."""
    repo, image, sha = app_repo(forge, testenv.registry, name, app_files("go-hello"), TRIGGERS)
    forge.grant_write(repo, WRITER)
    return repo, image, sha


def final(forge: Harness, repo: str, sha: str) -> tuple[str, str]:
    """The final s2i/web status of sha: (state, description)."""
    status = final_status(forge, repo, sha)
    state, description = status.state, status.description
    return state, description


def digest_in(description: str) -> str:
    match = _DIGEST.search(description)
    assert match, description
    return match.group(0)


def test_a_tag_builds_a_release_image(
    forge: Harness, forge_bot: BotProcess, testenv: ProvisionedEnv
) -> None:
    repo, image, sha = repo_with_app(forge, testenv, "release")
    forge.tag(forge_bot, repo, "v1.2.3", sha)
    state, description = final(forge, repo, sha)
    assert state == "success", description
    assert skopeo_inspect(testenv, f"{image}:1.2.3")["Digest"] == digest_in(description)


def test_a_fork_waits_for_ok_to_test_from_a_writer_and_a_reader_is_refused(
    forge: Harness, forge_bot: BotProcess, testenv: ProvisionedEnv
) -> None:
    repo, image, _ = repo_with_app(forge, testenv, "forked")
    change = {"README.md": "a contribution\n"}
    number, head = forge.open_pull(forge_bot, repo, change, author="mallory", fork=True)

    def bot_comment(text: str) -> bool:
        return any(text in body for body in forge.comments(repo, number))

    forge.wait_for(lambda: bot_comment("/s2i ok-to-test"), timeout=30)
    assert forge.statuses(repo, head) == []

    forge.comment(forge_bot, repo, number, "/s2i ok-to-test", author="mallory")
    forge.wait_for(lambda: bot_comment("@mallory: only users with write access"), timeout=30)
    assert forge.statuses(repo, head) == []

    forge.comment(forge_bot, repo, number, "/s2i ok-to-test", author=WRITER)
    state, description = final(forge, repo, head)
    assert state == "success", description
    digest = digest_in(description)
    assert skopeo_inspect(testenv, f"{image}:pr-{number}")["Digest"] == digest
    # One bot comment holds the table (edited in place), beside the one reply.
    forge.wait_for(lambda: bot_comment(f"docker pull {image}@{digest}"), timeout=30)
    tables = [b for b in forge.comments(repo, number) if "| build |" in b]
    assert len(tables) == 1


def test_cancel_stops_a_running_build_and_its_status_says_cancelled(
    forge: Harness, forge_bot: BotProcess, testenv: ProvisionedEnv
) -> None:
    repo, image, _ = repo_with_app(forge, testenv, "cancel")
    files = slow_go_app() | {".s2i.yaml": s2i_yaml(image, TRIGGERS)}
    number, head = forge.open_pull(forge_bot, repo, files, author=WRITER, fork=False)
    forge.wait_for(
        lambda: any(s.description == "building" for s in forge.statuses(repo, head)), timeout=120
    )
    forge.comment(forge_bot, repo, number, "/s2i cancel", author=WRITER)
    state, description = final(forge, repo, head)
    assert state == forge.final_state("cancelled")
    assert f"cancelled by @{WRITER}" in description
    # The build as its link in the bot's comment names it (its page, by key: ids open
    # nothing; the page answers JSON to a client that does not ask for HTML).
    forge.wait_for(lambda: any("🚫 cancelled" in c for c in forge.comments(repo, number)), 30)
    (table,) = [c for c in forge.comments(repo, number) if "🚫 cancelled" in c]
    link = re.search(r"\[build\]\((\S+/builds/[^/)\s]+)\)", table)
    assert link, table
    build = httpx.get(link.group(1), timeout=5).json()
    assert build["state"] == "cancelled" and build["digest"] is None
    assert "CANCELLED: cancelled by" in httpx.get(build["log_url"], timeout=5).text
    assert not image_exists(testenv, f"{image}:pr-{number}")


def test_a_rate_limited_status_call_is_retried_and_lands(
    forge: Harness, forge_bot: BotProcess, testenv: ProvisionedEnv
) -> None:
    repo, _, sha = repo_with_app(forge, testenv, "limited")
    forge.rate_limit_next_status(retry_after=1)
    forge.push(forge_bot, repo, "main", sha)
    state, description = final(forge, repo, sha)
    assert state == "success", description
    answers = forge.status_answers()
    assert answers[0] in (403, 429) and answers[1:] and all(a < 300 for a in answers[1:])


def test_a_draft_builds_once_marked_ready_and_its_status_shows_on_the_pull_request(
    forge: Harness, forge_bot: BotProcess, testenv: ProvisionedEnv
) -> None:
    repo, image, _ = repo_with_app(forge, testenv, "draft")
    change = {"README.md": "a draft\n"}
    number, _ = forge.open_pull(forge_bot, repo, change, author=WRITER, fork=False, draft=True)
    opened = forge.delivered[-1]
    assert opened is not None
    assert processed(forge_bot, opened)["builds"] == []  # a draft does not build

    # GitLab says "marked ready" with an update that has no new commits: it builds at once.
    forge.mark_ready(forge_bot, repo, number)
    ready = forge.delivered[-1]
    assert ready is not None

    # What the pull request itself shows: on GitLab only statuses filed under the MR's source
    # branch (its ref) are on the merge request.
    status = final_pull_status(forge, repo, number)
    state, description = status.state, status.description
    assert [s.context for s in forge.pull_statuses(repo, number)] == ["s2i/web"]
    assert state == "success", description
    assert skopeo_inspect(testenv, f"{image}:pr-{number}")["Digest"] == digest_in(description)
    assert len(delivery(forge_bot, ready)["builds"]) == 1
