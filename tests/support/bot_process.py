"""The bot as its users run it: `s2i-bot serve` in a child process, under uvicorn. For what only
a process shows: exit codes and messages of a refused start, signals, restarts, memory. Tests of
what the bot does with webhooks run it in their own process (tests/support/bot_in_process.py)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import httpx
import yaml

from tests.support import http
from tests.support.wait import wait_until

REPO_ROOT = Path(__file__).resolve().parents[2]


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


class RunningBot(Protocol):
    """What tests and helpers use of a started bot, in a process or in the test's own."""

    @property
    def url(self) -> str: ...
    @property
    def data_dir(self) -> Path: ...


class BotSettings:
    """A bot's settings file in `workdir`: on 127.0.0.1, a free port, its data under
    `workdir`/data, this checkout's templates; `settings` added (and overriding)."""

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

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def user_environment() -> dict[str, str]:
    """This process's environment without S2I_BOT_* settings: the bot reads only its file."""
    return {k: v for k, v in os.environ.items() if not k.startswith("S2I_BOT_")}


class BotProcess(BotSettings):
    def __init__(self, workdir: Path, settings: dict[str, Any]) -> None:
        super().__init__(workdir, settings)
        self.log_file = workdir / "bot.log"
        # What runs after `python -m`: the bot's command line, or a test's launcher of it
        # (tests/support/gated_bot.py).
        self.argv = ["bot.cli", "--config", str(self.config_file), "serve"]
        self._proc: subprocess.Popen[bytes] | None = None

    def without_builds(self) -> BotProcess:
        """Run it with an executor that builds nothing (tests/support/gated_bot.py), for a
        test where nothing is to be built: its start does not ask the engine anything."""
        self.argv = ["tests.support.gated_bot", str(self.config_file)]
        return self

    def start(self) -> BotProcess:
        self._launch()
        wait_until(self._healthy, timeout=30, what=f"the bot to answer on {self.url}")
        return self

    def _launch(self) -> None:
        with self.log_file.open("ab") as log:
            self._proc = subprocess.Popen(
                [sys.executable, "-m", *self.argv],
                stdout=log, stderr=subprocess.STDOUT, cwd=REPO_ROOT, env=user_environment(),
            )  # fmt: skip

    def start_expecting_exit(self, timeout: float = 30) -> tuple[int, str]:
        """Start the bot where it must refuse to start: its exit code and what it printed."""
        self._launch()
        assert self._proc is not None
        code = self._proc.wait(timeout=timeout)
        self._proc = None
        return code, self.log()

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def _healthy(self) -> bool:
        assert self._proc is not None
        if self._proc.poll() is not None:
            raise RuntimeError(f"the bot exited:\n{self.log_file.read_text()}")
        try:
            return http.get(self.url + "/healthz", timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.send_signal(sig)
            self._proc.wait(timeout=60)
        self._proc = None

    def log(self) -> str:
        return self.log_file.read_text()

    def peak_memory(self) -> int:
        """The bot process's peak resident memory so far, in bytes (VmHWM, proc(5))."""
        assert self._proc is not None
        for line in Path(f"/proc/{self._proc.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024  # kB
        raise RuntimeError("no VmHWM in /proc/<pid>/status")


# What the `start_bot` fixture (tests/conftest.py) gives a test: start `s2i-bot serve` against
# the fake GitHub, keyword arguments overriding settings.
BotFactory = Callable[..., BotProcess]
