"""Let the tests' Python (this process and the bots and commands it starts) cache bytecode
when the environment says not to write it (PYTHONDONTWRITEBYTECODE, set on this project's
machines). Without it every pytest process and every `python -m bot.cli` it starts compiles
bot/ and tests/ from source again, and pytest rewrites every test module's asserts again: 3 s
of each xdist worker's collection here, 0.1 to 0.3 s of each process a test starts.

The bytecode goes where Python puts it by default, the __pycache__ directories git ignores
(.gitignore), beside those pip wrote in the venv (which a PYTHONPYCACHEPREFIX elsewhere would
have every process compile again once)."""

from __future__ import annotations

import os
import sys


def cache_bytecode() -> None:
    sys.dont_write_bytecode = False
    # The processes the tests start (tests/support/bot_process.user_environment) do the same.
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
