"""End to end: a pushed image is signed, and its SBOM and SLSA provenance are attached as
signed attestations (bot/runner/supply_chain.py): the real syft and cosign, checked from the
outside with `cosign verify` and `cosign verify-attestation` and the operator's public key
(tests/support/signed_images.py; test_kubernetes_signing.py checks the same of Job builds)."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.fakes.github import FakeGitHub
from tests.support.apps import app_files, app_repo
from tests.support.bot_process import BotProcess
from tests.support.deliveries import push_main
from tests.support.forges import GitHubHarness
from tests.support.outcomes import final_status, log_of
from tests.support.signed_images import PASSWORD, assert_signed_and_proven, key_pair
from tests.support.testenv import ProvisionedEnv

pytestmark = pytest.mark.e2e
StartBot = Callable[..., BotProcess]


def test_a_pushed_image_is_signed_with_its_sbom_and_provenance_attached(
    github: FakeGitHub, github_forge: GitHubHarness, start_builder_bot: StartBot,
    testenv: ProvisionedEnv, tmp_path: Path,
) -> None:  # fmt: skip
    keys = key_pair(testenv, tmp_path / "keys")
    bot = start_builder_bot(signing=keys.settings(testenv))
    repo, image, sha = app_repo(github_forge, testenv.registry, "signed", app_files("go-hello"))
    push_main(github, bot, repo, sha)

    status = final_status(github_forge, repo, sha)
    log = log_of(status)
    assert status.state == "success", log
    digest = re.match(r"sha256:[0-9a-f]{64}", status.description)
    assert digest, status.description
    pushed = f"{image}@{digest[0]}"
    assert f"==> sign {pushed} and attach its SBOM and provenance" in log
    assert PASSWORD not in log and keys.private.read_text() not in log

    assert_signed_and_proven(
        testenv, tmp_path, pushed, keys, sha=sha, builder=testenv.images["go"],
        builder_id=bot.url,
        package="example.com/greet",  # go-hello's (vendored) module, from the binary
    )  # fmt: skip


@pytest.mark.parametrize(
    ("template", "sample", "package"),
    [
        ("python", "python-hello", "gunicorn"),  # requirements.txt's, in the virtualenv
        ("nodejs", "node-hello", "ms"),  # package.json's, in node_modules
        ("java", "java-hello", "java-hello"),  # the jar's own Maven coordinates (no deps)
    ],
)
def test_the_sbom_of_each_samples_image_lists_what_its_language_installed(
    github: FakeGitHub, github_forge: GitHubHarness, start_builder_bot: StartBot,
    testenv: ProvisionedEnv, tmp_path: Path, template: str, sample: str, package: str,
) -> None:  # fmt: skip
    keys = key_pair(testenv, tmp_path / "keys")
    bot = start_builder_bot(signing=keys.settings(testenv))
    repo, image, sha = app_repo(
        github_forge, testenv.registry, f"signed-{template}", app_files(sample), template=template
    )
    push_main(github, bot, repo, sha)

    status = final_status(github_forge, repo, sha)
    assert status.state == "success", log_of(status)
    digest = re.match(r"sha256:[0-9a-f]{64}", status.description)
    assert digest, status.description
    assert_signed_and_proven(
        testenv, tmp_path, f"{image}@{digest[0]}", keys, sha=sha,
        builder=testenv.images[template], builder_id=bot.url, package=package,
    )  # fmt: skip
