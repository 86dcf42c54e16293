"""Two bot processes on one PostgreSQL database, behind no balancer (issue 10: 3): deliveries
posted to either or to both are each processed once, each build runs once, each status
reaches the forge once; a replica killed (SIGKILL) mid-build has its build adopted by the
other, whose final status arrives once; every log link answers on both replicas; a replica
is ready (GET /readyz) only while its database answers.

The builds are FileGatedExecutor's (tests/fakes/executor.py), driven from here through
files: what is tested is who does what, not building."""

from __future__ import annotations

import json
import signal
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
import sqlalchemy as sa

from bot.build_result import BuildResult
from tests.fakes.executor import FileGatedExecutor
from tests.fakes.github import FakeGitHub, FakeRepo
from tests.fakes.webhooks import ZERO_SHA, github_headers, push_payload
from tests.support import http
from tests.support.bot_process import BotFactory, BotProcess
from tests.support.databases import fresh_database
from tests.support.forges import GITHUB_TOKEN, WEBHOOK_SECRET
from tests.support.names import unique
from tests.support.outcomes import FINAL_STATES, final_status
from tests.support.testenv import ProvisionedEnv
from tests.support.wait import wait_until

pytestmark = pytest.mark.e2e  # the PostgreSQL server scripts/provision.sh started

REGISTRY = "127.0.0.1:5000"
DIGEST = "sha256:" + "1" * 64
LEASE = 2.0  # seconds: a killed replica's build is adopted this long after its last renewal


@dataclass
class Replicas:
    bots: list[BotProcess]
    gates: FileGatedExecutor

    def by_pid(self, pid: int) -> BotProcess:
        return next(bot for bot in self.bots if bot.pid == pid)


@pytest.fixture
def replicas(tmp_path: Path, github: FakeGitHub) -> Iterator[Replicas]:
    gates = tmp_path / "gates"
    gates.mkdir()
    with fresh_database("postgresql", tmp_path) as database_url:
        bots = []
        for index in range(2):
            workdir = tmp_path / f"replica{index}"
            workdir.mkdir()
            settings: dict[str, Any] = {
                "database_url": database_url,
                "lease_seconds": LEASE,
                "lease_renew_seconds": LEASE / 4,
                "delivery_retry_interval": 0.5,
                "forge_write_interval": 0,
                "max_concurrent_builds": 8,  # every build of a test at once
                "image_policy": {"registries": [REGISTRY]},
                "github": {
                    "api_url": github.api_url,
                    "token": GITHUB_TOKEN,
                    "webhook_secret": WEBHOOK_SECRET,
                },
            }
            bot = BotProcess(workdir, settings)
            bot.argv = ["tests.support.gated_bot", str(bot.config_file), str(gates)]
            bots.append(bot.start())
        try:
            yield Replicas(bots, FileGatedExecutor(gates))
        finally:
            for bot in bots:
                bot.stop()


def pushed(github: FakeGitHub) -> tuple[FakeRepo, str, bytes, dict[str, str]]:
    repo = github.create_repo(unique("acme/app"))
    config = (
        "builds:\n  - name: web\n    template: python\n"
        f"    image: {REGISTRY}/{repo.full_name}\n    triggers: {{branches: [main]}}\n"
    )
    sha = repo.commit({".s2i.yaml": config, "app.py": "print('hi')\n"}, "a commit")
    body = json.dumps(push_payload(repo, ref="refs/heads/main", before=ZERO_SHA, after=sha))
    return repo, sha, body.encode(), github_headers("push", body.encode(), WEBHOOK_SECRET)


def post(bot: BotProcess, body: bytes, headers: dict[str, str]) -> int:
    return http.post(f"{bot.url}/webhooks/github", content=body, headers=headers).status_code


def final_count(github: FakeGitHub, repo: FakeRepo, sha: str) -> int:
    final = FINAL_STATES["github"]
    return sum(1 for s in github.statuses(repo.full_name, sha) if s["state"] in final)


def on(bot: BotProcess, url: str) -> str:
    """The same path, asked of `bot`: a link one replica published, followed on another."""
    return bot.url + "/builds/" + url.split("/builds/", 1)[1]


