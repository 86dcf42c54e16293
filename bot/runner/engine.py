"""Engines turn the generated Dockerfile into an image and push it: `docker` (a local daemon)
or `buildah` (daemonless; what a Kubernetes Job pod uses). Both read registry credentials from
the same dockerconfigjson file, and keep whatever configuration they write beside it, in the
registry step's private directory (bot/runner/credentials.py PrivateFiles), which goes with
the step."""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Callable, Collection, Mapping
from pathlib import Path
from typing import Protocol

from bot.failure_reason import FailureSpotter
from bot.image_ref import registry_of
from bot.runner.errors import BuildError, BuildFailure, RegistryAuthError, looks_like_auth_failure
from bot.runner.process import BuildLog, StepResult, run_step
from bot.runner.registry import is_insecure

_DIGEST = re.compile(r"digest: (sha256:[0-9a-f]{64})")
# How each engine reports that a RUN instruction (assemble) exited non-zero: that is the
# user's build failing, not ours. docker's legacy builder / buildah 1.28 wording.
_RUN_FAILED = re.compile(r"returned a non-zero code|error building at STEP \"RUN|exit status \d+")


class Engine(Protocol):
    name: str

    def build(
        self,
        context: Path,
        dockerfile: Path,
        image: str,
        log: BuildLog,
        *,
        target: str | None = None,
        layers: bool = False,
        secrets: Mapping[str, Path] | None = None,
        stage_tags: Mapping[str, str] | None = None,
    ) -> None:
        """Build (up to the `target` stage); `layers` keeps every step cached for a second
        build of the same Dockerfile; `secrets` (build secret name -> file) are what the
        Dockerfile's `RUN --mount=type=secret,id=<name>` mounts; `stage_tags` (stage name ->
        image) names the image each of those stages ended with, too."""
        ...

    def push(self, image: str, log: BuildLog) -> str:
        """Push and return the manifest digest the registry stored."""
        ...

    def tag(self, image: str, other: str, log: BuildLog) -> None:
        """Give the built image another name (pushed with push)."""
        ...


_STEP_FROM = re.compile(r"^Step \d+/\d+ : FROM \S+(?: (?i:as) (?P<stage>\S+))?$")
_STEP_IMAGE = re.compile(r"^ ---> (?P<id>[0-9a-f]{12,64})$")


class StageImages:
    """The image each stage of a docker classic build ended with, read from its output:
    each step ends with ` ---> <image id>` ("Step N/M : FROM <image> AS <stage>" starts a
    stage)."""

    def __init__(self) -> None:
        self.ids: dict[str, str] = {}
        self._stage = ""

    def feed(self, line: str) -> None:
        if match := _STEP_FROM.match(line):
            self._stage = match["stage"] or ""
        elif (match := _STEP_IMAGE.match(line)) and self._stage:
            self.ids[self._stage] = match["id"]


def _run_build(
    argv: list[str], log: BuildLog, env: Mapping[str, str], image: str,
    watch: Callable[[str], None] | None = None,
) -> None:  # fmt: skip
    spotter = FailureSpotter()

    def feed(line: str) -> None:
        spotter.feed(line)
        if watch is not None:
            watch(line)

    result = run_step(argv, log, env=env, watch=feed)
    if result.ok:
        return
    text = "\n".join(result.tail)
    if _RUN_FAILED.search(text):
        # The user's build failed: say where in the words of the tool that failed.
        reason = spotter.reason() or "the build failed: " + (result.tail[-1] if result.tail else "")
        raise BuildFailure(reason)
    if looks_like_auth_failure(text):
        raise RegistryAuthError(registry_of(image) or "docker.io", result.tail[-1])
    raise BuildError("the image build failed: " + (result.tail[-1] if result.tail else ""))


def _check_push(result: StepResult, image: str) -> None:
    if result.ok:
        return
    registry = registry_of(image) or "docker.io"
    last = result.tail[-1] if result.tail else ""
    if looks_like_auth_failure("\n".join(result.tail)):
        raise RegistryAuthError(registry, last)
    raise BuildError(f"push to registry {registry} failed: {last}")


class DockerEngine:
    name = "docker"

    def __init__(self, authfile: Path, docker: str = "docker") -> None:
        # A private DOCKER_CONFIG per build step, beside the auth file and removed with it:
        # credentials never land in root's ~/.docker or a temporary directory left behind.
        self._config_dir = authfile.parent / "docker-config"
        self._config_dir.mkdir(mode=0o700, exist_ok=True)
        shutil.copy(authfile, self._config_dir / "config.json")
        self._docker = docker

    def _env(self) -> dict[str, str]:
        # DOCKER_BUILDKIT=0: the classic builder streams plain output and needs no buildx plugin.
        return os.environ | {"DOCKER_CONFIG": str(self._config_dir), "DOCKER_BUILDKIT": "0"}

    def build(
        self, context: Path, dockerfile: Path, image: str, log: BuildLog, *,
        target: str | None = None, layers: bool = False,
        secrets: Mapping[str, Path] | None = None,
        stage_tags: Mapping[str, str] | None = None,
    ) -> None:  # fmt: skip
        if secrets:
            # The classic builder has no RUN --mount; the runner builds such builds with
            # buildah (bot/runner/pipeline.py engine_for).
            raise BuildError("docker's classic builder cannot mount build secrets")
        # The classic builder always caches steps: `layers` needs nothing more here.
        argv = [self._docker, "build", "--pull", "-f", str(dockerfile), "-t", image]
        argv += ["--target", target] if target else []
        stages = StageImages()
        _run_build([*argv, str(context)], log, self._env(), image, stages.feed)
        # The stages' images are in the engine already: tagging them spares a second build.
        for stage, tag in (stage_tags or {}).items():
            if stage not in stages.ids:
                raise BuildError(f"docker's output named no image for the stage {stage}")
            self.tag(stages.ids[stage], tag, log)

    def tag(self, image: str, other: str, log: BuildLog) -> None:
        if not run_step([self._docker, "tag", image, other], log, env=self._env()).ok:
            raise BuildError(f"docker could not tag {image} as {other}")

    def push(self, image: str, log: BuildLog) -> str:
        result = run_step([self._docker, "push", image], log, env=self._env())
        _check_push(result, image)
        match = next((m for line in result.tail if (m := _DIGEST.search(line))), None)
        if match is None:
            raise BuildError(f"docker push of {image} reported no digest")
        return match.group(1)


