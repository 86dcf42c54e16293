"""The dispatcher: runs queued builds on the executor, at most N at a time and at most M of
one repository (so one busy repository cannot take every slot), cancels the ones that are
superseded or stopped, and reports each state change through the outbox. Every transition is
written to the store before it is reported, so a restart can pick up exactly where the bot
stopped."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from bot.build_logs import LogStore
from bot.build_record import Build
from bot.build_result import BuildResult
from bot.executors.base import Executor
from bot.outbox import Outbox
from bot.runner.credentials import Credentials
from bot.store import Store

log = logging.getLogger(__name__)


class Dispatcher:
    def __init__(
        self,
        store: Store,
        executor: Executor,
        outbox: Outbox,
        logs: LogStore,
        credentials_for: Callable[[Build], Credentials],
        max_concurrent: int,
        *,
        max_per_repo: int | None = None,
    ) -> None:
        self._store, self._executor, self._outbox, self._logs = store, executor, outbox, logs
        self._credentials_for = credentials_for
        self._slots = asyncio.Semaphore(max_concurrent)
        # One semaphore per repository (as many as repositories built since the start).
        self._max_per_repo = max_per_repo or max_concurrent
        self._repo_slots: dict[tuple[str, str], asyncio.Semaphore] = {}
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

    async def cancel(self, build: Build, reason: str) -> None:
        """Stop a queued or running build; it ends `cancelled` with the reason."""
        cancelled = await asyncio.to_thread(self._store.cancel, build.id, reason)
        if cancelled is None:
            return  # it finished first
        self._logs.append(build.id, f"CANCELLED: {reason}\n")
        task = self._tasks.get(build.id)
        if task is not None:
            await self._executor.cancel(build.id, self._logs.path(build.id))
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        await self._outbox.status(cancelled)

    async def _run(self, build: Build) -> None:
        spec = build.spec
        assert spec is not None, "only builds with a spec are dispatched"
        repo_slots = self._repo_slots.setdefault(
            (build.forge, build.repo), asyncio.Semaphore(self._max_per_repo)
        )
        # The repository's slot first: a build waiting for it holds none of the shared ones.
        async with repo_slots, self._slots:
            running = await asyncio.to_thread(self._store.mark_running, build.id)
            if running.state.finished:  # cancelled while it waited for a slot
                return
            await self._outbox.status(running)
            try:
                result = await self._executor.run(
                    build.id, spec, self._credentials_for(build), self._logs.path(build.id)
                )
            except asyncio.CancelledError:
                # Cancelled (the store says so already) or shutting down: then the build stays
                # "running" and is run again on the next start.
                raise
            except Exception as exc:
                log.exception("build %s: the executor failed", build.id)
                result = BuildResult(state="error", reason=f"the executor failed: {exc}")
            finished = await asyncio.to_thread(self._store.finish, build.id, result)
            await self._outbox.status(finished)

    async def idle(self) -> None:
        """Wait until every submitted build has finished."""
        while self._tasks:
            await asyncio.gather(*self._tasks.values(), return_exceptions=True)

    async def shutdown(self) -> None:
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
