"""The `prepare` step of the unprivileged Job layout (bot/runner/app_layer.py): the source at
the sha where s2i puts it (`<destination>/src`, seen here at DESTINATION_DIR), the builder's
instructions in IO_DIR/assemble.env, what the export needs in the workdir's export.json, and
for an incremental build the previous image's application layer (one blob, not the image).

As s2i does (https://github.com/openshift/source-to-image/blob/master/docs/cli.md#s2i-build):
the context directory's content becomes src; `.s2iignore` globs are left out; the
repository's `.s2i/bin/<script>` runs instead of the image's and goes into the image in
`<destination>/scripts` (s2i's `COPY upload/scripts`), its `run` the image's command (without
a runtime image, whose own `run` is the command then, as in the buildah path);
`.s2i/environment` holds `NAME=value` lines for assemble's environment and the image's, the
build's env (.s2i.yaml) taking precedence.

Build secrets (bot/build_secrets.py): the pod mounts the named keys at /run/secrets in this
container and in the builder's; this step reads them only to write the masks of the
builder's log (bot/runner/secret_masks.py sed_script) into the in-memory masks volume.
"""

from __future__ import annotations

import gzip
import json
import shutil
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from bot.build_result import BuildResult
from bot.build_secrets import MOUNT_DIR
from bot.build_spec import BuildSpec
from bot.runner import s2i
from bot.runner.app_layer import (
    APP_DIRS_LABEL,
    ASSEMBLE_ENV,
    DEFAULT_APP_DIRS,
    DESTINATION_DIR,
    IO_DIR,
    MASKS,
    MASKS_DIR,
    PREVIOUS_LAYER,
    assemble_env,
)
from bot.runner.crane import Crane, repository_of
from bot.runner.credentials import Credentials, PrivateFiles
from bot.runner.dockerfile import scripts_dir_from_url
from bot.runner.errors import BuildError, BuildFailure
from bot.runner.pipeline import RunnerOptions, ended, fetch, refuse_unsafe_values
from bot.runner.process import BuildLog
from bot.runner.secret_masks import secret_file_values, sed_script
from bot.runner.source_tree import context_dir, refuse_escaping_symlinks
from bot.safe_values import env_name_problem, env_value_problem

EXPORT_JSON = "export.json"
# Beside export.json: the repository's .s2i/bin scripts the export puts into the image.
SCRIPTS = "scripts"
S2I_SCRIPTS = ("assemble", "run", "save-artifacts", "usage")
# The label the export puts on every image it writes: its last layer is the application
# layer, so an incremental build may restore from it.
LAYOUT_LABEL = "io.s2i-bot.layout"
LAYOUT = "unprivileged"


@dataclass(frozen=True)
class Paths:
    """Where this step writes; the pod's mounts by default, a test's directories otherwise."""

    destination: Path = Path(DESTINATION_DIR)
    io: Path = Path(IO_DIR)
    build_secrets: Path = Path(MOUNT_DIR)
    masks: Path = Path(MASKS_DIR)


def run_prepare(
    spec: BuildSpec, secrets_dir: Path, workdir: Path, log: BuildLog, options: RunnerOptions,
    *, builder: str, destination: str, paths: Paths | None = None,
    builder_labels: Mapping[str, str] | None = None,
) -> BuildResult:  # fmt: skip
    """`builder`: the digest reference the pod runs; `destination`: where its container
    sees the destination volume (its io.openshift.s2i.destination); `builder_labels`: its
    s2i labels as the bot read them with the digest (None: read from the registry)."""
    started = time.monotonic()
    credentials = Credentials.from_dir(secrets_dir)
    for secret in credentials.secrets():
        log.add_secret(secret)
    private = PrivateFiles(credentials, options.private_dir)
    try:
        return ended(
            log,
            lambda: _prepare(
                spec,
                credentials,
                private,
                workdir,
                log,
                options,
                builder=builder,
                destination=destination,
                paths=paths or Paths(),
                builder_labels=builder_labels,
            ),
            spec,
            started,
        )
    finally:
        private.close()


