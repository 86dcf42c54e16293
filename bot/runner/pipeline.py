"""The runner: one BuildSpec -> one pushed image. The same code runs under the local executor
and inside a Kubernetes Job pod.

Steps: fetch the source at the sha; read the builder image's s2i labels; `s2i build
--as-dockerfile`; append the runtime stage when the template has a runtime image; build with
the engine; push; read the pushed image's size from the registry.
"""

from __future__ import annotations

import time
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

from bot.build_result import BuildResult
from bot.build_spec import BuildSpec
from bot.runner import dockerfile, s2i
from bot.runner.artifact import fetch_artifact
from bot.runner.credentials import DOCKER_CONFIG_JSON, GIT_TOKEN, Credentials
from bot.runner.engine import make_engine
from bot.runner.errors import BuildError, BuildFailure
from bot.runner.process import BuildLog, run_step
from bot.runner.registry import RegistryClient
from bot.runner.source import fetch_source


@dataclass(frozen=True)
class RunnerOptions:
    engine: str = "docker"
    s2i: str = "s2i"
    insecure_registries: Collection[str] = ()


def run_build(
    spec: BuildSpec, secrets_dir: Path, workdir: Path, log: BuildLog, options: RunnerOptions
) -> BuildResult:
    started = time.monotonic()
    try:
        digest, size = _build(spec, secrets_dir, workdir, log, options)
    except BuildFailure as exc:
        log.line(f"BUILD FAILED: {exc}")
        return BuildResult(state="failed", reason=log.mask(str(exc)))
    except BuildError as exc:
        log.line(f"BUILD ERROR: {exc}")
        return BuildResult(state="error", reason=log.mask(str(exc)))
    log.line(f"pushed {spec.output}@{digest} ({size} bytes) in {time.monotonic() - started:.1f}s")
    return BuildResult(state="succeeded", image=spec.image, digest=digest, size=size)


def _build(
    spec: BuildSpec, secrets_dir: Path, workdir: Path, log: BuildLog, options: RunnerOptions
) -> tuple[str, int]:
    credentials = Credentials.from_dir(secrets_dir)
    for secret in credentials.secrets():
        log.add_secret(secret)
    authfile = secrets_dir / DOCKER_CONFIG_JSON
    if not authfile.exists():
        credentials.write_dir(secrets_dir)
    registry = RegistryClient(authfile, options.insecure_registries)
    token_file = secrets_dir / GIT_TOKEN if credentials.git_token else None
    source_dir, context = workdir / "source", workdir / "context"

    if spec.source.binary_asset and not spec.source.binary_url:
        raise BuildError(f"release asset '{spec.source.binary_asset}' was never resolved")
    if spec.source.binary_url:
        with log.step(f"fetch the artifact {spec.source.binary_name}"):
            fetch_artifact(
                spec.source.binary_url, spec.source.binary_name, source_dir, log,
                token_file=token_file, auth=spec.source.binary_auth,
            )  # fmt: skip
    elif spec.source.local_dir:
        source_dir = Path(spec.source.local_dir)
        log.line(f"building the working tree {source_dir} as it is")
    else:
        with log.step(f"fetch {spec.repo} at {spec.source.sha[:12]}"):
            fetch_source(
                spec.source.git_url, spec.source.sha, spec.source.ref, source_dir, log,
                token_file=token_file,
            )  # fmt: skip

    with log.step(f"read s2i labels of {spec.builder_image}"):
        labels = registry.labels(spec.builder_image)
        for key in (s2i.SCRIPTS_URL, s2i.DESTINATION, s2i.ASSEMBLE_USER):
            log.line(f"{key}={labels.get(key, '(unset)')}")

    previous = None
    if spec.incremental:
        with log.step(f"look for the previous build {spec.cache_image}"):
            # s2i --incremental does not check that the previous image exists (a first build
            # would fail at FROM <previous>); OpenShift's builder checks first, and so do we.
            if registry.exists(spec.cache_image):
                previous = spec.cache_image
                log.line("incremental build: save-artifacts of the previous build are restored")
            else:
                log.line("no previous build: a clean build (the next one will be incremental)")

    with log.step("s2i build --as-dockerfile"):
        # s2i also tries to read these labels itself and warns when it cannot reach a plain
        # HTTP registry; the flags below carry them either way.
        generated = context / "Dockerfile"
        argv = s2i.s2i_argv(
            options.s2i, source=source_dir, builder_image=spec.builder_image,
            dockerfile=generated, labels=labels, env=spec.env,
            context_dir=spec.source.context_dir, previous_image=previous,
        )  # fmt: skip
        if not run_step(argv, log).ok:
            raise BuildError("s2i could not generate the build (see the log above)")
        text = dockerfile.name_builder_stage(generated.read_text(), spec.builder_image)
        if previous:
            text = dockerfile.unpack_artifacts_in_cached_stage(text)
        generated.write_text(text)

    if spec.runtime is not None:
        with log.step(f"add runtime stage from {spec.runtime.image}"):
            runtime_labels = registry.labels(spec.runtime.image)
            scripts_dir = dockerfile.scripts_dir_from_url(
                runtime_labels.get(s2i.SCRIPTS_URL, s2i.DEFAULT_SCRIPTS_URL)
            )
            user = labels.get(s2i.ASSEMBLE_USER, "1001")
            builder_text = generated.read_text()
            stage = dockerfile.runtime_stage(
                builder_text, spec.runtime, scripts_dir=scripts_dir, user=user
            )
            generated.write_text(builder_text.rstrip("\n") + "\n\n" + stage)
            for line in stage.splitlines():
                log.line(f"  {line}")

    engine = make_engine(options.engine, authfile, options.insecure_registries)
    # With a runtime image, the next incremental build needs the builder stage (its caches
    # and save-artifacts), which the slim image lacks: keep that stage as a cache image.
    keep_cache = spec.incremental and spec.runtime is not None
    with log.step(f"build {spec.output} with {engine.name}"):
        engine.build(context, generated, spec.output, log, layers=keep_cache)
        if keep_cache:
            engine.build(context, generated, spec.cache_image, log, target=dockerfile.BUILDER_STAGE,
                         layers=True)  # fmt: skip
    with log.step(f"push {', '.join(spec.outputs)}"):
        digest = engine.push(spec.output, log)
        for other in spec.outputs[1:]:
            engine.tag(spec.output, other, log)
            engine.push(other, log)
        if keep_cache:
            engine.push(spec.cache_image, log)
    size = registry.compressed_size(f"{spec.image}@{digest}")
    return digest, size
