"""End to end on the Kubernetes executor's `unprivileged` layout (issue 13), on the real
single-node cluster of scripts/cluster.sh: a signed GitHub push -> a Job whose init
containers fetch the source (runner image) and run the builder image's assemble as its
non-root user, then crane appends the one application layer in the real registry -> the
image runs and answers HTTP.

The first test's pods use the node's network (`host_network: true`), as in
test_kubernetes.py; the others run in a namespace enforcing the `restricted` Pod Security
Standard, their pods in networks of their own (loopback relays to the registry and forge).
"""

from __future__ import annotations

import json
import re
import signal
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.executors.job_manifest import SECRETS_DIR
from bot.runner.app_layer import IO_DIR
from tests.fakes.github import FakeGitHub
from tests.fakes.package_servers import GREETING, PackageServers
from tests.support import b2i, kube_cluster
from tests.support.apps import APPS, app_files, app_repo, s2i_yaml
from tests.support.deliveries import push_main
from tests.support.forges import GitHubHarness
from tests.support.images import diff_ids, image_exists, relabelled, running, skopeo_inspect
from tests.support.kube_cluster import (
    BUILDAH,
    RUNNER_IMAGE,
    Cluster,
    StartKubeBot,
    build_selector,
)
from tests.support.names import unique
from tests.support.outcomes import build_of, final_status, log_of
from tests.support.private_builds import assert_no_secret_anywhere, project_npmrc, push_app
from tests.support.testenv import ProvisionedEnv
from tests.support.wait import wait_until

pytestmark = pytest.mark.e2e
cluster = kube_cluster.cluster
build_namespace = kube_cluster.build_namespace
restricted_build_namespace = kube_cluster.restricted_build_namespace
pod_relays = kube_cluster.pod_relays
pod_package_servers = kube_cluster.pod_package_servers
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
    # What it was built on (the base-image watch compares these): the builder the pod ran,
    # the runtime the export resolved.
    build = build_of(status)
    for key, base in (("builder_digest", "go"), ("runtime_digest", "go-runtime")):
        assert build[key] == skopeo_inspect(testenv, testenv.images[base])["Digest"], key
    (pod,) = cluster.objects(build_namespace, "pods", build_selector(1))
    # The three steps started together, handing over through the io volume
    # (bot/runner/handover.py), the log still in the steps' order.
    assert "initContainers" not in pod["spec"]
    prepare, assemble, export = pod["spec"]["containers"]
    assert [c["name"] for c in (prepare, assemble, export)] == ["prepare", "assemble", "export"]
    assert log.index("STEP 2/2: RUN") < log.index("assemble exited with status 0 (waited")
    builder = re.escape(f"{testenv.builder_registry}/s2i-bot/go")
    assert re.fullmatch(rf"{builder}@sha256:[0-9a-f]{{64}}", assemble["image"])
    assert pod["spec"]["securityContext"]["runAsUser"] == 1001
    with running(testenv, f"{image}@{digest}") as url:
        assert "Hello" in httpx.get(url, timeout=10).text


def runner_images(job: dict[str, Any]) -> dict[str, str]:
    """Each runner container of the Job's pod -> the image it runs (the builder's aside)."""
    containers = job["spec"]["template"]["spec"]["containers"]
    return {c["name"]: c["image"] for c in containers if c["name"] != "assemble"}


def test_the_jobs_runner_containers_run_the_digest_the_runner_tag_names_when_it_starts(
    github: FakeGitHub, github_forge: GitHubHarness, start_kube_bot: StartKubeBot,
    testenv: ProvisionedEnv,
    cluster: Cluster, build_namespace: str,
) -> None:  # fmt: skip
    bot = start_kube_bot(kubernetes=UNPRIVILEGED)
    repo, _, sha = app_repo(github_forge, testenv.registry, "kube-rd", app_files("go-hello"))
    push_main(github, bot, repo, sha)

    status = final_status(github_forge, repo, sha)
    log = log_of(status)
    assert status.state == "success", log
    # What the registry's runner tag names, asked from outside the bot.
    digest = skopeo_inspect(testenv, RUNNER_IMAGE)["Digest"]
    ref = f"{RUNNER_IMAGE.rsplit(':', 1)[0]}@{digest}"
    (job,) = cluster.objects(build_namespace, "jobs", build_selector(1))
    assert runner_images(job) == {"prepare": ref, "export": ref}
    assert f"runner {RUNNER_IMAGE} is {ref} (resolved now)\n" in log, log
    (pod,) = cluster.objects(build_namespace, "pods", build_selector(1))
    (prepare,) = [c for c in pod["status"]["containerStatuses"] if c["name"] == "prepare"]
    assert prepare["imageID"].endswith(f"@{digest}")  # what the node ran