def _prepare(
    spec: BuildSpec, credentials: Credentials, private: PrivateFiles, workdir: Path,
    log: BuildLog, options: RunnerOptions, *, builder: str, destination: str, paths: Paths,
    builder_labels: Mapping[str, str] | None,
) -> tuple[str, int]:  # fmt: skip
    refuse_unsafe_values(spec)
    source_dir = fetch(spec, credentials, private, workdir / "source", log, options)
    with log.step("check the source tree"):
        context = context_dir(source_dir, spec.source.context_dir)
        refuse_escaping_symlinks(source_dir)
        log.line("the context and every symlink stay inside the repository")
    src = paths.destination / "src"
    with log.step(f"copy the source to {destination}/src"):
        copy_source(context, src)

    with private.registry_auth() as authfile:
        crane = Crane(authfile, options.insecure_registries)
        with log.step(f"read s2i labels of {builder}"):
            if builder_labels is not None:  # the digest's, read by the bot as it resolved it
                labels = dict(builder_labels)
                log.line("as the bot read them when it resolved the digest")
            else:
                labels = dict((crane.config(builder).get("config") or {}).get("Labels") or {})
            for key in (s2i.SCRIPTS_URL, s2i.DESTINATION, s2i.ASSEMBLE_USER):
                log.line(f"{key}={labels.get(key, '(unset)')}")
        previous = False
        if spec.incremental:
            with log.step(f"look for the previous build {spec.cache_image}"):
                previous = _previous_layer(crane, spec.cache_image, paths.io / PREVIOUS_LAYER, log)

    image_scripts = image_scripts_dir(labels, builder)
    scripts = {
        name: (
            f"{destination}/src/.s2i/bin/{name}"
            if (src / ".s2i" / "bin" / name).is_file()
            else f"{image_scripts}/{name}"
        )
        for name in ("assemble", "save-artifacts", "run")
    }
    for name, path in scripts.items():
        if path.startswith(destination):
            log.line(f"the repository's .s2i/bin/{name} runs instead of the image's")
    overrides = _copy_overrides(src / ".s2i" / "bin", workdir.parent / SCRIPTS)
    env = build_env(src / ".s2i" / "environment", spec.env)
    app_dirs = labels.get(APP_DIRS_LABEL, " ".join(DEFAULT_APP_DIRS)).split()
    secret_env = mask_build_secrets(spec, paths, [destination, *app_dirs], log)
    artifacts = [a.source for a in spec.runtime.artifacts] if spec.runtime else []
    (paths.io / ASSEMBLE_ENV).write_text(
        assemble_env(
            destination=destination,
            assemble=scripts["assemble"],
            save_artifacts=scripts["save-artifacts"],
            app_dirs=app_dirs,
            artifacts=artifacts,
            env=env,
            secret_env=secret_env,
        )
    )
    # s2i's `CMD <destination>/scripts/run` for the repository's own run; with a runtime
    # image, the runtime's run (bot/runner/dockerfile.py runtime_stage), which the export
    # reads from the runtime image while assemble runs.
    own_run = "run" in overrides and spec.runtime is None
    export = {
        "env": env,
        "run": f"{destination}/{SCRIPTS}/run" if own_run else f"{image_scripts}/run",
        "scripts_dir": f"{destination}/{SCRIPTS}" if overrides and spec.runtime is None else "",
        "incremental_previous": previous,
    }
    # Beside the workdir, in the runner's own volume: the builder's container cannot change it.
    (workdir.parent / EXPORT_JSON).write_text(json.dumps(export))
    log.line("the builder image's assemble runs next, in its own container")
    return "", 0


def _copy_overrides(bin_dir: Path, target: Path) -> list[str]:
    """The repository's s2i scripts (`.s2i/bin/<script>` of the copied source) into target,
    for the export to put into the image as s2i does; their names."""
    names = [n for n in S2I_SCRIPTS if (bin_dir / n).is_file() and not (bin_dir / n).is_symlink()]
    if names:
        target.mkdir(parents=True, exist_ok=True)
        for name in names:
            shutil.copyfile(bin_dir / name, target / name)
            # Executable, as s2i installs them (pkg/scripts/install.go: chmod 0755).
            (bin_dir / name).chmod(0o755)
    return names


def mask_build_secrets(
    spec: BuildSpec, paths: Paths, exported: list[str], log: BuildLog
) -> dict[str, str]:
    """Each build secret the spec names, checked to be mounted, its masks written for the
    builder's log; returns the variables assemble gets (name -> the file's path)."""
    if not spec.secrets:
        return {}
    mount = MOUNT_DIR.rstrip("/")
    for path in exported:
        inside = path.rstrip("/")
        if inside == mount or mount.startswith(inside + "/") or inside.startswith(mount + "/"):
            raise BuildFailure(
                f"the builder image exports {path}, where build secrets are mounted ({mount}): "
                "they would end in the image; build it with kubernetes.layout: buildah"
            )
    values: list[str] = []
    for use in spec.secrets:
        file = paths.build_secrets / use.name
        if not file.is_file():
            raise BuildError(
                f"build secret '{use.name}' did not reach the runner: is it still in the "
                "bot's build_secrets, and its Kubernetes Secret in the build namespace?"
            )
        for value in secret_file_values(file.read_bytes()):
            log.add_secret(value)
            values.append(value)
        log.line(f"build secret {use.name}: mounted at {use.target} while assemble runs"
                 + (f" (${use.env})" if use.env else ""))  # fmt: skip
    paths.masks.mkdir(parents=True, exist_ok=True)
    (paths.masks / MASKS).write_bytes(sed_script(values))
    return {use.env: use.target for use in spec.secrets if use.env}