def test_deliveries_posted_to_both_replicas_are_processed_built_and_reported_once(
    github: FakeGitHub, replicas: Replicas
) -> None:
    a, b = replicas.bots
    pushes = [pushed(github) for _ in range(6)]
    # Even pushes go to both replicas at once (the same delivery twice), odd ones to one.
    posts = []
    for index, (_, _, body, headers) in enumerate(pushes):
        targets = [a, b] if index % 2 == 0 else [(a, b)[index // 2 % 2]]
        posts += [(bot, body, headers) for bot in targets]
    with ThreadPoolExecutor(len(posts)) as pool:
        answers = list(pool.map(lambda p: post(*p), posts))
    assert answers == [202] * len(posts)

    wait_until(lambda: len(replicas.gates.runs()) >= len(pushes), timeout=60,
               what="a build started for each push")  # fmt: skip
    for build_id, _ in replicas.gates.runs():
        replicas.gates.finish(build_id, BuildResult(state="succeeded", digest=DIGEST))
    for repo, sha, _, headers in pushes:
        status = final_status(github, repo.full_name, sha, timeout=60)
        assert status.state == "success"
        for bot in (a, b):  # the log behind the status's link answers on either replica
            answer = http.get(on(bot, f"{status.target_url}/log"))
            assert answer.status_code == 200 and "fake build" in answer.text
            info = http.get(f"{bot.url}/deliveries/{headers['X-GitHub-Delivery']}").json()
            assert info["processed"] and info["attempts"] == 0 and len(info["builds"]) == 1

    runs = replicas.gates.runs()
    assert len(runs) == len(pushes) == len({build_id for build_id, _ in runs})  # each once
    assert {pid for _, pid in runs} <= {a.pid, b.pid}
    for repo, sha, _, _ in pushes:
        # Each delivery processed once: one read of its .s2i.yaml, whoever got it.
        path = f"/repos/{repo.full_name}/contents/.s2i.yaml"
        assert sum(1 for r in github.requests if r.path.endswith(path)) == 1
        # Each status sent once: no state reached the forge twice.
        sent = [(s["state"], s["description"]) for s in github.statuses(repo.full_name, sha)]
        assert len(sent) == len(set(sent)), sent
        assert final_count(github, repo, sha) == 1


def test_a_replica_killed_mid_build_has_its_build_adopted_and_the_final_status_arrives_once(
    github: FakeGitHub, replicas: Replicas
) -> None:
    repo, sha, body, headers = pushed(github)
    assert post(replicas.bots[0], body, headers) == 202
    wait_until(lambda: len(replicas.gates.runs()) == 1, timeout=30, what="the build to start")
    ((build_id, pid),) = replicas.gates.runs()
    victim = replicas.by_pid(pid)
    survivor = next(bot for bot in replicas.bots if bot is not victim)
    # The running build's log, live, through the other replica.
    wait_until(lambda: bool(github.statuses(repo.full_name, sha)), timeout=30,
               what="the building status")  # fmt: skip
    log_url = on(survivor, f"{github.statuses(repo.full_name, sha)[0]['target_url']}/log")
    wait_until(lambda: f"running in process {pid}" in http.get(log_url).text, timeout=30,
               what="the running build's log on the other replica")  # fmt: skip

    victim.stop(signal.SIGKILL)
    wait_until(lambda: len(replicas.gates.runs()) == 2, timeout=30,
               what="the other replica to adopt the build")  # fmt: skip
    assert replicas.gates.runs()[1] == (build_id, survivor.pid)
    replicas.gates.finish(build_id, BuildResult(state="succeeded", digest=DIGEST))

    status = final_status(github, repo.full_name, sha, timeout=60)
    assert status.state == "success" and DIGEST[:19] in status.description
    log = http.get(log_url).text
    assert f"running in process {pid}" in log and f"running in process {survivor.pid}" in log
    # Once: nothing the dead replica left in the outbox sends it again.
    wait_until(lambda: http.get(f"{survivor.url}/healthz").json()["active_builds"] == 0,
               timeout=30, what="the survivor to finish")  # fmt: skip
    assert final_count(github, repo, sha) == 1


def test_a_replica_is_ready_only_while_its_database_answers(
    tmp_path: Path, start_bot: BotFactory
) -> None:
    with fresh_database("postgresql", tmp_path) as database_url:
        bot = start_bot(database_url=database_url)
        assert http.get(f"{bot.url}/readyz").status_code == 200
        name = sa.make_url(database_url).database
        with psycopg.connect(ProvisionedEnv.load().postgres_url, autocommit=True) as admin:
            # The database goes away: no new connection, the bot's ones cut.
            admin.execute(f"ALTER DATABASE {name} ALLOW_CONNECTIONS false")
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                (name,),
            )
            answer = http.get(f"{bot.url}/readyz")
            assert answer.status_code == 503
            assert answer.json()["error"] == "the database does not answer"
            admin.execute(f"ALTER DATABASE {name} ALLOW_CONNECTIONS true")
        wait_until(lambda: http.get(f"{bot.url}/readyz").status_code == 200, timeout=30,
                   what="the bot to be ready again")  # fmt: skip
        bot.stop()