def test_after_the_runner_tag_moved_the_next_bot_runs_the_new_digest_in_buildah_jobs_too(
    github: FakeGitHub, github_forge: GitHubHarness, start_kube_bot: StartKubeBot,
    testenv: ProvisionedEnv,
    cluster: Cluster, build_namespace: str,
) -> None:  # fmt: skip
    # A runner tag of this test's own (never the shared one, nor the working tree's).
    tag = f"{RUNNER_IMAGE}-{unique('moved')}"
    repository = tag.rsplit(":", 1)[0]
    before = relabelled(testenv, RUNNER_IMAGE, tag, "s2i-bot.test/runner=before")
    bot = start_kube_bot(kubernetes=BUILDAH | {"runner_image": tag})
    repo, _, sha = app_repo(github_forge, testenv.registry, "kube-rm", app_files("go-hello"))
    push_main(github, bot, repo, sha)
    status = final_status(github_forge, repo, sha)
    assert status.state == "success", log_of(status)
    assert f"runner {tag} is {repository}@{before} (resolved now)" in log_of(status)

    after = relabelled(testenv, RUNNER_IMAGE, tag, "s2i-bot.test/runner=after")
    assert after != before
    bot.stop()
    bot.start()  # a new bot process: nothing remembered of the tag
    second = github_forge.commit(repo, {"README.md": "again\n"})
    push_main(github, bot, repo, second)
    status = final_status(github_forge, repo, second)
    assert status.state == "success", log_of(status)
    assert f"runner {tag} is {repository}@{after} (resolved now)" in log_of(status)
    (first_job,) = cluster.objects(build_namespace, "jobs", build_selector(1))
    (second_job,) = cluster.objects(build_namespace, "jobs", build_selector(2))
    assert runner_images(first_job) == {"runner": f"{repository}@{before}"}
    assert runner_images(second_job) == {"runner": f"{repository}@{after}"}


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
    # prepare took the builder's s2i labels from the bot, which read them with the digest.
    assert "as the bot read them when it resolved the digest" in log, log
    # The build records the builder digest its pod ran: what the base image watch compares.
    (assemble,) = [c for c in pod["spec"]["containers"] if c["name"] == "assemble"]
    assert f"@{build_of(status)['builder_digest']}" in assemble["image"]
    assert skopeo_inspect(testenv, testenv.images["go"])["Digest"] in assemble["image"]
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
    assert status.state == "failure", f"{status.description}\n{log_of(status)}"
    expected = r"assemble failed: main\.go:\d+:\d+: undefined: greet\.Helo"
    assert re.fullmatch(expected, status.description), status.description
    log = log_of(status)
    assert "undefined: greet.Helo" in log
    # The export, started with assemble, saw it fail and ended without a result of its own.
    said = re.search(r"assemble exited with status [1-9]\d*: nothing to export", log)
    assert said is not None, log
    assert log.index("undefined: greet.Helo") < said.start()


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


NPM_SECRET = {"npmrc": {"kubernetes_secret": "npm-registry", "repositories": ["acme/*"],
                        "env": "NPM_CONFIG_USERCONFIG"}}  # fmt: skip
# The repository's assemble prints the secret, plainly and encoded, before the builder's own
# assemble runs: the log must show only masks.
PRINTING_ASSEMBLE = """#!/bin/sh
set -e
echo "---> printing the build secret"
cat "$NPM_CONFIG_USERCONFIG"
base64 -w0 "$NPM_CONFIG_USERCONFIG"; echo
exec /usr/libexec/s2i/assemble
"""


