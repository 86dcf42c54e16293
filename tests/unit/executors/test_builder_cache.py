"""The resolved builders the Kubernetes executor remembers for a short time
(bot/executors/builder_cache.py, pure) and the builder digest it records from the pod it ran."""

from __future__ import annotations

from typing import Any

import pytest

from bot.build_result import BuildResult
from bot.executors.builder_cache import BuilderCache, rebuilds_on_builder
from bot.executors.kubernetes_executor import with_builder_digest
from bot.executors.resolved_builder import ResolvedBuilder
from tests.support.job_manifests import SPEC

OLD = "sha256:" + "0a" * 32
NEW = "sha256:" + "0b" * 32
LABELS = {"io.openshift.s2i.assemble-user": "1001"}


def builder(image: str, digest: str) -> ResolvedBuilder:
    return ResolvedBuilder.from_config(image, digest, {"config": {"Labels": LABELS}})


def test_a_builder_serves_the_builds_on_its_tag_until_the_ttl_has_passed() -> None:
    cache = BuilderCache(ttl=30)
    resolved = builder(SPEC.builder_image, OLD)
    cache.put(resolved, now=100.0)
    assert cache.get(SPEC, now=100.0) == resolved
    assert cache.get(SPEC, now=129.9) == resolved
    assert cache.get(SPEC, now=130.0) is None


def test_another_tag_is_not_served_by_a_cached_builder() -> None:
    cache = BuilderCache(ttl=30)
    cache.put(builder("127.0.0.1:5000/s2i-bot/go:1.22", OLD), now=100.0)
    assert cache.get(SPEC, now=101.0) is None


def test_a_clock_that_went_back_does_not_extend_the_ttl() -> None:
    cache = BuilderCache(ttl=30)
    cache.put(builder(SPEC.builder_image, OLD), now=100.0)
    assert cache.get(SPEC, now=99.0) is None


def test_a_rebuild_on_a_new_builder_digest_asks_the_registry_and_its_answer_replaces_the_old() -> (
    None
):
    cache = BuilderCache(ttl=30)
    cache.put(builder(SPEC.builder_image, OLD), now=100.0)
    rebuild = SPEC.model_copy(update={"rebuilt_on": f"{SPEC.builder_image}@{NEW}"})
    assert rebuilds_on_builder(rebuild)
    assert cache.get(rebuild, now=101.0) is None
    fresh = builder(SPEC.builder_image, NEW)
    cache.put(fresh, now=101.0)
    assert cache.get(SPEC, now=102.0) == fresh


def test_a_rebuild_on_a_new_runtime_image_may_take_the_cached_builder() -> None:
    cache = BuilderCache(ttl=30)
    resolved = builder(SPEC.builder_image, OLD)
    cache.put(resolved, now=100.0)
    assert SPEC.runtime is not None
    rebuild = SPEC.model_copy(update={"rebuilt_on": f"{SPEC.runtime.image}@{NEW}"})
    assert not rebuilds_on_builder(rebuild)
    assert cache.get(rebuild, now=101.0) == resolved


def test_expired_builders_are_dropped_when_another_is_put() -> None:
    cache = BuilderCache(ttl=30)
    cache.put(builder("127.0.0.1:5000/s2i-bot/python:latest", OLD), now=100.0)
    cache.put(builder(SPEC.builder_image, OLD), now=200.0)
    assert cache.images() == [SPEC.builder_image]


def unprivileged_pod(assemble_image: str, *, assemble_beside_export: bool = True) -> dict[str, Any]:
    prepare = {"name": "prepare", "image": "127.0.0.1:5000/s2i-bot/runner:latest"}
    assemble = {"name": "assemble", "image": assemble_image}
    export = {"name": "export", "image": "127.0.0.1:5000/s2i-bot/runner:latest"}
    if assemble_beside_export:
        return {"spec": {"initContainers": [prepare], "containers": [assemble, export]}}
    # The shape of a bot before assemble ran beside the export: a newer bot adopts it.
    return {"spec": {"initContainers": [prepare, assemble], "containers": [export]}}


@pytest.mark.parametrize("assemble_beside_export", [True, False])
def test_a_succeeded_build_records_the_builder_digest_its_pod_ran(
    assemble_beside_export: bool,
) -> None:
    done = BuildResult(state="succeeded", image="x", digest=NEW)
    pod = unprivileged_pod(
        f"127.0.0.1:5000/s2i-bot/go@{OLD}", assemble_beside_export=assemble_beside_export
    )
    assert with_builder_digest(done, pod).builder_digest == OLD


def test_a_failed_build_or_a_tag_records_no_builder_digest() -> None:
    failed = BuildResult(state="failed", reason="assemble exited with status 1")
    pod = unprivileged_pod(f"127.0.0.1:5000/s2i-bot/go@{OLD}")
    assert with_builder_digest(failed, pod).builder_digest is None
    done = BuildResult(state="succeeded", image="x", digest=NEW)
    assert with_builder_digest(done, unprivileged_pod(SPEC.builder_image)).builder_digest is None
