"""`log_format: json`: `s2i-bot serve` writes one JSON object per line (uvicorn's lines too), and
the lines about a delivery carry its id, also those logged in the forge's thread pool.

A process, not the bot in process: what is tested is what the command writes. It builds
nothing, so it runs the command with an executor that asks the engine nothing
(tests/support/gated_bot.py)."""

from __future__ import annotations

import json
import re
import uuid

from tests.fakes.github import FakeGitHub
from tests.fakes.webhooks import ZERO_SHA, github_headers, push_payload
from tests.support import http
from tests.support.bot_process import BotFactory
from tests.support.forges import WEBHOOK_SECRET
from tests.support.names import unique
from tests.support.wait import wait_until


def test_json_log_lines_parse_and_carry_the_delivery_id(
    github: FakeGitHub, start_bot: BotFactory
) -> None:
    bot = start_bot(builds=False, log_format="json")
    repo = github.create_repo(unique("acme/app"))
    sha = repo.commit({"README": "hi\n"}, "a commit")
    # The repository is gone when the bot asks (GitHub's 404): "nothing done", logged in the
    # forge's thread pool.
    gone = {"message": "Not Found", "documentation_url": "https://docs.github.com/rest"}
    github.fail_next("GET", rf"/repos/{re.escape(repo.full_name)}$", 404, body=gone)
    body = json.dumps(push_payload(repo, ref="refs/heads/main", before=ZERO_SHA, after=sha))
    delivery = str(uuid.uuid4())
    headers = github_headers("push", body.encode(), WEBHOOK_SECRET, delivery)
    response = http.post(f"{bot.url}/webhooks/github", content=body.encode(), headers=headers)
    assert response.status_code == 202
    wait_until(lambda: http.get(f"{bot.url}/deliveries/{delivery}").json()["processed"],
               timeout=15, what="the delivery to be processed")  # fmt: skip
    wait_until(lambda: f"delivery {delivery} (github push)" in bot.log(),
               timeout=15, what="the delivery's outcome line")  # fmt: skip

    lines = [json.loads(line) for line in bot.log().splitlines() if line.strip()]
    assert all({"time", "level", "logger", "message"} <= line.keys() for line in lines)
    assert any(line["logger"].startswith("uvicorn") for line in lines)  # uvicorn's too
    about = [line for line in lines if delivery in line["message"]]
    # The outcome (the worker's task) and the forge's answer (the forge's thread pool).
    assert {line["logger"] for line in about} == {"bot.orchestrator"}
    assert len(about) >= 2, about
    assert all(line.get("delivery_id") == delivery for line in about), about
    assert not any("delivery_id" in line for line in lines if line not in about)