def image_scripts_dir(labels: Mapping[str, str], image: str) -> str:
    url = labels.get(s2i.SCRIPTS_URL, s2i.DEFAULT_SCRIPTS_URL)
    if not url.startswith("image://"):
        raise BuildFailure(
            f"{image}: scripts-url '{url}' is not image:///...: the unprivileged Job layout "
            "runs the scripts inside the image (use kubernetes.layout: buildah)"
        )
    return scripts_dir_from_url(url).rstrip("/")


def copy_source(context: Path, src: Path) -> None:
    """The context's tree into src, without git's own directory and what .s2iignore names."""
    ignored = _s2iignore(context)

    def ignore(directory: str, names: list[str]) -> set[str]:
        rel = Path(directory).relative_to(context)
        skipped = {n for n in names if (rel / n).as_posix() in ignored}
        if rel == Path("."):
            skipped.add(".git")
        return skipped

    shutil.copytree(context, src, symlinks=True, ignore=ignore, dirs_exist_ok=True)


def _s2iignore(context: Path) -> set[str]:
    """The paths .s2iignore's globs match, as s2i reads it (pkg/ignore/ignore.go): one glob
    per line, relative to the root, `#` comments, in order; `!<glob>` takes the paths it
    matches out of those the lines above named (a path inside an ignored directory stays
    ignored with it), and a later line may name them again."""
    file = context / ".s2iignore"
    if not file.is_file():
        return set()
    found: set[str] = set()
    for line in file.read_text(errors="replace").splitlines():
        pattern = line.strip()
        if pattern.startswith("#"):
            continue
        keep = pattern.startswith("!")
        pattern = pattern.removeprefix("!").lstrip("/")
        if not pattern or ".." in pattern.split("/"):
            continue
        matched = {p.relative_to(context).as_posix() for p in context.glob(pattern)}
        found = found - matched if keep else found | matched
    return found


def build_env(environment_file: Path, env: Mapping[str, str]) -> dict[str, str]:
    """.s2i/environment's `NAME=value` lines, then the build's env over them."""
    values: dict[str, str] = {}
    if environment_file.is_file():
        for number, raw in enumerate(environment_file.read_text().splitlines(), 1):
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            name, sep, value = line.partition("=")
            problem = (
                "not NAME=value"
                if not sep
                else env_name_problem(name) or env_value_problem(name, value)
            )
            if problem:
                raise BuildFailure(f".s2i/environment line {number}: {problem}")
            values[name] = value
    return values | dict(env)


def _previous_layer(crane: Crane, image: str, target: Path, log: BuildLog) -> bool:
    """The previous image's application layer (its last), uncompressed into target; False
    when there is none this layout wrote (a first build, or one of the buildah layout)."""
    try:
        config = crane.config(image)
    except Exception as exc:  # the registry's "not found": a first build
        log.line(f"no previous build ({str(exc).splitlines()[-1]}): a clean build")
        return False
    labels = (config.get("config") or {}).get("Labels") or {}
    if labels.get(LAYOUT_LABEL) != LAYOUT:
        log.line("the previous image was not built by this layout: a clean build")
        return False
    manifest = crane.manifest(image)
    layer = manifest["layers"][-1]
    repository = repository_of(image)
    _download_layer(crane, f"{repository}@{layer['digest']}", target)
    log.line(f"restoring from its application layer {layer['digest'][:19]} ({layer['size']} bytes)")
    return True


def _download_layer(crane: Crane, blob_ref: str, target: Path) -> None:
    """One blob, decompressed when it is gzip (as crane writes the layers it appends)."""
    compressed = target.with_suffix(".blob")
    crane.download(blob_ref, compressed)
    with compressed.open("rb") as head:
        gzipped = head.read(2) == b"\x1f\x8b"
    if gzipped:
        with gzip.open(compressed, "rb") as source, target.open("wb") as out:
            shutil.copyfileobj(source, out)
        compressed.unlink()
    else:
        compressed.rename(target)
