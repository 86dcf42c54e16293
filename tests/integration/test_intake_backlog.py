"""Intake never waits on the forge (issue 10: 1, 5): a burst of pushes is acknowledged while
the forge is still answering for the first of them, the workers drain it at their pace, each
delivery processed once; past `max_backlog` the bot answers 503 with Retry-After and stores
nothing."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

from tests.fakes.github import FakeGitHub, FakeRepo
from tests.fakes.webhooks import ZERO_SHA, github_headers, push_payload
from tests.support import http
from tests.support.bot_in_process import InProcessBotFactory
from tests.support.databases import database_url
from tests.support.forges import WEBHOOK_SECRET
from tests.support.names import unique
from tests.support.wait import wait_until

__all__ = ["database_url"]  # the fixture: the first test runs on SQLite and on PostgreSQL


def signed_push(repo: FakeRepo, sha: str) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(push_payload(repo, ref="refs/heads/main", before=ZERO_SHA, after=sha))
    return body.encode(), github_headers("push", body.encode(), WEBHOOK_SECRET)


def config_reads(github: FakeGitHub, repo: FakeRepo) -> int:
    path = f"/repos/{repo.full_name}/contents/.s2i.yaml"
    return sum(1 for r in github.requests if r.path.endswith(path))


def test_a_burst_is_acknowledged_before_the_slow_forge_answered_and_each_processed_once(
    github: FakeGitHub, start_bot_in_process: InProcessBotFactory, database_url: str
) -> None:
    bot = start_bot_in_process(delivery_workers=2, database_url=database_url)
    repo = github.create_repo(unique("acme/app"))
    sha = repo.commit({".s2i.yaml": "builds: []\n"}, "a commit")
    # Each API call takes half a second and each delivery makes at least two, so the two
    # workers' first config reads are answered a second in, the next two after two seconds:
    # the burst is acknowledged long before (in-process, a few hundred milliseconds).
    github.api_delay = 0.5
    pushes = [signed_push(repo, sha) for _ in range(6)]

    def post(push: tuple[bytes, dict[str, str]]) -> int:
        body, headers = push
        return http.post(f"{bot.url}/webhooks/github", content=body, headers=headers).status_code

    with ThreadPoolExecutor(len(pushes)) as pool:
        answers = list(pool.map(post, pushes))
    assert answers == [202] * len(pushes)
    # All acknowledged while at most the first two deliveries' config reads were answered.
    assert config_reads(github, repo) <= 2
    health = http.get(f"{bot.url}/healthz").json()
    assert health["unprocessed_deliveries"] > 0 and health["delivery_backlog"] > 0

    def processed(headers: dict[str, str]) -> bool:
        info = http.get(f"{bot.url}/deliveries/{headers['X-GitHub-Delivery']}").json()
        return bool(info["processed"])

    wait_until(
        lambda: all(processed(h) for _, h in pushes), timeout=60, what="every delivery processed"
    )
    assert config_reads(github, repo) == len(pushes)  # each delivery read its config once
    health = http.get(f"{bot.url}/healthz").json()
    assert (health["unprocessed_deliveries"], health["delivery_backlog"]) == (0, 0)


def test_past_max_backlog_a_webhook_is_answered_503_with_retry_after_and_not_stored(
    github: FakeGitHub, start_bot_in_process: InProcessBotFactory
) -> None:
    bot = start_bot_in_process(delivery_workers=1, max_backlog=2)
    repo = github.create_repo(unique("acme/app"))
    sha = repo.commit({".s2i.yaml": "builds: []\n"}, "a commit")
    github.api_delay = 0.5  # the first delivery is processed for a second or more
    first, second, third = (signed_push(repo, sha) for _ in range(3))
    url = f"{bot.url}/webhooks/github"
    assert http.post(url, content=first[0], headers=first[1]).status_code == 202
    assert http.post(url, content=second[0], headers=second[1]).status_code == 202

    refused = http.post(url, content=third[0], headers=third[1])
    assert refused.status_code == 503
    assert int(refused.headers["Retry-After"]) > 0
    refused_id = third[1]["X-GitHub-Delivery"]
    assert http.get(f"{bot.url}/deliveries/{refused_id}").status_code == 404

    def drained() -> bool:
        return bool(http.get(f"{bot.url}/healthz").json()["delivery_backlog"] == 0)

    wait_until(drained, timeout=60, what="the backlog to drain")
    for _, headers in (first, second):
        info = http.get(f"{bot.url}/deliveries/{headers['X-GitHub-Delivery']}").json()
        assert info["processed"] and info["attempts"] == 0
    # Once the backlog drained, the refused delivery's redelivery is accepted (and, the forge
    # quick again, processed before the bot stops).
    github.api_delay = 0
    assert http.post(url, content=third[0], headers=third[1]).status_code == 202
