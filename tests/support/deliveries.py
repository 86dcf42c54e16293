"""Webhook deliveries to a running bot where a test needs the delivery itself: its id (to
deliver it again, to ask the bot about it) and the bot's answer."""

from __future__ import annotations

import json
import uuid
from typing import Any

from tests.fakes.github import FakeGitHub
from tests.fakes.webhooks import ZERO_SHA, github_headers, push_payload
from tests.support import http
from tests.support.bot_process import RunningBot
from tests.support.forges import WEBHOOK_SECRET


def push_main(
    github: FakeGitHub, bot: RunningBot, repo: str, sha: str, delivery_id: str | None = None
) -> Any:
    """Deliver GitHub's push of `sha` to main of `repo`, signed, as delivery `delivery_id` (a
    new one by default); the bot's answer: {"accepted": id}, or {"duplicate": id}."""
    payload = push_payload(github.repo(repo), ref="refs/heads/main", before=ZERO_SHA, after=sha)
    body = json.dumps(payload).encode()
    headers = github_headers("push", body, WEBHOOK_SECRET, delivery_id or str(uuid.uuid4()))
    response = http.post(f"{bot.url}/webhooks/github", content=body, headers=headers, timeout=10)
    assert response.status_code == 202, response.text
    return response.json()
