"""The dispatcher: runs queued builds on the executor, at most N at a time, and reports each
state change through the status outbox. Every transition is written to the store before it
is reported, so a restart can pick up exactly where the bot stopped."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from bot.build import Build
from bot.build_spec import BuildResult, BuildSpec
from bot.logs import LogStore
from bot.outbox import StatusOutbox
from bot.runner.credentials import Credentials
from bot.store import Store

log = logging.getLogger(__name__)


class Executor(Protocol):
    async def run(
        self, build_id: int, spec: BuildSpec, credentials: Credentials, log_path: Path
    ) -> BuildResult: ...


class Dispatcher:
    def __init__(
        self,
        store: Store,
        executor: Executor,
        outbox: StatusOutbox,
        logs: LogStore,
        credentials_for: Callable[[Build], Credentials],
        max_concurrent: int,
    ) -> None:
        self._store, self._executor, self._outbox, self._logs = store, executor, outbox, logs
        self._credentials_for = credentials_for
        self._slots = asyncio.Semaphore(max_concurrent)
        self._tasks: dict[int, asyncio.Task[None]] = {}

    def submit(self, build: Build) -> None:
        if build.id in self._tasks:
            return
        task = asyncio.create_task(self._run(build), name=f"build-{build.id}")
        self._tasks[build.id] = task
        task.add_done_callback(lambda _: self._tasks.pop(build.id, None))

    @property
    def active(self) -> int:
        return len(self._tasks)

    async def _run(self, build: Build) -> None:
        spec = build.spec
        assert spec is not None, "only builds with a spec are dispatched"
        async with self._slots:
            build = await asyncio.to_thread(self._store.mark_running, build.id)
            self._outbox.put(build)
            try:
                result = await self._executor.run(
                    build.id, spec, self._credentials_for(build), self._logs.path(build.id)
                )
            except asyncio.CancelledError:
                raise  # shutting down: the build stays "running" and is re-run on start
            except Exception as exc:
                log.exception("build %s: the executor failed", build.id)
                result = BuildResult(state="error", reason=f"the executor failed: {exc}")
            build = await asyncio.to_thread(self._store.finish, build.id, result)
            self._outbox.put(build)

    async def idle(self) -> None:
        """Wait until every submitted build has finished."""
        while self._tasks:
            await asyncio.gather(*self._tasks.values(), return_exceptions=True)

    async def shutdown(self) -> None:
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
