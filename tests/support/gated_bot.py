"""`python -m tests.support.gated_bot CONFIG [GATES]`: `s2i-bot serve` as its users run it
(bot.cli.main: its logging, its checks, its exit codes), but with builds that the test drives
through files in GATES (tests/fakes/executor.py FileGatedExecutor): for tests of several bot
processes where a real build is not the point. Without GATES the bot builds nothing (NoBuilds:
a build asked for fails): for process tests where nothing is to be built (memory, the log
lines the command writes), whose start then does not wait for the local executor to ask the
engine for the images old builds left (bot/executors/local_images.py)."""

from __future__ import annotations

import sys
from pathlib import Path

from bot.cli import main
from bot.executors.base import Executor
from tests.fakes.executor import FileGatedExecutor, NoBuilds

if __name__ == "__main__":
    gates = Path(sys.argv[2]) if len(sys.argv) > 2 else None
    executor: Executor = FileGatedExecutor(gates) if gates is not None else NoBuilds()
    sys.exit(main(["--config", sys.argv[1], "serve"], executor=executor))
