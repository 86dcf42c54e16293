"""End to end: `s2i-bot trigger` against `s2i-bot serve` -> the real s2i and engine -> the real
registry -> the commit's status on the (fake) GitHub, as for a push; refused without the
token, with nothing built (issue 12: 4)."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Callable

import pytest

from tests.fakes.github import FakeGitHub
from tests.support.apps import app_files, app_repo
from tests.support.bot_process import BotProcess, user_environment
from tests.support.forges import GitHubHarness
from tests.support.images import skopeo_inspect
from tests.support.outcomes import final_status, log_of
from tests.support.testenv import ProvisionedEnv

pytestmark = pytest.mark.e2e
StartBot = Callable[..., BotProcess]
API_TOKEN = "operator-" + "e" * 30


def trigger(bot: BotProcess, *args: str, token: str) -> subprocess.CompletedProcess[str]:
    env = user_environment() | {"S2I_BOT_API_TOKEN": token}
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", "trigger", *args, "--url", bot.url],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def test_a_trigger_builds_the_branch_head_into_the_registry_and_reports_it_on_the_commit(
    github: FakeGitHub, github_forge: GitHubHarness, start_builder_bot: StartBot,
    testenv: ProvisionedEnv,
) -> None:  # fmt: skip
    bot = start_builder_bot(api_token=API_TOKEN)
    repo, image, sha = app_repo(github_forge, testenv.registry, "trigger", app_files("go-hello"))

    refused = trigger(bot, repo, token="not-the-token")
    assert refused.returncode == 1 and "(401)" in refused.stderr
    assert github.statuses(repo, sha) == []

    accepted = trigger(bot, repo, "--name", "web", token=API_TOKEN)
    assert accepted.returncode == 0, accepted.stderr
    assert f"refs/heads/main at {sha[:12]} (builds: web)" in accepted.stdout
    status = final_status(github_forge, repo, sha)
    assert status.state == "success", log_of(status)
    match = re.match(r"(sha256:[0-9a-f]{64}) ", status.description)
    assert match, status.description
    assert skopeo_inspect(testenv, f"{image}:main")["Digest"] == match.group(1)
    descriptions = [s["description"] for s in github.statuses(repo, sha)]
    assert all("manual trigger" in d for d in descriptions[:-1]), descriptions
