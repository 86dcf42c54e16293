"""End to end: Job builds signed with the operator's cosign key, their SBOM and provenance
attached (bot/runner/supply_chain.py, docs/supply-chain.md), on the real cluster of
scripts/cluster.sh. In the `unprivileged` layout the `export` container signs what crane
pushed, under the `restricted` Pod Security Standard (read-only root filesystem, no network
but the registry's relay); in the `buildah` layout the runner signs after buildah pushed.
The key travels in the build's own Secret and is mounted in the signing container alone: it
is in no container's env, no pod or Job spec, no layer and no log."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path

import pytest

from bot.check_run import step_timings
from bot.executors.job_manifest import SIGNING_SECRETS
from tests.fakes.github import FakeGitHub
from tests.support import kube_cluster
from tests.support.apps import app_files, app_repo
from tests.support.deliveries import push_main
from tests.support.forges import GitHubHarness
from tests.support.image_files import image_files, secrets_in
from tests.support.kube_cluster import BUILDAH, Cluster, StartKubeBot, build_selector
from tests.support.outcomes import final_status, log_of
from tests.support.signed_images import KeyPair, assert_signed_and_proven, key_pair
from tests.support.testenv import ProvisionedEnv

pytestmark = pytest.mark.e2e
cluster = kube_cluster.cluster
build_namespace = kube_cluster.build_namespace
restricted_build_namespace = kube_cluster.restricted_build_namespace
pod_relays = kube_cluster.pod_relays
start_kube_bot = kube_cluster.start_kube_bot


def signed_build(
    github: FakeGitHub, github_forge: GitHubHarness, start_kube_bot: StartKubeBot,
    testenv: ProvisionedEnv, tmp_path: Path, name: str, kubernetes: Mapping[str, object],
) -> tuple[KeyPair, str, str, str, str]:  # fmt: skip
    """A go-hello push built as a Job by a bot that signs: (keys, pushed image by digest,
    commit, the bot's URL, the build log)."""
    keys = key_pair(testenv, tmp_path / "keys")
    bot = start_kube_bot(kubernetes=dict(kubernetes), signing=keys.settings())
    repo, image, sha = app_repo(github_forge, testenv.registry, name, app_files("go-hello"))
    push_main(github, bot, repo, sha)
    status = final_status(github_forge, repo, sha)
    log = log_of(status)
    assert status.state == "success", log
    pushed = f"{image}@{status.description.split()[0]}"
    step = f"sign {pushed} and attach its SBOM and provenance"
    assert [how for title, how, _ in step_timings(log) if title == step] == ["done"], log
    return keys, pushed, sha, bot.url, log


def assert_key_nowhere(
    testenv: ProvisionedEnv, cluster: Cluster, namespace: str, keys: KeyPair, pushed: str,
    log: str,
) -> None:  # fmt: skip
    """Neither the key nor its password in the Job's and pod's specs (their env included),
    the build log, or any layer of the pushed image."""
    objects = [*cluster.objects(namespace, "jobs", build_selector(1)),
               *cluster.objects(namespace, "pods", build_selector(1))]  # fmt: skip
    assert len(objects) == 2
    for found in objects:
        pod = found["spec"]["template"]["spec"] if "template" in found["spec"] else found["spec"]
        for container in pod["containers"] + pod.get("initContainers", []):
            assert all("valueFrom" not in e for e in container.get("env", [])), container["name"]
    specs = {o["metadata"]["name"]: json.dumps(o["spec"]).encode() for o in objects}
    assert secrets_in(specs, keys.secrets()) == []
    assert secrets_in({"the build log": log.encode()}, keys.secrets()) == []
    files = image_files(testenv, pushed)
    assert files
    assert secrets_in(files, keys.secrets()) == []


def test_an_unprivileged_job_under_the_restricted_standard_signs_and_proves_its_image(
    github: FakeGitHub, github_forge: GitHubHarness, start_kube_bot: StartKubeBot,
    testenv: ProvisionedEnv, tmp_path: Path,
    cluster: Cluster, restricted_build_namespace: str, pod_relays: list[str],
) -> None:  # fmt: skip
    kubernetes = {"layout": "unprivileged", "host_network": False, "loopback_relays": pod_relays}
    keys, pushed, sha, bot_url, log = signed_build(
        github, github_forge, start_kube_bot, testenv, tmp_path, "kube-signed-u", kubernetes
    )
    assert_signed_and_proven(
        testenv, tmp_path, pushed, keys, sha=sha, builder=testenv.images["go"],
        builder_id=bot_url, package="example.com/greet",
    )  # fmt: skip
    # The key's volume is mounted in the export alone, which signed.
    (pod,) = cluster.objects(restricted_build_namespace, "pods", build_selector(1))
    mounts = {c["name"]: {m["name"] for m in c.get("volumeMounts", [])}
              for c in pod["spec"]["containers"]}  # fmt: skip
    assert [name for name, volumes in mounts.items() if SIGNING_SECRETS in volumes] == ["export"]
    assert_key_nowhere(testenv, cluster, restricted_build_namespace, keys, pushed, log)


def test_a_buildah_job_signs_and_proves_its_image(
    github: FakeGitHub, github_forge: GitHubHarness, start_kube_bot: StartKubeBot,
    testenv: ProvisionedEnv, tmp_path: Path, cluster: Cluster, build_namespace: str,
) -> None:  # fmt: skip
    keys, pushed, sha, bot_url, log = signed_build(
        github, github_forge, start_kube_bot, testenv, tmp_path, "kube-signed-b", BUILDAH
    )
    assert re.search(r"==> build \S+ with buildah", log), log
    assert_signed_and_proven(
        testenv, tmp_path, pushed, keys, sha=sha, builder=testenv.images["go"],
        builder_id=bot_url, package="example.com/greet",
    )  # fmt: skip
    assert_key_nowhere(testenv, cluster, build_namespace, keys, pushed, log)
