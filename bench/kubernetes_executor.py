"""Benchmark: the Kubernetes executor against the local one, same build, one run.

Two bots on one fake GitHub, both with the buildah engine and the same registry: one with
`executor: local`, one with `executor: kubernetes` (the cluster of scripts/cluster.sh, the
runner image of scripts/images.sh, host network). Each round commits the Go sample
with a fresh one-line change and pushes it to each bot, alternating, and measures:

  - kubernetes: signed push -> the build's pod Running (polled with kubectl);
  - both: signed push -> success status (the whole build).

It prints the medians and the ratio kubernetes / local, and for each round when (from the
push) the API showed the Job, its pod, the pod scheduled and its first container running
(a watch, so no polling interval adds to them).

With --cold, first one build whose builder image the node does not have (the first build on
a node): a copy of the Go builder under a bench-only repository, flattened into one layer of
its own (a copy keeping the digest would keep the layers the node already has, so the
kubelet would pull nothing but the manifest), removed from the node's containerd (only
that copy: other builds on the node keep theirs) and built by a third bot whose
builder_registry is that repository's. It prints that build's times and the kubelet's pull.

    .venv/bin/python -m bench.kubernetes_executor [--rounds 3] [--image-cache DIR]
        [--layout unprivileged|buildah] [--restricted] [--cold]

With --image-cache DIR (a node directory), Job pods keep buildah's images between builds.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import secrets
import shutil
import statistics
import subprocess
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
from kubernetes import client, config, watch

from bot.runner.loopback_relay import relays
from tests.fakes.github import FakeGitHub, FakeRepo
from tests.fakes.webhooks import ZERO_SHA, github_headers, push_payload
from tests.support.apps import app_files
from tests.support.bot_process import REPO_ROOT, BotProcess, free_port
from tests.support.forges import GITHUB_TOKEN, WEBHOOK_SECRET, GitHubHarness
from tests.support.kube_cluster import RUNNER_IMAGE, RUNNER_TAG, cluster_info, node_address
from tests.support.names import unique
from tests.support.outcomes import final_status
from tests.support.testenv import STATE, ProvisionedEnv


def kubectl(cluster: dict[str, Any], *args: str) -> str:
    return subprocess.run(
        [cluster["kubectl"], "--kubeconfig", cluster["kubeconfig"], *args],
        check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip


class PodWatch:
    """The build pods of the namespace as the API's watch reports them, each moment taken on
    arrival (the API's own timestamps are whole seconds; a kubectl poll adds its own start):
    when the Job, its pod, the pod's scheduling and its first container appeared, when the
    pod finished and when the Job did (the Job controller batches pod updates)."""

    def __init__(self, cluster: dict[str, Any], namespace: str) -> None:
        configuration = client.Configuration()
        config.load_kube_config(  # type: ignore[no-untyped-call]
            config_file=cluster["kubeconfig"], client_configuration=configuration
        )
        self._api = client.ApiClient(configuration)
        self._namespace = namespace
        self._seen: dict[tuple[int, str], float] = {}
        self._pods: dict[int, str] = {}  # build id -> its pod's name
        self._forgotten: set[str] = set()  # uids of the objects of builds before forget()
        self._uids: set[str] = set()
        self._changed = threading.Condition()
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._follow, args=(kind,), daemon=True)
            for kind in ("job", "pod")
        ]
        for thread in self._threads:
            thread.start()

    def _follow(self, kind: str) -> None:
        list_fn: Any
        if kind == "job":
            list_fn = client.BatchV1Api(self._api).list_namespaced_job
        else:
            list_fn = client.CoreV1Api(self._api).list_namespaced_pod
        while not self._stop.is_set():
            w = watch.Watch()  # type: ignore[no-untyped-call]
            with contextlib.suppress(Exception):
                for event in w.stream(  # type: ignore[no-untyped-call]
                    list_fn, self._namespace, label_selector=MANAGED, timeout_seconds=30
                ):
                    self._record(kind, self._api.sanitize_for_serialization(event["object"]))  # type: ignore[no-untyped-call]
                    if self._stop.is_set():
                        break

    def _record(self, kind: str, obj: dict[str, Any]) -> None:
        now = time.monotonic()
        build = int(obj["metadata"]["labels"][BUILD_ID])
        uid = obj["metadata"]["uid"]
        moments = [f"{kind} created"]
        if kind == "pod":
            status = obj.get("status") or {}
            if (obj.get("spec") or {}).get("nodeName"):
                moments.append("pod scheduled")
            # The unprivileged layout's pod is Pending while its init containers run: it
            # runs as soon as the first of them does.
            statuses = (status.get("initContainerStatuses") or []) + (
                status.get("containerStatuses") or []
            )
            if status.get("phase") in ("Running", "Succeeded") or any(
                {"running", "terminated"} & (s.get("state") or {}).keys() for s in statuses
            ):
                moments.append("pod running")
            if status.get("phase") in ("Succeeded", "Failed"):
                moments.append("pod finished")
        elif any(
            c.get("type") in ("Complete", "Failed") and c.get("status") == "True"
            for c in (obj.get("status") or {}).get("conditions") or []
        ):
            moments.append("job finished")
        with self._changed:
            if uid in self._forgotten:
                return
            self._uids.add(uid)
            if kind == "pod":
                self._pods[build] = obj["metadata"]["name"]
            for moment in moments:
                self._seen.setdefault((build, moment), now)
            self._changed.notify_all()

    def when(self, build_id: int, moment: str) -> float | None:
        return self._seen.get((build_id, moment))

    def pod(self, build_id: int) -> str | None:
        return self._pods.get(build_id)

    def forget(self) -> None:
        """Before another bot's builds, numbered from 1 again: what the watch still says
        about the objects seen so far (their deletion) is not about those builds."""
        with self._changed:
            self._forgotten |= self._uids
            self._seen.clear()
            self._pods.clear()

    def close(self) -> None:
        self._stop.set()


MOMENTS = (
    "job created", "pod created", "pod scheduled", "pod running", "pod finished", "job finished",
)  # fmt: skip


MANAGED = "app.kubernetes.io/managed-by=s2i-bot"
BUILD_ID = "s2i-bot/build-id"


CONTAINERD_TIME = re.compile(r'^time="(?P<at>[0-9T:.-]+?)(?P<frac>\.[0-9]+)?Z"')


def node_timeline(found: dict[str, float]) -> str:
    if not found:
        return "node: (no pod seen)"
    return "node: " + ", ".join(
        f"{what} {at:.2f}s" for what, at in sorted(found.items(), key=lambda i: i[1])
    )


def node_moments(pod: str | None, pushed_at: float) -> dict[str, float]:
    """Where the node's time went between the API's pod and its first container running,
    from the kubelet's and containerd's logs of the dev cluster (scripts/cluster.sh): the
    kubelet's first word about the pod (its volumes), the sandbox (pause container and
    CNI), the first container started; seconds from the push (wall clock). The API shows
    the container running only after the kubelet's next PLEG relist (once a second)."""
    if pod is None:
        return {}
    logs = STATE / "cluster" / "logs"
    found: dict[str, float] = {}
    kubelet = (logs / "kubelet.daemon.log").read_text(errors="replace").splitlines()
    for line in kubelet:
        if 'pod="' in line and f'/{pod}"' in line and "VerifyControllerAttachedVolume" in line:
            # I1130 16:57:35.264502 ...: the kubelet logs local time without a date.
            clock = line.split()[1]
            day = datetime.fromtimestamp(pushed_at).date().isoformat()
            found.setdefault(
                "kubelet volumes", datetime.fromisoformat(f"{day}T{clock}").timestamp()
            )
    sandbox = container = ""
    for line in (logs / "containerd.daemon.log").read_text(errors="replace").splitlines():
        match = CONTAINERD_TIME.match(line)
        if match is None:
            continue
        at = datetime.fromisoformat(match["at"] + (match["frac"] or "")[:7] + "+00:00").timestamp()
        if f"PodSandboxMetadata{{Name:{pod}," in line:
            if "returns sandbox id" in line:
                sandbox = line.split('returns sandbox id \\"')[1].split('\\"')[0]
                found.setdefault("sandbox ready", at)
            else:
                found.setdefault("sandbox start", at)
        elif (
            sandbox and f'within sandbox \\"{sandbox}\\"' in line and "returns container id" in line
        ):
            container = container or line.split('returns container id \\"')[1].split('\\"')[0]
        elif container and f'StartContainer for \\"{container}\\" returns' in line:
            found.setdefault("first container started", at)
    return {what: at - pushed_at for what, at in found.items()}


