"""The runner image the Kubernetes executor runs (bot/executors/resolved_runner.py): its
digest, the short cache, the fallback to the configured tag and the build log's line."""

from __future__ import annotations

import asyncio

from bot.executors.job_manifest import render_job
from bot.executors.kubernetes_executor import KubernetesExecutor, runner_image_of
from bot.executors.resolved_runner import (
    RunnerCache,
    as_configured,
    resolved,
    unresolved,
)
from bot.runner.credentials import Credentials
from bot.settings import KubernetesSettings
from tests.support.bot_process import free_port
from tests.support.job_manifests import RUNNER_DIGEST, RUNNER_REF, SPEC, TEST_CLUSTER

TAG = "127.0.0.1:5000/s2i-bot/runner:latest"
OTHER = "sha256:" + "ef" * 32


def test_a_resolved_runner_runs_its_repository_at_the_digest_and_says_so() -> None:
    runner = resolved(TAG, RUNNER_DIGEST)
    assert runner.ref == RUNNER_REF
    assert runner.log_line() == f"runner {TAG} is {RUNNER_REF} (resolved now)\n"


def test_a_runner_configured_by_digest_is_run_as_it_is_without_asking() -> None:
    runner = as_configured(RUNNER_REF)
    assert runner is not None
    assert runner.ref == RUNNER_REF
    assert runner.log_line() == f"runner {RUNNER_REF} (a digest, as configured)\n"
    assert as_configured(TAG) is None  # a tag: the registry is asked
    # A tag and a digest (`repo:tag@sha256:...`) is a digest too: what containerd runs.
    assert as_configured(f"{TAG}@{RUNNER_DIGEST}") is not None


def test_an_unresolved_runner_runs_the_configured_tag_and_the_log_says_why() -> None:
    runner = unresolved(TAG, "registry 127.0.0.1:5000 refused the credentials: UNAUTHORIZED")
    assert (runner.ref, runner.resolved) == (TAG, False)
    assert runner.log_line() == (
        f"runner {TAG} runs as configured, by its tag, not resolved to a digest: registry "
        "127.0.0.1:5000 refused the credentials: UNAUTHORIZED\n"
    )


def test_the_cache_serves_a_digest_until_the_ttl_has_passed_and_says_so() -> None:
    cache = RunnerCache(ttl=30)
    cache.put(resolved(TAG, RUNNER_DIGEST), now=100.0)
    served = cache.get(TAG, now=129.9)
    assert served is not None
    assert served.ref == RUNNER_REF
    assert served.log_line() == f"runner {TAG} is {RUNNER_REF} (as resolved less than 30 s ago)\n"
    assert cache.get(TAG, now=130.0) is None
    assert cache.get(TAG, now=99.0) is None  # a clock that went back extends nothing
    assert cache.get("127.0.0.1:5000/s2i-bot/runner:other", now=101.0) is None
    # The next resolution replaces it.
    cache.put(resolved(TAG, OTHER), now=131.0)
    again = cache.get(TAG, now=132.0)
    assert again is not None
    assert again.ref.endswith(OTHER)


def test_a_fallback_is_kept_as_long_so_a_silent_registry_delays_one_build_not_each() -> None:
    cache = RunnerCache(ttl=30)
    cache.put(unresolved(TAG, "its registry did not answer within 10 s"), now=100.0)
    served = cache.get(TAG, now=110.0)
    assert served is not None
    assert (served.ref, served.resolved) == (TAG, False)
    assert served.how == "its registry did not answer within 10 s (tried less than 30 s ago)"
    assert cache.get(TAG, now=130.0) is None


def test_a_registry_that_cannot_be_reached_leaves_the_tag_and_the_build_goes_on() -> None:
    # A real crane call to a port nobody listens on: the executor falls back, never raises.
    tag = f"127.0.0.1:{free_port()}/s2i-bot/runner:latest"
    executor = KubernetesExecutor(KubernetesSettings(runner_image=tag))
    runner = asyncio.run(executor._runner(Credentials()))
    assert (runner.ref, runner.resolved) == (tag, False)
    assert f"cannot read {tag}" in runner.how
    assert "connection refused" in runner.log_line()
    # The next build within the TTL does not ask again.
    again = asyncio.run(executor._runner(Credentials()))
    assert again.how.endswith("(tried less than 30 s ago)")


def test_an_adopted_job_names_the_runner_it_runs() -> None:
    job = render_job(42, SPEC, settings=TEST_CLUSTER, runner_ref=RUNNER_REF)
    assert runner_image_of(job) == RUNNER_REF
    assert runner_image_of({"spec": {}}) is None
