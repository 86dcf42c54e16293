"""End to end on the Kubernetes executor, on the real single-node cluster of
scripts/cluster.sh: a signed GitHub push -> a Job running the runner image (buildah) -> the
real registry -> commit statuses on the (fake) GitHub. The `buildah` Job layout, asked for
(kubernetes.layout; the default `unprivileged` one is test_kubernetes_unprivileged.py's),
except where the layout plays no part (an API server that does not answer).

The build pods use the node's network (`host_network: true`): the registry and the fake
GitHub listen on the host's loopback, which a pod in its own network namespace cannot reach.
"""

from __future__ import annotations

import json
import re
import signal
import time
from pathlib import Path

import httpx
import pytest

from tests.fakes.github import FakeGitHub
from tests.support import kube_cluster
from tests.support.apps import APPS, app_files, app_repo
from tests.support.bot_process import free_port
from tests.support.deliveries import push_main
from tests.support.forges import GitHubHarness
from tests.support.images import run_to_end, skopeo_inspect
from tests.support.kube_cluster import BUILDAH, RUNNER_IMAGE, Cluster, StartKubeBot, build_selector
from tests.support.outcomes import build_of, delivery, final_status, log_of
from tests.support.testenv import ProvisionedEnv
from tests.support.wait import wait_until

pytestmark = pytest.mark.e2e
# The cluster, a build namespace per test, a bot building there (tests/support/kube_cluster.py).
cluster = kube_cluster.cluster
build_namespace = kube_cluster.build_namespace
start_kube_bot = kube_cluster.start_kube_bot


def test_a_push_builds_in_a_job_and_the_status_has_the_registry_digest(
    github: FakeGitHub, github_forge: GitHubHarness, start_kube_bot: StartKubeBot,
    testenv: ProvisionedEnv,
    cluster: Cluster, build_namespace: str,
) -> None:  # fmt: skip
    bot = start_kube_bot(kubernetes=BUILDAH)
    repo, image, sha = app_repo(github_forge, testenv.registry, "kube", app_files("go-hello"))
    push_main(github, bot, repo, sha)

    status = final_status(github_forge, repo, sha)
    log = log_of(status)
    assert status.state == "success", log
    match = re.fullmatch(r"(sha256:[0-9a-f]{64}) \([0-9.]+ MB\)", status.description)
    assert match, status.description
    assert skopeo_inspect(testenv, f"{image}:main")["Digest"] == match.group(1)
    # The log is the runner's, from the pod; no secret in it.
    assert f"Job {build_namespace}/s2i-bot-build-1 created" in log
    assert "s2i build --as-dockerfile" in log and f"pushed {image}:main@{match.group(1)}" in log
    assert github.token not in log and testenv.password not in log
    # What it was built on, as the runner in the pod read it (through the termination message).
    build = build_of(status)
    for key, base in (("builder_digest", "go"), ("runtime_digest", "go-runtime")):
        assert build[key] == skopeo_inspect(testenv, testenv.images[base])["Digest"], key
    # The Job carries the build's identity; its Secret is owned by it.
    (job,) = cluster.objects(build_namespace, "jobs", build_selector(1))
    assert job["metadata"]["labels"]["s2i-bot/sha"] == sha
    assert job["metadata"]["labels"]["s2i-bot/repo"] == repo.replace("/", ".")
    (secret,) = cluster.objects(build_namespace, "secrets", build_selector(1))
    assert secret["metadata"]["ownerReferences"][0]["uid"] == job["metadata"]["uid"]


def test_a_compile_error_in_a_job_fails_the_status_with_the_compiler_in_the_log(
    github: FakeGitHub, github_forge: GitHubHarness, start_kube_bot: StartKubeBot,
    testenv: ProvisionedEnv,
) -> None:  # fmt: skip
    bot = start_kube_bot(kubernetes=BUILDAH)
    main = (APPS / "go-hello" / "main.go").read_text().replace("greet.Hello(", "greet.Helo(")
    files = app_files("go-hello") | {"main.go": main}
    repo, _, sha = app_repo(github_forge, testenv.registry, "kube-broken", files)
    push_main(github, bot, repo, sha)

    status = final_status(github_forge, repo, sha)
    assert status.state == "failure"
    # The status names the failing s2i script and the compiler's own line, not the engine's
    # "The command '/bin/sh -c /usr/libexec/s2i/assemble' returned a non-zero code: 2".
    expected = r"assemble failed: main\.go:\d+:\d+: undefined: greet\.Helo"
    assert re.fullmatch(expected, status.description), status.description
    assert "undefined: greet.Helo" in log_of(status)


