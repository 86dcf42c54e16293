"""Build credentials, read from a directory laid out like the Kubernetes Secrets a Job mounts.

    <dir>/git-token             the forge token used to clone (optional)
    <dir>/.dockerconfigjson     registry auth, the `kubernetes.io/dockerconfigjson` format
    <dir>/build-secrets/<name>  each build secret the BuildSpec names (bot/build_secrets.py)
    <dir>/cosign.key         the operator's cosign key, when images are signed (optional)
    <dir>/cosign-password    its password

They never travel in a BuildSpec, an argument list or an environment value. The runner reads
them once, removes what it was given when it may (a copy the executor made; a Job's mounted
Secret is read-only), and hands each step only what that step needs, as a file in a private
directory outside the build's workdir that goes as soon as the step is over (PrivateFiles):
the token to the fetch, the registry auth to the registry steps, the build secrets to the
engine's build (which mounts them on the assemble step alone).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.runner.errors import BuildError
from bot.runner.secret_masks import secret_file_values

GIT_TOKEN = "git-token"
DOCKER_CONFIG_JSON = ".dockerconfigjson"
BUILD_SECRETS = "build-secrets"
SIGNING_KEY = "cosign.key"
SIGNING_PASSWORD = "cosign-password"


@dataclass(frozen=True)
class Credentials:
    git_token: str | None = None
    docker_config: dict[str, Any] = field(default_factory=lambda: {"auths": {}})
    # Build secret name -> the file's bytes.
    build_secrets: Mapping[str, bytes] = field(default_factory=dict)
    # The cosign key that signs the pushed image and its attestations, and its password.
    signing_key: bytes | None = None
    signing_password: str = ""

    @classmethod
    def from_dir(cls, directory: Path) -> Credentials:
        token_file = directory / GIT_TOKEN
        auth_file = directory / DOCKER_CONFIG_JSON
        token = token_file.read_text().strip() if token_file.exists() else None
        config = json.loads(auth_file.read_text()) if auth_file.exists() else {"auths": {}}
        secrets_dir = directory / BUILD_SECRETS
        files = {
            path.name: path.read_bytes()
            for path in (sorted(secrets_dir.iterdir()) if secrets_dir.is_dir() else ())
            if path.is_file() and not path.name.startswith(".")  # a projected volume's ..data
        }
        key_file, password_file = directory / SIGNING_KEY, directory / SIGNING_PASSWORD
        key = key_file.read_bytes() if key_file.exists() else None
        password = password_file.read_text().rstrip("\n") if password_file.exists() else ""
        return cls(token or None, config, files, key, password)

    @staticmethod
    def remove_dir_files(directory: Path) -> None:
        """Remove the credential files from directory when it is a copy the runner may
        delete; a read-only mount (a Job's Secret) stays as it is."""
        for name in (GIT_TOKEN, DOCKER_CONFIG_JSON, SIGNING_KEY, SIGNING_PASSWORD):
            with contextlib.suppress(OSError):
                (directory / name).unlink()
        secrets_dir = directory / BUILD_SECRETS
        if secrets_dir.is_dir() and os.access(secrets_dir, os.W_OK):
            shutil.rmtree(secrets_dir, ignore_errors=True)

    def write_dir(self, directory: Path) -> None:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        if self.git_token:
            _write_private(directory / GIT_TOKEN, self.git_token)
        _write_private(directory / DOCKER_CONFIG_JSON, json.dumps(self.docker_config))
        if self.build_secrets:
            (directory / BUILD_SECRETS).mkdir(mode=0o700, exist_ok=True)
            for name, content in self.build_secrets.items():
                _write_private(directory / BUILD_SECRETS / name, content)
        if self.signing_key is not None:
            _write_private(directory / SIGNING_KEY, self.signing_key)
            _write_private(directory / SIGNING_PASSWORD, self.signing_password)

    def secrets(self) -> list[str]:
        """Every secret value, so the build log can mask them."""
        values = [self.git_token] if self.git_token else []
        for entry in self.docker_config.get("auths", {}).values():
            if not isinstance(entry, dict):
                continue
            if entry.get("auth"):
                values.append(str(entry["auth"]))
                with contextlib.suppress(binascii.Error, UnicodeDecodeError):
                    user_password = base64.b64decode(str(entry["auth"])).decode()
                    # user:password itself (its base64 is the auth above), and the password.
                    values += [user_password, user_password.partition(":")[2]]
            if entry.get("password"):
                values.append(str(entry["password"]))
                if entry.get("username"):
                    values.append(f"{entry['username']}:{entry['password']}")
            if entry.get("identitytoken"):
                values.append(str(entry["identitytoken"]))
        for content in self.build_secrets.values():
            values += secret_file_values(content)
        if self.signing_password:
            values.append(self.signing_password)
        return [v for v in values if v]


def docker_config(registries: dict[str, tuple[str, str]]) -> dict[str, Any]:
    """{host: (user, password)} -> a dockerconfigjson document."""
    auths = {
        host: {"auth": base64.b64encode(f"{user}:{password}".encode()).decode()}
        for host, (user, password) in registries.items()
    }
    return {"auths": auths}


class PrivateFiles:
    """Per-step copies of the credentials, in a private directory (0700, files 0600) outside
    the build's workdir: nothing s2i copies and no path of the repository leads there.
    Each copy exists only while its step runs."""

    def __init__(self, credentials: Credentials, root: Path | None = None) -> None:
        self._credentials = credentials
        self._own_root = root is None
        self.root = Path(tempfile.mkdtemp(prefix="s2i-bot-private-")) if root is None else root
        self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.root.chmod(0o700)

    @contextlib.contextmanager
    def git_token(self) -> Iterator[Path | None]:
        """The forge token as a file, for the fetch (None without a token)."""
        if not self._credentials.git_token:
            yield None
            return
        with self._step_dir("fetch") as directory:
            path = directory / GIT_TOKEN
            _write_private(path, self._credentials.git_token)
            yield path

    @contextlib.contextmanager
    def registry_auth(self) -> Iterator[Path]:
        """The registry auth as a dockerconfigjson file, for the steps that pull or push; an
        engine may keep its own configuration beside it (it goes with it)."""
        with self._step_dir("registry") as directory:
            path = directory / "auth.json"
            _write_private(path, json.dumps(self._credentials.docker_config))
            yield path

    @contextlib.contextmanager
    def build_secrets(self, names: Collection[str]) -> Iterator[dict[str, Path]]:
        """The named build secrets as files, for the engine's build: name -> path. A name
        without its file is a BuildError (the executor did not bring it)."""
        missing = [n for n in names if n not in self._credentials.build_secrets]
        if missing:
            raise BuildError(
                f"build secret '{missing[0]}' did not reach the runner: is it still in the "
                "bot's build_secrets (and, for Jobs, its Kubernetes Secret in the build "
                "namespace)?"
            )
        if not names:
            yield {}
            return
        with self._step_dir("secrets") as directory:
            paths = {}
            for name in names:
                paths[name] = directory / name
                _write_private(paths[name], self._credentials.build_secrets[name])
            yield paths

    @contextlib.contextmanager
    def signing_key(self) -> Iterator[Path | None]:
        """The cosign key as a file, for the signing step (None when images are not signed)."""
        if self._credentials.signing_key is None:
            yield None
            return
        with self._step_dir("sign") as directory:
            path = directory / SIGNING_KEY
            _write_private(path, self._credentials.signing_key)
            yield path

    @contextlib.contextmanager
    def _step_dir(self, step: str) -> Iterator[Path]:
        directory = Path(tempfile.mkdtemp(prefix=f"{step}-", dir=self.root))
        try:
            yield directory
        finally:
            shutil.rmtree(directory, ignore_errors=True)

    def close(self) -> None:
        """Remove every copy still there (and the directory, when this made it)."""
        if self._own_root:
            shutil.rmtree(self.root, ignore_errors=True)
            return
        for child in self.root.iterdir() if self.root.is_dir() else ():
            if child.is_dir() and not child.is_symlink():
                shutil.rmtree(child, ignore_errors=True)
            else:
                child.unlink(missing_ok=True)


def _write_private(path: Path, content: str | bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(content.encode() if isinstance(content, str) else content)
