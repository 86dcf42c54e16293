"""What every executor offers: run a build somewhere, cancel it. The dispatcher holds one."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from bot.build_result import BuildResult
from bot.build_spec import BuildSpec
from bot.runner.credentials import Credentials


class Executor(Protocol):
    async def run(
        self, build_id: int, spec: BuildSpec, credentials: Credentials, log_path: Path
    ) -> BuildResult:
        """Run the build. Cancelling the awaiting task means the bot is stopping: the build
        may go on where that makes sense (a Job, adopted by the next start)."""
        ...

    async def cancel(self, build_id: int, log_path: Path) -> None:
        """Stop the build for good (kill its processes, delete its Job)."""
        ...