def pod_timeline(cluster: dict[str, Any], namespace: str, build_id: int) -> str:
    """Where a Job build's time went, from its pod's status (the API's timestamps are whole
    seconds): created -> each container's start and end."""
    out = kubectl(
        cluster, "-n", namespace, "get", "pods", "-o", "json",
        "-l", f"app.kubernetes.io/managed-by=s2i-bot,s2i-bot/build-id={build_id}",
    )  # fmt: skip
    items = json.loads(out)["items"]
    if not items:
        return "(no pod left)"
    pod = items[0]
    created = datetime.fromisoformat(pod["metadata"]["creationTimestamp"])
    parts = []
    status = pod["status"]
    for cs in (status.get("initContainerStatuses") or []) + (status.get("containerStatuses") or []):
        ended = (cs.get("state") or {}).get("terminated") or {}
        if ended.get("startedAt") and ended.get("finishedAt"):
            start = (datetime.fromisoformat(ended["startedAt"]) - created).total_seconds()
            end = (datetime.fromisoformat(ended["finishedAt"]) - created).total_seconds()
            parts.append(f"{cs['name']} {start:.0f}-{end:.0f}s")
    return "pod timeline from creation: " + ", ".join(parts)


@contextlib.contextmanager
def node_relays(addresses: list[str]) -> Iterator[list[str]]:
    """As tests/support/kube_cluster.py's pod_relays: each loopback address forwarded from a
    port of the node's bridge address; the kubernetes.loopback_relays for the pods."""
    node = node_address(cluster_info())
    forwards, in_pod = [], []
    for address in addresses:
        port = free_port(node)
        forwards.append(f"{node}:{port}={address}")
        in_pod.append(f"{address}={node}:{port}")
    with relays(forwards):
        yield in_pod


