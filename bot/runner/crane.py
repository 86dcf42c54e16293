"""Registry work with go-containerregistry's `crane` (scripts/provision.sh builds it from the
Go module proxy; the runner image ships it): digests, configs, one layer appended to an image
in the registry with its base layers mounted, never pulled.

crane reads credentials from $DOCKER_CONFIG/config.json: each call gets a directory holding
only the registry auth file it is given (the runner's short-lived copy, PrivateFiles) and an
environment of the allow-list's variables (bot/runner/environment.py). Plain HTTP
(`--insecure`) for the listed registries and loopback ones, as RegistryClient decides.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.image_ref import registry_of
from bot.runner.environment import minimal_env
from bot.runner.errors import BuildError, RegistryAuthError, looks_like_auth_failure
from bot.runner.process import BuildLog, capture, run_step
from bot.runner.registry import is_insecure


@dataclass(frozen=True)
class Crane:
    authfile: Path | None
    insecure_registries: Collection[str] = ()
    crane: str = "crane"

    def _argv(self, image: str, *args: str) -> list[str]:
        registry = registry_of(image) or "docker.io"
        insecure = ["--insecure"] if is_insecure(registry, self.insecure_registries) else []
        return [self.crane, *args, *insecure]

    def _env(self, config_dir: Path) -> dict[str, str]:
        env = minimal_env(os.environ, home=config_dir)
        env["DOCKER_CONFIG"] = str(config_dir)
        return env

    def _config_dir(self) -> Path:
        directory = Path(tempfile.mkdtemp(prefix="crane-"))
        target = directory / "config.json"
        if self.authfile is not None:
            shutil.copyfile(self.authfile, target)
        else:
            target.write_text('{"auths": {}}')
        target.chmod(0o600)
        return directory

    def query(self, image: str, *args: str) -> str:
        """The output of a query (digest, config, manifest) about image."""
        config_dir = self._config_dir()
        try:
            result = capture(self._argv(image, *args, image), env=self._env(config_dir))
        except FileNotFoundError:
            raise BuildError(
                f"'{self.crane}' is not installed here: install go-containerregistry's crane "
                "(scripts/provision.sh builds it) to resolve and write images"
            ) from None
        finally:
            shutil.rmtree(config_dir, ignore_errors=True)
        if result.returncode != 0:
            registry = registry_of(image) or "docker.io"
            lines = result.stderr.strip().splitlines()
            detail = lines[-1] if lines else f"crane exited with status {result.returncode}"
            if looks_like_auth_failure(result.stderr):
                raise RegistryAuthError(registry, detail)
            raise BuildError(f"cannot read {image} from registry {registry}: {detail}")
        return result.stdout.strip()

    def digest(self, image: str) -> str:
        return self.query(image, "digest")

    def config(self, image: str) -> dict[str, Any]:
        config: dict[str, Any] = json.loads(self.query(image, "config"))
        return config

    def manifest(self, image: str) -> dict[str, Any]:
        manifest: dict[str, Any] = json.loads(self.query(image, "manifest"))
        return manifest

    def download(self, blob_ref: str, target: Path) -> None:
        """One blob (`repository@sha256:...`) into target, as the registry stores it."""
        config_dir = self._config_dir()
        try:
            with target.open("wb") as out:
                result = subprocess.run(
                    self._argv(blob_ref, "blob", blob_ref), stdout=out,
                    stderr=subprocess.PIPE, text=False, env=self._env(config_dir), check=False,
                )  # fmt: skip
        finally:
            shutil.rmtree(config_dir, ignore_errors=True)
        if result.returncode != 0:
            detail = result.stderr.decode(errors="replace").strip().splitlines()
            raise BuildError(f"cannot download {blob_ref}: {detail[-1] if detail else ''}")

    def run(self, image: str, args: Sequence[str], log: BuildLog) -> list[str]:
        """A command that writes to the registry (mutate, tag, blob), its output in the log;
        returns its stdout lines (crane prints results there, progress on stderr)."""
        config_dir = self._config_dir()
        out: list[str] = []
        try:
            result = run_step(
                self._argv(image, *args), log, env=self._env(config_dir), watch=out.append
            )
        finally:
            shutil.rmtree(config_dir, ignore_errors=True)
        if not result.ok:
            text = "\n".join(out)
            registry = registry_of(image) or "docker.io"
            detail = out[-1] if out else "no output"
            if looks_like_auth_failure(text):
                raise RegistryAuthError(registry, detail)
            raise BuildError(f"crane {args[0]} failed for {image}: {detail}")
        return out


def repository_of(image: str) -> str:
    """`host:5000/a/b:tag` (or `...@sha256:...`) -> `host:5000/a/b`."""
    name = image.split("@", 1)[0]
    if ":" in name.rsplit("/", 1)[-1]:
        name = name[: name.rfind(":")]
    return name