def test_a_private_package_installs_with_the_build_secret_which_no_layer_or_log_holds(
    github: FakeGitHub, start_kube_bot: StartKubeBot, testenv: ProvisionedEnv, tmp_path: Path,
    cluster: Cluster, restricted_build_namespace: str, pod_relays: list[str],
    pod_package_servers: PackageServers,
) -> None:  # fmt: skip
    servers, namespace = pod_package_servers, restricted_build_namespace
    npmrc = tmp_path / "npmrc"
    npmrc.write_text(servers.npmrc())
    cluster.kubectl_run("-n", namespace, "create", "secret", "generic", "npm-registry",
                        f"--from-file=npmrc={npmrc}")  # fmt: skip
    kubernetes = UNPRIVILEGED | {"host_network": False, "loopback_relays": pod_relays}
    bot = start_kube_bot(kubernetes=kubernetes, build_secrets=NPM_SECRET)
    extra = project_npmrc(servers) | {".s2i/bin/assemble": PRINTING_ASSEMBLE}
    repo, image, sha = push_app(github, bot, testenv, tmp_path / "work", "node-private",
                                "nodejs", ["npmrc"], extra)  # fmt: skip

    status = final_status(github, repo, sha)
    log = log_of(status)
    assert status.state == "success", log
    assert servers.served["npm"] == 1
    assert ("build secret npmrc: mounted at /run/secrets/npmrc while assemble runs "
            "($NPM_CONFIG_USERCONFIG)") in log  # fmt: skip
    # What assemble printed of it is masked, in the log the bot followed from the builder.
    assert "---> printing the build secret" in log and "_authToken=***" in log
    files = assert_no_secret_anywhere(testenv, servers, f"{image}:main", log)
    installed = [p for p in files if p.endswith("node_modules/@s2ibot-private/greeting/index.js")]
    assert installed and GREETING.encode() in files[installed[0]]
    assert not [p for p in files if "run/secrets/" in p]
    # The builder's image plus one layer; the Secret is a mount of assemble's (and of
    # prepare's, which masks), not of export's, and no value of it is in the Job.
    digest = status.description.split()[0]
    layers = diff_ids(testenv, f"{image}@{digest}")
    assert layers[:-1] == diff_ids(testenv, testenv.images["nodejs"])
    (job,) = cluster.objects(namespace, "jobs", build_selector(1))
    assert servers.npm_token not in json.dumps(job)
    (pod,) = cluster.objects(namespace, "pods", build_selector(1))
    mounts = {c["name"]: {m["name"] for m in c["volumeMounts"]}
              for c in pod["spec"]["containers"]}  # fmt: skip
    assert "build-secrets" in mounts["assemble"] and "build-secrets" not in mounts["export"]


def test_without_the_build_secret_the_private_package_is_refused_and_nothing_is_pushed(
    github: FakeGitHub, start_kube_bot: StartKubeBot, testenv: ProvisionedEnv, tmp_path: Path,
    cluster: Cluster, restricted_build_namespace: str, pod_relays: list[str],
    pod_package_servers: PackageServers,
) -> None:  # fmt: skip
    servers = pod_package_servers
    kubernetes = UNPRIVILEGED | {"host_network": False, "loopback_relays": pod_relays}
    bot = start_kube_bot(kubernetes=kubernetes, build_secrets=NPM_SECRET)
    repo, image, sha = push_app(github, bot, testenv, tmp_path / "work", "node-private",
                                "nodejs", [], project_npmrc(servers))  # fmt: skip

    status = final_status(github, repo, sha)
    assert status.state == "failure", log_of(status)
    reason = str(build_of(status)["reason"])
    # npm's words for the registry's 401, named by the failing script (bot/failure_reason.py)
    assert reason.startswith("assemble failed: Unable to authenticate"), reason
    assert servers.refused["npm"] >= 1 and servers.served["npm"] == 0
    assert not image_exists(testenv, f"{image}:main")
    (pod,) = cluster.objects(restricted_build_namespace, "pods", build_selector(1))
    assert "build-secrets" not in {v["name"] for v in pod["spec"]["volumes"]}


PIP_SECRET = {"pip-conf": {"kubernetes_secret": "pip-index", "repositories": ["acme/*"],
                            "env": "PIP_CONFIG_FILE"}}  # fmt: skip


def test_a_private_python_package_installs_with_the_pip_conf_secret_which_no_layer_holds(
    github: FakeGitHub, start_kube_bot: StartKubeBot, testenv: ProvisionedEnv, tmp_path: Path,
    cluster: Cluster, restricted_build_namespace: str, pod_relays: list[str],
    pod_package_servers: PackageServers,
) -> None:  # fmt: skip
    """pip reads the index and its credentials from the pip.conf the Secret mounts (the key
    is the build secret's name); the builder's own assemble, no script of the repository."""
    servers, namespace = pod_package_servers, restricted_build_namespace
    conf = tmp_path / "pip.conf"
    conf.write_text(servers.pip_conf())
    cluster.kubectl_run("-n", namespace, "create", "secret", "generic", "pip-index",
                        f"--from-file=pip-conf={conf}")  # fmt: skip
    kubernetes = UNPRIVILEGED | {"host_network": False, "loopback_relays": pod_relays}
    bot = start_kube_bot(kubernetes=kubernetes, build_secrets=PIP_SECRET)
    repo, image, sha = push_app(github, bot, testenv, tmp_path / "work", "python-private",
                                "python", ["pip-conf"])  # fmt: skip

    status = final_status(github, repo, sha)
    log = log_of(status)
    assert status.state == "success", log
    assert servers.served["pip"] == 1
    files = assert_no_secret_anywhere(testenv, servers, f"{image}:main", log)
    installed = [
        p for p in files if p.endswith("site-packages/s2ibot_private_greeting/__init__.py")
    ]
    assert installed and GREETING.encode() in files[installed[0]]
    (job,) = cluster.objects(namespace, "jobs", build_selector(1))
    assert servers.password not in json.dumps(job)


