"""End to end on the Kubernetes executor's `unprivileged` layout (issue 13), on the real
single-node cluster of scripts/cluster.sh: a signed GitHub push -> a Job whose init
containers fetch the source (runner image) and run the builder image's assemble as its
non-root user, then crane appends the one application layer in the real registry -> the
image runs and answers HTTP.

The build pods use the node's network (`host_network: true`), as in test_kubernetes.py.
"""

from __future__ import annotations

import re
import signal
from pathlib import Path

import httpx
import pytest

from tests.fakes.github import FakeGitHub
from tests.support import b2i, kube_cluster
from tests.support.apps import APPS, app_files, app_repo, s2i_yaml
from tests.support.deliveries import push_main
from tests.support.forges import GitHubHarness
from tests.support.images import diff_ids, running, skopeo_inspect
from tests.support.kube_cluster import Cluster, StartKubeBot, build_selector
from tests.support.names import unique
from tests.support.outcomes import final_status, log_of
from tests.support.testenv import ProvisionedEnv
from tests.support.wait import wait_until

pytestmark = pytest.mark.e2e
cluster = kube_cluster.cluster
build_namespace = kube_cluster.build_namespace
restricted_build_namespace = kube_cluster.restricted_build_namespace
pod_relays = kube_cluster.pod_relays
start_kube_bot = kube_cluster.start_kube_bot
UNPRIVILEGED = {"layout": "unprivileged"}


def test_a_go_app_is_the_runtime_images_layers_plus_one_built_by_non_root_containers(
    github: FakeGitHub, github_forge: GitHubHarness, start_kube_bot: StartKubeBot,
    testenv: ProvisionedEnv,
    cluster: Cluster, build_namespace: str,
) -> None:  # fmt: skip
    bot = start_kube_bot(kubernetes=UNPRIVILEGED)
    repo, image, sha = app_repo(github_forge, testenv.registry, "kube-u", app_files("go-hello"))
    push_main(github, bot, repo, sha)

    status = final_status(github_forge, repo, sha)
    log = log_of(status)
    assert status.state == "success", log
    match = re.fullmatch(r"(sha256:[0-9a-f]{64}) \([0-9.]+ MB\)", status.description)
    assert match, status.description
    digest = match.group(1)
    assert skopeo_inspect(testenv, f"{image}:main")["Digest"] == digest
    # The runtime image's layers, then one: the artifacts.
    runtime = testenv.images["go-runtime"]
    layers = diff_ids(testenv, f"{image}@{digest}")
    assert layers[:-1] == diff_ids(testenv, runtime) and len(layers) == len(layers[:-1]) + 1
    # assemble ran in the builder image (by digest) as its assemble user; no buildah.
    assert "STEP 2/2: RUN /usr/libexec/s2i/assemble (as uid 1001)" in log, log
    assert "buildah" not in log
    (pod,) = cluster.objects(build_namespace, "pods", build_selector(1))
    (assemble,) = [c for c in pod["spec"]["initContainers"] if c["name"] == "assemble"]
    builder = re.escape(f"{testenv.builder_registry}/s2i-bot/go")
    assert re.fullmatch(rf"{builder}@sha256:[0-9a-f]{{64}}", assemble["image"])
    assert pod["spec"]["securityContext"]["runAsUser"] == 1001
    with running(testenv, f"{image}@{digest}") as url:
        assert "Hello" in httpx.get(url, timeout=10).text


def test_under_the_restricted_pod_security_standard_a_build_is_admitted_and_pushed(
    github: FakeGitHub, github_forge: GitHubHarness, start_kube_bot: StartKubeBot,
    testenv: ProvisionedEnv,
    cluster: Cluster, restricted_build_namespace: str, pod_relays: list[str],
) -> None:  # fmt: skip
    kubernetes = UNPRIVILEGED | {"host_network": False, "loopback_relays": pod_relays}
    bot = start_kube_bot(kubernetes=kubernetes)
    repo, image, sha = app_repo(github_forge, testenv.registry, "kube-r", app_files("go-hello"))
    push_main(github, bot, repo, sha)

    status = final_status(github_forge, repo, sha)
    log = log_of(status)
    assert status.state == "success", log
    digest = status.description.split()[0]
    assert skopeo_inspect(testenv, f"{image}:main")["Digest"] == digest
    (pod,) = cluster.objects(restricted_build_namespace, "pods", build_selector(1))
    assert "hostNetwork" not in pod["spec"]
    with running(testenv, f"{image}@{digest}") as url:
        assert "Hello" in httpx.get(url, timeout=10).text


