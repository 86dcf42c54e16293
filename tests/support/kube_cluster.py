"""scripts/cluster.sh's real single-node cluster, for tests that run builds as Jobs: the
cluster up with the runner image built and pushed (once per session), a build namespace of
its own per test with the registry Secret, and a bot whose builds run there.

Pytest fixtures; a test module takes them by assignment (`cluster = kube_cluster.cluster`).
The build pods use the node's network (`host_network: true`): the registry and the fake
GitHub listen on the host's loopback, which a pod in its own network namespace cannot reach.
"""

from __future__ import annotations

import contextlib
import hashlib
import ipaddress
import json
import os
import subprocess
import urllib.parse
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bot.runner.loopback_relay import relays
from tests.fakes.github import FakeGitHub
from tests.fakes.package_servers import PackageServers
from tests.support.bot_process import REPO_ROOT, BotFactory, BotProcess, free_port
from tests.support.names import unique
from tests.support.testenv import STATE, ProvisionedEnv
from tests.support.wait import wait_until

# The runner image of this working tree: a tag of its own (several working trees share the
# registry, and each one's tests must run its own runner code).
RUNNER_TAG = "wt-" + hashlib.sha256(str(REPO_ROOT).encode()).hexdigest()[:12]
RUNNER_IMAGE = f"127.0.0.1:5000/s2i-bot/runner:{RUNNER_TAG}"
REGISTRY_SECRET = "registry"
# The Job layout of tests about the buildah one (kubernetes.layout; the default is
# `unprivileged`): its log lines, its pod, its attacks.
BUILDAH = {"layout": "buildah"}


def cluster_info() -> dict[str, Any]:
    """What scripts/cluster.sh wrote about the cluster that is up."""
    info: dict[str, Any] = json.loads((STATE / "cluster" / "cluster.json").read_text())
    return info


def node_address(info: Mapping[str, Any]) -> str:
    """The node's address on the CNI bridge, where a pod with a network namespace of its own
    reaches the node: the gateway of the cluster's pod CIDR, which the bridge plugin's
    host-local IPAM makes the range's first address (scripts/cluster.sh, `isGateway`)."""
    return str(ipaddress.ip_network(str(info["pod_cidr"]))[1])


@contextlib.contextmanager
def node_relays(addresses: list[str], node: str) -> Iterator[list[str]]:
    """Each loopback address (host:port) forwarded from a free port of the node's bridge
    address; yields the kubernetes.loopback_relays that serve them in a pod."""
    forwards, in_pod = [], []
    for address in addresses:
        port = free_port(node)
        forwards.append(f"{node}:{port}={address}")
        in_pod.append(f"{address}={node}:{port}")
    with relays(forwards):
        yield in_pod


@dataclass(frozen=True)
class Cluster:
    kubeconfig: str
    kubectl: str
    server: str
    node_address: str  # node_address()

    def kubectl_run(self, *args: str, check: bool = True) -> str:
        return subprocess.run(
            [self.kubectl, "--kubeconfig", self.kubeconfig, *args],
            check=check, capture_output=True, text=True,
        ).stdout  # fmt: skip

    def objects(self, namespace: str, kind: str, selector: str) -> list[dict[str, Any]]:
        out = self.kubectl_run("-n", namespace, "get", kind, "-l", selector, "-o", "json")
        items: list[dict[str, Any]] = json.loads(out)["items"]
        return items


def build_selector(build_id: int) -> str:
    return f"app.kubernetes.io/managed-by=s2i-bot,s2i-bot/build-id={build_id}"


@pytest.fixture(scope="session")
def cluster(testenv: ProvisionedEnv) -> Cluster:
    """The cluster up (idempotent, ~10 s) and the runner image built and pushed."""
    for script, arg in (("cluster.sh", "up"), ("images.sh", "runner")):
        result = subprocess.run(
            ["bash", str(REPO_ROOT / "scripts" / script), arg],
            capture_output=True, text=True, check=False,
            env=os.environ | {"S2I_DEV_RUNNER_TAG": RUNNER_TAG},
        )  # fmt: skip
        assert result.returncode == 0, f"{script} failed:\n{result.stdout}\n{result.stderr}"
    info = cluster_info()
    return Cluster(info["kubeconfig"], info["kubectl"], info["server"], node_address(info))


