"""Catch-up (issue 10: 4), against each fake forge: a branch pushed while the bot was down is
built on start as a push would be (statuses included), once, however many passes run after.

The bot runs in the test's process (tests/support/bot_in_process.py), stopped and started
again on its data as `s2i-bot serve` restarted would be: what is proven is what a start
decides to build, not how a process starts. Its builds end at once in an error
(tests/fakes/executor.QuickBuilds), reported to the forge as a real build's would be; real
builds are tests/e2e's."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.build_result import BuildResult
from bot.catch_up import catch_up_id
from tests.fakes.executor import QuickBuilds
from tests.fakes.github import FakeGitHub
from tests.fakes.gitlab import FakeGitLab
from tests.support import http
from tests.support.bot_in_process import InProcessBot
from tests.support.forges import GitHubHarness, GitLabHarness, Harness, forge
from tests.support.names import unique
from tests.support.outcomes import final_status
from tests.support.wait import wait_until

__all__ = ["forge"]  # the fixture (tests/support/forges.py): each test once per forge

API_TOKEN = "listing-" + "c" * 30
REGISTRY = "127.0.0.1:9"  # the images' registry, which the policy allows: nothing is pushed
ERROR = BuildResult(state="error", reason="the registry 127.0.0.1:9 does not answer")
STATUS_SECONDS = 30  # the builds end at once; a loaded machine is slow to report them


@pytest.fixture
def executor() -> QuickBuilds:
    return QuickBuilds(ERROR)


@pytest.fixture
def bot(
    forge: Harness, executor: QuickBuilds, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> Iterator[InProcessBot]:
    caplog.set_level(logging.INFO, logger="bot")  # what `s2i-bot serve` logs (bot/cli.py)
    settings: dict[str, Any] = {
        "forge_write_interval": 0, "builder_registry": REGISTRY,
        "image_policy": {"registries": [REGISTRY]}, "api_token": API_TOKEN,
        "missed_delivery_interval": 0.1, **forge.bot_settings(),
    }  # fmt: skip
    workdir = tmp_path / "bot"
    workdir.mkdir()
    in_process = InProcessBot(workdir, settings, executor)
    yield in_process
    in_process.stop()


def config(repo: str) -> str:
    return (
        f"builds:\n  - name: web\n    template: go\n    image: {REGISTRY}/{repo.lower()}\n"
        "    triggers: {branches: [main]}\n"
    )


def head_checks(forge: Harness) -> int:
    """How many times the bot asked the forge for a branch's head (one per branch a pass)."""
    fake = forge.fake if isinstance(forge, GitHubHarness | GitLabHarness) else None
    assert isinstance(fake, FakeGitHub | FakeGitLab)
    marks = ("/git/ref/heads/", "/repository/branches/")
    return sum(1 for r in fake.requests if any(m in r.path for m in marks))


def stored_and_processed(bot: InProcessBot, delivery_id: str) -> dict[str, Any]:
    """Wait until the bot stored the delivery (a catch-up pass makes it) and processed it."""

    def done() -> bool:
        answer = http.get(f"{bot.url}/deliveries/{delivery_id}")
        return answer.status_code == 200 and bool(answer.json()["processed"])

    wait_until(done, timeout=30, what=f"delivery {delivery_id} to be stored and processed")
    info: dict[str, Any] = http.get(f"{bot.url}/deliveries/{delivery_id}").json()
    return info


def builds_of(bot: InProcessBot, repo: str, sha: str) -> list[dict[str, Any]]:
    answer = http.get(
        f"{bot.url}/builds", params={"repo": repo}, headers={"Authorization": f"Bearer {API_TOKEN}"}
    )
    answer.raise_for_status()
    return [b for b in answer.json()["builds"] if b["sha"] == sha]


def test_a_branch_pushed_while_the_bot_was_down_is_built_once_on_start(
    forge: Harness, bot: InProcessBot, executor: QuickBuilds, caplog: pytest.LogCaptureFixture
) -> None:
    repo = forge.create_repo(unique("acme/app"))
    built = forge.commit(repo, {".s2i.yaml": config(repo)})
    bot.start()
    forge.push(bot, repo, "main", built)
    final_status(forge, repo, built, timeout=STATUS_SECONDS)
    bot.stop()

    missed = forge.commit(repo, {"a.txt": "pushed while the bot was down"})  # no webhook
    bot.start()
    status = final_status(forge, repo, missed, timeout=STATUS_SECONDS)
    assert status.state == {"github": "error", "gitlab": "failed"}[forge.forge]
    assert status.target_url.startswith(f"{bot.url}/builds/")  # its log, as a push's
    assert "catch-up of " in caplog.text

    checks = head_checks(forge)
    forge.wait_for(lambda: head_checks(forge) >= checks + 2, timeout=30)  # two more passes
    (build,) = builds_of(bot, repo, missed)
    assert build["state"] == "error"
    assert len(builds_of(bot, repo, built)) == 1
    assert (executor.runs_of(repo, built), executor.runs_of(repo, missed)) == (1, 1)


def test_the_catch_up_applies_path_filters_to_what_changed_since_the_last_build(
    forge: Harness, bot: InProcessBot, executor: QuickBuilds
) -> None:
    repo = forge.create_repo(unique("acme/mono"))
    built = forge.commit(repo, {".s2i.yaml": config(repo), "src/a.go": "a"})
    bot.start()
    forge.push(bot, repo, "main", built)
    final_status(forge, repo, built, timeout=STATUS_SECONDS)
    bot.stop()

    # While the bot is down: the build now filters on src/*, and only docs change. A push of
    # this would build nothing, and neither does the catch-up.
    filtered = config(repo).replace("{branches: [main]}", '{branches: [main], paths: ["src/*"]}')
    docs = forge.commit(repo, {".s2i.yaml": filtered, "README.md": "docs only"})
    bot.start()
    caught_up = stored_and_processed(bot, catch_up_id(forge.forge, repo, "main", docs))
    assert caught_up["builds"] == [] and caught_up["outcome"] == "0 build(s) planned"
    checks = head_checks(forge)
    forge.wait_for(lambda: head_checks(forge) >= checks + 2, timeout=30)  # two more passes
    assert forge.statuses(repo, docs) == [] and builds_of(bot, repo, docs) == []
    assert executor.runs_of(repo, docs) == 0
    bot.stop()

    # A change in src/ while the bot is down again: built on start.
    missed = forge.commit(repo, {"src/b.go": "b"})
    bot.start()
    final_status(forge, repo, missed, timeout=STATUS_SECONDS)
    assert len(builds_of(bot, repo, missed)) == 1
    assert executor.runs_of(repo, missed) == 1
