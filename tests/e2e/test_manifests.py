"""manifests/ (the kustomize base that deploys the bot) on the real single-node cluster of
scripts/cluster.sh: the server accepts every object (server-side dry run), and the bot
deployed from them (manifests/overlays/test: the local image, dummy forge Secrets) becomes
available through its /healthz readiness probe, answers through the API server's proxy (pod
and Service), and lists Jobs with its in-cluster config and ServiceAccount, which may do no
more than the Role says.

The bot's pod stays on the pod network. The cluster has no kube-proxy, so the `kubernetes`
Service's address leads nowhere; the test's overlay points the in-cluster config at the
node's address instead (KUBERNETES_SERVICE_HOST/PORT, which the API server's certificate
names).
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import unique
from tests.support.bot_process import REPO_ROOT
from tests.support.testenv import STATE, ProvisionedEnv

MANIFESTS = REPO_ROOT / "manifests"
BASE_NAMESPACE = "s2i-bot"  # manifests/base/kustomization.yaml
PORT = 8080


@dataclass(frozen=True)
class Kube:
    kubeconfig: str
    kubectl: str
    node_ip: str
    port: int

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [self.kubectl, "--kubeconfig", self.kubeconfig, *args],
            capture_output=True, text=True, check=False, timeout=180,
        )  # fmt: skip
        if check:
            assert result.returncode == 0, f"kubectl {' '.join(args)}:\n{result.stderr}"
        return result

    def out(self, *args: str) -> str:
        return self.run(*args).stdout


@pytest.fixture(scope="module")
def kube(testenv: ProvisionedEnv) -> Kube:
    """The cluster up (idempotent, ~10 s) and the bot's image built and pushed (cached)."""
    for argv in (["cluster.sh", "up"], ["images.sh", "bot"]):
        result = subprocess.run(
            ["bash", str(REPO_ROOT / "scripts" / argv[0]), *argv[1:]],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        assert result.returncode == 0, f"{argv[0]} failed:\n{result.stdout}\n{result.stderr}"
    info = json.loads((STATE / "cluster" / "cluster.json").read_text())
    server = str(info["server"])
    return Kube(info["kubeconfig"], info["kubectl"], info["node_ip"], int(server.rsplit(":", 1)[1]))


def test_every_builder_template_is_in_the_deployed_config_map() -> None:
    """config/kustomization.yaml lists the templates one by one (kustomize has no globs)."""
    ours = sorted(p.name for p in (REPO_ROOT / "config" / "templates").glob("*.yaml"))
    listed = (REPO_ROOT / "config" / "kustomization.yaml").read_text()
    assert [name for name in ours if f"templates/{name}" not in listed] == []


@pytest.mark.e2e
def test_the_server_accepts_the_base(kube: Kube) -> None:
    # A namespaced object's server-side dry run needs its namespace to exist (a real apply
    # creates the Namespace first); made here only if missing, and removed again then.
    created = kube.run("create", "namespace", BASE_NAMESPACE, check=False).returncode == 0
    try:
        out = kube.out("apply", "--dry-run=server", "-k", str(MANIFESTS))
    finally:
        if created:
            kube.run("delete", "namespace", BASE_NAMESPACE, "--wait=false", check=False)
    for kind in (
        "namespace", "serviceaccount", "role.rbac.authorization.k8s.io",
        "rolebinding.rbac.authorization.k8s.io", "configmap", "service", "deployment.apps",
    ):  # fmt: skip
        assert f"{kind}/" in out, out


@pytest.fixture
def deployed(kube: Kube, tmp_path: Path) -> Iterator[str]:
    """manifests/overlays/test in a namespace of its own; the namespace goes afterwards."""
    namespace = unique("s2i-bot-manifests")
    overlay = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "namespace": namespace,
        # kustomize takes no absolute path, and a relative one from anywhere
        "resources": [os.path.relpath(MANIFESTS / "overlays" / "test", tmp_path)],
        "patches": [{
            "target": {"kind": "Deployment", "name": "s2i-bot"},
            "patch": json.dumps([
                {"op": "add", "path": "/spec/template/spec/containers/0/env/-",
                 "value": {"name": name, "value": value}}
                for name, value in (
                    ("KUBERNETES_SERVICE_HOST", kube.node_ip),
                    ("KUBERNETES_SERVICE_PORT", str(kube.port)),
                )
            ]),
        }],
    }  # fmt: skip
    (tmp_path / "kustomization.yaml").write_text(json.dumps(overlay))
    try:
        kube.out("apply", "-k", str(tmp_path))
        yield namespace
    finally:
        kube.run("delete", "namespace", namespace, "--wait=false", check=False)


