"""Benchmark: the Kubernetes executor against the local one, same build, one run.

Two bots on one fake GitHub, both with the buildah engine and the same registry: one with
`executor: local`, one with `executor: kubernetes` (the cluster of scripts/cluster.sh, the
runner image of scripts/images.sh, host network). Each round commits the Go sample
with a fresh one-line change and pushes it to each bot, alternating, and measures:

  - kubernetes: signed push -> the build's pod Running (polled with kubectl);
  - both: signed push -> success status (the whole build).

It prints the medians and the ratio kubernetes / local.

    .venv/bin/python -m bench.kubernetes_executor [--rounds 3] [--image-cache DIR]
        [--layout unprivileged|buildah] [--restricted]

With --image-cache DIR (a node directory), Job pods keep buildah's images between builds.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
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


def pod_running(cluster: dict[str, Any], namespace: str, build_id: int) -> bool:
    out = kubectl(
        cluster, "-n", namespace, "get", "pods", "-o", "json",
        "-l", f"app.kubernetes.io/managed-by=s2i-bot,s2i-bot/build-id={build_id}",
    )  # fmt: skip
    # The unprivileged layout's pod is Pending while its init containers run: it runs as
    # soon as the first of them does.
    return any(
        p["status"].get("phase") in ("Running", "Succeeded")
        or any(
            {"running", "terminated"} & (s.get("state") or {}).keys()
            for s in p["status"].get("initContainerStatuses") or []
        )
        for p in json.loads(out)["items"]
    )


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
    running: Any = None,
) -> tuple[float, float | None]:  # fmt: skip
    """Commit the sample (changed by nonce), push it; seconds to the success status and
    (when `running` is given) to the moment running() first held."""
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
    started: list[float] = []
    done = threading.Event()

    def poll() -> None:
        while not done.is_set() and not started:
            if running():
                started.append(time.monotonic())
            time.sleep(0.05)

    start = time.monotonic()
    httpx.post(f"{bot.url}/webhooks/github", content=body, headers=headers).raise_for_status()
    poller = threading.Thread(target=poll, daemon=True) if running else None
    if poller:
        poller.start()

    status = final_status(GitHubHarness(github, GITHUB_TOKEN), repo.full_name, sha)
    elapsed = time.monotonic() - start
    done.set()
    if poller:
        poller.join()
    if status.state != "success":
        raise SystemExit(f"the build failed: {status}")
    return elapsed, (started[0] - start if started else None)


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
        with FakeGitHub(GITHUB_TOKEN) as github, contextlib.ExitStack() as stack:
            common: dict[str, Any] = {
                "github": {"api_url": github.api_url, "token": GITHUB_TOKEN,
                           "webhook_secret": WEBHOOK_SECRET},
                "builder_registry": env.builder_registry, "registry_auth_file": str(auth),
                "s2i": env.s2i, "engine": "buildah", "forge_write_interval": 0,
            }  # fmt: skip
            kube_settings = {
                "kubeconfig": cluster["kubeconfig"], "build_namespace": namespace,
                "runner_image": RUNNER_IMAGE, "registry_secret": "registry",
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
                run(env, github, local, kube, cluster, namespace, args.rounds)
            finally:
                local.stop()
                kube.stop()
    finally:
        subprocess.run(
            [cluster["kubectl"], "--kubeconfig", cluster["kubeconfig"], "delete", "namespace",
             namespace, "--wait=false"], capture_output=True, check=False,
        )  # fmt: skip
        shutil.rmtree(work, ignore_errors=True)


def run(
    env: ProvisionedEnv, github: FakeGitHub, local: BotProcess, kube: BotProcess,
    cluster: dict[str, Any], namespace: str, rounds: int,
) -> None:  # fmt: skip
    # Repositories (and so registry repositories) of their own: runs side by side never mix.
    local_repo = github.create_repo(unique("bench/k8s-local"))
    kube_repo = github.create_repo(unique("bench/k8s-kube"))
    local_times, kube_times, to_running = [], [], []
    for round_ in range(rounds):
        nonce = f"round-{round_}-{time.time_ns()}"
        build_id = round_ + 1  # each bot's own database numbers its builds from 1
        kube_time, running = push_and_time(
            github, kube, kube_repo, f"{env.registry}/{kube_repo.full_name}", nonce,
            running=lambda b=build_id: pod_running(cluster, namespace, b),
        )  # fmt: skip
        local_time, _ = push_and_time(
            github, local, local_repo, f"{env.registry}/{local_repo.full_name}", nonce
        )
        print(f"  {pod_timeline(cluster, namespace, build_id)}", flush=True)
        kube_times.append(kube_time)
        local_times.append(local_time)
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
    print(f"push -> success, kubernetes executor (median of {rounds}): {kube_median:.2f}s")
    print(f"push -> success, local executor      (median of {rounds}): {local_median:.2f}s")
    print(f"ratio kubernetes / local: {kube_median / local_median:.2f}")


if __name__ == "__main__":
    main()
