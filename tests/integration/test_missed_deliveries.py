"""Missed webhooks (issue 10: 4), the bot against the fake GitHub: a delivery GitHub logged but
the bot never received is fetched from the hook's log and built, on start and by the periodic
pass, exactly once (whatever passes run again, and when the same delivery is POSTed too); what
the store has is never fetched; a pass fetches a bounded number; a GitHub App reads its own
hook's log.

The bot runs in the test's process (tests/support/bot_in_process.py): what is proven is what
it fetches and builds, not how a process starts. Its builds end at once in an error
(tests/fakes/executor.QuickBuilds), reported as a real build's would be; where nothing is to be
built, its executor fails the test if anything was (NoBuilds)."""

from __future__ import annotations

import json
import logging
from typing import Any

import httpx
import pytest

from bot.build_result import BuildResult
from tests.fakes.executor import QuickBuilds
from tests.fakes.github import FakeGitHub, FakeRepo
from tests.fakes.github_app import shared_app_key
from tests.fakes.github_hooks import LoggedDelivery
from tests.fakes.webhooks import ZERO_SHA, github_headers, push_payload
from tests.support import http
from tests.support.bot_in_process import InProcessBot, InProcessBotFactory
from tests.support.forges import GITHUB_TOKEN, WEBHOOK_SECRET
from tests.support.names import unique
from tests.support.outcomes import final_status
from tests.support.wait import wait_until

API_TOKEN = "listing-" + "m" * 30
BOT_LOGIN = "s2i-bot"  # the fake's token user
REGISTRY = "127.0.0.1:9"  # the images' registry, which the policy allows: nothing is pushed
ERROR = BuildResult(state="error", reason="the registry 127.0.0.1:9 does not answer")
STATUS_SECONDS = 30  # the builds end at once; a loaded machine is slow to report them
APP_ID = 31337


