"""The runner: one BuildSpec -> one pushed image. The same code runs under the local executor
and inside a Kubernetes Job pod.

Steps: fetch the source at the sha; check that the tree names nothing outside itself (its
context and symlinks); read the builder image's s2i labels; `s2i build --as-dockerfile`;
append the runtime stage when the template has a runtime image; build with the engine; push;
read the pushed image's size from the registry.

Build secrets (bot/build_secrets.py) are mounted on s2i's assemble step alone
(`RUN --mount=type=secret`), which docker's classic builder cannot do: a build with secrets is
built with buildah whichever engine is configured (engine_for).

Credentials are read once and removed from where the executor put them (when it may); each
step that needs one gets its own short-lived copy outside the workdir (PrivateFiles): the
token for the fetch, the registry auth for the steps that pull or push. s2i, which copies
the repository's tree, runs with neither.
"""

from __future__ import annotations

import importlib.metadata
import io
import time
from collections.abc import Callable, Collection
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path

from bot import image_policy
from bot.build_result import BuildResult
from bot.build_spec import BuildSpec
from bot.provenance import slsa_predicate
from bot.runner import dockerfile, s2i
from bot.runner.artifact import ArtifactPolicy, fetch_artifact
from bot.runner.credentials import Credentials, PrivateFiles
from bot.runner.dependency_layer import add_dependency_layer
from bot.runner.dockerfile import ARTIFACTS_DIR, UnsafeValue
from bot.runner.engine import make_engine
from bot.runner.errors import BuildError, BuildFailure
from bot.runner.process import BuildLog, run_step
from bot.runner.registry import RegistryClient, is_insecure
from bot.runner.source import fetch_source
from bot.runner.source_tree import context_dir, refuse_escaping_symlinks
from bot.runner.supply_chain import SigningKey, SupplyChainTools, attest_image
from bot.safe_values import (
    artifact_problem,
    context_problem,
    env_name_problem,
    env_value_problem,
    image_problem,
)


@dataclass(frozen=True)
class RunnerOptions:
    engine: str = "docker"
    s2i: str = "s2i"
    insecure_registries: Collection[str] = ()
    artifact_policy: ArtifactPolicy = field(default_factory=ArtifactPolicy)
    # Where the per-step credential copies go (outside the workdir); None: a new temporary
    # directory, removed at the end.
    private_dir: Path | None = None
    # Signing (when the credentials hold a cosign key): the tools, and who built the image
    # (the bot's public URL, the provenance's builder id).
    supply_chain: SupplyChainTools = field(default_factory=SupplyChainTools)
    builder_id: str = ""
    started: float = field(default_factory=time.time)


def run_build(
    spec: BuildSpec, secrets_dir: Path, workdir: Path, log: BuildLog, options: RunnerOptions
) -> BuildResult:
    started = time.monotonic()
    credentials = Credentials.from_dir(secrets_dir)
    for secret in credentials.secrets():
        log.add_secret(secret)
    Credentials.remove_dir_files(secrets_dir)
    private = PrivateFiles(credentials, options.private_dir)
    bases = Bases()
    try:
        return ended(
            log,
            lambda: _build(spec, credentials, private, workdir, log, options, bases),
            spec,
            started,
            bases,
        )
    finally:
        private.close()


@dataclass
class Bases:
    """The digests of the builder and runtime images, as the build read them."""

    builder: str | None = None
    runtime: str | None = None


def ended(
    log: BuildLog,
    body: Callable[[], tuple[str, int]],
    spec: BuildSpec,
    started: float,
    bases: Bases | None = None,
) -> BuildResult:
    """The BuildResult of body (the pushed digest and size) or of how it failed; with the
    digests of the images it was built on, when the build read them (`bases`)."""
    try:
        digest, size = body()
    except (BuildFailure, UnsafeValue) as exc:
        reason = str(exc)
        if isinstance(exc, UnsafeValue):
            reason = f"refused to write a value into the Dockerfile: {exc}"
        log.line(f"BUILD FAILED: {reason}")
        return BuildResult(state="failed", reason=log.mask(reason))
    except BuildError as exc:
        log.line(f"BUILD ERROR: {exc}")
        return BuildResult(state="error", reason=log.mask(str(exc)))
    if digest:  # a step that pushes nothing (the unprivileged layout's prepare) says nothing
        elapsed = time.monotonic() - started
        log.line(f"pushed {spec.output}@{digest} ({size} bytes) in {elapsed:.1f}s")
    bases = bases or Bases()
    return BuildResult(
        state="succeeded", image=spec.image, digest=digest, size=size,
        builder_digest=bases.builder, runtime_digest=bases.runtime,
    )  # fmt: skip


