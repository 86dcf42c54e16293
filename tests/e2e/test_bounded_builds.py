"""Bounded builds, end to end (docs/security.md, "Bounded builds"): a repository pushed to the
fake GitHub and built for real.

- an endless build script (`npm run build` that sleeps forever, which the nodejs builder's
  assemble runs) with `timeout: 5` ends `failure` "timed out after 5 s", and nothing of it
  runs on: on the local executor, with either engine, no process of it is left (also when it
  was seen running: `timeout: 60`); as a Kubernetes Job (on scripts/cluster.sh's cluster),
  the Job failed by its deadline and its pod stopped;
- a build printing more than max_log_bytes: its log shows the truncation line, stays within
  the cap and still ends with the push;
- what a finished local build made leaves the engine's storage; the builder image stays.
"""

from __future__ import annotations

import json
import secrets
import subprocess
from collections.abc import Callable

import pytest

from tests.fakes.github import FakeGitHub, FakeRepo
from tests.support import kube_cluster
from tests.support.bot_process import BotProcess
from tests.support.deliveries import push_main
from tests.support.kube_cluster import BUILDAH, Cluster, StartKubeBot, build_selector
from tests.support.names import unique
from tests.support.outcomes import final_status, log_of
from tests.support.testenv import ProvisionedEnv
from tests.support.wait import wait_until

pytestmark = pytest.mark.e2e
StartBot = Callable[..., BotProcess]
# The Kubernetes scenarios' fixtures (the cluster up, a build namespace, a bot using it).
cluster = kube_cluster.cluster
build_namespace = kube_cluster.build_namespace
start_kube_bot = kube_cluster.start_kube_bot
SOURCE_LABEL = "io.openshift.s2i.build.source-location"


def node_repo(github: FakeGitHub, testenv: ProvisionedEnv, build_script: str, extra: str = "",
              ) -> tuple[FakeRepo, str, str]:  # fmt: skip
    """A Node.js repository without dependencies whose `npm run build` runs `build_script`;
    returns the repo, its image and the commit."""
    repo = github.create_repo(unique("acme/bounded"))
    image = f"{testenv.registry}/{repo.full_name}"
    package = {"name": "bounded", "version": "1.0.0", "private": True,
               "scripts": {"build": build_script, "start": "node -e 0"}}  # fmt: skip
    lock = {"name": "bounded", "version": "1.0.0", "lockfileVersion": 3, "requires": True,
            "packages": {"": {"name": "bounded", "version": "1.0.0"}}}  # fmt: skip
    config = (
        f"builds:\n  - name: web\n    template: nodejs\n    image: {image}\n"
        f"    incremental: false\n{extra}    triggers: {{branches: [main]}}\n"
    )
    files: dict[str, str | bytes | None] = {
        "package.json": json.dumps(package), "package-lock.json": json.dumps(lock),
        ".npmrc": "audit=false\nfund=false\nupdate-notifier=false\n", ".s2i.yaml": config,
    }  # fmt: skip
    return repo, image, repo.commit(files, "a build script")


def running_commands(marker: str) -> list[str]:
    """Command lines on this host (containers' processes included) that contain marker."""
    out = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True, check=True)
    return [line for line in out.stdout.splitlines() if marker in line and "ps -eo" not in line]


@pytest.mark.parametrize("engine", ["docker", "buildah"])
def test_an_endless_build_script_with_timeout_5_ends_failure_timed_out_after_5_s(
    github: FakeGitHub, start_builder_bot: StartBot, testenv: ProvisionedEnv, engine: str
) -> None:
    bot = start_builder_bot(engine=engine)
    marker = f"sleep {86400 + secrets.randbelow(10**6)}"
    repo, _, sha = node_repo(
        github, testenv, f"echo building forever && {marker}", "    timeout: 5\n"
    )
    push_main(github, bot, repo.full_name, sha)

    status = final_status(github, repo.full_name, sha, "s2i/web")
    log = log_of(status)
    assert (status.state, status.description) == ("failure", "timed out after 5 s"), log
    assert log.rstrip().endswith("BUILD FAILED: timed out after 5 s")
    # Whatever it had reached (five seconds may end it before the build script), nothing of
    # it runs on: not the script, not the runner.
    wait_until(lambda: not running_commands(marker), timeout=60, what=f"'{marker}' to end")
    wait_until(lambda: not running_commands("bot.runner --spec " + str(bot.data_dir)),
               timeout=60, what="the runner to end")  # fmt: skip


