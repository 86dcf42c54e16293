"""Build credentials, read from a directory laid out like the Kubernetes Secrets a Job mounts.

    <dir>/git-token          the forge token used to clone (optional)
    <dir>/.dockerconfigjson  registry auth, the `kubernetes.io/dockerconfigjson` format

They never travel in a BuildSpec, an argument list or an environment value.
"""

from __future__ import annotations

import base64
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

GIT_TOKEN = "git-token"
DOCKER_CONFIG_JSON = ".dockerconfigjson"


@dataclass(frozen=True)
class Credentials:
    git_token: str | None = None
    docker_config: dict[str, Any] = field(default_factory=lambda: {"auths": {}})

    @classmethod
    def from_dir(cls, directory: Path) -> Credentials:
        token_file = directory / GIT_TOKEN
        auth_file = directory / DOCKER_CONFIG_JSON
        token = token_file.read_text().strip() if token_file.exists() else None
        config = json.loads(auth_file.read_text()) if auth_file.exists() else {"auths": {}}
        return cls(token or None, config)

    def write_dir(self, directory: Path) -> None:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        if self.git_token:
            _write_private(directory / GIT_TOKEN, self.git_token)
        _write_private(directory / DOCKER_CONFIG_JSON, json.dumps(self.docker_config))

    def secrets(self) -> list[str]:
        """Every secret value, so the build log can mask them."""
        values = [self.git_token] if self.git_token else []
        for entry in self.docker_config.get("auths", {}).values():
            if "auth" in entry:
                values.append(entry["auth"])
                values.append(base64.b64decode(entry["auth"]).decode().partition(":")[2])
            if entry.get("password"):
                values.append(entry["password"])
        return [v for v in values if v]


def docker_config(registries: dict[str, tuple[str, str]]) -> dict[str, Any]:
    """{host: (user, password)} -> a dockerconfigjson document."""
    auths = {
        host: {"auth": base64.b64encode(f"{user}:{password}".encode()).decode()}
        for host, (user, password) in registries.items()
    }
    return {"auths": auths}


def _write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
