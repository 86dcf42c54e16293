"""The SLSA provenance of a pushed image, pure: what it was built from, by what, with what.

The predicate follows SLSA's provenance v1 (https://slsa.dev/spec/v1.0/provenance):
`buildDefinition` says what was asked for (the repository, commit, build name, template,
context, environment: the parameters a user of the bot controls, as `.s2i.yaml` and the
webhook gave them) and which artifacts went in (`resolvedDependencies`: the commit, the builder
image and the runtime image, each by digest); `runDetails` names the builder (this bot, by its
public URL and version) and the build's invocation. cosign wraps it in an in-toto Statement
whose subject is the image's digest (`cosign attest --type slsaprovenance1`).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from bot.build_spec import BuildSpec

# What `buildType` names: how to read externalParameters (docs/supply-chain.md describes it).
BUILD_TYPE = "https://s2i-bot.dev/build/s2i/v1"
PREDICATE_TYPE = "https://slsa.dev/provenance/v1"


def _timestamp(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _image_dependency(image: str, digest: str | None) -> dict[str, Any]:
    name, _, _ = image.partition("@")
    entry: dict[str, Any] = {"uri": f"oci://{name}"}
    if digest:
        algorithm, _, value = digest.partition(":")
        entry["digest"] = {algorithm: value}
    return entry


def slsa_predicate(
    spec: BuildSpec,
    *,
    image_digests: Mapping[str, str],
    builder_id: str,
    versions: Mapping[str, str],
    invocation_id: str,
    started: float,
    finished: float,
) -> dict[str, Any]:
    """The provenance predicate of `spec`'s image. `image_digests`: the digest each FROM image
    (builder, runtime) resolved to when it was pulled; `builder_id`: the bot's public URL;
    `versions`: the bot's and its tools' versions (s2i-bot, s2i, the engine)."""
    source = spec.source
    external: dict[str, Any] = {
        "repository": source.git_url,
        "ref": source.ref,
        "revision": source.sha,
        "build": spec.name,
        "template": spec.template,
    }
    if source.context_dir:
        external["context"] = source.context_dir
    if spec.env:
        external["env"] = dict(sorted(spec.env.items()))
    if source.binary_url:
        external["binary"] = source.binary_url
    dependencies: list[dict[str, Any]] = [
        {"uri": f"git+{source.git_url}@{source.ref}", "digest": {"gitCommit": source.sha}},
        _image_dependency(spec.builder_image, image_digests.get(spec.builder_image)),
    ]
    if spec.runtime is not None:
        runtime = spec.runtime.image
        dependencies.append(_image_dependency(runtime, image_digests.get(runtime)))
    return {
        "buildDefinition": {
            "buildType": BUILD_TYPE,
            "externalParameters": external,
            "internalParameters": {
                "incremental": spec.incremental,
                "tags": list(spec.tags),
            },
            "resolvedDependencies": dependencies,
        },
        "runDetails": {
            "builder": {"id": builder_id, "version": dict(sorted(versions.items()))},
            "metadata": {
                "invocationId": invocation_id,
                "startedOn": _timestamp(started),
                "finishedOn": _timestamp(finished),
            },
        },
    }
