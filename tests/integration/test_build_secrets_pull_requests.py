"""Build secrets and pull requests, through the running bot on both forges (each against its
fake; builds by tests/fakes/executor.QuickBuilds): a fork's pull request asking for a build
secret never gets it, even once a writer approved it with `/s2i ok-to-test`; its build fails
at once saying why, and nothing runs. A writer's own pull request builds with it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.build_result import BuildResult
from tests.fakes.executor import QuickBuilds
from tests.support import http
from tests.support.bot_in_process import InProcessBot
from tests.support.forges import Harness, forge
from tests.support.names import unique
from tests.support.wait import wait_until

__all__ = ["forge"]  # the fixture (tests/support/forges.py): each test once per forge

WRITER = "maintainer"
REGISTRY = "127.0.0.1:9"


@pytest.fixture
def builds() -> QuickBuilds:
    return QuickBuilds(BuildResult(state="succeeded", digest="sha256:" + "0" * 64, size=1))


@pytest.fixture
def bot(forge: Harness, tmp_path: Path, builds: QuickBuilds) -> Iterator[InProcessBot]:
    npmrc = tmp_path / "npmrc"
    npmrc.write_text("//registry.example.com/:_authToken=npm_secretToken123\n")
    settings = {
        "forge_write_interval": 0, **forge.bot_settings(),
        "image_policy": {"registries": [REGISTRY]},
        "build_secrets": {"npmrc": {"file": str(npmrc), "repositories": ["acme/*"],
                                    "env": "NPM_CONFIG_USERCONFIG"}},
    }  # fmt: skip
    if forge.forge == "gitlab":  # the GitHub side must still be configured: point it nowhere
        settings.setdefault("github", {"api_url": "http://127.0.0.1:9/api/v3"})
    workdir = tmp_path / "bot"
    workdir.mkdir()
    started = InProcessBot(workdir, settings, builds).start()
    yield started
    started.stop()


def config(repo: str) -> str:
    return (
        f"builds:\n  - name: web\n    template: nodejs\n    image: {REGISTRY}/{repo.lower()}\n"
        "    triggers: {branches: [main], pull_requests: true}\n    secrets: [npmrc]\n"
    )


def web_status(forge: Harness, repo: str, sha: str) -> tuple[str, str]:
    forge.wait_for(
        lambda: any(s.context == "s2i/web" and s.state not in ("pending", "running")
                    for s in forge.statuses(repo, sha)),
        timeout=30,
    )  # fmt: skip
    (status,) = [s for s in forge.statuses(repo, sha) if s.context == "s2i/web"][-1:]
    return status.state, status.description


def test_an_approved_fork_pull_request_asking_for_a_build_secret_does_not_get_it(
    forge: Harness, bot: InProcessBot, builds: QuickBuilds
) -> None:
    repo = forge.create_repo(unique("acme/app"))
    forge.commit(repo, {".s2i.yaml": config(repo), "package.json": "{}"})
    forge.grant_write(repo, WRITER)
    number, head = forge.open_pull(bot, repo, {"a.txt": "1"}, author="mallory", fork=True)
    forge.wait_for(lambda: any(f"(for commit {head[:7]})" in c
                               for c in forge.comments(repo, number)), timeout=30)  # fmt: skip
    # The notice is published when the forge shows it and the bot recorded it; approving
    # earlier rightly approves nothing (tests/integration/test_pull_request_commands.py).
    # Polled: the bot records what the forge took after the forge answered, so a condition
    # the fake re-checks at each request it serves may only hold after its last one.
    wait_until(
        lambda: http.get(f"{bot.url}/healthz").json()["unsent_outbox_items"] == 0, timeout=30,
        what="the notice to be sent",
    )  # fmt: skip
    forge.comment(bot, repo, number, "/s2i ok-to-test", author=WRITER)

    state, description = web_status(forge, repo, head)
    assert state in ("failure", "failed")  # GitHub's word, GitLab's
    assert description.startswith(
        "build 'web' needs build secret 'npmrc', and builds of pull requests from forks never "
        "get build secrets"
    ), description
    assert builds.runs_of(repo, head) == 0


def test_a_writers_pull_request_builds_with_its_build_secret(
    forge: Harness, bot: InProcessBot, builds: QuickBuilds
) -> None:
    repo = forge.create_repo(unique("acme/app"))
    forge.commit(repo, {".s2i.yaml": config(repo), "package.json": "{}"})
    forge.grant_write(repo, WRITER)
    _, head = forge.open_pull(bot, repo, {"a.txt": "1"}, author=WRITER, fork=False)
    assert web_status(forge, repo, head)[0] == "success"
    assert builds.runs_of(repo, head) == 1
