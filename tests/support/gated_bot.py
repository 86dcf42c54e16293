"""`python -m tests.support.gated_bot CONFIG GATES`: `s2i-bot serve` as its users run it, but
with builds that the test drives through files in GATES (tests/fakes/executor.py
FileGatedExecutor): for tests of several bot processes where a real build is not the point."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import uvicorn

from bot.settings import load_settings
from bot.web.app import create_app
from bot.wiring import build_bot
from tests.fakes.executor import FileGatedExecutor


def main(config: Path, gates: Path) -> None:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    settings = load_settings(config)
    bot = build_bot(settings, executor=FileGatedExecutor(gates))
    uvicorn.run(create_app(bot), host=settings.host, port=settings.port, log_level="info")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