def engine_for(spec: BuildSpec, configured: str, log: BuildLog) -> str:
    """The engine this build uses: buildah when it mounts build secrets and docker is
    configured (docker 20.10's classic builder has no RUN --mount, and BuildKit needs the
    buildx plugin with a newer client), else the configured one."""
    if spec.secrets and configured == "docker":
        log.line("build secrets need RUN --mount=type=secret: building with buildah, not docker")
        return "buildah"
    return configured


def refuse_unsafe_values(spec: BuildSpec) -> None:
    """The values this build would write into the Dockerfile or s2i's argv, checked before
    anything is fetched (the bot checked them when it read .s2i.yaml; rendering checks them
    once more)."""
    if problem := context_problem(spec.source.context_dir):
        raise BuildFailure(problem)
    problems = [
        image_problem(spec.builder_image),
        *(env_name_problem(k) or env_value_problem(k, v) for k, v in spec.env.items()),
    ]
    if spec.runtime is not None:
        problems.append(image_problem(spec.runtime.image))
        problems += [
            artifact_problem(f"{a.source}:{a.destination}") for a in spec.runtime.artifacts
        ]
    if found := next((p for p in problems if p), None):
        raise UnsafeValue(found)


def fetch(
    spec: BuildSpec, credentials: Credentials, private: PrivateFiles, source_dir: Path,
    log: BuildLog, options: RunnerOptions,
) -> Path:  # fmt: skip
    """The source tree, fetched with the token (if any) only for as long as the fetch runs."""
    if spec.source.binary_asset and not spec.source.binary_url:
        raise BuildError(f"release asset '{spec.source.binary_asset}' was never resolved")
    if spec.source.binary_url:
        with log.step(f"fetch the artifact {spec.source.binary_name}"):
            fetch_artifact(
                spec.source.binary_url, spec.source.binary_name, source_dir, log,
                token=credentials.git_token if spec.source.binary_auth else None,
                policy=options.artifact_policy,
            )  # fmt: skip
        return source_dir
    if spec.source.local_dir:
        log.line(f"building the working tree {spec.source.local_dir} as it is")
        return Path(spec.source.local_dir)
    with (
        log.step(f"fetch {spec.repo} at {spec.source.sha[:12]}"),
        private.git_token() as token_file,
    ):
        fetch_source(
            spec.source.git_url, spec.source.sha, spec.source.ref, source_dir, log,
            token_file=token_file,
        )  # fmt: skip
    return source_dir


