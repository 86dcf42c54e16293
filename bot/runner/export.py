"""The `export` step of the unprivileged Job layout (bot/runner/app_layer.py): the one layer
assemble left in IO_DIR, appended in the registry with `crane mutate` to the builder image
(or, for a runtime image, the declared artifacts as one layer onto the runtime image), the
config set as s2i's Dockerfile sets it (user, `run` as the command, env, s2i's labels), the
other tags and, for an incremental build with a runtime image, the builder-side image the
next build restores its artifacts from. crane mounts the base layers from their repository
in the same registry: they are never pulled (go-containerregistry's remote.Write).

Started with assemble (`await_assemble`), it reads what does not depend on the build first
(the builder's config, the runtime's digest), then waits for assemble's exit status
(bot/runner/handover.py). When assemble failed there is nothing to export and no result
to write: the bot reads the reason from assemble's own log, as when it was an init container.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import tarfile
import time
from collections.abc import Iterable, Mapping
from pathlib import Path, PurePosixPath
from typing import Any

from bot.build_result import BuildResult
from bot.build_spec import BuildSpec
from bot.runner import s2i
from bot.runner.app_layer import (
    AFTER,
    ARTIFACTS,
    BEFORE,
    IO_DIR,
    LAYER,
    complete_layer,
    deleted_paths,
    relative,
)
from bot.runner.crane import Crane, repository_of
from bot.runner.credentials import Credentials, PrivateFiles
from bot.runner.errors import BuildError, BuildFailure
from bot.runner.handover import wait_for_assemble
from bot.runner.pipeline import Bases, RunnerOptions, ended, prove
from bot.runner.prepare import EXPORT_JSON, LAYOUT, LAYOUT_LABEL, SCRIPTS, image_scripts_dir
from bot.runner.process import BuildLog
from bot.templates import Artifact

_DIGEST_REF = "@sha256:"


class AssembleFailed(Exception):
    """assemble ended without the layer: the build's result is its failure, not the export's."""


def run_export(
    spec: BuildSpec, secrets_dir: Path, workdir: Path, log: BuildLog, options: RunnerOptions,
    *, builder: str, io: Path = Path(IO_DIR), await_assemble: bool = False,
) -> BuildResult | None:  # fmt: skip
    """The BuildResult; None when assemble, awaited, failed (the build's result is its)."""
    started = time.monotonic()
    credentials = Credentials.from_dir(secrets_dir)
    for secret in credentials.secrets():
        log.add_secret(secret)
    private = PrivateFiles(credentials, options.private_dir)
    try:
        # The digests it is built on, for the base-image watch (bot/base_images.py) and the
        # provenance: the builder's the pod ran, the runtime's the export resolved.
        bases = Bases(builder=builder.partition("@")[2] or None)

        def body() -> tuple[str, int]:
            digest, size = _export(
                spec, private, workdir, log, options, builder=builder, io=io, bases=bases,
                await_assemble=await_assemble,
            )  # fmt: skip
            prove_pushed(spec, digest, bases, credentials, private, log, options)
            return digest, size

        try:
            return ended(log, body, spec, started, bases)
        except AssembleFailed as failed:
            log.line(f"{failed}: nothing to export")
            return None
    finally:
        private.close()


def prove_pushed(
    spec: BuildSpec, digest: str, bases: Bases, credentials: Credentials,
    private: PrivateFiles, log: BuildLog, options: RunnerOptions,
) -> None:  # fmt: skip
    """When the Job brought the operator's cosign key (only to this container): sign the
    pushed image and attach its SBOM and provenance, as the `buildah` layout's runner does
    (bot/runner/pipeline.py prove). syft reads the image from the registry: no engine here."""
    with private.signing_key() as key_file:
        if key_file is None:
            return
        with private.registry_auth() as authfile:
            prove(spec, digest, bases, key_file, credentials, authfile, log, options)


def image_labels(spec: BuildSpec, builder: str, destination: str | None) -> dict[str, str]:
    """The labels s2i writes (pkg/build/strategies/dockerfile), and this layout's own."""
    labels = {
        "io.openshift.s2i.build.image": spec.builder_image,
        "io.openshift.s2i.build.source-location": spec.source.git_url,
        "io.openshift.s2i.build.commit.id": spec.source.sha,
        "io.openshift.s2i.build.commit.ref": spec.source.ref.removeprefix("refs/heads/"),
        LAYOUT_LABEL: LAYOUT,
    }
    if destination:
        labels[s2i.DESTINATION] = destination
    if spec.source.context_dir:
        labels["io.openshift.s2i.build.source-context-dir"] = spec.source.context_dir
    return labels


def mutate_args(
    base: str, *, layer: Path, run: str, user: str, env: Mapping[str, str],
    labels: Mapping[str, str], tag: str,
) -> list[str]:  # fmt: skip
    """`crane mutate` appending one layer and setting the config, tagging the result."""
    args = ["mutate", base, "--append", str(layer), "--cmd", run, "--user", user]
    for key, value in env.items():
        args += ["--env", f"{key}={value}"]
    for key, value in labels.items():
        args += ["--label", f"{key}={value}"]
    return [*args, "--tag", tag]


def _export(
    spec: BuildSpec, private: PrivateFiles, workdir: Path, log: BuildLog,
    options: RunnerOptions, *, builder: str, io: Path, bases: Bases, await_assemble: bool,
) -> tuple[str, int]:  # fmt: skip
    workdir.mkdir(parents=True, exist_ok=True)
    prepared: dict[str, Any] = json.loads((workdir.parent / EXPORT_JSON).read_text())
    with private.registry_auth() as authfile:
        crane = Crane(authfile, options.insecure_registries)
        # Read while assemble runs: nothing here depends on what it builds.
        builder_config = crane.config(builder).get("config") or {}
        builder_labels = builder_config.get("Labels") or {}
        user = builder_labels.get(s2i.ASSEMBLE_USER, "1001")
        labels = image_labels(spec, builder, builder_labels.get(s2i.DESTINATION))
        env: dict[str, str] = prepared["env"]
        runtime, run = "", str(prepared["run"])
        if spec.runtime is not None:
            # By digest, resolved once: the image is built on what bases.runtime records,
            # whatever the tag names by the time crane reads it. Its `run` is the command.
            bases.runtime = crane.digest(spec.runtime.image)
            runtime = f"{repository_of(spec.runtime.image)}@{bases.runtime}"
            runtime_labels = (crane.config(runtime).get("config") or {}).get("Labels") or {}
            run = image_scripts_dir(runtime_labels, spec.runtime.image) + "/run"
        if await_assemble:
            waited = time.monotonic()
            ended_as = wait_for_assemble(io)
            if not ended_as.succeeded:
                raise AssembleFailed(ended_as.how)
            log.line(f"{ended_as.how} (waited {time.monotonic() - waited:.1f}s)")
        assembled = own_copies(io, workdir / "assembled", (LAYER, BEFORE, AFTER, ARTIFACTS))
        layer = assembled / LAYER
        if not layer.is_file():
            raise BuildError(f"assemble left no application layer ({io / LAYER})")
        _complete(
            layer, assembled, workdir.parent / SCRIPTS, prepared.get("scripts_dir", ""), user, log
        )
        if spec.runtime is None:
            with log.step(f"append the application layer to {builder} as {spec.output}"):
                log.line(f"{layer.stat().st_size} bytes, uncompressed")
                out = crane.run(builder, mutate_args(
                    builder, layer=layer, run=run, user=user, env=env,
                    labels=labels, tag=spec.output,
                ), log)  # fmt: skip
        else:
            runtime_layer = workdir / "runtime-layer.tar"
            with log.step(f"copy the artifacts onto {spec.runtime.image} as {spec.output}"):
                count = runtime_layer_from(
                    assembled / ARTIFACTS, spec.runtime.artifacts, runtime_layer, user=user
                )
                log.line(f"{count} paths, {runtime_layer.stat().st_size} bytes uncompressed")
                out = crane.run(runtime, mutate_args(
                    runtime, layer=runtime_layer, run=run, user=user,
                    env=env, labels=labels, tag=spec.output,
                ), log)  # fmt: skip
            if spec.incremental:
                with log.step(f"keep the builder side as {spec.cache_image} for the next build"):
                    crane.run(builder, mutate_args(
                        builder, layer=layer, run=f"{_scripts(builder_labels)}/run",
                        user=user, env=env, labels=labels, tag=spec.cache_image,
                    ), log)  # fmt: skip
        digest = pushed_digest(out, spec.output)
        for other in spec.outputs[1:]:
            crane.run(other, ["tag", f"{spec.output.rsplit(':', 1)[0]}@{digest}",
                              other.rsplit(":", 1)[1]], log)  # fmt: skip
        manifest = crane.manifest(f"{spec.image}@{digest}")
    blobs = [manifest.get("config", {}), *manifest.get("layers", [])]
    return digest, sum(int(blob.get("size", 0)) for blob in blobs)


def own_copies(io: Path, target: Path, names: Iterable[str]) -> Path:
    """What assemble left in `io`, copied into the export's own directory through descriptors
    that follow no symlink and read regular files only. The repository's code wrote `io`
    (and may still run: it can write the status the export waits for), while the export can
    read what the builder cannot, the credentials and the cosign key: a link it planted there
    (`before.list` -> the registry auth, whose lines would become whiteout names in the
    layer) must not be followed, nor a file swapped after a check. Missing files stay so."""
    target.mkdir(parents=True, exist_ok=True)
    for name in names:
        try:
            # O_NONBLOCK: a FIFO planted there opens at once, and is then refused.
            fd = os.open(io / name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        except FileNotFoundError:
            continue
        except OSError as exc:  # ELOOP: a symlink
            raise BuildFailure(
                f"assemble left {name} in {io} as something other than a file ({exc.strerror})"
            ) from exc
        with os.fdopen(fd, "rb") as source:
            if not stat.S_ISREG(os.fstat(source.fileno()).st_mode):
                raise BuildFailure(f"assemble left {name} in {io} as something other than a file")
            with (target / name).open("wb") as out:
                shutil.copyfileobj(source, out, 1024 * 1024)
    return target


def _complete(
    layer: Path, io: Path, scripts: Path, scripts_dir: str, user: str, log: BuildLog
) -> None:
    """Whiteouts for what assemble deleted, and the repository's s2i scripts, into the
    layer (bot/runner/app_layer.py complete_layer)."""
    before, after = (
        (io / name).read_text().splitlines() if (io / name).is_file() else []
        for name in (BEFORE, AFTER)
    )
    deleted = deleted_paths(before, after)
    if deleted:
        shown = ", ".join(f"/{path}" for path in deleted[:10])
        more = f" and {len(deleted) - 10} more" if len(deleted) > 10 else ""
        log.line(f"assemble deleted {shown}{more}: whiteouts in the application layer")
    files = {p.name: p.read_bytes() for p in sorted(scripts.iterdir())} if scripts_dir else {}
    if files:
        log.line(f"the repository's .s2i/bin scripts go to {scripts_dir}: {', '.join(files)}")
    uid = int(user.split(":", 1)[0]) if user.split(":", 1)[0].isdigit() else 1001
    complete_layer(layer, deleted=deleted, scripts_dir=scripts_dir, scripts=files, uid=uid)


def _scripts(labels: Mapping[str, str]) -> str:
    url = labels.get(s2i.SCRIPTS_URL, s2i.DEFAULT_SCRIPTS_URL)
    return url.removeprefix("image://").rstrip("/")


def pushed_digest(output: Iterable[str], image: str) -> str:
    """The digest from crane's last `<repository>@sha256:...` line."""
    for line in reversed(list(output)):
        if _DIGEST_REF in line and " " not in line.strip():
            return line.strip().rsplit("@", 1)[1]
    raise BuildError(f"crane printed no digest for {image}")


def runtime_layer_from(
    artifacts_tar: Path, artifacts: Iterable[Artifact], target: Path, *, user: str
) -> int:
    """The artifacts, as the runtime stage's `COPY --from=builder --chown=<user>:0 src dest/`
    would place them: a directory's content, or a file, into dest. Returns the path count."""
    uid = int(user.split(":", 1)[0]) if user.split(":", 1)[0].isdigit() else 1001
    count = 0
    with tarfile.open(artifacts_tar) as source, tarfile.open(target, "w") as out:
        members = source.getmembers()
        for artifact in artifacts:
            src = relative(artifact.source)
            dest = PurePosixPath(relative(artifact.destination))
            directory = tarfile.TarInfo(dest.as_posix())
            directory.type, directory.mode, directory.uid = tarfile.DIRTYPE, 0o775, uid
            out.addfile(directory)
            for member in members:
                name = member.name.rstrip("/")
                if name == src and not member.isdir():
                    new = dest / PurePosixPath(src).name
                elif name.startswith(src + "/"):
                    new = dest / name[len(src) + 1 :]
                else:
                    continue
                copied = _copy_member(member, new.as_posix(), uid)
                out.addfile(copied, source.extractfile(member) if member.isfile() else None)
                count += 1
    return count


def _copy_member(member: tarfile.TarInfo, name: str, uid: int) -> tarfile.TarInfo:
    copied = tarfile.TarInfo(name)
    for attribute in ("size", "mtime", "mode", "type", "linkname"):
        setattr(copied, attribute, getattr(member, attribute))
    copied.uid, copied.gid, copied.uname, copied.gname = uid, 0, "", ""
    return copied
