"""manifests/ (the kustomize base that deploys the bot and its build namespace) on the real
single-node cluster of scripts/cluster.sh: the server accepts every object (server-side dry
run), and the bot deployed from them (manifests/overlays/test: the local image, dummy forge
Secrets) becomes available through its /healthz readiness probe, answers through the API
server's proxy (pod and Service), and lists Jobs in the build namespace with its in-cluster
config and ServiceAccount, which may do no more than the build namespace's Role says and
nothing in its own namespace.

The build namespace's NetworkPolicy is checked by its content: the test cluster's CNI is the
plain `bridge` plugin (scripts/cluster.sh), which enforces no NetworkPolicy, and the test
builds use the node's network (host_network), to which no NetworkPolicy applies.

The bot's pod stays on the pod network. The cluster has no kube-proxy, so the `kubernetes`
Service's address leads nowhere; the test's overlay points the in-cluster config at the
node's address instead (KUBERNETES_SERVICE_HOST/PORT, which the API server's certificate
names).
"""

from __future__ import annotations

import ipaddress
import json
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.settings import KubernetesSettings
from tests.support.bot_process import REPO_ROOT
from tests.support.names import unique
from tests.support.testenv import STATE, ProvisionedEnv

MANIFESTS = REPO_ROOT / "manifests"
BASE_NAMESPACE = "s2i-bot"  # manifests/base/kustomization.yaml
BUILD_NAMESPACE = "s2i-bot-builds"  # manifests/builds/kustomization.yaml
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


def egress_allowed(policy: dict[str, Any], address: str, port: int, protocol: str = "TCP") -> bool:
    """Whether a NetworkPolicy lets its pods connect to an address outside the cluster's pod
    selectors (an ipBlock peer), by the rules' meaning in the NetworkPolicy API: some egress
    rule whose peers include a block holding the address (and none of its exceptions), and
    whose ports (if any) include the port."""
    ip = ipaddress.ip_address(address)
    for rule in policy["spec"].get("egress", []):
        ports = rule.get("ports")
        if ports and not any(p.get("port") == port and p.get("protocol", "TCP") == protocol
                             for p in ports):  # fmt: skip
            continue
        for peer in rule.get("to", []):
            block = peer.get("ipBlock")
            if block is None or ip.version != ipaddress.ip_network(block["cidr"]).version:
                continue
            inside = ip in ipaddress.ip_network(block["cidr"])
            if inside and not any(ip in ipaddress.ip_network(e) for e in block.get("except", [])
                                  if ipaddress.ip_network(e).version == ip.version):  # fmt: skip
                return True
    return False


def test_build_pods_take_no_connection_and_reach_neither_the_api_server_nor_the_bot() -> None:
    """The NetworkPolicy's content (the test cluster enforces none: see the module doc)."""
    policy = yaml.safe_load((MANIFESTS / "builds" / "network-policy.yaml").read_text())
    spec = policy["spec"]
    assert spec["podSelector"] == {}  # every pod of the build namespace
    assert set(spec["policyTypes"]) == {"Ingress", "Egress"} and not spec.get("ingress")
    blocked = [
        "10.96.0.1",  # the `kubernetes` Service (a usual service CIDR)
        "10.0.0.10", "172.20.0.5", "192.168.49.2",  # API servers and nodes on private networks
        "10.244.0.17", "100.64.3.4",  # pods: the bot's among them
        "169.254.169.254",  # cloud metadata (credentials of the node)
        "127.0.0.1", "::1", "fd00::1", "fe80::1",
    ]  # fmt: skip
    for address in blocked:
        for port in (443, 6443, 8080, 80):
            assert not egress_allowed(policy, address, port), (address, port)
    for address in ("140.82.112.3", "2606:50c0:8000::153"):  # a forge, a registry, ...
        assert egress_allowed(policy, address, 443)
    # Name resolution only through the cluster's DNS pods, on port 53.
    (dns,) = [r for r in spec["egress"] if not any("ipBlock" in p for p in r["to"])]
    assert {(p["protocol"], p["port"]) for p in dns["ports"]} == {("UDP", 53), ("TCP", 53)}
    (peer,) = dns["to"]
    assert peer["namespaceSelector"]["matchLabels"] == {
        "kubernetes.io/metadata.name": "kube-system"
    }


