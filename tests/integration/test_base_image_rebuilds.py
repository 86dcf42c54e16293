"""Rebuilds on a new base image (issue 12: 2), against each fake forge: a registry's
notification that a builder image's tag moved rebuilds the latest successful build of the
branch from the same commit, with a status saying on what; only with the registry's token,
and not for a repository whose `.s2i.yaml` turns it off.

The bot runs in the test's process (tests/support/bot_in_process.py); its builds end at once
with the result the test chose, recording the base image digests a real runner reads
(tests/fakes/executor.QuickBuilds). The real registry, its notifications and a real rebuild:
tests/e2e/test_base_image_rebuilds.py."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.base_images import rebuild_id
from bot.build_result import BuildResult
from tests.fakes.executor import QuickBuilds
from tests.support import http
from tests.support.bot_in_process import InProcessBot
from tests.support.forges import Harness, forge
from tests.support.names import unique
from tests.support.outcomes import final_status
from tests.support.wait import wait_until

__all__ = ["forge"]  # the fixture (tests/support/forges.py): each test once per forge

REGISTRY_TOKEN = "registry-" + "b" * 30
REGISTRY = "127.0.0.1:9"  # where the templates' images are named; nothing is pulled
BUILDER = f"{REGISTRY}/s2i-bot/go:latest"  # config/templates/go.yaml, in builder_registry
OLD, NEW = "sha256:" + "1" * 64, "sha256:" + "2" * 64
BUILT = BuildResult(
    state="succeeded", digest="sha256:" + "d" * 64, size=1000,
    builder_digest=OLD, runtime_digest="sha256:" + "3" * 64,
)  # fmt: skip
STATUS_SECONDS = 30
AUTH = {"Authorization": f"Bearer {REGISTRY_TOKEN}"}


@pytest.fixture
def executor() -> QuickBuilds:
    return QuickBuilds(BUILT)


def _bot(forge: Harness, executor: QuickBuilds, workdir: Path, **extra: Any) -> InProcessBot:
    settings: dict[str, Any] = {
        "forge_write_interval": 0, "builder_registry": REGISTRY,
        "image_policy": {"registries": [REGISTRY]}, "missed_delivery_interval": 0,
        "base_image_check_interval": 0, **forge.bot_settings(), **extra,
    }  # fmt: skip
    workdir.mkdir()
    return InProcessBot(workdir, settings, executor)


@pytest.fixture
def bot(forge: Harness, executor: QuickBuilds, tmp_path: Path) -> Iterator[InProcessBot]:
    in_process = _bot(forge, executor, tmp_path / "bot", registry_webhook_token=REGISTRY_TOKEN)
    yield in_process.start()
    in_process.stop()


def notification(repository: str, tag: str, digest: str) -> bytes:
    """Docker Distribution's envelope for a manifest pushed under a tag (and its layer)."""
    manifest = "application/vnd.docker.distribution.manifest.v2+json"
    events = [
        {"action": "push", "target": {"mediaType": "application/octet-stream",
                                      "digest": "sha256:" + "4" * 64, "repository": repository}},
        {"id": "e1", "timestamp": "2026-11-30T14:00:00Z", "action": "push",
         "target": {"mediaType": manifest, "size": 1000, "digest": digest, "length": 1000,
                    "repository": repository, "tag": tag,
                    "url": f"http://{REGISTRY}/v2/{repository}/manifests/{digest}"},
         "request": {"id": "r1", "addr": "127.0.0.1:40000", "host": REGISTRY, "method": "PUT",
                     "useragent": "docker/24"},
         "actor": {}, "source": {"addr": "host:5000", "instanceID": "i1"}},
    ]  # fmt: skip
    return json.dumps({"events": events}).encode()


def notify(bot: InProcessBot, body: bytes, headers: dict[str, str] | None = None) -> httpx.Response:
    headers = {"Content-Type": "application/vnd.docker.distribution.events.v1+json",
               **(AUTH if headers is None else headers)}  # fmt: skip
    return http.post(f"{bot.url}/webhooks/registry", content=body, headers=headers, timeout=30)


def built_app(forge: Harness, bot: InProcessBot, extra: str = "") -> tuple[str, str]:
    """A repository whose `main` was pushed and built on the builder at OLD."""
    repo = forge.create_repo(unique("acme/app"))
    config = (
        f"builds:\n  - name: web\n    template: go\n    image: {REGISTRY}/{repo.lower()}\n"
        f"    triggers: {{branches: [main]}}\n{extra}"
    )
    sha = forge.commit(repo, {".s2i.yaml": config})
    forge.push(bot, repo, "main", sha)
    assert final_status(forge, repo, sha, timeout=STATUS_SECONDS).state == "success"
    return repo, sha


