"""An Executor whose builds finish when the test says so: for dispatcher tests that are about
scheduling, not building (the real runner is tested end to end in tests/e2e)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from bot.build_result import BuildResult
from bot.build_spec import BuildSpec
from bot.runner.credentials import Credentials


class GatedExecutor:
    def __init__(self) -> None:
        self.running: set[int] = set()
        self.max_running = 0
        self.started: list[int] = []
        self.cancelled: list[int] = []
        self._gates: dict[int, asyncio.Future[BuildResult]] = {}
        self.changed = asyncio.Event()

    async def run(
        self, build_id: int, spec: BuildSpec, credentials: Credentials, log_path: Path
    ) -> BuildResult:
        self.running.add(build_id)
        self.started.append(build_id)
        self.max_running = max(self.max_running, len(self.running))
        gate = self._gates[build_id] = asyncio.get_running_loop().create_future()
        self.changed.set()
        try:
            result: BuildResult = await gate
            return result
        finally:
            self.running.discard(build_id)
            self.changed.set()

    async def cancel(self, build_id: int, log_path: Path) -> None:
        self.cancelled.append(build_id)

    def finish(self, build_id: int, result: BuildResult) -> None:
        self._gates[build_id].set_result(result)

    async def wait(self, predicate: object) -> None:
        assert callable(predicate)
        while not predicate():
            self.changed.clear()
            await asyncio.wait_for(self.changed.wait(), timeout=5)


class NoBuilds:
    """The executor of a bot whose tests build nothing (builds are e2e: the real s2i and
    engine): it records every build it is asked for and fails it, and the test's teardown
    asserts it was asked for none (tests/support/bot_in_process.py). Unlike the local
    executor it never asks the engine anything, not even at start."""

    def __init__(self) -> None:
        self.asked: list[tuple[int, str]] = []  # (build id, output image)

    async def run(
        self, build_id: int, spec: BuildSpec, credentials: Credentials, log_path: Path
    ) -> BuildResult:
        self.asked.append((build_id, spec.output))
        raise RuntimeError(f"build {build_id} ({spec.output}): this test's bot runs no builds")

    async def cancel(self, build_id: int, log_path: Path) -> None:
        self.asked.append((build_id, "cancel"))