def push_and_time(
    github: FakeGitHub, bot: BotProcess, repo: FakeRepo, image: str, nonce: str,
    wall: list[float] | None = None,
) -> tuple[float, float]:  # fmt: skip
    """Commit the sample (changed by nonce), push it; the moment of the push (monotonic)
    and the seconds to the success status."""
    main = app_files("go-hello")["main.go"]
    assert isinstance(main, bytes)
    config = (
        f"builds:\n  - name: web\n    template: go\n    image: {image}\n"
        "    triggers: {branches: [main]}\n"
    )
    files = app_files("go-hello") | {
        "main.go": main + f"\n// {nonce}\n".encode(), ".s2i.yaml": config,
    }  # fmt: skip
    sha = repo.commit(files, nonce)
    body = json.dumps(push_payload(repo, ref="refs/heads/main", before=ZERO_SHA, after=sha))
    headers = github_headers("push", body.encode(), WEBHOOK_SECRET)
    wall = wall if wall is not None else []
    start = time.monotonic()
    wall[:] = [time.time()]
    httpx.post(f"{bot.url}/webhooks/github", content=body, headers=headers).raise_for_status()
    status = final_status(GitHubHarness(github, GITHUB_TOKEN), repo.full_name, sha)
    elapsed = time.monotonic() - start
    if status.state != "success":
        raise SystemExit(f"the build failed: {status}")
    return start, elapsed


def moments(pods: PodWatch, build_id: int, start: float) -> dict[str, float]:
    """Seconds from the push to each moment of MOMENTS the watch saw."""
    found = {}
    for moment in MOMENTS:
        if (at := pods.when(build_id, moment)) is not None:
            found[moment] = at - start
    return found


