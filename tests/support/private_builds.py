"""Builds that need build secrets (tests/e2e/test_build_secrets.py and its Kubernetes twin):
the operator's secret files for the private package servers (tests/fakes/package_servers.py),
sample repositories that name them, and the search of an image and a log for every credential.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.fakes.github import FakeGitHub
from tests.fakes.package_servers import NPM_SCOPE, PackageServers
from tests.support.apps import app_files
from tests.support.bot_process import BotProcess
from tests.support.deliveries import push_main
from tests.support.forges import GITHUB_TOKEN
from tests.support.git_tree import push_tree
from tests.support.image_files import image_files, secrets_in
from tests.support.names import unique
from tests.support.testenv import ProvisionedEnv


@pytest.fixture
def servers() -> Iterator[PackageServers]:
    """The private package servers (bind in a test module: `servers = private_builds.servers`)."""
    with PackageServers() as running:
        yield running


def secret_settings(servers: PackageServers, tmp_path: Path, globs: list[str]) -> dict[str, Any]:
    """The operator's build secrets: the files, and who may use them."""
    files = {"npmrc": servers.npmrc(), "pip.conf": servers.pip_conf(),
             "settings.xml": servers.maven_settings()}  # fmt: skip
    for name, text in files.items():
        (tmp_path / name).write_text(text)
        (tmp_path / name).chmod(0o600)
    return {
        "build_secrets": {
            "npmrc": {"file": str(tmp_path / "npmrc"), "repositories": globs,
                      "env": "NPM_CONFIG_USERCONFIG"},
            "pip-conf": {"file": str(tmp_path / "pip.conf"), "repositories": globs,
                         "env": "PIP_CONFIG_FILE"},
            "maven-settings": {"file": str(tmp_path / "settings.xml"), "repositories": globs,
                               "env": "MAVEN_SETTINGS"},
        }
    }  # fmt: skip


def the_secrets(servers: PackageServers) -> dict[str, str]:
    return {
        "the npm token": servers.npm_token,
        "the index password": servers.password,
        "the npmrc file": servers.npmrc().strip(),
        "the pip.conf file": servers.pip_conf().strip(),
        "the settings.xml file": servers.maven_settings().strip(),
    }


def push_app(
    github: FakeGitHub, bot: BotProcess, testenv: ProvisionedEnv, work: Path, app: str,
    template: str, secrets: list[str], extra: dict[str, str] | None = None,
    env: dict[str, str] | None = None,
) -> tuple[str, str, str]:  # fmt: skip
    """A repository of tests/apps/<app> whose .s2i.yaml names `secrets` (and the build's
    `env`), pushed to main and delivered to the bot: (repository, image, sha)."""
    repo = github.create_repo(unique(f"acme/{app}"))
    image = f"{testenv.registry}/{repo.full_name}".lower()
    build: dict[str, Any] = {"name": "web", "template": template, "image": image,
                             "triggers": {"branches": ["main"]}}  # fmt: skip
    if secrets:
        build["secrets"] = secrets
    if env:
        build["env"] = env
    files: dict[str, str | bytes] = {p: c for p, c in app_files(app).items() if c is not None}
    files |= (extra or {}) | {".s2i.yaml": yaml.safe_dump({"builds": [build]})}
    sha = push_tree(repo.clone_url, GITHUB_TOKEN, work, files)
    push_main(github, bot, repo.full_name, sha)
    return repo.full_name, image, sha


def assert_no_secret_anywhere(
    testenv: ProvisionedEnv, servers: PackageServers, image: str, log: str
) -> dict[str, bytes]:
    files = image_files(testenv, image)
    assert files
    assert secrets_in(files, the_secrets(servers)) == []
    assert secrets_in({"the build log": log.encode()}, the_secrets(servers)) == []
    return files


def project_npmrc(servers: PackageServers) -> dict[str, str]:
    """The repository's own .npmrc: where its scope's packages come from (no credential)."""
    return {".npmrc": f"{NPM_SCOPE}:registry={servers.npm_registry()}\n"}