# The repository's own scripts (s2i: .s2i/bin overrides the image's): assemble deletes a file
# of the builder image below the application directories, run serves a page saying whether
# the image still has it.
DELETING_ASSEMBLE = """#!/bin/sh
set -e
rm /opt/app-root/venv/bin/activate.csh
exec /usr/libexec/s2i/assemble
"""
OWN_RUN = """#!/bin/sh
mkdir -p /tmp/www
if [ -e /opt/app-root/venv/bin/activate.csh ]; then echo "activate.csh is here"
else echo "activate.csh is gone"; fi >/tmp/www/index.html
echo "served by the repository's own run" >>/tmp/www/index.html
exec python3 -m http.server 8080 -d /tmp/www
"""


def test_what_assemble_deletes_is_gone_from_the_image_and_the_repositorys_run_is_its_command(
    github: FakeGitHub, start_kube_bot: StartKubeBot, testenv: ProvisionedEnv, tmp_path: Path,
    restricted_build_namespace: str, pod_relays: list[str],
) -> None:  # fmt: skip
    kubernetes = UNPRIVILEGED | {"host_network": False, "loopback_relays": pod_relays}
    bot = start_kube_bot(kubernetes=kubernetes)
    extra = {".s2i/bin/assemble": DELETING_ASSEMBLE, ".s2i/bin/run": OWN_RUN}
    repo, image, sha = push_app(github, bot, testenv, tmp_path / "work", "python-hello",
                                "python", [], extra)  # fmt: skip

    status = final_status(github, repo, sha)
    log = log_of(status)
    assert status.state == "success", log
    assert "assemble deleted /opt/app-root/venv/bin/activate.csh: whiteouts" in log
    digest = status.description.split()[0]
    layers = diff_ids(testenv, f"{image}@{digest}")
    assert layers[:-1] == diff_ids(testenv, testenv.images["python"])
    # As s2i builds it: the repository's scripts in <destination>/scripts, run the command.
    config = skopeo_inspect(testenv, f"{image}@{digest}", "--config")["config"]
    assert config["Cmd"] == ["/tmp/scripts/run"], config
    with running(testenv, f"{image}@{digest}") as url:
        page = httpx.get(url, timeout=10).text
    assert page == "activate.csh is gone\nserved by the repository's own run\n", page


# The repository's assemble replaces the listing the wrapper made before it with a link to
# where the export container (not the builder's) has the registry credentials: followed, its
# lines would become whiteout names in the pushed layer.
LINKING_ASSEMBLE = f"""#!/bin/sh
set -e
/usr/libexec/s2i/assemble
ln -sf {SECRETS_DIR}/.dockerconfigjson {IO_DIR}/before.list
"""


def test_a_listing_assemble_links_to_the_exports_credentials_is_refused_and_nothing_pushed(
    github: FakeGitHub, start_kube_bot: StartKubeBot, testenv: ProvisionedEnv, tmp_path: Path,
    restricted_build_namespace: str, pod_relays: list[str],
) -> None:  # fmt: skip
    kubernetes = UNPRIVILEGED | {"host_network": False, "loopback_relays": pod_relays}
    bot = start_kube_bot(kubernetes=kubernetes)
    repo, image, sha = push_app(github, bot, testenv, tmp_path / "work", "python-hello",
                                "python", [], {".s2i/bin/assemble": LINKING_ASSEMBLE})  # fmt: skip

    status = final_status(github, repo, sha)
    log = log_of(status)
    assert status.state == "failure", log
    reason = str(build_of(status)["reason"])
    assert "assemble left before.list" in reason and "other than a file" in reason, reason
    assert not image_exists(testenv, f"{image}:main")
    assert testenv.password not in log
