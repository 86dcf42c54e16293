"""GET /metrics of the bot in process against the fake GitHub, parsed with prometheus_client's
own parser: the counters move by exactly what the webhooks and builds did, the gauges the
store answers say what waits, and the forge's rate limit is what its last answer said.

The builds are FileGatedExecutor's (tests/fakes/executor.py): the test ends each with the
result it chooses; what is tested is what is counted, not building."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot.build_result import BuildResult
from tests.fakes.executor import FileGatedExecutor
from tests.fakes.github import FakeGitHub, FakeRepo
from tests.fakes.webhooks import ZERO_SHA, github_headers, push_payload
from tests.support import http
from tests.support.bot_in_process import InProcessBot
from tests.support.forges import GITHUB_TOKEN, WEBHOOK_SECRET
from tests.support.names import unique
from tests.support.outcomes import FINAL_STATES
from tests.support.wait import wait_until

REGISTRY = "127.0.0.1:5000"
DIGEST = "sha256:" + "2" * 64
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


@pytest.fixture
def gated_bot(
    tmp_path: Path, github: FakeGitHub
) -> Iterator[tuple[InProcessBot, FileGatedExecutor]]:
    gates = tmp_path / "gates"
    gates.mkdir()
    workdir = tmp_path / "bot"
    workdir.mkdir()
    settings = {
        "forge_write_interval": 0,
        "max_concurrent_builds": 1,  # the second build waits: a queued build to see
        "delivery_retry_interval": 3600,  # a failed delivery stays stored, waiting
        "image_policy": {"registries": [REGISTRY]},
        "github": {"api_url": github.api_url, "token": GITHUB_TOKEN,
                   "webhook_secret": WEBHOOK_SECRET},
    }  # fmt: skip
    executor = FileGatedExecutor(gates, poll=0.02)
    bot = InProcessBot(workdir, settings, executor).start()
    try:
        yield bot, executor
    finally:
        bot.stop()


def scrape(bot: InProcessBot) -> Samples:
    """Every sample of GET /metrics, by name and labels, read by the real parser."""
    response = http.get(f"{bot.url}/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def post(bot: InProcessBot, event: str, payload: object, secret: str = WEBHOOK_SECRET) -> str:
    body = json.dumps(payload).encode()
    delivery = str(uuid.uuid4())
    headers = github_headers(event, body, secret, delivery)
    response = http.post(f"{bot.url}/webhooks/github", content=body, headers=headers)
    return f"{response.status_code} {delivery}"


def app_repo(github: FakeGitHub) -> tuple[FakeRepo, str]:
    repo = github.create_repo(unique("acme/app"))
    config = (
        "builds:\n  - name: web\n    template: python\n"
        f"    image: {REGISTRY}/{repo.full_name}\n    triggers: {{branches: [main]}}\n"
    )
    return repo, repo.commit({".s2i.yaml": config, "app.py": "print('hi')\n"}, "a commit")


def push(repo: FakeRepo, sha: str) -> dict[str, object]:
    return push_payload(repo, ref="refs/heads/main", before=ZERO_SHA, after=sha)


def test_metrics_count_deliveries_builds_forge_calls_and_what_waits(
    github: FakeGitHub, gated_bot: tuple[InProcessBot, FileGatedExecutor]
) -> None:
    bot, gates = gated_bot
    before = scrape(bot)
    assert value(before, "s2i_bot_webhook_intake_seconds_count") == 0
    assert value(before, "s2i_bot_queued_deliveries") == 0
    (first, first_sha), (second, second_sha) = app_repo(github), app_repo(github)
    unreachable, unreachable_sha = app_repo(github)
    # The forge refuses to show one repository (403, not a rate limit): its delivery fails
    # its first attempt and waits, stored, for the next (an hour away).
    refusal = {"message": "Must have push access", "documentation_url": "x"}
    github.fail_next("GET", rf"/repos/{re.escape(unreachable.full_name)}$", 403, body=refusal)

    answers = [
        post(bot, "push", push(first, first_sha)),
        post(bot, "star", {"action": "created"}),  # an event the bot does not handle
        post(bot, "push", push(second, second_sha), secret="not-the-secret"),
        post(bot, "push", push(second, second_sha)),
        post(bot, "push", push(unreachable, unreachable_sha)),
    ]
    assert [a.split()[0] for a in answers] == ["202", "202", "401", "202", "202"]
    waiting = answers[4].split()[1]
    wait_until(lambda: http.get(f"{bot.url}/deliveries/{waiting}").json()["attempts"] == 1,
               timeout=15, what="the unreachable repository's delivery to fail once")  # fmt: skip
    wait_until(lambda: len(gates.runs()) == 1, timeout=15, what="the first build to start")
    wait_until(
        lambda: value(scrape(bot), "s2i_bot_queued_builds") == 1,
        timeout=15, what="the second build to be queued",
    )  # fmt: skip
    # Its delivery is processed once all it asked for is done, a moment after the build is
    # queued: only then is the one waiting for its retry the only unprocessed delivery.
    for answer in (answers[0], answers[3]):
        processed = f"{bot.url}/deliveries/{answer.split()[1]}"
        wait_until(
            lambda url=processed: bool(http.get(url).json()["processed"]),  # type: ignore[misc]
            timeout=15, what=f"{processed} to be processed",
        )  # fmt: skip

    during = scrape(bot)
    deliveries = "s2i_bot_deliveries_total"
    assert value(during, deliveries, forge="github", event="push", outcome="accepted") == 3
    assert value(during, deliveries, forge="github", event="star", outcome="ignored") == 1
    # Unsigned: the event header is the sender's word, not counted by name.
    assert value(during, deliveries, forge="github", event="unknown", outcome="bad_signature") == 1
    assert sum(v for (n, _), v in during.items() if n == deliveries) == 5
    assert value(during, "s2i_bot_webhook_intake_seconds_count") == 4  # the 202s
    assert value(during, "s2i_bot_queued_deliveries") == 1  # the one waiting for its retry
    assert value(during, "s2i_bot_active_builds") == 1
    assert value(during, "s2i_bot_queued_builds") == 1
    calls = "s2i_bot_forge_api_calls_total"
    assert value(during, calls, forge="github", outcome="refused") == 1
    assert value(during, calls, forge="github", outcome="ok") >= 3  # repo, .s2i.yaml, status
    # What GitHub's last answer said was left (it sends X-RateLimit-Remaining with each),
    # once the outbox's status writes are done.
    wait_until(
        lambda: value(scrape(bot), "s2i_bot_forge_rate_limit_remaining", forge="github")
        == github.rate_limit_remaining(github.login) < 5000,
        timeout=15, what="the rate limit gauge to match the fake's count",
    )  # fmt: skip
    assert not any(  # no repository name, sha or delivery id anywhere
        secret in http.get(f"{bot.url}/metrics").text
        for secret in (first.full_name, first_sha, waiting, GITHUB_TOKEN, WEBHOOK_SECRET)
    )

    (first_build, _), = gates.runs()  # fmt: skip
    gates.finish(first_build, BuildResult(state="failed", reason="assemble failed"))
    wait_until(lambda: len(gates.runs()) == 2, timeout=15, what="the second build to start")
    second_build = gates.runs()[1][0]
    gates.finish(second_build, BuildResult(state="succeeded", digest=DIGEST))
    final = FINAL_STATES["github"]
    for repo, sha in ((first, first_sha), (second, second_sha)):
        wait_until(
            lambda r=repo, s=sha: any(  # type: ignore[misc]
                st["state"] in final for st in github.statuses(r.full_name, s)
            ),
            timeout=15, what=f"the final status of {repo.full_name}",
        )  # fmt: skip

    after = scrape(bot)
    builds = "s2i_bot_builds_total"
    assert value(after, builds, state="failed", template="python") == 1
    assert value(after, builds, state="succeeded", template="python") == 1
    assert sum(v for (n, _), v in after.items() if n == builds) == 2
    duration = "s2i_bot_build_duration_seconds_count"
    assert value(after, duration, state="failed", template="python") == 1
    assert value(after, duration, state="succeeded", template="python") == 1
    assert value(after, "s2i_bot_build_queue_seconds_count", template="python") == 2
    assert value(after, "s2i_bot_active_builds") == 0
    assert value(after, "s2i_bot_queued_builds") == 0
    wait_until(lambda: value(scrape(bot), "s2i_bot_outbox_backlog") == 0,
               timeout=15, what="the outbox to be sent")  # fmt: skip


def test_each_bot_in_a_process_counts_only_its_own_webhooks(
    github: FakeGitHub, tmp_path: Path
) -> None:
    settings = {"forge_write_interval": 0,
                "github": {"api_url": github.api_url, "token": GITHUB_TOKEN,
                           "webhook_secret": WEBHOOK_SECRET}}  # fmt: skip
    bots = []
    for index in range(2):
        (tmp_path / f"bot{index}").mkdir()
        bots.append(InProcessBot(tmp_path / f"bot{index}", settings).start())
    try:
        assert post(bots[0], "star", {}).startswith("202")
        first, second = scrape(bots[0]), scrape(bots[1])
        ignored = {"forge": "github", "event": "star", "outcome": "ignored"}
        assert value(first, "s2i_bot_deliveries_total", **ignored) == 1
        assert value(second, "s2i_bot_deliveries_total", **ignored) == 0
    finally:
        for bot in bots:
            bot.stop()