@pytest.mark.parametrize(
    ("template", "app"),
    [("python", "python-hello"), ("nodejs", "node-hello"), ("static", "static-hello"),
     ("java", "java-hello")],
)  # fmt: skip
def test_each_builder_template_builds_unprivileged_into_its_builder_image_plus_one_layer(
    template: str, app: str,
    github: FakeGitHub, github_forge: GitHubHarness, start_kube_bot: StartKubeBot,
    testenv: ProvisionedEnv,
    restricted_build_namespace: str, pod_relays: list[str],
) -> None:  # fmt: skip
    kubernetes = UNPRIVILEGED | {"host_network": False, "loopback_relays": pod_relays}
    bot = start_kube_bot(kubernetes=kubernetes)
    repo = github_forge.create_repo(unique(f"acme/kube-{template}"))
    image = f"{testenv.registry}/{repo}".lower()
    files = app_files(app) | {".s2i.yaml": s2i_yaml(image, template=template)}
    sha = github_forge.commit(repo, files)
    push_main(github, bot, repo, sha)

    status = final_status(github_forge, repo, sha)
    log = log_of(status)
    assert status.state == "success", log
    digest = status.description.split()[0]
    base = testenv.images["java-runtime" if template == "java" else template]
    layers = diff_ids(testenv, f"{image}@{digest}")
    assert layers[:-1] == diff_ids(testenv, base), "not the base image's layers plus one"
    with running(testenv, f"{image}@{digest}") as url:
        assert httpx.get(url, timeout=10).status_code == 200


def test_a_compile_error_fails_with_the_compilers_message_read_from_the_builders_log(
    github: FakeGitHub, github_forge: GitHubHarness, start_kube_bot: StartKubeBot,
    testenv: ProvisionedEnv,
    restricted_build_namespace: str, pod_relays: list[str],
) -> None:  # fmt: skip
    kubernetes = UNPRIVILEGED | {"host_network": False, "loopback_relays": pod_relays}
    bot = start_kube_bot(kubernetes=kubernetes)
    main = (APPS / "go-hello" / "main.go").read_text().replace("greet.Hello(", "greet.Helo(")
    files = app_files("go-hello") | {"main.go": main}
    repo, _, sha = app_repo(github_forge, testenv.registry, "kube-u-broken", files)
    push_main(github, bot, repo, sha)

    status = final_status(github_forge, repo, sha)
    assert status.state == "failure", log_of(status)
    expected = r"assemble failed: main\.go:\d+:\d+: undefined: greet\.Helo"
    assert re.fullmatch(expected, status.description), status.description
    assert "undefined: greet.Helo" in log_of(status)


@pytest.mark.parametrize(
    ("template", "app", "restored"),
    [
        # With a runtime image: the builder side is kept as <tag>-s2i-cache.
        ("go", "go-hello", "Restoring Go build cache from a previous build"),
        # Without: the previous application image's own last layer.
        ("python", "python-hello", "Restoring pip's cache from a previous build"),
    ],
)
def test_an_incremental_build_restores_the_artifacts_from_the_previous_application_layer(
    template: str, app: str, restored: str,
    github: FakeGitHub, github_forge: GitHubHarness, start_kube_bot: StartKubeBot,
    testenv: ProvisionedEnv,
    restricted_build_namespace: str, pod_relays: list[str],
) -> None:  # fmt: skip
    kubernetes = UNPRIVILEGED | {"host_network": False, "loopback_relays": pod_relays}
    bot = start_kube_bot(kubernetes=kubernetes)
    repo = github_forge.create_repo(unique(f"acme/kube-incr-{template}"))
    image = f"{testenv.registry}/{repo}".lower()
    config = s2i_yaml(image, template=template) + "    incremental: true\n"
    files = app_files(app) | {".s2i.yaml": config}
    first = github_forge.commit(repo, files)
    push_main(github, bot, repo, first)
    status = final_status(github_forge, repo, first)
    log = log_of(status)
    assert status.state == "success", log
    assert "a clean build" in log

    main = next(name for name in files if name.endswith((".go", ".py")) and "/" not in name)
    comment = "//" if main.endswith(".go") else "#"
    text = files[main]
    assert text is not None
    change = f"\n{comment} a one-line change\n".encode()
    second = github_forge.commit(
        repo, {main: (text if isinstance(text, bytes) else text.encode()) + change}
    )
    push_main(github, bot, repo, second)
    status = final_status(github_forge, repo, second)
    log = log_of(status)
    assert status.state == "success", log
    assert "restoring from its application layer" in log
    assert restored in log
    digest = status.description.split()[0]
    with running(testenv, f"{image}@{digest}") as url:
        assert httpx.get(url, timeout=10).status_code == 200


