"""Two bots on one PostgreSQL database with the real local executor (s2i, docker, the
registry): the replica that compiles a build is killed with SIGKILL, and the other runs the
build again to the end; one final status, and the log of both runs behind one link that
answers on the surviving replica (issue 10: 3)."""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from tests.fakes.github import FakeGitHub
from tests.support.apps import app_repo, slow_go_app
from tests.support.bot_process import BotProcess
from tests.support.databases import fresh_database
from tests.support.deliveries import push_main
from tests.support.forges import GitHubHarness
from tests.support.images import skopeo_inspect
from tests.support.outcomes import FINAL_STATES, final_status, log_of
from tests.support.testenv import ProvisionedEnv
from tests.support.wait import wait_until

pytestmark = pytest.mark.e2e

STARTED, ENDED = "---> Building package", "---> Built "  # builders/go/s2i/assemble


def kill_runners(bot: BotProcess) -> None:
    """What a lost pod takes with it: the build runners the killed bot started (each leads a
    process group of its own, by its pid file), which on one host would otherwise go on."""
    for pid_file in (bot.data_dir / "work").glob("*/runner.pid"):
        with contextlib.suppress(ProcessLookupError, ValueError, OSError):
            os.killpg(int(pid_file.read_text()), signal.SIGKILL)


def test_a_replica_killed_while_it_compiles_has_its_build_run_again_by_the_other(
    github: FakeGitHub, github_forge: GitHubHarness,
    start_builder_bot: Callable[..., BotProcess], testenv: ProvisionedEnv, tmp_path: Path,
) -> None:  # fmt: skip
    with fresh_database("postgresql", tmp_path / "db") as database_url:
        leases = {"lease_seconds": 3, "lease_renew_seconds": 1, "delivery_retry_interval": 1}
        first = start_builder_bot(database_url=database_url, **leases)
        second = start_builder_bot(database_url=database_url, **leases)
        repo, image, sha = app_repo(github_forge, testenv.registry, "replicas", slow_go_app())
        push_main(github, first, repo, sha)

        def on_second(url: str) -> str:
            return second.url + "/builds/" + url.split("/builds/", 1)[1]

        def compiling() -> bool:
            building = [s for s in github.statuses(repo, sha) if s["description"] == "building"]
            if not building:
                return False
            log = httpx.get(on_second(f"{building[-1]['target_url']}/log"), timeout=10).text
            return STARTED in log and ENDED not in log

        # Read through the other replica: the live log is in the database.
        wait_until(compiling, timeout=300, what="the first replica's build to compile")
        first.stop(signal.SIGKILL)
        kill_runners(first)

        status = final_status(github_forge, repo, sha)
        log = httpx.get(on_second(f"{status.target_url}/log"), timeout=10).text
        assert status.state == "success", log
        digest = status.description.split()[0]
        assert skopeo_inspect(testenv, f"{image}:main")["Digest"] == digest
        # Compiled twice (the dead replica's run as far as it got, then the whole of the
        # adopter's), pushed once, reported final once.
        assert log.count(STARTED) >= 2 and f"pushed {image}:main@{digest}" in log
        finals = [s for s in github_forge.statuses(repo, sha) if s.state in FINAL_STATES["github"]]
        assert finals == [status]
        assert "adopted by replica" in second.log()
        assert log_of(status) == log  # the link as published (by the replica that sent it)
        second.stop()