def processed(bot: InProcessBot, delivery_id: str) -> dict[str, Any]:
    def done() -> bool:
        answer = http.get(f"{bot.url}/deliveries/{delivery_id}")
        return answer.status_code == 200 and bool(answer.json()["processed"])

    wait_until(done, timeout=30, what=f"delivery {delivery_id} to be processed")
    info: dict[str, Any] = http.get(f"{bot.url}/deliveries/{delivery_id}").json()
    return info


def the_rebuild(bot: InProcessBot, repo: str) -> str:
    """The id of the rebuild of repo's build of main on the builder at NEW."""
    assert bot.bot is not None
    (build,) = [b for b in bot.bot.store.last_successful_branch_builds() if b.repo == repo]
    return rebuild_id(build, BUILDER, NEW)


def test_a_new_builder_digest_rebuilds_the_branch_from_the_same_commit_and_says_so(
    forge: Harness, bot: InProcessBot, executor: QuickBuilds
) -> None:
    repo, sha = built_app(forge, bot)
    delivery_id = the_rebuild(bot, repo)
    # Another image's tag, and the builder's tag at the digest it was built on: nothing.
    assert notify(bot, notification("s2i-bot/python", "latest", NEW)).status_code == 202
    assert notify(bot, notification("s2i-bot/go", "latest", OLD)).status_code == 202

    answer = notify(bot, notification("s2i-bot/go", "latest", NEW))
    assert answer.status_code == 202, answer.text
    assert answer.json() == {"tags": [f"{REGISTRY}/s2i-bot/go:latest@{NEW}"]}
    info = processed(bot, delivery_id)
    assert len(info["builds"]) == 1 and info["outcome"] == "1 build(s) planned"

    def rebuild_reported() -> bool:  # processed: planned; its statuses go out after that
        states = [s.state for s in forge.statuses(repo, sha) if s.context == "s2i/web"]
        return "success" in states[:-1]

    forge.wait_for(rebuild_reported, timeout=STATUS_SECONDS)
    status = final_status(forge, repo, sha, timeout=STATUS_SECONDS)
    assert status.state == "success"
    rebuilt_on = f"{BUILDER.removesuffix(':latest')}@sha256:222222222222"
    assert status.description == f"{BUILT.digest}, rebuilt on {rebuilt_on}"
    # The rebuild's pending statuses (after the first build's success) say why it runs.
    states = [(s.state, s.description) for s in forge.statuses(repo, sha)]
    first_success = next(i for i, (state, _) in enumerate(states) if state == "success")
    rebuild_pending = states[first_success + 1 : -1]
    assert all(d.endswith(f"(rebuilt on {BUILDER})") for _, d in rebuild_pending), states
    rebuilt = http.get(f"{bot.url}/builds/{info['builds'][0]}").json()
    assert (rebuilt["name"], rebuilt["sha"], rebuilt["state"]) == ("web", sha, "succeeded")
    # (builder_digest: what the fake executor reports; a real runner reads the new one)
    assert (rebuilt["rebuilt_on"], rebuilt["builder_digest"]) == (f"{BUILDER}@{NEW}", OLD)
    assert executor.runs_of(repo, sha) == 2


def test_a_repository_that_turns_rebuilds_off_is_not_rebuilt(
    forge: Harness, bot: InProcessBot, executor: QuickBuilds
) -> None:
    repo, sha = built_app(forge, bot, "rebuild_on_base_change: false\n")
    statuses = forge.statuses(repo, sha)
    assert notify(bot, notification("s2i-bot/go", "latest", NEW)).status_code == 202
    info = processed(bot, the_rebuild(bot, repo))
    assert info["builds"] == []
    assert info["outcome"] == f"not rebuilt on {BUILDER}@{NEW}: rebuild_on_base_change: false"
    assert forge.statuses(repo, sha) == statuses and executor.runs_of(repo, sha) == 1


def test_registry_notifications_need_the_registry_token(
    forge: Harness, executor: QuickBuilds, tmp_path: Path
) -> None:
    body = notification("s2i-bot/go", "latest", NEW)
    with_token = _bot(forge, executor, tmp_path / "with", registry_webhook_token=REGISTRY_TOKEN)
    with_token.start()
    try:
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": REGISTRY_TOKEN}):
            answer = notify(with_token, body, headers)
            assert answer.status_code == 401, (headers, answer.text)
        assert notify(with_token, b'{"no": "events"}').status_code == 400
    finally:
        with_token.stop()
    without = _bot(forge, executor, tmp_path / "without").start()
    try:
        assert notify(without, body).status_code == 404  # no token: no notifications
    finally:
        without.stop()
    assert executor.ran == []