@pytest.fixture
def build_namespace(cluster: Cluster, testenv: ProvisionedEnv, tmp_path: Path) -> Iterator[str]:
    """A build namespace of its own (build ids restart at 1 with every bot's new database)
    with the registry credentials as a dockerconfigjson Secret."""
    name = unique("s2i-bot-e2e-builds")
    cluster.kubectl_run("create", "namespace", name)
    auth = testenv.auth_file(tmp_path)
    cluster.kubectl_run(
        "-n", name, "create", "secret", "generic", REGISTRY_SECRET,
        "--type=kubernetes.io/dockerconfigjson", f"--from-file=.dockerconfigjson={auth}",
    )  # fmt: skip
    # The ServiceAccount admission refuses pods until the controller made `default`.
    wait_until(
        lambda: bool(cluster.kubectl_run("-n", name, "get", "sa", "default", check=False)),
        timeout=60, what=f"the default ServiceAccount in {name}",
    )  # fmt: skip
    yield name
    cluster.kubectl_run("delete", "namespace", name, "--wait=false", check=False)


@pytest.fixture
def restricted_build_namespace(cluster: Cluster, build_namespace: str) -> str:
    """The build namespace, enforcing the `restricted` Pod Security Standard: the API server's
    PodSecurity admission refuses any pod that breaks it."""
    cluster.kubectl_run(
        "label", "namespace", build_namespace,
        "pod-security.kubernetes.io/enforce=restricted",
        "pod-security.kubernetes.io/enforce-version=latest",
    )  # fmt: skip
    return build_namespace


@pytest.fixture
def pod_relays(
    github: FakeGitHub, testenv: ProvisionedEnv, cluster: Cluster
) -> Iterator[list[str]]:
    """For build pods without the node's network (`restricted` refuses hostNetwork): the
    registry and the fake GitHub, which listen on the node's loopback, forwarded from ports
    of the node's bridge address here; the kubernetes.loopback_relays that serve them in
    the pod under their loopback addresses."""
    # The fake GitHub as `localhost`: its asset storage is named so (on the same port), and
    # in the pod that name is 127.0.0.1 and ::1.
    served = [testenv.registry, f"localhost:{urllib.parse.urlsplit(github.url).port}"]
    with node_relays(served, cluster.node_address) as in_pod:
        yield in_pod


@pytest.fixture
def pod_package_servers(cluster: Cluster) -> Iterator[PackageServers]:
    """The private package servers (tests/fakes/package_servers.py) as a build pod's own
    containers reach them, the builder's assemble among them (no loopback relay runs there):
    at a port of the node's bridge address that forwards to them, which the secret files and
    packuments they hand out name."""
    with PackageServers() as servers:
        port = free_port(cluster.node_address)
        with relays([f"{cluster.node_address}:{port}={servers.host}"]):
            servers.reached_at(f"http://{cluster.node_address}:{port}")
            yield servers


StartKubeBot = Callable[..., BotProcess]


@pytest.fixture
def start_kube_bot(
    start_bot: BotFactory, testenv: ProvisionedEnv, cluster: Cluster, build_namespace: str,
    tmp_path: Path,
) -> StartKubeBot:  # fmt: skip
    def start(
        kubeconfig: str | None = None, kubernetes: dict[str, Any] | None = None, **settings: Any
    ) -> BotProcess:
        """`kubeconfig`: another way to the cluster (or to no cluster) than its own;
        `kubernetes`: settings of the executor over the test cluster's."""
        return start_bot(**{
            "builder_registry": testenv.builder_registry,
            "registry_auth_file": str(testenv.auth_file(tmp_path)),
            "executor": "kubernetes",
            "kubernetes": {
                "kubeconfig": kubeconfig or cluster.kubeconfig,
                "build_namespace": build_namespace,
                "runner_image": RUNNER_IMAGE,
                "runner_image_pull_policy": "Always",
                "registry_secret": REGISTRY_SECRET,
                "host_network": True,
                "ttl_seconds_after_finished": 600,
                "resources": {"requests": {"cpu": "100m", "memory": "256Mi"}},
            } | (kubernetes or {}),
        } | settings)  # fmt: skip

    return start