def shown(found: dict[str, float]) -> str:
    return ", ".join(f"{moment} {seconds:.2f}s" for moment, seconds in found.items())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--image-cache", default="",
        help="a node directory for buildah's images (kubernetes.image_cache_host_path)",
    )  # fmt: skip
    parser.add_argument(
        "--layout", choices=["unprivileged", "buildah"], default="unprivileged",
        help="kubernetes.layout of the Job builds",
    )  # fmt: skip
    parser.add_argument(
        "--cold", action="store_true",
        help="first a build whose builder image the node does not have (a bench-only copy)",
    )  # fmt: skip
    parser.add_argument(
        "--restricted", action="store_true",
        help="a build namespace enforcing the restricted Pod Security Standard, pods "
        "without hostNetwork (loopback relays to the registry and the fake GitHub)",
    )  # fmt: skip
    args = parser.parse_args()
    env = ProvisionedEnv.load()
    for script in (["cluster.sh", "up"], ["images.sh", "runner"]):
        subprocess.run(
            ["bash", str(REPO_ROOT / "scripts" / script[0]), *script[1:]],
            check=True, capture_output=True,
            env=os.environ | {"S2I_DEV_RUNNER_TAG": RUNNER_TAG},
        )  # fmt: skip
    cluster = json.loads((STATE / "cluster" / "cluster.json").read_text())
    namespace = f"s2i-bot-bench-{secrets.token_hex(3)}"
    work = Path(tempfile.mkdtemp(prefix="s2i-bot-bench-k8s-"))
    kubectl(cluster, "create", "namespace", namespace)
    try:
        auth = env.auth_file(work)
        # By digest: the node may hold an older image of this worktree's tag
        # (imagePullPolicy IfNotPresent), the build must run the one images.sh just built.
        runner = f"{RUNNER_IMAGE.rsplit(':', 1)[0]}@{crane(env, work, 'digest', RUNNER_IMAGE)}"
        kubectl(
            cluster, "-n", namespace, "create", "secret", "generic", "registry",
            "--type=kubernetes.io/dockerconfigjson", f"--from-file=.dockerconfigjson={auth}",
        )  # fmt: skip
        while not subprocess.run(
            [cluster["kubectl"], "--kubeconfig", cluster["kubeconfig"], "-n", namespace,
             "get", "sa", "default"], capture_output=True, check=False,
        ).stdout:  # fmt: skip
            time.sleep(0.2)
        if args.restricted:
            kubectl(
                cluster, "label", "namespace", namespace,
                "pod-security.kubernetes.io/enforce=restricted",
            )  # fmt: skip
        pods = PodWatch(cluster, namespace)
        with FakeGitHub(GITHUB_TOKEN) as github, contextlib.ExitStack() as stack:
            stack.callback(pods.close)
            common: dict[str, Any] = {
                "github": {"api_url": github.api_url, "token": GITHUB_TOKEN,
                           "webhook_secret": WEBHOOK_SECRET},
                "builder_registry": env.builder_registry, "registry_auth_file": str(auth),
                "s2i": env.s2i, "engine": "buildah", "forge_write_interval": 0,
            }  # fmt: skip
            kube_settings = {
                "kubeconfig": cluster["kubeconfig"], "build_namespace": namespace,
                "runner_image": runner, "registry_secret": "registry",
                "host_network": True, "image_cache_host_path": args.image_cache,
                "layout": args.layout,
            }  # fmt: skip
            if args.restricted:
                kube_settings |= {"host_network": False, "loopback_relays": stack.enter_context(
                    node_relays([env.registry, urllib.parse.urlsplit(github.url).netloc])
                )}  # fmt: skip
            network = "restricted namespace, relays" if args.restricted else "host network"
            print(f"layout {args.layout}, {network}", flush=True)
            (work / "local").mkdir()
            (work / "kube").mkdir()
            local = BotProcess(work / "local", common).start()
            kube = BotProcess(
                work / "kube", common | {"executor": "kubernetes", "kubernetes": kube_settings}
            ).start()
            try:
                if args.cold:
                    cold(env, github, common | {"executor": "kubernetes",
                         "kubernetes": kube_settings}, work, cluster, namespace, pods)  # fmt: skip
                run(env, github, local, kube, cluster, namespace, args.rounds, pods)
            finally:
                local.stop()
                kube.stop()
    finally:
        subprocess.run(
            [cluster["kubectl"], "--kubeconfig", cluster["kubeconfig"], "delete", "namespace",
             namespace, "--wait=false"], capture_output=True, check=False,
        )  # fmt: skip
        shutil.rmtree(work, ignore_errors=True)