class BuildahEngine:
    name = "buildah"

    def __init__(
        self,
        authfile: Path,
        insecure_registries: Collection[str] = (),
        storage_driver: str = "vfs",
        buildah: str = "buildah",
    ) -> None:
        self._authfile = authfile
        self._insecure = insecure_registries
        self._buildah = buildah
        self._conf_dir = authfile.parent / "containers"
        self._conf_dir.mkdir(mode=0o700, exist_ok=True)
        # Daemonless and container friendly: vfs storage and chroot isolation need no overlay
        # mounts or user namespaces inside a pod (see docs/architecture.md).
        self._env = os.environ | {
            "STORAGE_DRIVER": storage_driver,
            "BUILDAH_ISOLATION": "chroot",
            "REGISTRY_AUTH_FILE": str(authfile),
            "CONTAINERS_REGISTRIES_CONF": str(self._conf_dir / "registries.conf"),
        }

    def _allow_plain_http(self, images: Collection[str]) -> None:
        """containers/image wants TLS everywhere; a registries.conf marks the loopback and
        configured insecure registries that the FROM images and the output live on."""
        registries = {registry_of(i) or "docker.io" for i in images}
        insecure = sorted(r for r in registries if is_insecure(r, self._insecure))
        entries = "".join(f'[[registry]]\nlocation = "{r}"\ninsecure = true\n\n' for r in insecure)
        (self._conf_dir / "registries.conf").write_text(entries)

    def build(
        self, context: Path, dockerfile: Path, image: str, log: BuildLog, *,
        target: str | None = None, layers: bool = False,
        secrets: Mapping[str, Path] | None = None,
        stage_tags: Mapping[str, str] | None = None,
    ) -> None:  # fmt: skip
        self._build(context, dockerfile, image, log, target=target,
                    layers=layers or bool(stage_tags), secrets=secrets, pull=True)  # fmt: skip
        # buildah keeps no stage's image: a build of each stage, every step from the cache
        # (--layers) of the one just made, whose images it pulled.
        for stage, tag in (stage_tags or {}).items():
            self._build(context, dockerfile, tag, log, target=stage, layers=True,
                        secrets=secrets, pull=False)  # fmt: skip

    def _build(
        self, context: Path, dockerfile: Path, image: str, log: BuildLog, *,
        target: str | None, layers: bool, secrets: Mapping[str, Path] | None, pull: bool,
    ) -> None:  # fmt: skip
        self._allow_plain_http([*from_images(dockerfile.read_text()), image])
        argv = [
            self._buildah, "bud", *(["--pull"] if pull else []),
            "--authfile", str(self._authfile), "-f", str(dockerfile), "-t", image,
        ]  # fmt: skip
        argv += ["--target", target] if target else []
        argv += ["--layers"] if layers else []
        # buildah copies each file for the RUN steps that mount it and removes the copy after
        # the step: it is in no layer (buildah-bud(1) --secret).
        for name, path in (secrets or {}).items():
            argv += ["--secret", f"id={name},src={path}"]
        _run_build([*argv, str(context)], log, self._env, image)

    def tag(self, image: str, other: str, log: BuildLog) -> None:
        if not run_step([self._buildah, "tag", image, other], log, env=self._env).ok:
            raise BuildError(f"buildah could not tag {image} as {other}")

    def push(self, image: str, log: BuildLog) -> str:
        with tempfile.TemporaryDirectory() as tmp:
            digest_file = Path(tmp) / "digest"
            self._allow_plain_http([image])
            argv = [
                self._buildah, "push", "--authfile", str(self._authfile),
                "--digestfile", str(digest_file), image, f"docker://{image}",
            ]  # fmt: skip
            _check_push(run_step(argv, log, env=self._env), image)
            return digest_file.read_text().strip()


def from_images(dockerfile: str) -> list[str]:
    """The images a Dockerfile's stages start FROM (stage references excluded)."""
    images = []
    for line in dockerfile.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0].upper() == "FROM" and not parts[1].isdigit():
            images.append(parts[1])
    return images


def make_engine(
    name: str, authfile: Path, insecure_registries: Collection[str] = ()
) -> DockerEngine | BuildahEngine:
    if name == "docker":
        return DockerEngine(authfile)
    if name == "buildah":
        return BuildahEngine(authfile, insecure_registries)
    raise ValueError(f"unknown engine '{name}'; known: docker, buildah")
