"""The attacks of test_build_isolation.py on the Kubernetes executor: each build a Job running
the runner image (the `buildah` layout, asked for: buildah, chroot isolation) on the real
cluster of scripts/cluster.sh, the Secrets mounted into the pod. Judged from outside as
there: the status or the build's reason, the log, every file of the pushed image, and the
Jobs the cluster holds."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fakes.github import FakeGitHub
from tests.support import hostile_builds, kube_cluster
from tests.support.deliveries import push_main
from tests.support.forges import GITHUB_TOKEN
from tests.support.hostile_builds import (
    SITE,
    assert_holds_no_secret,
    config_status,
    encoded_forms,
    hostile_repo,
    hunting_assemble,
    printing_assemble,
)
from tests.support.images import image_exists
from tests.support.kube_cluster import BUILDAH, Cluster, StartKubeBot, build_selector
from tests.support.outcomes import build_of, final_status, log_of
from tests.support.testenv import ProvisionedEnv

pytestmark = pytest.mark.e2e
# Autouse: the bot's environment holds a canary value no image or log may show.
canary_in_the_bots_environment = hostile_builds.canary_in_the_bots_environment
# The cluster, a build namespace and the bot on it (tests/support/kube_cluster.py).
cluster = kube_cluster.cluster
build_namespace = kube_cluster.build_namespace
start_kube_bot = kube_cluster.start_kube_bot


@pytest.mark.parametrize("context", ["../../secrets", "../../../../var/run/s2i-bot/secrets"])
def test_a_context_leaving_the_checkout_fails_the_config_and_no_job_is_made(
    github: FakeGitHub, start_kube_bot: StartKubeBot, testenv: ProvisionedEnv,
    cluster: Cluster, build_namespace: str, tmp_path: Path, context: str,
) -> None:  # fmt: skip
    bot = start_kube_bot(kubernetes=BUILDAH)
    repo, image, sha = hostile_repo(
        github, testenv, tmp_path / "work", "kube-traversal", SITE, context=context
    )
    push_main(github, bot, repo.full_name, sha)

    status = config_status(github, repo, sha)
    assert status.description.startswith(
        ".s2i.yaml line 8, column 12: 'context': must be a relative path inside the repository"
    )
    assert cluster.objects(build_namespace, "jobs", "app.kubernetes.io/managed-by=s2i-bot") == []
    assert not image_exists(testenv, f"{image}:main")


@pytest.mark.parametrize("target", ["/proc/self/environ", "/var/run/s2i-bot/secrets"])
def test_a_symlink_escaping_the_checkout_fails_the_job_naming_the_link(
    github: FakeGitHub, start_kube_bot: StartKubeBot, testenv: ProvisionedEnv,
    cluster: Cluster, build_namespace: str, tmp_path: Path, target: str,
) -> None:  # fmt: skip
    bot = start_kube_bot(kubernetes=BUILDAH)
    repo, image, sha = hostile_repo(
        github, testenv, tmp_path / "work", "kube-symlink", SITE,
        symlinks={"public/leak": target}, context="public",
    )  # fmt: skip
    push_main(github, bot, repo.full_name, sha)

    status = final_status(github, repo.full_name, sha)
    log = log_of(status)
    assert status.state == "failure", log
    assert str(build_of(status)["reason"]).startswith(
        f"symlink public/leak -> {target} points outside the repository"
    )
    assert "Job " in log and "s2i build --as-dockerfile" not in log  # the runner refused
    assert cluster.objects(build_namespace, "jobs", build_selector(1))  # it ran as a Job
    assert not image_exists(testenv, f"{image}:main")


def test_a_job_printing_its_secrets_base64_shows_only_masks_in_the_log(
    github: FakeGitHub, start_kube_bot: StartKubeBot, testenv: ProvisionedEnv, tmp_path: Path
) -> None:
    bot = start_kube_bot(kubernetes=BUILDAH)
    repo, _, sha = hostile_repo(
        github, testenv, tmp_path / "work", "kube-printer",
        SITE | {".s2i/bin/assemble": printing_assemble(testenv)},
    )  # fmt: skip
    push_main(github, bot, repo.full_name, sha)

    status = final_status(github, repo.full_name, sha)
    log = log_of(status)
    assert status.state == "success", log
    assert "---> printed" in log
    for form in encoded_forms(testenv):
        assert form not in log, form
    assert GITHUB_TOKEN not in log and testenv.password not in log


def test_an_assemble_in_a_job_hunting_for_the_mounted_secrets_finds_none(
    github: FakeGitHub, start_kube_bot: StartKubeBot, testenv: ProvisionedEnv, tmp_path: Path
) -> None:
    bot = start_kube_bot(kubernetes=BUILDAH)
    repo, image, sha = hostile_repo(
        github,
        testenv,
        tmp_path / "work",
        "kube-hunt",
        SITE | {".s2i/bin/assemble": hunting_assemble("/var/run/s2i-bot", "/workspace")},
    )
    push_main(github, bot, repo.full_name, sha)

    status = final_status(github, repo.full_name, sha)
    log = log_of(status)
    assert status.state == "success", log
    assert "---> looted" in log
    digest = status.description.split()[0]
    held = assert_holds_no_secret(testenv, f"{image}@{digest}")
    assert [p for p in held if "/loot/env" in p]
