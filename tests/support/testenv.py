"""The real environment scripts/provision.sh made: registry, credentials, s2i, images.

S2I_DEV_BUILDER_REGISTRY, when set, replaces the builder registry the builds use and that
`images` name (e.g. `127.0.0.1:5000/incr`, where an engineer pushed every builder and
runtime image of a branch as `<that>/s2i-bot/<name>:latest`), leaving the shared builder
images alone."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from bot.runner.credentials import docker_config

STATE = Path(os.environ.get("S2I_DEV_STATE", "/var/lib/s2i-bot-dev"))


@dataclass(frozen=True)
class ProvisionedEnv:
    registry: str
    username: str
    password: str
    s2i: str
    builder_registry: str
    images: dict[str, str]
    postgres_url: str = ""  # a PostgreSQL server's superuser URL (scripts/provision.sh)
    syft: str = "syft"  # the supply chain's tools (scripts/provision.sh, cached by version)
    cosign: str = "cosign"

    @classmethod
    def load(cls) -> ProvisionedEnv:
        path = STATE / "testenv.json"
        if not path.exists():
            raise RuntimeError(
                f"{path} is missing: run scripts/provision.sh (or scripts/test) first; "
                "these tests need the real engine, registry and s2i"
            )
        data = json.loads(path.read_text())
        if override := os.environ.get("S2I_DEV_BUILDER_REGISTRY"):
            data["builder_registry"] = override
            data["images"] = {n: f"{override}/s2i-bot/{n}:latest" for n in data["images"]}
        return cls(
            data["registry"], data["registry_username"], data["registry_password"],
            data["s2i"], data["builder_registry"], data["images"], data.get("postgres_url", ""),
            data.get("syft", "syft"), data.get("cosign", "cosign"),
        )  # fmt: skip

    def auth_file(self, directory: Path, password: str | None = None) -> Path:
        path = directory / "registry-auth.json"
        config = docker_config({self.registry: (self.username, password or self.password)})
        path.write_text(json.dumps(config))
        return path

    @property
    def creds(self) -> str:
        return f"{self.username}:{self.password}"
