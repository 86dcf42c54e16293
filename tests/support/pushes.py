"""A push to the fake GitHub's main branch, delivered to a running bot, and the status it ends
in: the few steps the build-limit and image-policy scenarios share (tests/e2e)."""

from __future__ import annotations

import json
from typing import Any

import httpx

from tests.conftest import WEBHOOK_SECRET
from tests.fakes.github import FakeGitHub, FakeRepo
from tests.fakes.webhooks import ZERO_SHA, github_headers, push_payload
from tests.support.bot_process import BotProcess

BUILD_TIMEOUT = 900  # a real build on two shared cores: minutes when the machine is busy


def push_main(bot: BotProcess, repo: FakeRepo, sha: str) -> str:
    """Deliver the push of `sha` to main, signed; the delivery id."""
    body = json.dumps(push_payload(repo, ref="refs/heads/main", before=ZERO_SHA, after=sha))
    headers = github_headers("push", body.encode(), WEBHOOK_SECRET)
    response = httpx.post(f"{bot.url}/webhooks/github", content=body, headers=headers, timeout=10)
    assert response.status_code == 202, response.text
    return headers["X-GitHub-Delivery"]


def final_status(
    github: FakeGitHub, repo: FakeRepo, sha: str, context: str, timeout: float = BUILD_TIMEOUT
) -> dict[str, Any]:
    """The `context` status of `sha` once it is no longer pending (the newest one)."""

    def finished() -> list[dict[str, Any]]:
        return [
            s for s in github.statuses(repo.full_name, sha)
            if s["context"] == context and s["state"] != "pending"
        ]  # fmt: skip

    github.wait_for(lambda: bool(finished()), timeout=timeout)
    return finished()[-1]


def log_of(status: dict[str, Any]) -> str:
    """The build log the status links to."""
    return httpx.get(str(status["target_url"]), timeout=10).text
