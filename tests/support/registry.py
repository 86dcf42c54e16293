"""A registry of the test's own: the Debian `docker-registry` (Docker Distribution) that
scripts/provision.sh runs for everyone, but on a free port, with its storage in the test's
directory, no auth, and a `notifications` endpoint pointed at a bot, so a test can push
builder images of its own and watch the bot hear about it, without touching the shared
registry or the builder images other tests use."""

from __future__ import annotations

import contextlib
import json
import secrets
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import yaml

from tests.support.bot_process import free_port
from tests.support.wait import wait_until

START_SECONDS = 30


class LocalRegistry:
    def __init__(self, workdir: Path, *, port: int | None = None) -> None:
        self.port = port or free_port()
        self.host = f"127.0.0.1:{self.port}"
        self.workdir = workdir
        self.log_file = workdir / "registry.log"
        self._proc: subprocess.Popen[bytes] | None = None

    def _answers(self) -> bool:
        try:
            return httpx.get(f"http://{self.host}/v2/", timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    @contextlib.contextmanager
    def running(
        self, notify_url: str | None = None, token: str | None = None
    ) -> Iterator[LocalRegistry]:
        """Serve until the block ends; with `notify_url`, every event is POSTed there with
        `Authorization: Bearer <token>` (distribution's `notifications.endpoints`)."""
        config: dict[str, Any] = {
            "version": 0.1,
            "log": {"level": "info"},
            "storage": {"filesystem": {"rootdirectory": str(self.workdir / "data")},
                        "delete": {"enabled": True}},
            "http": {"addr": self.host, "secret": secrets.token_hex(16)},
        }  # fmt: skip
        if notify_url is not None:
            endpoint: dict[str, Any] = {
                "name": "s2i-bot", "url": notify_url, "timeout": "10s", "threshold": 3,
                "backoff": "1s",
            }  # fmt: skip
            if token is not None:
                endpoint["headers"] = {"Authorization": [f"Bearer {token}"]}
            config["notifications"] = {"endpoints": [endpoint]}
        path = self.workdir / "config.yml"
        path.write_text(yaml.safe_dump(config))
        with self.log_file.open("ab") as log:
            self._proc = subprocess.Popen(
                ["docker-registry", "serve", str(path)], stdout=log, stderr=subprocess.STDOUT
            )
        try:
            wait_until(self._answers, timeout=START_SECONDS, what=f"the registry on {self.host}")
            yield self
        finally:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()

    def inspect(self, image: str, *flags: str) -> Any:
        """skopeo inspect of an image here (plain HTTP, no credentials)."""
        out = subprocess.run(
            ["skopeo", "inspect", *flags, "--tls-verify=false", f"docker://{image}"],
            check=True, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        return json.loads(out.stdout)

    def digest(self, image: str) -> str:
        return str(self.inspect(image)["Digest"])

    def diff_ids(self, image: str) -> list[str]:
        return list(self.inspect(image, "--config")["rootfs"]["diff_ids"])