def _build(
    spec: BuildSpec,
    credentials: Credentials,
    private: PrivateFiles,
    workdir: Path,
    log: BuildLog,
    options: RunnerOptions,
    bases: Bases,
) -> tuple[str, int]:
    refuse_unsafe_values(spec)
    source_dir = fetch(spec, credentials, private, workdir / "source", log, options)
    context = workdir / "context"

    with log.step("check the source tree"):
        # Before s2i copies it: a context or symlink that leads outside is refused, naming it.
        context_dir(source_dir, spec.source.context_dir)
        refuse_escaping_symlinks(source_dir)
        log.line("the context and every symlink stay inside the repository")

    previous = None
    previous_labels: dict[str, str] = {}
    runtime_labels: dict[str, str] = {}
    with private.registry_auth() as authfile:
        registry = RegistryClient(authfile, options.insecure_registries)
        with log.step(f"read s2i labels of {spec.builder_image}"):
            # With the digests the tags point at now: what the build is built on, recorded so
            # that a new digest rebuilds it (the engine pulls the tags right after this).
            labels, bases.builder = registry.labels_and_digest(spec.builder_image)
            for key in (s2i.SCRIPTS_URL, s2i.DESTINATION, s2i.ASSEMBLE_USER):
                log.line(f"{key}={labels.get(key, '(unset)')}")
            log.line(f"builder image {spec.builder_image}@{bases.builder}")
            if spec.runtime is not None:
                runtime_labels, bases.runtime = registry.labels_and_digest(spec.runtime.image)
                log.line(f"runtime image {spec.runtime.image}@{bases.runtime}")
        if spec.incremental:
            with log.step(f"look for the previous build {spec.cache_image}"):
                # s2i --incremental does not check that the previous image exists (a first
                # build would fail at FROM <previous>); OpenShift's builder checks first, and
                # so do we.
                if registry.exists(spec.cache_image):
                    previous = spec.cache_image
                    log.line("incremental build: save-artifacts of the previous build are restored")
                    if ARTIFACTS_DIR in labels:
                        previous_labels = registry.labels(previous)
                else:
                    log.line("no previous build: a clean build (the next one will be incremental)")

    user = labels.get(s2i.ASSEMBLE_USER, "1001")
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
        kept = labels.get(ARTIFACTS_DIR)
        if previous and kept and previous_labels.get(ARTIFACTS_DIR) == kept:
            # The previous image's builder kept them there too: copied, not streamed.
            text = dockerfile.copy_artifacts_dir(text, kept)
            log.line(f"the previous build's artifacts: copied from {kept} ({ARTIFACTS_DIR})")
        elif previous:
            text = dockerfile.unpack_artifacts_in_cached_stage(text)
        text, dependency_layer = add_dependency_layer(text, labels, context, user, log)
        text = dockerfile.mount_secrets(text, spec.secrets, user)
        generated.write_text(text)
        for use in spec.secrets:
            log.line(f"build secret {use.name}: mounted at {use.target} while assemble runs"
                     + (f" (${use.env})" if use.env else ""))  # fmt: skip

    if spec.runtime is not None:
        with log.step(f"add runtime stage from {spec.runtime.image}"):
            scripts_dir = dockerfile.scripts_dir_from_url(
                runtime_labels.get(s2i.SCRIPTS_URL, s2i.DEFAULT_SCRIPTS_URL)
            )
            builder_text = generated.read_text()
            stage = dockerfile.runtime_stage(
                builder_text, spec.runtime, scripts_dir=scripts_dir, user=user
            )
            generated.write_text(builder_text.rstrip("\n") + "\n\n" + stage)
            for line in stage.splitlines():
                log.line(f"  {line}")

    # The bot's image policy again (bot/image_policy.py), on what this build is about to pull
    # (every FROM of the Dockerfile) and push: nothing between planning and here can widen it.
    if problems := image_policy.before_build(spec, generated.read_text()):
        raise BuildFailure("image policy: " + "; ".join(problems))
    # With a runtime image, the next incremental build needs the builder stage (its caches
    # and save-artifacts), which the slim image lacks: keep that stage as a cache image.
    keep_cache = spec.incremental and spec.runtime is not None
    # buildah caches steps only with --layers: the dependency layer is reused from that cache.
    layers = keep_cache or dependency_layer
    names = [use.name for use in spec.secrets]
    with private.registry_auth() as authfile:
        engine = make_engine(engine_for(spec, options.engine, log), authfile,
                             options.insecure_registries)  # fmt: skip
        with (
            log.step(f"build {spec.output} with {engine.name}"),
            private.build_secrets(names) as secret_files,
        ):
            cache = {dockerfile.BUILDER_STAGE: spec.cache_image} if keep_cache else None
            engine.build(context, generated, spec.output, log, layers=layers,
                         secrets=secret_files, stage_tags=cache)  # fmt: skip
        with log.step(f"push {', '.join(spec.outputs)}"), ThreadPoolExecutor(1) as pool:
            # The cache image beside the outputs (a layer both upload is content-addressed:
            # the registry keeps one); its push's output goes into the log after theirs.
            cache_log = io.StringIO()
            cache_push = (
                pool.submit(engine.push, spec.cache_image, log.sibling(cache_log))
                if keep_cache else None
            )  # fmt: skip
            try:
                digest = engine.push(spec.output, log)
                for other in spec.outputs[1:]:
                    engine.tag(spec.output, other, log)
                    engine.push(other, log)
            finally:
                if cache_push is not None:
                    wait([cache_push])
                    for line in cache_log.getvalue().splitlines():
                        log.line(line)
            if cache_push is not None:
                cache_push.result()
        size = RegistryClient(authfile, options.insecure_registries).compressed_size(
            f"{spec.image}@{digest}"
        )
        with private.signing_key() as key_file:
            if key_file is not None:
                prove(spec, digest, bases, key_file, credentials, authfile, log, options)
    return digest, size


def bot_version() -> str:
    try:
        return importlib.metadata.version("s2i-bot")
    except importlib.metadata.PackageNotFoundError:  # a checkout run without installing it
        return "unknown"


def prove(
    spec: BuildSpec, digest: str, bases: Bases, key_file: Path, credentials: Credentials,
    authfile: Path, log: BuildLog, options: RunnerOptions,
) -> None:  # fmt: skip
    """Sign the pushed image and attach its SBOM and provenance (bot/runner/supply_chain.py);
    also the unprivileged Job layout's export step, once crane pushed (bot/runner/export.py)."""
    image = f"{spec.image}@{digest}"
    images = {spec.builder_image: bases.builder or ""}
    if spec.runtime is not None:
        images[spec.runtime.image] = bases.runtime or ""
    predicate = slsa_predicate(
        spec, image_digests={k: v for k, v in images.items() if v},
        builder_id=options.builder_id, versions={"s2i-bot": bot_version()},
        invocation_id=options.builder_id, started=options.started, finished=time.time(),
    )  # fmt: skip
    with log.step(f"sign {image} and attach its SBOM and provenance"):
        attest_image(
            image, predicate, key=SigningKey(key_file, credentials.signing_password),
            registry_auth=authfile, plain_http=is_insecure(spec.registry,
                                                           options.insecure_registries),
            log=log, tools=options.supply_chain,
        )  # fmt: skip
