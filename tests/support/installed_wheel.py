"""s2i-bot as a user installs it: the wheel (scripts/wheel.sh, from this working tree) pip
installed with its dependencies (from the package index or pip's cache) into a fresh
virtualenv outside the checkout, and `s2i-bot` run from an application's directory.

One virtualenv per test session (`installed_wheel` caches it). Resolving some forty
dependencies against the package index takes one to two minutes on this machine, so the
dependencies' wheels are kept in a wheelhouse under $S2I_DEV_CACHE: pip installs from it
(--no-index, dependencies resolved from the wheel's metadata as ever) and, when it lacks what
the wheel requires (the first run, a new or raised requirement), fills it from the index as a
user's pip would, then installs from it. `InstalledWheel.install_seconds` says what it took.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

from tests.support.bot_process import REPO_ROOT

WHEELHOUSE = Path(os.environ.get("S2I_DEV_CACHE", "/root/.cache/s2i-bot")) / "wheelhouse"


@dataclass(frozen=True)
class InstalledWheel:
    wheel: Path
    venv: Path
    install_seconds: float

    @property
    def python(self) -> Path:
        return self.venv / "bin" / "python"

    def s2i_bot(
        self, *args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        """The installed `s2i-bot` console script in `cwd`, with a user's environment: none of
        this checkout's S2I_BOT_* settings or PYTHONPATH, plus `env`."""
        clean = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith("S2I_BOT_") and k != "PYTHONPATH"
        }
        return subprocess.run(
            [str(self.venv / "bin" / "s2i-bot"), *args],
            cwd=cwd, env=clean | (env or {}), capture_output=True, text=True, timeout=timeout,
            check=False,
        )  # fmt: skip


_installed: dict[Path, InstalledWheel] = {}


def installed_wheel(root: Path) -> InstalledWheel:
    """Build the wheel and install it into `root`/venv, once per `root` (a session's tmp dir)."""
    if root not in _installed:
        root.mkdir(parents=True, exist_ok=True)
        wheel = Path(_run(["bash", str(REPO_ROOT / "scripts" / "wheel.sh"), str(root / "dist")]))
        venv = root / "venv"
        started = time.monotonic()
        # The base interpreter, not this virtualenv's site-packages: nothing of the checkout's
        # environment leaks into the user's.
        _run([sys.executable, "-m", "venv", str(venv)])
        pip = [str(venv / "bin" / "python"), "-m", "pip"]
        # --no-compile: bytecode changes nothing the tests look at and, for the kubernetes
        # client's thousands of modules, takes about as long as the rest of the install.
        install = [*pip, "install", "-q", "--no-compile", "--no-index", "--find-links",
                   str(WHEELHOUSE), str(wheel)]  # fmt: skip
        if subprocess.run(install, capture_output=True, check=False).returncode != 0:
            _run([*pip, "wheel", "-q", "-w", str(WHEELHOUSE), str(wheel)])
            for own in WHEELHOUSE.glob("s2i_bot-*.whl"):  # only the dependencies stay
                own.unlink()
            _run(install)
        _installed[root] = InstalledWheel(wheel, venv, time.monotonic() - started)
    return _installed[root]


def _run(argv: list[str]) -> str:
    result = subprocess.run(argv, capture_output=True, text=True, check=False, cwd="/")
    assert result.returncode == 0, f"{' '.join(argv)}:\n{result.stdout}\n{result.stderr}"
    return result.stdout.strip()


def application_repository(root: Path, builds: list[dict[str, object]]) -> Path:
    """An application's git repository (outside the checkout) with a `.s2i.yaml`."""
    root.mkdir(parents=True, exist_ok=True)
    (root / ".s2i.yaml").write_text(yaml.safe_dump({"builds": builds}, sort_keys=False))
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", "-C", str(root)]
    _run([*git, "init", "-q", "-b", "main"])
    _run([*git, "add", "-A"])
    _run([*git, "commit", "-q", "-m", "app"])
    return root