@pytest.mark.e2e
def test_the_deployed_bot_is_available_and_answers_its_health_check(
    kube: Kube, deployed: str
) -> None:
    ns = deployed
    result = kube.run(
        "-n", ns, "wait", "deployment/s2i-bot", "--for=condition=Available", "--timeout=120s",
        check=False,
    )  # fmt: skip
    if result.returncode != 0:
        pods = kube.run("-n", ns, "describe", "pods", check=False).stdout
        logs = kube.run("-n", ns, "logs", "deployment/s2i-bot", check=False)
        pytest.fail(f"not available: {result.stderr}\n{pods}\n{logs.stdout}{logs.stderr}")
    (pod,) = json.loads(kube.out("-n", ns, "get", "pods", "-o", "json"))["items"]
    name = pod["metadata"]["name"]
    assert pod["status"]["containerStatuses"][0]["ready"] is True

    # /healthz through the API server's proxy: to the pod, and to the Service's endpoint.
    for path in (f"pods/{name}:{PORT}", "services/s2i-bot:http"):
        health = json.loads(
            kube.out("get", "--raw", f"/api/v1/namespaces/{ns}/{path}/proxy/healthz")
        )
        assert health == {"ok": True, "active_builds": 0}

    # As deployed: non-root, read-only root, secrets as files (no env value from a Secret).
    spec = pod["spec"]
    container = spec["containers"][0]
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert not any("secretKeyRef" in e.get("valueFrom", {}) for e in container["env"])
    assert container["image"] == "127.0.0.1:5000/s2i-bot/bot:latest"

    # The bot's in-cluster config and ServiceAccount reach the API: its namespace's Jobs.
    script = (
        "import os\n"
        "from bot.executors.kube_client import KubeClient\n"
        "from bot.settings import KubernetesSettings\n"
        "ns = os.environ['S2I_BOT_KUBERNETES__NAMESPACE']\n"
        "kube = KubeClient(KubernetesSettings(namespace=ns))\n"
        "print(ns, len(kube.find_jobs('app.kubernetes.io/managed-by=s2i-bot')))\n"
    )
    assert kube.out("-n", ns, "exec", name, "--", "python3", "-c", script).split() == [ns, "0"]

    # ... and may do what the executor does, in its namespace only, and no more.
    account = f"system:serviceaccount:{ns}:s2i-bot"

    def can(*args: str) -> bool:
        out = kube.run("auth", "can-i", "--as", account, *args, check=False).stdout.strip()
        return out == "yes"

    allowed = [("create", "jobs.batch"), ("watch", "jobs.batch"), ("delete", "jobs.batch"),
               ("list", "pods"), ("get", "pods", "--subresource=log"), ("create", "secrets"),
               ("patch", "secrets")]  # fmt: skip
    for args in allowed:
        assert can(*args, "-n", ns), args
    denied = [("get", "secrets", "-n", ns), ("list", "secrets", "-n", ns),
              ("create", "pods", "-n", ns), ("create", "jobs.batch", "-n", "default"),
              ("list", "namespaces"), ("get", "nodes")]  # fmt: skip
    for args in denied:
        assert not can(*args), args
