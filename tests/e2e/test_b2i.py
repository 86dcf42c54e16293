"""B2I end to end: a published GitHub release whose asset (a prebuilt binary) becomes an image
through the `binary` builder; a missing or unreadable artifact fails the build, naming it."""

from __future__ import annotations

import io
import json
import os
import subprocess
import tarfile
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from tests.fakes.github import FakeGitHub, FakeRepo
from tests.fakes.webhooks import github_headers, release_payload
from tests.support.apps import APPS
from tests.support.bot_process import BotProcess
from tests.support.forges import WEBHOOK_SECRET, GitHubHarness
from tests.support.images import running, skopeo_inspect
from tests.support.names import unique
from tests.support.outcomes import final_status
from tests.support.testenv import ProvisionedEnv

pytestmark = pytest.mark.e2e
# The fake GitHub serves its API on 127.0.0.1 and its asset storage as localhost; B2I
# downloads reach a loopback address only where the operator allows it (bot/runner/artifact.py).
ARTIFACT_HOSTS = ["127.0.0.1", "localhost"]
StartBot = Callable[..., BotProcess]


def config(image: str, binary: str) -> str:
    return (
        f"builds:\n  - name: cli\n    template: binary\n    image: {image}\n"
        f"    binary: {binary}\n"
        "    triggers: {releases: true, branches: [main]}\n"
    )


def hello_tarball(tmp_path: Path) -> bytes:
    binary = tmp_path / "hello"
    subprocess.run(
        ["go", "build", "-trimpath", "-ldflags=-s -w", "-o", str(binary), "."],
        cwd=APPS / "binary-hello", check=True, env=os.environ | {"CGO_ENABLED": "0"},
    )  # fmt: skip
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as tar:
        tar.add(binary, arcname="hello")
    return out.getvalue()


def publish(bot: BotProcess, repo: FakeRepo, release_id: int) -> None:
    body = json.dumps(release_payload(repo, release_id)).encode()
    headers = github_headers("release", body, WEBHOOK_SECRET)
    response = httpx.post(f"{bot.url}/webhooks/github", content=body, headers=headers, timeout=10)
    assert response.status_code == 202, response.text


def test_a_release_asset_becomes_a_running_image(
    github: FakeGitHub, github_forge: GitHubHarness, start_builder_bot: StartBot,
    testenv: ProvisionedEnv, tmp_path: Path,
) -> None:  # fmt: skip
    bot = start_builder_bot(artifact_allowed_hosts=ARTIFACT_HOSTS)
    repo = github.create_repo(unique("acme/cli"))
    image = f"{testenv.registry}/{repo.full_name}"
    sha = repo.commit(
        {".s2i.yaml": config(image, '{release_asset: "hello-*-linux.tar.gz"}')}, "cli"
    )
    release = repo.create_release("v1.0.0", assets={
        "checksums.txt": b"...", "hello-1.0.0-linux.tar.gz": hello_tarball(tmp_path),
    })  # fmt: skip
    publish(bot, repo, release)
    status = final_status(github_forge, repo.full_name, sha, "s2i/cli")
    state, description = status.state, status.description
    assert state == "success", description
    digest = description.split()[0]
    assert skopeo_inspect(testenv, f"{image}:1.0.0")["Digest"] == digest
    with running(testenv, f"{image}@{digest}") as url:
        assert "Hello from a prebuilt binary" in httpx.get(url, timeout=10).text
    # The asset was fetched with the token from the API, and without it from storage.
    assert [d.authorized for d in github.downloads] == [True, False]


def test_a_release_without_the_asset_fails_naming_what_it_has(
    github: FakeGitHub, github_forge: GitHubHarness, start_builder_bot: StartBot,
    testenv: ProvisionedEnv,
) -> None:  # fmt: skip
    bot = start_builder_bot(artifact_allowed_hosts=ARTIFACT_HOSTS)
    repo = github.create_repo(unique("acme/cli"))
    image = f"{testenv.registry}/{repo.full_name}"
    sha = repo.commit(
        {".s2i.yaml": config(image, '{release_asset: "hello-*-linux.tar.gz"}')}, "cli"
    )
    publish(bot, repo, repo.create_release("v2.0.0", assets={"hello-2.0.0-darwin.zip": b"x"}))
    status = final_status(github_forge, repo.full_name, sha, "s2i/cli")
    state, description = status.state, status.description
    assert state == "failure"
    assert description == (
        "no asset of release v2.0.0 matches 'hello-*-linux.tar.gz' (assets: hello-2.0.0-darwin.zip)"
    )


def test_an_unreadable_artifact_url_fails_the_build_naming_it(
    github: FakeGitHub, github_forge: GitHubHarness, start_builder_bot: StartBot,
    testenv: ProvisionedEnv,
) -> None:  # fmt: skip
    bot = start_builder_bot(artifact_allowed_hosts=ARTIFACT_HOSTS)
    repo = github.create_repo(unique("acme/cli"))
    image = f"{testenv.registry}/{repo.full_name}"
    url = f"{github.storage_url}/_downloads/1/2/tool?expires=1&signature=forged"
    sha = repo.commit({".s2i.yaml": config(image, f"{{url: '{url}'}}")}, "cli")
    github_forge.push(bot, repo.full_name, "main", sha)
    status = final_status(github_forge, repo.full_name, sha, "s2i/cli")
    state, description = status.state, status.description
    assert state == "failure"
    assert description.startswith(f"the artifact tool could not be downloaded from {url}: HTTP 403")
