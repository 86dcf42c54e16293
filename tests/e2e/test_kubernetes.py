"""End to end on the Kubernetes executor, on the real single-node cluster of
scripts/cluster.sh: a signed GitHub push -> a Job running the runner image (buildah) -> the
real registry -> commit statuses on the (fake) GitHub.

The build pods use the node's network (`host_network: true`): the registry and the fake
GitHub listen on the host's loopback, which a pod in its own network namespace cannot reach.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.fakes.github import FakeGitHub
from tests.support.apps import APPS, app_files, app_repo
from tests.support.bot_process import REPO_ROOT, BotFactory, BotProcess, free_port
from tests.support.deliveries import push_main
from tests.support.forges import GitHubHarness
from tests.support.images import skopeo_inspect
from tests.support.names import unique
from tests.support.outcomes import delivery, final_status, log_of
from tests.support.testenv import STATE, ProvisionedEnv
from tests.support.wait import wait_until

pytestmark = pytest.mark.e2e
RUNNER_IMAGE = "127.0.0.1:5000/s2i-bot/runner:latest"
REGISTRY_SECRET = "registry"


@dataclass(frozen=True)
class Cluster:
    kubeconfig: str
    kubectl: str
    server: str

    def kubectl_run(self, *args: str, check: bool = True, input: str | None = None) -> str:
        return subprocess.run(
            [self.kubectl, "--kubeconfig", self.kubeconfig, *args],
            check=check, capture_output=True, text=True, input=input,
        ).stdout  # fmt: skip

    def objects(self, namespace: str, kind: str, selector: str) -> list[dict[str, Any]]:
        out = self.kubectl_run("-n", namespace, "get", kind, "-l", selector, "-o", "json")
        items: list[dict[str, Any]] = json.loads(out)["items"]
        return items


@pytest.fixture(scope="session")
def cluster(testenv: ProvisionedEnv) -> Cluster:
    """The cluster up (idempotent, ~10 s) and the runner image built and pushed."""
    for script, arg in (("cluster.sh", "up"), ("images.sh", "runner")):
        result = subprocess.run(
            ["bash", str(REPO_ROOT / "scripts" / script), arg],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        assert result.returncode == 0, f"{script} failed:\n{result.stdout}\n{result.stderr}"
    info = json.loads((STATE / "cluster" / "cluster.json").read_text())
    return Cluster(info["kubeconfig"], info["kubectl"], info["server"])


@pytest.fixture
def namespace(cluster: Cluster, testenv: ProvisionedEnv, tmp_path: Path) -> Iterator[str]:
    """A namespace of its own (build ids restart at 1 with every bot's new database) with
    the registry credentials as a dockerconfigjson Secret."""
    name = unique("s2i-bot-e2e")
    cluster.kubectl_run("create", "namespace", name)
    auth = testenv.auth_file(tmp_path)
    cluster.kubectl_run(
        "-n", name, "create", "secret", "generic", REGISTRY_SECRET,
        "--type=kubernetes.io/dockerconfigjson", f"--from-file=.dockerconfigjson={auth}",
    )  # fmt: skip
    # The ServiceAccount admission refuses pods until the controller made `default`.
    wait_until(
        lambda: bool(cluster.kubectl_run("-n", name, "get", "sa", "default", check=False)),
        timeout=60,
        what=f"the default ServiceAccount in {name}",
    )
    yield name
    cluster.kubectl_run("delete", "namespace", name, "--wait=false", check=False)


StartKubeBot = Callable[..., BotProcess]


@pytest.fixture
def start_kube_bot(
    start_bot: BotFactory, testenv: ProvisionedEnv, cluster: Cluster, namespace: str,
    tmp_path: Path,
) -> StartKubeBot:  # fmt: skip
    def start(kubeconfig: str | None = None) -> BotProcess:
        return start_bot(
            builder_registry=testenv.builder_registry,
            registry_auth_file=str(testenv.auth_file(tmp_path)),
            executor="kubernetes",
            kubernetes={
                "kubeconfig": kubeconfig or cluster.kubeconfig,
                "build_namespace": namespace,
                "runner_image": RUNNER_IMAGE,
                "runner_image_pull_policy": "Always",
                "registry_secret": REGISTRY_SECRET,
                "host_network": True,
                "ttl_seconds_after_finished": 600,
                "resources": {"requests": {"cpu": "100m", "memory": "256Mi"}},
            },
        )

    return start


def build_selector(build_id: int) -> str:
    return f"app.kubernetes.io/managed-by=s2i-bot,s2i-bot/build-id={build_id}"


def test_a_push_builds_in_a_job_and_the_status_has_the_registry_digest(
    github: FakeGitHub, github_forge: GitHubHarness, start_kube_bot: StartKubeBot,
    testenv: ProvisionedEnv,
    cluster: Cluster, namespace: str,
) -> None:  # fmt: skip
    bot = start_kube_bot()
    repo, image, sha = app_repo(github_forge, testenv.registry, "kube", app_files("go-hello"))
    push_main(github, bot, repo, sha)

    status = final_status(github_forge, repo, sha)
    log = log_of(status)
    assert status.state == "success", log
    match = re.fullmatch(r"(sha256:[0-9a-f]{64}) \([0-9.]+ MB\)", status.description)
    assert match, status.description
    assert skopeo_inspect(testenv, f"{image}:main")["Digest"] == match.group(1)
    # The log is the runner's, from the pod; no secret in it.
    assert f"Job {namespace}/s2i-bot-build-1 created" in log
    assert "s2i build --as-dockerfile" in log and f"pushed {image}:main@{match.group(1)}" in log
    assert github.token not in log and testenv.password not in log
    # The Job carries the build's identity; its Secret is owned by it.
    (job,) = cluster.objects(namespace, "jobs", build_selector(1))
    assert job["metadata"]["labels"]["s2i-bot/sha"] == sha
    assert job["metadata"]["labels"]["s2i-bot/repo"] == repo.replace("/", ".")
    (secret,) = cluster.objects(namespace, "secrets", build_selector(1))
    assert secret["metadata"]["ownerReferences"][0]["uid"] == job["metadata"]["uid"]


def test_a_compile_error_in_a_job_fails_the_status_with_the_compiler_in_the_log(
    github: FakeGitHub, github_forge: GitHubHarness, start_kube_bot: StartKubeBot,
    testenv: ProvisionedEnv,
) -> None:  # fmt: skip
    bot = start_kube_bot()
    main = (APPS / "go-hello" / "main.go").read_text().replace("greet.Hello(", "greet.Helo(")
    files = app_files("go-hello") | {"main.go": main}
    repo, _, sha = app_repo(github_forge, testenv.registry, "kube-broken", files)
    push_main(github, bot, repo, sha)

    status = final_status(github_forge, repo, sha)
    assert status.state == "failure"
    assert status.description.startswith("the build failed")
    assert "undefined: greet.Helo" in log_of(status)


@pytest.mark.parametrize("stop", [signal.SIGKILL, signal.SIGTERM], ids=["killed", "stopped"])
def test_a_bot_killed_or_stopped_mid_build_adopts_its_job_after_a_restart(
    github: FakeGitHub, github_forge: GitHubHarness, start_kube_bot: StartKubeBot,
    testenv: ProvisionedEnv,
    cluster: Cluster, namespace: str, stop: signal.Signals,
) -> None:  # fmt: skip
    bot = start_kube_bot()
    name = f"kube-{stop.name.lower()}"
    repo, image, sha = app_repo(github_forge, testenv.registry, name, app_files("go-hello"))
    push_main(github, bot, repo, sha)
    wait_until(
        lambda: bool(cluster.objects(namespace, "pods", build_selector(1))),
        timeout=60, what="the build's pod",
    )  # fmt: skip
    (job,) = cluster.objects(namespace, "jobs", build_selector(1))
    bot.stop(stop)  # a graceful stop, too, leaves the Job running for the next start
    bot.start()

    status = final_status(github_forge, repo, sha)
    log = log_of(status)
    assert status.state == "success", log
    digest = status.description.split()[0]
    assert skopeo_inspect(testenv, f"{image}:main")["Digest"] == digest
    # The same Job, adopted, not a second build.
    assert "adopting the Job" in log
    (after,) = cluster.objects(namespace, "jobs", build_selector(1))
    assert after["metadata"]["uid"] == job["metadata"]["uid"]


def test_a_superseded_build_deletes_its_job_and_pod(
    github: FakeGitHub, github_forge: GitHubHarness, start_kube_bot: StartKubeBot,
    testenv: ProvisionedEnv,
    cluster: Cluster, namespace: str,
) -> None:  # fmt: skip
    bot = start_kube_bot()
    repo, _, first = app_repo(github_forge, testenv.registry, "kube-cancel", app_files("go-hello"))
    push_main(github, bot, repo, first)
    wait_until(
        lambda: bool(cluster.objects(namespace, "pods", build_selector(1))),
        timeout=60, what="the build's pod",
    )  # fmt: skip
    second = github_forge.commit(repo, {"README.md": "newer\n"})
    push_main(github, bot, repo, second)

    status = final_status(github_forge, repo, first)
    assert "superseded" in status.description, status
    wait_until(
        lambda: not cluster.objects(namespace, "jobs", build_selector(1))
        and not cluster.objects(namespace, "pods", build_selector(1)),
        timeout=60, what="the cancelled build's Job and pod to be deleted",
    )  # fmt: skip
    assert not cluster.objects(namespace, "secrets", build_selector(1))


def test_an_unreachable_api_server_is_an_error_status_naming_it(
    github: FakeGitHub, github_forge: GitHubHarness, start_kube_bot: StartKubeBot,
    testenv: ProvisionedEnv,
    cluster: Cluster, tmp_path: Path,
) -> None:  # fmt: skip
    closed = f"https://127.0.0.1:{free_port()}"
    kubeconfig = tmp_path / "closed.kubeconfig"
    kubeconfig.write_text(Path(cluster.kubeconfig).read_text().replace(cluster.server, closed))
    bot = start_kube_bot(kubeconfig=str(kubeconfig))
    repo, _, sha = app_repo(github_forge, testenv.registry, "kube-down", app_files("go-hello"))
    delivery_id = push_main(github, bot, repo, sha)["accepted"]

    started = time.monotonic()
    status = final_status(github_forge, repo, sha)
    assert status.state == "error"
    assert f"Kubernetes API server {closed} is unreachable" in status.description
    assert time.monotonic() - started < 60
    # The delivery was processed and its build recorded, with the reason.
    info = delivery(bot, delivery_id)
    assert info["processed"] and len(info["builds"]) == 1
    build = httpx.get(f"{bot.url}/builds/{info['builds'][0]}", timeout=5).json()
    assert build["state"] == "error" and closed in build["reason"]
