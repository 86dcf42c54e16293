"""Build secrets in a Kubernetes Job of the buildah layout (asked for; the unprivileged
layout's are in test_kubernetes_unprivileged.py): the build secret is a key of a
Secret in the build namespace, projected as a file beside the registry auth, never an env of
the Job; the runner mounts it on assemble alone. The Node.js sample installs its private
package and no layer, no log and no Job spec holds the token.

The Job runs the runner image; S2I_DEV_RUNNER_IMAGE names another one than the provisioned
`runner:latest` (an image of a branch whose runner changed, before it is merged).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.fakes.github import FakeGitHub
from tests.fakes.package_servers import GREETING, PackageServers
from tests.support import kube_cluster, private_builds
from tests.support.bot_process import BotFactory
from tests.support.kube_cluster import REGISTRY_SECRET, Cluster, build_selector
from tests.support.outcomes import final_status, log_of
from tests.support.private_builds import assert_no_secret_anywhere, project_npmrc, push_app
from tests.support.testenv import ProvisionedEnv

pytestmark = pytest.mark.e2e
cluster = kube_cluster.cluster
build_namespace = kube_cluster.build_namespace
servers = private_builds.servers
RUNNER_IMAGE = os.environ.get("S2I_DEV_RUNNER_IMAGE", kube_cluster.RUNNER_IMAGE)


def test_a_job_mounts_only_the_named_secret_key_and_the_image_keeps_nothing(
    github: FakeGitHub, start_bot: BotFactory, testenv: ProvisionedEnv, cluster: Cluster,
    build_namespace: str, servers: PackageServers, tmp_path: Path,
) -> None:  # fmt: skip
    npmrc = tmp_path / "npmrc"
    npmrc.write_text(servers.npmrc())
    cluster.kubectl_run("-n", build_namespace, "create", "secret", "generic", "npm-registry",
                        f"--from-file=npmrc={npmrc}")  # fmt: skip
    bot = start_bot(
        builder_registry=testenv.builder_registry,
        registry_auth_file=str(testenv.auth_file(tmp_path)),
        executor="kubernetes",
        kubernetes={
            "layout": "buildah",
            "kubeconfig": cluster.kubeconfig, "build_namespace": build_namespace,
            "runner_image": RUNNER_IMAGE, "runner_image_pull_policy": "Always",
            "registry_secret": REGISTRY_SECRET, "host_network": True,
            "ttl_seconds_after_finished": 600,
            "resources": {"requests": {"cpu": "100m", "memory": "256Mi"}},
        },
        build_secrets={"npmrc": {"kubernetes_secret": "npm-registry", "repositories": ["acme/*"],
                                 "env": "NPM_CONFIG_USERCONFIG"}},
    )  # fmt: skip
    repo, image, sha = push_app(github, bot, testenv, tmp_path / "work", "node-private",
                                "nodejs", ["npmrc"], project_npmrc(servers))  # fmt: skip

    status = final_status(github, repo, sha)
    log = log_of(status)
    assert status.state == "success", log
    assert servers.served["npm"] == 1
    files = assert_no_secret_anywhere(testenv, servers, f"{image}:main", log)
    assert any(GREETING.encode() in data for path, data in files.items()
               if path.endswith("@s2ibot-private/greeting/index.js"))  # fmt: skip

    (job,) = cluster.objects(build_namespace, "jobs", build_selector(1))
    assert servers.npm_token not in json.dumps(job)
    pod = job["spec"]["template"]["spec"]
    (volume,) = [v for v in pod["volumes"] if v["name"] == "secrets"]
    sources = [s["secret"] for s in volume["projected"]["sources"]]
    assert {"name": "npm-registry", "optional": True,
            "items": [{"key": "npmrc", "path": "build-secrets/npmrc"}]} in sources  # fmt: skip
