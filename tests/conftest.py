from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.executors.base import Executor
from tests.fakes.github import FakeGitHub
from tests.support.bot_in_process import InProcessBot, InProcessBotFactory
from tests.support.bot_process import BotFactory, BotProcess
from tests.support.forges import GITHUB_TOKEN, WEBHOOK_SECRET, GitHubHarness
from tests.support.testenv import ProvisionedEnv


@pytest.fixture(scope="session")
def testenv() -> ProvisionedEnv:
    return ProvisionedEnv.load()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """`pytest -m "not e2e"` runs with nothing but the venv: a test that takes what
    scripts/provision.sh made (the testenv fixture, directly or through another fixture)
    must be marked e2e, or the run stops here naming it."""
    unmarked = [
        item.nodeid for item in items
        if "testenv" in getattr(item, "fixturenames", ()) and item.get_closest_marker("e2e") is None
    ]  # fmt: skip
    if unmarked:
        raise pytest.UsageError(
            "these tests use the provisioned environment (testenv) but are not marked e2e: "
            + ", ".join(unmarked)
        )


@pytest.fixture
def github() -> Iterator[FakeGitHub]:
    with FakeGitHub(GITHUB_TOKEN) as fake:
        yield fake
        assert fake.errors == [], (
            "the fake GitHub saw requests it does not know or that break the API description"
        )


@pytest.fixture
def github_forge(github: FakeGitHub) -> GitHubHarness:
    """The same fake GitHub, through the vocabulary both forges share (tests/support/forges.py)."""
    return GitHubHarness(github, GITHUB_TOKEN)


def _github_bot_settings(github: FakeGitHub) -> dict[str, Any]:
    return {
        "forge_write_interval": 0,
        "github": {"api_url": github.api_url, "token": GITHUB_TOKEN,
                   "webhook_secret": WEBHOOK_SECRET},
    }  # fmt: skip


@pytest.fixture
def start_bot(tmp_path: Path, github: FakeGitHub) -> Iterator[BotFactory]:
    """Start `s2i-bot serve` against the fake GitHub; keyword arguments override settings,
    but `builds=False`: a process that builds nothing (BotProcess.without_builds)."""
    started: list[BotProcess] = []

    def start(builds: bool = True, **settings: Any) -> BotProcess:
        workdir = tmp_path / f"bot{len(started)}"
        workdir.mkdir()
        bot = BotProcess(workdir, _github_bot_settings(github) | settings)
        if not builds:
            bot.without_builds()
        started.append(bot)
        return bot.start()

    yield start
    for bot in started:
        bot.stop()


@pytest.fixture
def start_bot_in_process(tmp_path: Path, github: FakeGitHub) -> Iterator[InProcessBotFactory]:
    """Start the bot in this process (tests/support/bot_in_process.py) against the fake
    GitHub; keyword arguments override settings, but `executor`: the fake it builds with
    (tests/fakes/executor.py; NoBuilds when not given)."""
    started: list[InProcessBot] = []

    def start(executor: Executor | None = None, **settings: Any) -> InProcessBot:
        workdir = tmp_path / f"bot{len(started)}"
        workdir.mkdir()
        bot = InProcessBot(workdir, _github_bot_settings(github) | settings, executor)
        started.append(bot)
        return bot.start()

    yield start
    for bot in started:
        bot.stop()