def test_the_build_namespace_enforces_the_restricted_standard_the_default_layouts_pods_pass() -> (
    None
):
    namespace = yaml.safe_load((MANIFESTS / "builds" / "namespace.yaml").read_text())
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    config = yaml.safe_load((MANIFESTS / "base" / "config" / "bot.yaml").read_text())
    kubernetes = KubernetesSettings.model_validate(config["kubernetes"])
    assert kubernetes.layout == "unprivileged" and kubernetes.host_network is False
    # The test overlay's builds use the node's network: there the namespace admits them.
    overlay = (MANIFESTS / "overlays" / "test" / "builds" / "kustomization.yaml").read_text()
    assert "pod-security.kubernetes.io~1enforce" in overlay and "value: privileged" in overlay


@pytest.mark.e2e
def test_the_server_accepts_the_base(kube: Kube) -> None:
    # A namespaced object's server-side dry run needs its namespace to exist (a real apply
    # creates the Namespace first); made here only if missing, and removed again then.
    created = [
        ns for ns in (BASE_NAMESPACE, BUILD_NAMESPACE)
        if kube.run("create", "namespace", ns, check=False).returncode == 0
    ]  # fmt: skip
    try:
        out = kube.out("apply", "--dry-run=server", "-k", str(MANIFESTS))
    finally:
        for ns in created:
            kube.run("delete", "namespace", ns, "--wait=false", check=False)
    for kind in (
        "namespace", "serviceaccount", "role.rbac.authorization.k8s.io",
        "rolebinding.rbac.authorization.k8s.io", "configmap", "service", "deployment.apps",
        "networkpolicy.networking.k8s.io",
    ):  # fmt: skip
        assert f"{kind}/" in out, out


def rendered(kube: Kube) -> list[dict[str, Any]]:
    return list(yaml.safe_load_all(kube.out("kustomize", str(MANIFESTS))))


@pytest.mark.e2e
def test_the_bots_role_is_in_the_build_namespace_and_no_secret_may_be_read(kube: Kube) -> None:
    objects = {(o["kind"], o["metadata"].get("namespace")): o for o in rendered(kube)}
    assert ("Role", BASE_NAMESPACE) not in objects  # nothing in the bot's own namespace
    role = objects[("Role", BUILD_NAMESPACE)]
    binding = objects[("RoleBinding", BUILD_NAMESPACE)]
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "s2i-bot", "namespace": BASE_NAMESPACE}
    ]
    verbs = {(r["resources"][0], v) for r in role["rules"] for v in r["verbs"]}
    assert not {v for r, v in verbs if r == "secrets"} & {"get", "list", "watch"}
    assert ("pods", "create") not in verbs and ("pods/exec", "create") not in verbs
    assert ("NetworkPolicy", BUILD_NAMESPACE) in objects


