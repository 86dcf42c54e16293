"""B2I end to end: a published GitHub release whose asset (a prebuilt binary) becomes an image
through the `binary` builder; a missing or unreadable artifact fails the build, naming it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from tests.fakes.github import FakeGitHub
from tests.support.b2i import ARTIFACT_HOSTS, config, hello_tarball, publish
from tests.support.bot_process import BotProcess
from tests.support.forges import GitHubHarness
from tests.support.images import running, skopeo_inspect
from tests.support.names import unique
from tests.support.outcomes import final_status
from tests.support.testenv import ProvisionedEnv

pytestmark = pytest.mark.e2e
StartBot = Callable[..., BotProcess]


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
