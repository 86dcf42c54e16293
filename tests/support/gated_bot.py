"""`python -m tests.support.gated_bot CONFIG [GATES]`: `s2i-bot serve` as its users run it, but
with builds that the test drives through files in GATES (tests/fakes/executor.py
FileGatedExecutor): for tests of several bot processes where a real build is not the point.
Without GATES the bot builds nothing (NoBuilds: a build asked for fails): for process tests
where nothing is to be built (memory), whose start then does not wait for the local
executor to ask the engine for the images old builds left (bot/executors/local_images.py)."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import uvicorn

from bot.executors.base import Executor
from bot.settings import load_settings
from bot.web.app import create_app
from bot.wiring import build_bot
from tests.fakes.executor import FileGatedExecutor, NoBuilds


def main(config: Path, gates: Path | None) -> None:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    settings = load_settings(config)
    executor: Executor = FileGatedExecutor(gates) if gates is not None else NoBuilds()
    bot = build_bot(settings, executor=executor)
    uvicorn.run(
        create_app(bot),
        host=settings.host,
        port=settings.port,
        log_level="info",
        access_log=settings.access_log,
    )  # fmt: skip  (as bot/cli.py serves it)


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]) if len(sys.argv) > 2 else None)