@pytest.fixture
def deployed(kube: Kube, tmp_path: Path) -> Iterator[str]:
    """manifests/overlays/test in namespaces of its own (<ns> and <ns>-builds, each half of
    the overlay renamed on its own); both go afterwards."""
    namespace = unique("s2i-bot-manifests")
    kustomization = {"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization"}
    builds = kustomization | {
        "namespace": f"{namespace}-builds",
        "resources": [os.path.relpath(MANIFESTS / "overlays/test/builds", tmp_path / "builds")],
        "patches": [{
            "target": {"kind": "RoleBinding", "name": "s2i-bot-builds"},
            "patch": json.dumps(
                [{"op": "replace", "path": "/subjects/0/namespace", "value": namespace}]
            ),
        }],
    }  # fmt: skip
    overlay = kustomization | {
        "namespace": namespace,
        # kustomize takes no absolute path, and a relative one from anywhere
        "resources": [os.path.relpath(MANIFESTS / "overlays/test/bot", tmp_path / "bot")],
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
    for name, content in (("bot", overlay), ("builds", builds)):
        (tmp_path / name).mkdir()
        (tmp_path / name / "kustomization.yaml").write_text(json.dumps(content))
    (tmp_path / "kustomization.yaml").write_text(
        json.dumps(kustomization | {"resources": ["bot", "builds"]})
    )
    try:
        kube.out("apply", "-k", str(tmp_path))
        yield namespace
    finally:
        for ns in (namespace, f"{namespace}-builds"):
            kube.run("delete", "namespace", ns, "--wait=false", check=False)


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
        # A fresh bot: nothing builds, and nothing waits in its store (the queue depth
        # /healthz reads from the database).
        assert health == {
            "ok": True, "active_builds": 0, "delivery_backlog": 0,
            "unprocessed_deliveries": 0, "queued_builds": 0, "unsent_outbox_items": 0,
        }  # fmt: skip

    # As deployed: non-root, read-only root, secrets as files (no env value from a Secret).
    spec = pod["spec"]
    container = spec["containers"][0]
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert not any("secretKeyRef" in e.get("valueFrom", {}) for e in container["env"])
    assert container["image"] == "127.0.0.1:5000/s2i-bot/bot:latest"

    # The bot's in-cluster config and ServiceAccount reach the API: the build namespace's
    # Jobs (kubernetes.build_namespace defaults to <the pod's namespace>-builds).
    builds = f"{ns}-builds"
    script = (
        "import os\n"
        "from bot.executors.kube_client import KubeClient\n"
        "from bot.settings import KubernetesSettings\n"
        "ns = os.environ['S2I_BOT_KUBERNETES__NAMESPACE']\n"
        "kube = KubeClient(KubernetesSettings(namespace=ns))\n"
        "print(kube.namespace, len(kube.find_jobs('app.kubernetes.io/managed-by=s2i-bot')))\n"
    )
    # The bot image's virtualenv (builders/bot/Containerfile), where the package is installed.
    out = kube.out("-n", ns, "exec", name, "--", "/opt/s2i-bot/bin/python", "-c", script)
    assert out.split() == [builds, "0"]

    # ... and may do what the executor does, in the build namespace only, and no more: not
    # in its own namespace (where its Secrets are), not anywhere else.
    account = f"system:serviceaccount:{ns}:s2i-bot"

    def can(*args: str) -> bool:
        out = kube.run("auth", "can-i", "--as", account, *args, check=False).stdout.strip()
        return out == "yes"

    allowed = [("create", "jobs.batch"), ("watch", "jobs.batch"), ("delete", "jobs.batch"),
               ("list", "pods"), ("get", "pods", "--subresource=log"), ("create", "secrets"),
               ("patch", "secrets")]  # fmt: skip
    for args in allowed:
        assert can(*args, "-n", builds), args
        assert not can(*args, "-n", ns), args
    denied = [("get", "secrets", "-n", builds), ("list", "secrets", "-n", builds),
              ("get", "secrets", "-n", ns), ("list", "secrets", "-n", ns),
              ("delete", "secrets", "-n", builds), ("create", "pods", "-n", builds),
              ("create", "pods", "--subresource=exec", "-n", builds),
              ("create", "jobs.batch", "-n", "default"), ("list", "namespaces"),
              ("get", "nodes")]  # fmt: skip
    for args in denied:
        assert not can(*args), args


@pytest.mark.e2e
def test_the_replicas_overlay_runs_two_bots_ready_on_the_database_with_its_url_from_a_secret(
    testenv: ProvisionedEnv,
) -> None:
    """manifests/overlays/replicas, rendered by the cluster's kubectl (kustomize): two
    replicas rolled one at a time, ready only while the database answers (/readyz; alive
    by /healthz), the database URL read from a mounted Secret, never an environment value."""
    kubectl = json.loads((STATE / "cluster" / "cluster.json").read_text())["kubectl"]
    out = subprocess.run(
        [kubectl, "kustomize", str(MANIFESTS / "overlays" / "replicas")],
        capture_output=True, text=True, check=True, timeout=60,
    ).stdout  # fmt: skip
    (deployment,) = [o for o in yaml.safe_load_all(out) if o["kind"] == "Deployment"]
    spec = deployment["spec"]
    assert spec["replicas"] == 2 and spec["strategy"]["type"] == "RollingUpdate"
    assert spec["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    pod = spec["template"]["spec"]
    (container,) = pod["containers"]
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    env = {e["name"]: e for e in container["env"]}
    assert not any("secretKeyRef" in e.get("valueFrom", {}) for e in env.values())
    url_file = Path(env["S2I_BOT_DATABASE_URL_FILE"]["value"])
    (mount,) = [m for m in container["volumeMounts"] if m["mountPath"] == str(url_file.parent)]
    (volume,) = [v for v in pod["volumes"] if v["name"] == mount["name"]]
    assert volume["secret"]["secretName"] == "s2i-bot-database" and mount["readOnly"] is True


@pytest.mark.e2e
def test_the_scheduled_rebuild_overlay_triggers_through_the_service_with_the_token_from_a_file(
    testenv: ProvisionedEnv,
) -> None:
    """manifests/overlays/scheduled-rebuild, rendered by the cluster's kubectl (kustomize): a
    CronJob that runs `s2i-bot trigger` in the bot's image against the bot's Service, one at a
    time, with the api_token read from the same mounted Secret as the bot's (a file, never an
    environment value); the API server accepts it (server-side dry run)."""
    kubectl = json.loads((STATE / "cluster" / "cluster.json").read_text())
    out = subprocess.run(
        [kubectl["kubectl"], "kustomize", str(MANIFESTS / "overlays" / "scheduled-rebuild")],
        capture_output=True, text=True, check=True, timeout=60,
    ).stdout  # fmt: skip
    objects = list(yaml.safe_load_all(out))
    (cron,) = [o for o in objects if o["kind"] == "CronJob"]
    (deployment,) = [o for o in objects if o["kind"] == "Deployment"]
    (service,) = [o for o in objects if o["kind"] == "Service"]
    assert cron["metadata"]["namespace"] == service["metadata"]["namespace"] == BASE_NAMESPACE
    assert cron["spec"]["concurrencyPolicy"] == "Forbid"
    pod = cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["args"][:2] == ["trigger", "acme/app"]
    assert (
        container["image"].split(":")[0]
        == deployment["spec"]["template"]["spec"]["containers"][0]["image"].split(":")[0]
    )
    env = {e["name"]: e for e in container["env"]}
    port = service["spec"]["ports"][0]["port"]
    assert env["S2I_BOT_PUBLIC_URL"]["value"] in (
        f"http://{service['metadata']['name']}.{BASE_NAMESPACE}.svc",
        f"http://{service['metadata']['name']}.{BASE_NAMESPACE}.svc:{port}",
    )
    assert pod["automountServiceAccountToken"] is False
    for spec in (pod, deployment["spec"]["template"]["spec"]):
        (runner,) = spec["containers"]
        variables = {e["name"]: e for e in runner["env"]}
        assert not any("secretKeyRef" in e.get("valueFrom", {}) for e in variables.values())
        token = Path(variables["S2I_BOT_API_TOKEN_FILE"]["value"])
        (mount,) = [m for m in runner["volumeMounts"] if m["mountPath"] == str(token.parent)]
        (volume,) = [v for v in spec["volumes"] if v["name"] == mount["name"]]
        assert volume["secret"]["secretName"] == "s2i-bot-api" and mount["readOnly"] is True
    kube = [kubectl["kubectl"], "--kubeconfig", kubectl["kubeconfig"]]
    created = subprocess.run(
        [*kube, "create", "namespace", BASE_NAMESPACE], capture_output=True, check=False
    ).returncode == 0  # fmt: skip
    try:
        applied = subprocess.run(
            [*kube, "apply", "--dry-run=server", "-f", "-"], input=yaml.safe_dump(cron),
            capture_output=True, text=True, check=False, timeout=120,
        )  # fmt: skip
    finally:
        if created:
            subprocess.run([*kube, "delete", "namespace", BASE_NAMESPACE, "--wait=false"],
                           capture_output=True, check=False)  # fmt: skip
    assert applied.returncode == 0, applied.stderr
    assert "cronjob.batch/s2i-bot-rebuild-acme-app created (server dry run)" in applied.stdout