@pytest.mark.parametrize("engine", ["docker", "buildah"])
def test_a_build_script_that_runs_past_the_timeout_is_stopped_with_the_whole_group(
    github: FakeGitHub, start_builder_bot: StartBot, testenv: ProvisionedEnv, engine: str
) -> None:
    """Time enough for the script to be running when the limit comes: it is stopped too (with
    docker it runs in the daemon's RUN container, which goes when its client is killed; with
    buildah it is in the runner's process group)."""
    bot = start_builder_bot(engine=engine)
    # A sleep no other process on this machine has: how we tell its process from others.
    marker = f"sleep {86400 + secrets.randbelow(10**6)}"
    repo, _, sha = node_repo(
        github, testenv, f"echo building forever && {marker}", "    timeout: 60\n"
    )
    push_main(github, bot, repo.full_name, sha)
    wait_until(lambda: bool(running_commands(marker)), timeout=60, what=f"'{marker}' to run")

    status = final_status(github, repo.full_name, sha, "s2i/web")
    log = log_of(status)
    assert (status.state, status.description) == ("failure", "timed out after 60 s"), log
    assert "building forever" in log
    wait_until(lambda: not running_commands(marker), timeout=60, what=f"'{marker}' to end")


def test_a_build_printing_past_max_log_bytes_has_its_log_cut_and_still_ends_with_the_push(
    github: FakeGitHub, start_builder_bot: StartBot, testenv: ProvisionedEnv
) -> None:
    cap = 256 * 1024
    bot = start_builder_bot(max_log_bytes=cap)
    # About 1.6 MB of output from the repository's build script.
    loop = "for (let i = 0; i < 20000; i++) console.log('line ' + i + ' ' + 'x'.repeat(70))"
    script = f'node -e "{loop}"'
    repo, image, sha = node_repo(github, testenv, script)
    push_main(github, bot, repo.full_name, sha)

    status = final_status(github, repo.full_name, sha, "s2i/web")
    log = log_of(status)
    assert status.state == "success", log[-3000:]
    assert len(log.encode()) <= cap
    assert log.count("--- log truncated at 262144 bytes (max_log_bytes)") == 1
    head, tail = log.split("--- log truncated at 262144 bytes (max_log_bytes)")
    assert "line 0 " in head and "line 19999 " not in head
    digest = status.description.split()[0]
    assert f"pushed {image}:main@{digest}" in tail  # the end of the build is kept


def test_a_finished_local_build_leaves_none_of_its_images_in_the_engine(
    github: FakeGitHub, start_builder_bot: StartBot, testenv: ProvisionedEnv
) -> None:
    bot = start_builder_bot()
    repo, image, sha = node_repo(github, testenv, "echo built")
    push_main(github, bot, repo.full_name, sha)

    status = final_status(github, repo.full_name, sha, "s2i/web")
    assert status.state == "success", log_of(status)
    work = str(bot.data_dir / "work")

    def ours() -> list[str]:
        ids = subprocess.run(
            ["docker", "images", "-a", "-q", "--no-trunc", "--filter", f"label={SOURCE_LABEL}"],
            capture_output=True, text=True, check=True,
        ).stdout.split()  # fmt: skip
        if not ids:
            return []
        sources = subprocess.run(
            ["docker", "image", "inspect", "--format",
             f'{{{{index .Config.Labels "{SOURCE_LABEL}"}}}}', *ids],
            capture_output=True, text=True, check=False,
        ).stdout.split()  # fmt: skip
        return [s for s in sources if s.startswith(work)]

    # The status is sent when the executor is done, and it prunes before it is done.
    assert ours() == []
    tags = subprocess.run(["docker", "images", "--format", "{{.Repository}}", image],
                          capture_output=True, text=True, check=True).stdout.split()  # fmt: skip
    assert tags == []
    # What other builds share stays.
    builder = f"{testenv.builder_registry}/s2i-bot/nodejs:latest"
    assert (
        subprocess.run(["docker", "image", "inspect", builder], capture_output=True).returncode == 0
    )


def test_an_endless_build_as_a_job_times_out_at_its_deadline(
    github: FakeGitHub, start_kube_bot: StartKubeBot, testenv: ProvisionedEnv,
    cluster: Cluster, build_namespace: str,
) -> None:  # fmt: skip
    bot = start_kube_bot(kubernetes=BUILDAH)
    repo, _, sha = node_repo(github, testenv, "echo building forever && sleep 86400",
                             "    timeout: 5\n")  # fmt: skip
    push_main(github, bot, repo.full_name, sha)

    status = final_status(github, repo.full_name, sha, "s2i/web")
    log = log_of(status)
    assert (status.state, status.description) == ("failure", "timed out after 5 s"), log
    (job,) = cluster.objects(build_namespace, "jobs", build_selector(1))
    assert job["spec"]["activeDeadlineSeconds"] == 5
    conditions = {c["type"]: c.get("reason") for c in job["status"]["conditions"]}
    assert conditions.get("Failed") == "DeadlineExceeded", job["status"]
    # The Job controller stopped its pod: nothing of the build runs on.
    wait_until(
        lambda: all(p["status"].get("phase") in ("Failed", "Succeeded")
                    for p in cluster.objects(build_namespace, "pods", build_selector(1))),
        timeout=60, what="the build's pod to stop",
    )  # fmt: skip
