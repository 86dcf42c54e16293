"""Manual triggers (issue 12: 4), against each fake forge: `POST /api/builds` and
`s2i-bot trigger` build a branch or tag head as a push would (statuses included), only with
the bot's api_token, and refuse what `.s2i.yaml` does not build with a 4xx saying why.

The bot runs in the test's process (tests/support/bot_in_process.py); its builds end at once
with the result the test chose (tests/fakes/executor.QuickBuilds) and are reported to the
forge as a real build's would be. The command line runs as its own process, as an operator
or a CronJob runs it."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.build_result import BuildResult
from tests.fakes.executor import QuickBuilds
from tests.support import http
from tests.support.bot_in_process import InProcessBot
from tests.support.bot_process import user_environment
from tests.support.forges import Harness, forge
from tests.support.names import unique
from tests.support.outcomes import final_status
from tests.support.wait import wait_until

__all__ = ["forge"]  # the fixture (tests/support/forges.py): each test once per forge

API_TOKEN = "operator-" + "t" * 30
REGISTRY = "127.0.0.1:9"  # the images' registry, which the policy allows: nothing is pushed
DIGEST = "sha256:" + "d" * 64
BUILT = BuildResult(state="succeeded", image=f"{REGISTRY}/x:main", digest=DIGEST, size=1000)
STATUS_SECONDS = 30  # the builds end at once; a loaded machine is slow to report them
AUTH = {"Authorization": f"Bearer {API_TOKEN}"}


@pytest.fixture
def executor() -> QuickBuilds:
    return QuickBuilds(BUILT)


def _bot(forge: Harness, executor: QuickBuilds, workdir: Path, **extra: Any) -> InProcessBot:
    settings: dict[str, Any] = {
        "forge_write_interval": 0, "builder_registry": REGISTRY,
        "image_policy": {"registries": [REGISTRY]}, "missed_delivery_interval": 0,
        **forge.bot_settings(), **extra,
    }  # fmt: skip
    workdir.mkdir()
    return InProcessBot(workdir, settings, executor)


@pytest.fixture
def bot(forge: Harness, executor: QuickBuilds, tmp_path: Path) -> Iterator[InProcessBot]:
    in_process = _bot(forge, executor, tmp_path / "bot", api_token=API_TOKEN).start()
    yield in_process
    in_process.stop()


CONFIG = """\
builds:
  - name: web
    template: go
    image: {registry}/{repo}
    triggers: {{branches: [main], paths: [src/*]}}
  - name: worker
    template: go
    image: {registry}/{repo}/worker
    triggers: {{branches: [main, "release/*"]}}
  - name: release
    template: go
    image: {registry}/{repo}/release
    triggers: {{tags: ["v*"]}}
"""


def repo_with_config(forge: Harness) -> tuple[str, str]:
    repo = forge.create_repo(unique("acme/app"))
    sha = forge.commit(repo, {".s2i.yaml": CONFIG.format(registry=REGISTRY, repo=repo.lower())})
    return repo, sha


def trigger(
    bot: InProcessBot, body: dict[str, Any], headers: dict[str, str] | None = None
) -> httpx.Response:
    headers = AUTH if headers is None else headers
    return http.post(f"{bot.url}/api/builds", json=body, headers=headers, timeout=30)


def processed(bot: InProcessBot, delivery_id: str) -> dict[str, Any]:
    def done() -> bool:
        answer = http.get(f"{bot.url}/deliveries/{delivery_id}")
        return answer.status_code == 200 and bool(answer.json()["processed"])

    wait_until(done, timeout=30, what=f"delivery {delivery_id} to be processed")
    info: dict[str, Any] = http.get(f"{bot.url}/deliveries/{delivery_id}").json()
    return info


def built_names(bot: InProcessBot, info: dict[str, Any]) -> list[str]:
    return sorted(http.get(f"{bot.url}/builds/{key}").json()["name"] for key in info["builds"])


def test_a_trigger_builds_the_default_branch_head_as_a_push_would_with_its_statuses(
    forge: Harness, bot: InProcessBot, executor: QuickBuilds
) -> None:
    repo, head = repo_with_config(forge)
    executor.hold()  # the builds run until released: their running statuses show
    answer = trigger(bot, {"repo": repo})
    assert answer.status_code == 202, answer.text
    accepted = answer.json()
    delivery_id = accepted["accepted"]
    assert accepted["delivery"] == f"{bot.url}/deliveries/{delivery_id}"
    assert (accepted["ref"], accepted["sha"]) == ("refs/heads/main", head)
    # Path filters do not hold a trigger back: `web` builds though nothing in src/ changed.
    assert sorted(accepted["builds"]) == ["web", "worker"]

    def said(context: str) -> bool:  # each build's statuses say why it runs
        statuses = forge.statuses(repo, head)
        return any(s.context == context and "(manual trigger)" in s.description for s in statuses)

    forge.wait_for(lambda: said("s2i/web") and said("s2i/worker"), timeout=STATUS_SECONDS)
    executor.release()
    for context in ("s2i/web", "s2i/worker"):
        status = final_status(forge, repo, head, context, timeout=STATUS_SECONDS)
        assert status.state == "success" and DIGEST in status.description
        assert status.target_url.startswith(f"{bot.url}/builds/")
    info = processed(bot, delivery_id)
    assert built_names(bot, info) == ["web", "worker"]

    # A second trigger of the same head builds it again: a scheduled rebuild is one.
    again = trigger(bot, {"repo": repo, "ref": "main", "name": "web"})
    assert again.status_code == 202, again.text
    assert again.json()["accepted"] != delivery_id and again.json()["builds"] == ["web"]
    assert built_names(bot, processed(bot, again.json()["accepted"])) == ["web"]
    forge.wait_for(lambda: executor.runs_of(repo, head) == 3, timeout=STATUS_SECONDS)


def test_a_trigger_of_a_tag_builds_what_the_tag_rules_of_s2i_yaml_build(
    forge: Harness, bot: InProcessBot, executor: QuickBuilds
) -> None:
    repo, head = repo_with_config(forge)
    forge.create_tag(repo, "v1.2", head)
    for ref in ("v1.2", "refs/tags/v1.2"):
        answer = trigger(bot, {"repo": repo, "ref": ref})
        assert answer.status_code == 202, answer.text
        assert (answer.json()["ref"], answer.json()["builds"]) == ("refs/tags/v1.2", ["release"])
        assert built_names(bot, processed(bot, answer.json()["accepted"])) == ["release"]
    status = final_status(forge, repo, head, "s2i/release", timeout=STATUS_SECONDS)
    assert status.state == "success"
    # `web` builds branch main only: a tag is not its to build.
    refused = trigger(bot, {"repo": repo, "ref": "v1.2", "name": "web"})
    assert refused.status_code == 422
    assert "build 'web' does not build tag v1.2" in refused.json()["error"]


def test_a_trigger_with_a_name_builds_that_build_only(
    forge: Harness, bot: InProcessBot, executor: QuickBuilds
) -> None:
    repo, head = repo_with_config(forge)
    branch_head = forge.commit(repo, {"src/a.go": "a"}, branch="release/1")
    answer = trigger(bot, {"repo": repo, "ref": "release/1", "name": "worker"})
    assert answer.status_code == 202, answer.text
    assert built_names(bot, processed(bot, answer.json()["accepted"])) == ["worker"]
    assert final_status(forge, repo, branch_head, "s2i/worker", STATUS_SECONDS).state == "success"
    assert [s.context for s in forge.statuses(repo, branch_head)] == ["s2i/worker"] * len(
        forge.statuses(repo, branch_head)
    )
    assert executor.runs_of(repo, head) == 0


def test_a_trigger_refuses_what_the_forge_or_s2i_yaml_does_not_know_and_stores_nothing(
    forge: Harness, bot: InProcessBot, executor: QuickBuilds
) -> None:
    repo, head = repo_with_config(forge)
    refusals = {
        # (body) -> (status, what the error says)
        ("acme/no-such-repo", None, None): (404, "no-such-repo"),
        (repo, "no-such-branch", None): (404, "has no branch or tag 'no-such-branch'"),
        (repo, "refs/tags/v9", None): (404, "has no tag 'v9'"),
        (repo, "main", "no-such-build"): (422, "no build named 'no-such-build'"),
        (repo, "main", "release"): (422, "build 'release' does not build branch main"),
        (repo, "main..x", None): (400, "is not a branch or tag name"),
    }
    forge.commit(repo, {"x": "x"}, branch="feature")
    refusals[(repo, "feature", None)] = (422, "no build in .s2i.yaml")
    for (name, ref, build), (status, error) in refusals.items():
        answer = trigger(bot, {"repo": name, "ref": ref, "name": build})
        assert (answer.status_code, error in answer.json()["error"]) == (status, True), answer.text
    for body in ({}, {"repo": 5}, {"repo": repo, "branch": "main"}, {"repo": "../x"}):
        answer = trigger(bot, body)
        assert answer.status_code == 400, (body, answer.text)
    answer = trigger(bot, {"repo": repo, "forge": "bitbucket"})
    assert answer.status_code == 404 and "no forge 'bitbucket'" in answer.json()["error"]
    assert forge.statuses(repo, head) == [] and executor.ran == []


def test_a_trigger_needs_the_api_token(
    forge: Harness, executor: QuickBuilds, tmp_path: Path
) -> None:
    repo, head = repo_with_config(forge)
    with_token = _bot(forge, executor, tmp_path / "with", api_token=API_TOKEN).start()
    try:
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": API_TOKEN}):
            answer = trigger(with_token, {"repo": repo}, headers)
            assert answer.status_code == 401, (headers, answer.text)
            assert answer.headers["www-authenticate"] == 'Bearer realm="s2i-bot"'
    finally:
        with_token.stop()
    without = _bot(forge, executor, tmp_path / "without").start()
    try:
        assert trigger(without, {"repo": repo}).status_code == 404  # no token: no triggers
    finally:
        without.stop()
    assert forge.statuses(repo, head) == [] and executor.ran == []


def run_cli(
    bot: InProcessBot, *args: str, token: str | None = API_TOKEN
) -> subprocess.CompletedProcess[str]:
    """`s2i-bot trigger` as its own process, its URL and token from the environment."""
    env = user_environment() | {"S2I_BOT_PUBLIC_URL": bot.url}
    if token is not None:
        env["S2I_BOT_API_TOKEN"] = token
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", "trigger", *args],
        env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


def test_the_trigger_command_builds_through_the_running_bot_and_says_why_it_cannot(
    forge: Harness, bot: InProcessBot, executor: QuickBuilds
) -> None:
    repo, head = repo_with_config(forge)
    done = run_cli(bot, repo, "--name", "worker", "--forge", forge.forge)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"accepted: {forge.forge} {repo} refs/heads/main at {head[:12]}")
    assert "(builds: worker)" in done.stdout and f"{bot.url}/deliveries/trigger-" in done.stdout
    assert final_status(forge, repo, head, "s2i/worker", STATUS_SECONDS).state == "success"

    refused = run_cli(bot, repo, "--ref", "nope")
    assert (refused.returncode, refused.stdout) == (1, "")
    assert refused.stderr == (
        f"s2i-bot: the bot refused the trigger (404): {repo} has no branch or tag 'nope'\n"
    )
    wrong = run_cli(bot, repo, token="wrong")
    assert wrong.returncode == 1
    assert wrong.stderr == (
        "s2i-bot: the bot refused the token (401): set S2I_BOT_API_TOKEN to the bot's api_token\n"
    )
    missing = run_cli(bot, repo, token=None)
    assert missing.returncode == 2 and "no api_token: set S2I_BOT_API_TOKEN" in missing.stderr
    unreachable = run_cli(bot, repo, "--url", "http://127.0.0.1:9")
    assert unreachable.returncode == 2 and len(unreachable.stderr.splitlines()) == 1
    assert unreachable.stderr.startswith("s2i-bot: cannot reach the bot at http://127.0.0.1:9/")
    assert executor.runs_of(repo, head) == 1