COLD_REGISTRY = "s2i-bot-bench-cold"  # below the registry: the cold bot's builder_registry
FLATTENED_FROM = "io.s2i-bot.bench.flattened-from"


def crane(env: ProvisionedEnv, work: Path, *args: str) -> str:
    config_dir = work / "crane"
    config_dir.mkdir(exist_ok=True)
    shutil.copyfile(env.auth_file(work), config_dir / "config.json")
    crane_bin = json.loads((STATE / "testenv.json").read_text())["crane"]
    return subprocess.run(
        [crane_bin, *args, "--insecure"], check=True, capture_output=True, text=True,
        env=os.environ | {"DOCKER_CONFIG": str(config_dir)},
    ).stdout.strip()  # fmt: skip


def cold_builder(env: ProvisionedEnv, work: Path) -> str:
    """The bench-only flattened copy of the Go builder (made again when the builder has
    changed) and the runtime image beside it (a plain copy: the registry serves it, the
    kubelet never pulls it); the copy's `repository@digest`."""
    source = env.images["go"]
    target = f"{env.registry}/{COLD_REGISTRY}/s2i-bot/go:latest"
    source_digest = crane(env, work, "digest", source)
    try:
        labels = json.loads(crane(env, work, "config", target))["config"].get("Labels") or {}
    except subprocess.CalledProcessError:
        labels = {}
    if labels.get(FLATTENED_FROM) != source_digest:
        print(f"flattening {source} into {target} (once per builder digest)", flush=True)
        crane(env, work, "flatten", source, "-t", f"{target}-flat")
        crane(env, work, "mutate", f"{target}-flat", "-t", target,
              "--label", f"{FLATTENED_FROM}={source_digest}")  # fmt: skip
    runtime = env.images["go-runtime"]
    crane(env, work, "copy", runtime, f"{env.registry}/{COLD_REGISTRY}/s2i-bot/go-runtime:latest")
    return f"{target.rsplit(':', 1)[0]}@{crane(env, work, 'digest', target)}"


def forget_on_node(env: ProvisionedEnv, work: Path, image: str) -> None:
    """Remove image (`repository@digest`) from the node's containerd: its names and the
    image id the kubelet knows it by; its layers, which nothing else has, go with them."""
    repository = image.split("@", 1)[0]
    config_digest = json.loads(crane(env, work, "manifest", image))["config"]["digest"]
    ctr = ["ctr", "--address", str(STATE / "cluster" / "containerd" / "containerd.sock"),
           "-n", "k8s.io"]  # fmt: skip
    names = subprocess.run(
        [*ctr, "images", "ls", "-q"], check=True, capture_output=True, text=True
    ).stdout.split()
    ours = [n for n in names if n.startswith((f"{repository}@", f"{repository}:"))]
    ours += [n for n in names if n == config_digest]
    if ours:
        subprocess.run([*ctr, "images", "rm", "--sync", *ours], check=True, capture_output=True)


def pulls(cluster: dict[str, Any], namespace: str) -> list[str]:
    """The kubelet's messages about pulling images in the namespace (Pulled events)."""
    out = kubectl(cluster, "-n", namespace, "get", "events", "-o", "json",
                  "--field-selector", "reason=Pulled")  # fmt: skip
    return [e.get("message", "") for e in json.loads(out)["items"]]