@pytest.mark.parametrize("stop", [signal.SIGKILL, signal.SIGTERM], ids=["killed", "stopped"])
def test_a_bot_killed_or_stopped_mid_build_adopts_its_job_after_a_restart(
    github: FakeGitHub, github_forge: GitHubHarness, start_kube_bot: StartKubeBot,
    testenv: ProvisionedEnv,
    cluster: Cluster, build_namespace: str, stop: signal.Signals,
) -> None:  # fmt: skip
    bot = start_kube_bot(kubernetes=BUILDAH)
    name = f"kube-{stop.name.lower()}"
    repo, image, sha = app_repo(github_forge, testenv.registry, name, app_files("go-hello"))
    push_main(github, bot, repo, sha)
    wait_until(
        lambda: bool(cluster.objects(build_namespace, "pods", build_selector(1))),
        timeout=60, what="the build's pod",
    )  # fmt: skip
    (job,) = cluster.objects(build_namespace, "jobs", build_selector(1))
    bot.stop(stop)  # a graceful stop, too, leaves the Job running for the next start
    bot.start()

    status = final_status(github_forge, repo, sha)
    log = log_of(status)
    assert status.state == "success", log
    digest = status.description.split()[0]
    assert skopeo_inspect(testenv, f"{image}:main")["Digest"] == digest
    # The same Job, adopted, not a second build.
    assert "adopting the Job" in log
    (after,) = cluster.objects(build_namespace, "jobs", build_selector(1))
    assert after["metadata"]["uid"] == job["metadata"]["uid"]


def test_a_superseded_build_deletes_its_job_and_pod(
    github: FakeGitHub, github_forge: GitHubHarness, start_kube_bot: StartKubeBot,
    testenv: ProvisionedEnv,
    cluster: Cluster, build_namespace: str,
) -> None:  # fmt: skip
    bot = start_kube_bot(kubernetes=BUILDAH)
    repo, _, first = app_repo(github_forge, testenv.registry, "kube-cancel", app_files("go-hello"))
    push_main(github, bot, repo, first)
    wait_until(
        lambda: bool(cluster.objects(build_namespace, "pods", build_selector(1))),
        timeout=60, what="the build's pod",
    )  # fmt: skip
    second = github_forge.commit(repo, {"README.md": "newer\n"})
    push_main(github, bot, repo, second)

    status = final_status(github_forge, repo, first)
    assert "superseded" in status.description, status
    wait_until(
        lambda: not cluster.objects(build_namespace, "jobs", build_selector(1))
        and not cluster.objects(build_namespace, "pods", build_selector(1)),
        timeout=60, what="the cancelled build's Job and pod to be deleted",
    )  # fmt: skip
    assert not cluster.objects(build_namespace, "secrets", build_selector(1))


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


# Each module the runner's steps import: is its bytecode in the image, valid for the source
# as it is there (the header's source mtime and size, PEP 552's timestamp form)?
UNCOMPILED = """
import json, os, struct, sys
import bot.runner.__main__
checked, uncompiled = [], []
for name, module in sorted(sys.modules.items()):
    source = getattr(module, "__file__", None) or ""
    if not source.endswith(".py") or not source.startswith("/usr/local/lib/"):
        continue
    checked.append(name)
    try:
        with open(module.__spec__.cached, "rb") as pyc:
            flags, mtime, size = struct.unpack("<4xIII", pyc.read(16))
    except OSError:
        uncompiled.append(name)
        continue
    stat = os.stat(source)
    if (flags, mtime, size) != (0, int(stat.st_mtime) & 0xFFFFFFFF, stat.st_size & 0xFFFFFFFF):
        uncompiled.append(name)
print(json.dumps({"checked": checked, "uncompiled": uncompiled}))
"""


def test_the_runner_image_ships_the_bytecode_of_every_module_its_steps_import(
    cluster: Cluster, testenv: ProvisionedEnv
) -> None:
    # Its containers' root filesystem is read-only: what the image does not ship compiled,
    # each step compiles again from source at its start (a fifth of a second of prepare's).
    found = json.loads(run_to_end(testenv, RUNNER_IMAGE, "-c", UNCOMPILED, entrypoint="python3"))
    assert {"bot.runner.prepare", "bot.runner.export", "pydantic", "yaml"} <= set(found["checked"])
    assert found["uncompiled"] == []