def test_a_killed_bot_adopts_its_unprivileged_job_and_a_superseded_one_is_deleted(
    github: FakeGitHub, github_forge: GitHubHarness, start_kube_bot: StartKubeBot,
    testenv: ProvisionedEnv,
    cluster: Cluster, restricted_build_namespace: str, pod_relays: list[str],
) -> None:  # fmt: skip
    kubernetes = UNPRIVILEGED | {"host_network": False, "loopback_relays": pod_relays}
    bot = start_kube_bot(kubernetes=kubernetes)
    namespace = restricted_build_namespace
    repo, image, sha = app_repo(
        github_forge, testenv.registry, "kube-u-adopt", app_files("go-hello")
    )
    push_main(github, bot, repo, sha)
    wait_until(
        lambda: bool(cluster.objects(namespace, "pods", build_selector(1))),
        timeout=60, what="the build's pod",
    )  # fmt: skip
    (job,) = cluster.objects(namespace, "jobs", build_selector(1))
    bot.stop(signal.SIGKILL)
    bot.start()
    status = final_status(github_forge, repo, sha)
    log = log_of(status)
    assert status.state == "success", log
    assert "adopting the Job" in log
    assert skopeo_inspect(testenv, f"{image}:main")["Digest"] == status.description.split()[0]
    (after,) = cluster.objects(namespace, "jobs", build_selector(1))
    assert after["metadata"]["uid"] == job["metadata"]["uid"]

    # A push superseding a running build: its Job and pod are deleted.
    first = github_forge.commit(repo, {"README.md": "first\n"})
    push_main(github, bot, repo, first)
    wait_until(
        lambda: bool(cluster.objects(namespace, "pods", build_selector(2))),
        timeout=60, what="the second build's pod",
    )  # fmt: skip
    second = github_forge.commit(repo, {"README.md": "second\n"})
    push_main(github, bot, repo, second)
    assert "superseded" in final_status(github_forge, repo, first).description
    wait_until(
        lambda: not cluster.objects(namespace, "jobs", build_selector(2))
        and not cluster.objects(namespace, "pods", build_selector(2)),
        timeout=60, what="the superseded build's Job and pod to be deleted",
    )  # fmt: skip
    assert final_status(github_forge, repo, second).state == "success"


def test_a_release_asset_becomes_a_running_image_built_unprivileged(
    github: FakeGitHub, github_forge: GitHubHarness, start_kube_bot: StartKubeBot,
    testenv: ProvisionedEnv, tmp_path: Path,
    restricted_build_namespace: str, pod_relays: list[str],
) -> None:  # fmt: skip
    kubernetes = UNPRIVILEGED | {"host_network": False, "loopback_relays": pod_relays}
    bot = start_kube_bot(kubernetes=kubernetes, artifact_allowed_hosts=b2i.ARTIFACT_HOSTS)
    repo = github.create_repo(unique("acme/kube-cli"))
    image = f"{testenv.registry}/{repo.full_name}"
    sha = repo.commit(
        {".s2i.yaml": b2i.config(image, '{release_asset: "hello-*-linux.tar.gz"}')}, "cli"
    )
    release = repo.create_release(
        "v1.0.0", assets={"hello-1.0.0-linux.tar.gz": b2i.hello_tarball(tmp_path)}
    )
    b2i.publish(bot, repo, release)
    status = final_status(github_forge, repo.full_name, sha, "s2i/cli")
    assert status.state == "success", log_of(status)
    digest = status.description.split()[0]
    layers = diff_ids(testenv, f"{image}@{digest}")
    assert layers[:-1] == diff_ids(testenv, testenv.images["binary"])
    with running(testenv, f"{image}@{digest}") as url:
        assert "Hello from a prebuilt binary" in httpx.get(url, timeout=10).text