@pytest.fixture(autouse=True)
def bot_log(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    """What the bot logs, as `s2i-bot serve` would (bot/cli.py: INFO and up)."""
    caplog.set_level(logging.INFO, logger="bot")
    return caplog


def config(repo: FakeRepo) -> str:
    image = f"{REGISTRY}/{repo.full_name.lower()}"
    return (
        f"builds:\n  - name: web\n    template: go\n    image: {image}\n"
        "    triggers: {branches: [main]}\n"
    )


def hooked_repo(github: FakeGitHub) -> tuple[FakeRepo, int]:
    """A repository with a webhook whose log the bot may read (it is the repository's admin)."""
    repo = github.create_repo(unique("acme/app"))
    repo.set_permission(BOT_LOGIN, "admin")
    return repo, github.create_hook(repo.full_name, "http://127.0.0.1:9/webhooks/github")


def start(
    start_bot: InProcessBotFactory, github: FakeGitHub, repo: FakeRepo, hook: int, **more: Any
) -> InProcessBot:
    return start_bot(
        builder_registry=REGISTRY, image_policy={"registries": [REGISTRY]}, api_token=API_TOKEN,
        github={"api_url": github.api_url, "token": GITHUB_TOKEN,
                "webhook_secret": WEBHOOK_SECRET, "hooks": [f"{repo.full_name}:{hook}"]},
        **more,
    )  # fmt: skip


def missed_push(
    github: FakeGitHub, repo: FakeRepo, hook: int, sha: str, **how: Any
) -> LoggedDelivery:
    payload = push_payload(repo, ref="refs/heads/main", before=ZERO_SHA, after=sha)
    return github.record_delivery(hook, "push", payload, secret=WEBHOOK_SECRET, **how)


def post(bot: InProcessBot, logged: LoggedDelivery) -> httpx.Response:
    return http.post(f"{bot.url}/webhooks/github", content=logged.body, headers=logged.headers)


def builds_of(bot: InProcessBot, repo: FakeRepo, sha: str) -> list[dict[str, Any]]:
    answer = http.get(
        f"{bot.url}/builds", params={"repo": repo.full_name},
        headers={"Authorization": f"Bearer {API_TOKEN}"},
    )  # fmt: skip
    answer.raise_for_status()
    return [b for b in answer.json()["builds"] if b["sha"] == sha]


def fetched(github: FakeGitHub, logged: LoggedDelivery) -> int:
    """How many times the bot asked the hook's log for this entry's request."""
    return sum(1 for r in github.requests if r.path.endswith(f"/deliveries/{logged.id}"))


def log_reads(github: FakeGitHub, hook: int) -> int:
    return sum(1 for r in github.requests if r.path.endswith(f"/hooks/{hook}/deliveries"))


def test_a_delivery_missed_while_the_bot_was_down_is_built_once_after_start(
    github: FakeGitHub, start_bot_in_process: InProcessBotFactory, bot_log: pytest.LogCaptureFixture
) -> None:
    repo, hook = hooked_repo(github)
    sha = repo.commit({".s2i.yaml": config(repo)}, "a commit")
    missed = missed_push(github, repo, hook, sha)  # GitHub could not reach the bot

    executor = QuickBuilds(ERROR)
    executor.hold()  # until the forge shows the build running, as a real one would
    bot = start(
        start_bot_in_process, github, repo, hook, missed_delivery_interval=0.1, executor=executor
    )
    github.wait_for(lambda: bool(github.statuses(repo.full_name, sha)), timeout=STATUS_SECONDS)
    executor.release()
    status = final_status(github, repo.full_name, sha, timeout=STATUS_SECONDS)
    assert status.state == "error"  # built (the registry is not there), reported
    assert next(s["state"] for s in github.statuses(repo.full_name, sha)) == "pending"
    info = http.get(f"{bot.url}/deliveries/{missed.guid}").json()
    assert info["processed"] and len(info["builds"]) == 1  # stored under GitHub's guid

    # More passes, and the same delivery POSTed as well (GitHub's redelivery shares the guid):
    # nothing is fetched or built again.
    reads = log_reads(github, hook)
    github.wait_for(lambda: log_reads(github, hook) >= reads + 2, timeout=30)
    answer = post(bot, missed)
    assert answer.status_code == 202 and answer.json() == {"duplicate": missed.guid}
    github.record_delivery(
        hook, "push", json.loads(missed.body), secret=WEBHOOK_SECRET, guid=missed.guid,
        status_code=202, status="OK",
    )  # fmt: skip
    github.wait_for(lambda: log_reads(github, hook) >= reads + 4, timeout=30)
    assert fetched(github, missed) == 1
    assert len(builds_of(bot, repo, sha)) == 1
    assert executor.runs_of(repo.full_name, sha) == 1
    assert "missed delivery " + missed.guid in bot_log.text


def test_the_periodic_pass_recovers_only_what_the_store_lacks(
    github: FakeGitHub, start_bot_in_process: InProcessBotFactory
) -> None:
    repo, hook = hooked_repo(github)
    base = repo.commit({".s2i.yaml": "builds: []\n"}, "nothing to build")
    executor = QuickBuilds(ERROR)
    # The catch-up (bot/catch_up.py) runs too: a pass landing between the commit and GitHub's
    # log entry builds the head itself (GitHub logs an attempt only once it ended), and the
    # recovered delivery must then not build it again (MissedDeliveries._caught_up).
    bot = start(
        start_bot_in_process, github, repo, hook, missed_delivery_interval=0.1, executor=executor
    )

    # Delivered and acknowledged; and delivered, stored, but logged failed (GitHub gave up
    # waiting for the answer after 10 s): the bot has both, and fetches neither. GitHub logs
    # an attempt once it ended, so each is POSTed first.
    payload = push_payload(repo, ref="refs/heads/main", before=ZERO_SHA, after=base)
    for status_code, said in ((202, "OK"), (504, "timed out")):
        body = json.dumps(payload).encode()
        headers = github_headers("push", body, WEBHOOK_SECRET)
        answer = http.post(f"{bot.url}/webhooks/github", content=body, headers=headers)
        assert answer.status_code == 202
        github.record_delivery(
            hook, "push", payload, secret=WEBHOOK_SECRET, guid=headers["X-GitHub-Delivery"],
            status_code=status_code, status=said,
        )  # fmt: skip
    delivered = github.hook_log(hook)

    sha = repo.commit({".s2i.yaml": config(repo)}, "a commit")
    missed = missed_push(github, repo, hook, sha)  # while the bot runs: a proxy lost it
    status = final_status(github, repo.full_name, sha, timeout=STATUS_SECONDS)
    assert status.state == "error"
    reads = log_reads(github, hook)
    github.wait_for(lambda: log_reads(github, hook) >= reads + 2, timeout=30)
    assert [fetched(github, logged) for logged in delivered] == [0, 0]
    assert fetched(github, missed) == 1
    assert len(builds_of(bot, repo, sha)) == 1
    assert executor.runs_of(repo.full_name, sha) == 1


def test_a_pass_fetches_at_most_missed_deliveries_per_pass_oldest_first(
    github: FakeGitHub, start_bot_in_process: InProcessBotFactory, bot_log: pytest.LogCaptureFixture
) -> None:
    repo, hook = hooked_repo(github)
    first = repo.commit({".s2i.yaml": "builds: [\n"}, "broken: a failed s2i/config")
    second = repo.commit({".s2i.yaml": "builds: [ [\n"}, "broken again")
    older, newer = missed_push(github, repo, hook, first), missed_push(github, repo, hook, second)

    start(
        start_bot_in_process,
        github,
        repo,
        hook,
        missed_delivery_interval=0.2,
        missed_deliveries_per_pass=1,
    )
    github.wait_for(
        lambda: all(github.statuses(repo.full_name, sha) for sha in (first, second)), timeout=30
    )
    details = [
        r.path.rsplit("/", 1)[1] for r in github.requests
        if r.path.rsplit("/", 1)[1] in (str(older.id), str(newer.id))
    ]  # fmt: skip
    assert details == [str(older.id), str(newer.id)]  # one a pass, the older first
    wait_until(
        lambda: "1 stored now, 1 wait for the next pass" in bot_log.text, timeout=10,
        what="the first pass to say what waits",
    )  # fmt: skip


def test_a_github_app_recovers_what_its_own_hook_missed_without_naming_a_hook(
    github: FakeGitHub, start_bot_in_process: InProcessBotFactory
) -> None:
    key, _ = shared_app_key()
    github.register_app(APP_ID, key)
    owner = unique("acme")
    installation = github.install_app(APP_ID, owner)
    repo = github.create_repo(f"{owner}/app")
    sha = repo.commit({".s2i.yaml": "builds: [\n"}, "broken: a failed s2i/config")
    payload = push_payload(repo, ref="refs/heads/main", before=ZERO_SHA, after=sha)
    payload["installation"] = {"id": installation, "node_id": "MDIzOkludGVncmF0aW9u"}
    hook = github.app_hook(APP_ID, "http://127.0.0.1:9/webhooks/github")
    missed = github.record_delivery(hook, "push", payload, secret=WEBHOOK_SECRET)

    start_bot_in_process(
        github={"api_url": github.api_url, "app_id": APP_ID, "private_key": key,
                "webhook_secret": WEBHOOK_SECRET},
    )  # fmt: skip
    # A GitHub App shows builds as check runs (github.check_runs: auto), not statuses.
    github.wait_for(lambda: bool(github.check_runs(repo.full_name)), timeout=30)
    (run,) = github.check_runs(repo.full_name)
    assert (run.name, run.head_sha, run.conclusion) == ("s2i/config", sha, "failure")
    assert run.app_id == APP_ID  # through the installation
    assert github.statuses(repo.full_name, sha) == []
    assert fetched(github, missed) == 1
    assert any(r.path.endswith("/app/hook/deliveries") for r in github.requests)