def cold(
    env: ProvisionedEnv, github: FakeGitHub, settings: dict[str, Any], work: Path,
    cluster: dict[str, Any], namespace: str, pods: PodWatch,
) -> None:  # fmt: skip
    builder = cold_builder(env, work)
    forget_on_node(env, work, builder)
    (work / "cold").mkdir()
    bot = BotProcess(
        work / "cold", settings | {"builder_registry": f"{env.registry}/{COLD_REGISTRY}"}
    ).start()
    try:
        repo = github.create_repo(unique("bench/k8s-cold"))
        start, elapsed = push_and_time(
            github, bot, repo, f"{env.registry}/{repo.full_name}", f"cold-{time.time_ns()}"
        )
        found = moments(pods, 1, start)
        timeline = pod_timeline(cluster, namespace, 1)
    finally:
        bot.stop()
    pulled = [m for m in pulls(cluster, namespace) if COLD_REGISTRY in m]
    # The next bot numbers its builds from 1 again: its Job must not meet this one.
    kubectl(cluster, "-n", namespace, "delete", "jobs", "--all", "--cascade=foreground",
            "--wait=true")  # fmt: skip
    pods.forget()
    print(f"first build on the node (builder {builder} not on it):", flush=True)
    print(f"  from the push: {shown(found)}")
    print(f"  {timeline}")
    for message in pulled:
        print(f"  kubelet: {message}")
    # Its first container (the runner's prepare) starts before the kubelet pulls the builder
    # for assemble: the pull is in the build's time, not in the pod's start.
    running = found.get("pod running")
    shown_running = f"{running:.2f}s" if running is not None else "not seen"
    print(f"cold: push -> pod running {shown_running}, push -> success {elapsed:.2f}s", flush=True)


def run(
    env: ProvisionedEnv, github: FakeGitHub, local: BotProcess, kube: BotProcess,
    cluster: dict[str, Any], namespace: str, rounds: int, pods: PodWatch,
) -> None:  # fmt: skip
    # Repositories (and so registry repositories) of their own: runs side by side never mix.
    local_repo = github.create_repo(unique("bench/k8s-local"))
    kube_repo = github.create_repo(unique("bench/k8s-kube"))
    local_times, kube_times, to_running, to_first_container = [], [], [], []
    for round_ in range(rounds):
        nonce = f"round-{round_}-{time.time_ns()}"
        build_id = round_ + 1  # each bot's own database numbers its builds from 1
        pushed_at: list[float] = []
        start, kube_time = push_and_time(
            github, kube, kube_repo, f"{env.registry}/{kube_repo.full_name}", nonce, pushed_at
        )
        _, local_time = push_and_time(
            github, local, local_repo, f"{env.registry}/{local_repo.full_name}", nonce
        )
        found = moments(pods, build_id, start)
        print(f"  from the push: {shown(found)}", flush=True)
        on_node = node_moments(pods.pod(build_id), pushed_at[0])
        print(f"  {node_timeline(on_node)}", flush=True)
        if (first := on_node.get("first container started")) is not None:
            to_first_container.append(first)
        print(f"  {pod_timeline(cluster, namespace, build_id)}", flush=True)
        kube_times.append(kube_time)
        local_times.append(local_time)
        running = found.get("pod running")
        if running is not None:
            to_running.append(running)
        print(
            f"round {round_ + 1}: kubernetes {kube_time:.2f}s (pod running after "
            f"{running if running is None else f'{running:.2f}s'}), local {local_time:.2f}s",
            flush=True,
        )
    kube_median, local_median = statistics.median(kube_times), statistics.median(local_times)
    if to_running:
        print(f"push -> Job's pod running (median of {len(to_running)}): "
              f"{statistics.median(to_running):.2f}s")  # fmt: skip
    if to_first_container:
        first = statistics.median(to_first_container)
        print(f"push -> first container started on the node (median of "
              f"{len(to_first_container)}): {first:.2f}s")  # fmt: skip
    print(f"push -> success, kubernetes executor (median of {rounds}): {kube_median:.2f}s")
    print(f"push -> success, local executor      (median of {rounds}): {local_median:.2f}s")
    print(f"ratio kubernetes / local: {kube_median / local_median:.2f}")


if __name__ == "__main__":
    main()
