"""The bot as its users run it: `s2i-bot serve` in a child process, under uvicorn."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import yaml

from tests.support.wait import wait_until

REPO_ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class BotProcess:
    def __init__(self, workdir: Path, settings: dict[str, Any]) -> None:
        self.port = free_port()
        self.data_dir = workdir / "data"
        self.settings = {
            "host": "127.0.0.1",
            "port": self.port,
            "data_dir": str(self.data_dir),
            "templates_dir": str(REPO_ROOT / "config" / "templates"),
            **settings,
        }
        self.config_file = workdir / "bot.yaml"
        self.config_file.write_text(yaml.safe_dump(self.settings))
        self.log_file = workdir / "bot.log"
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> BotProcess:
        env = {k: v for k, v in os.environ.items() if not k.startswith("S2I_BOT_")}
        with self.log_file.open("ab") as log:
            self._proc = subprocess.Popen(
                [sys.executable, "-m", "bot.cli", "--config", str(self.config_file), "serve"],
                stdout=log, stderr=subprocess.STDOUT, cwd=REPO_ROOT, env=env,
            )  # fmt: skip
        wait_until(self._healthy, timeout=30, what=f"the bot to answer on {self.url}")
        return self

    def _healthy(self) -> bool:
        assert self._proc is not None
        if self._proc.poll() is not None:
            raise RuntimeError(f"the bot exited:\n{self.log_file.read_text()}")
        try:
            return httpx.get(self.url + "/healthz", timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.send_signal(sig)
            self._proc.wait(timeout=60)
        self._proc = None

    def log(self) -> str:
        return self.log_file.read_text()
