"""An Executor whose builds finish when the test says so: for dispatcher tests that are about
scheduling, not building (the real runner is tested end to end in tests/e2e)."""

from __future__ import annotations

import asyncio
import os
import threading
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


class QuickBuilds:
    """An Executor whose every build ends with the result the test chose, at once, or, while
    the test holds them (hold()), as soon as it releases them (release(): from any thread):
    for tests of what the bot decides to build and reports (catch-up, missed deliveries), not
    of building, which needs the real s2i and engine (tests/e2e). It records each build it ran
    and, like NoBuilds, never asks the engine anything."""

    def __init__(self, result: BuildResult, poll: float = 0.02, log: str = "") -> None:
        """`log`: what each build writes to its log after its first line (a real build's
        recorded output, e.g. a compiler's errors, tests/unit/data/failures)."""
        self.result, self.poll, self.log = result, poll, log
        self.ran: list[tuple[int, str, str]] = []  # (build id, repository, commit)
        self._open = threading.Event()
        self._open.set()

    def hold(self) -> None:
        """Builds started from now on run until release()."""
        self._open.clear()

    def release(self) -> None:
        self._open.set()

    async def run(
        self, build_id: int, spec: BuildSpec, credentials: Credentials, log_path: Path
    ) -> BuildResult:
        self.ran.append((build_id, spec.repo, spec.source.sha))
        with log_path.open("a") as log:
            log.write(f"fake build {build_id} of {spec.repo} at {spec.source.sha}\n")
        while not self._open.is_set():  # the test's word, from its own thread
            await asyncio.sleep(self.poll)
        if self.log:
            with log_path.open("a") as log:
                log.write(self.log)
        return self.result

    async def cancel(self, build_id: int, log_path: Path) -> None:
        """Cancelling the task that awaits run() stops the build."""

    def runs_of(self, repo: str, sha: str) -> int:
        """How many builds of `sha` this executor ran."""
        return sum(1 for _, r, s in self.ran if (r, s) == (repo, sha))


class FileGatedExecutor:
    """An Executor for a bot running as its own process (tests/support/gated_bot.py), whose
    builds a test drives through files in `gates`: a build that starts appends
    `<build id> <pid>` to `gates/runs` and a line to its log, and ends when
    `gates/<build id>.json` (a BuildResult) appears. Killing the bot kills its builds."""

    def __init__(self, gates: Path, poll: float = 0.05) -> None:
        self.gates, self.poll = gates, poll

    async def run(
        self, build_id: int, spec: BuildSpec, credentials: Credentials, log_path: Path
    ) -> BuildResult:
        with (self.gates / "runs").open("a") as runs:
            runs.write(f"{build_id} {os.getpid()}\n")
        with log_path.open("a") as log:
            log.write(f"fake build {build_id} of {spec.repo} running in process {os.getpid()}\n")
        result = self.gates / f"{build_id}.json"
        while not result.exists():  # the test's word, from another process
            await asyncio.sleep(self.poll)
        return BuildResult.model_validate_json(result.read_text())

    async def cancel(self, build_id: int, log_path: Path) -> None:
        """Cancelling the task that awaits run() stops the build."""

    def runs(self) -> list[tuple[int, int]]:
        """(build id, pid) of every build started so far, in order."""
        path = self.gates / "runs"
        lines = path.read_text().splitlines() if path.exists() else []
        return [(int(b), int(p)) for b, p in (line.split() for line in lines)]

    def finish(self, build_id: int, result: BuildResult) -> None:
        partial = self.gates / f"{build_id}.json.part"
        partial.write_text(result.model_dump_json())
        partial.rename(self.gates / f"{build_id}.json")  # appears whole


class ScriptedBuilds:
    """An Executor whose builds write the log lines a test gives them and end with the result
    it gives, each when the test says so, from any thread (a browser test drives the page from
    its own thread while the bot serves in another): for the build page, whose live log is
    the point, not building (the real runner is tests/e2e's). Never asks the engine anything."""

    def __init__(self, poll: float = 0.02) -> None:
        self.poll = poll
        self._lock = threading.Lock()
        self._logs: dict[int, Path] = {}  # running builds' spool files
        self._results: dict[int, BuildResult] = {}
        self.started: list[int] = []

    async def run(
        self, build_id: int, spec: BuildSpec, credentials: Credentials, log_path: Path
    ) -> BuildResult:
        with self._lock:
            self._logs[build_id] = log_path
            self.started.append(build_id)
        try:
            while True:
                with self._lock:
                    if build_id in self._results:
                        return self._results.pop(build_id)
                await asyncio.sleep(self.poll)
        finally:
            with self._lock:
                self._logs.pop(build_id, None)

    async def cancel(self, build_id: int, log_path: Path) -> None:
        """Cancelling the task that awaits run() stops the build."""

    def write(self, build_id: int, text: str) -> None:
        """Append `text` to the running build's log, as a runner's output would be."""
        with self._lock:
            path = self._logs[build_id]
        with path.open("a") as log:
            log.write(text)

    def finish(self, build_id: int, result: BuildResult) -> None:
        with self._lock:
            self._results[build_id] = result
