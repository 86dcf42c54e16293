"""The dispatcher: runs queued builds on the executor, at most N at a time and at most M of
one repository (so one busy repository cannot take every slot), cancels the ones that are
superseded or stopped, and reports each state change through the outbox. Every transition is
written to the store before it is reported, so a restart can pick up exactly where the bot
stopped.

With several replicas a build runs on its owner (bot/store.py): a build another replica
took over, or cancelled, is not run or finished here (`mark_running`, `finish` say so), and
one this replica's heartbeat finds it no longer holds is stopped (`lose`). While a build runs,
its log is shipped to the store (bot/build_logs.py)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from bot import log_context
from bot.build_logs import SHIP_INTERVAL, LogStore
from bot.build_record import Build
from bot.build_result import BuildResult
from bot.executors.base import Executor
from bot.metrics import Metrics
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
        metrics: Metrics | None = None,
    ) -> None:
        self._store, self._executor, self._outbox, self._logs = store, executor, outbox, logs
        self._metrics = metrics or Metrics()
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

    @property
    def held(self) -> set[int]:
        """The builds this replica runs or has queued: its heartbeat renews their leases."""
        return set(self._tasks)

    async def lose(self, build_ids: set[int]) -> None:
        """Stop builds this replica no longer holds (cancelled by another replica, or taken
        over after its lease expired): no result of theirs is recorded or reported here. A
        Job is left alone (cancel() deletes it where a build is cancelled); a local runner
        goes with its task."""
        tasks = [self._tasks[i] for i in build_ids if i in self._tasks]
        for build_id in build_ids:
            if build_id in self._tasks:
                log.warning("build %s: no longer held by this replica; stopping it", build_id)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def cancel(self, build: Build, reason: str) -> None:
        """Stop a queued or running build; it ends `cancelled` with the reason."""
        cancelled = await asyncio.to_thread(self._store.cancel, build.id, reason)
        if cancelled is None:
            return  # it finished first
        self._metrics.build_ended(cancelled)
        await asyncio.to_thread(self._logs.append, build.id, f"CANCELLED: {reason}\n")
        # Whichever replica runs it: a Job is deleted from here; a local runner of another
        # replica is stopped by that replica, whose heartbeat finds the build cancelled.
        await self._executor.cancel(build.id, self._logs.path(build.id))
        task = self._tasks.get(build.id)
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        await self._outbox.status(cancelled)

    async def _run(self, build: Build) -> None:
        spec = build.spec
        assert spec is not None, "only builds with a spec are dispatched"
        log_context.build_id.set(build.id)  # this task's log lines name the build
        repo_slots = self._repo_slots.setdefault(
            (build.forge, build.repo), asyncio.Semaphore(self._max_per_repo)
        )
        # The repository's slot first: a build waiting for it holds none of the shared ones.
        async with repo_slots, self._slots:
            running = await asyncio.to_thread(self._store.mark_running, build.id)
            if running is None or running.state.finished:  # taken over, or cancelled
                return
            self._metrics.build_started(running)
            await self._outbox.status(running)
            await asyncio.to_thread(self._logs.start, build.id)
            shipping = asyncio.create_task(self._ship(build.id))
            try:
                result = await self._executor.run(
                    build.id, spec, self._credentials_for(build), self._logs.path(build.id)
                )
            except asyncio.CancelledError:
                # Cancelled (the store says so already), lost, or shutting down: then the
                # build stays "running", for a replica (this one after a restart) to adopt.
                raise
            except Exception as exc:
                log.exception("build %s: the executor failed", build.id)
                result = BuildResult(state="error", reason=f"the executor failed: {exc}")
            finally:
                shipping.cancel()
                await asyncio.to_thread(self._logs.end, build.id)
            finished = await asyncio.to_thread(self._store.finish, build.id, result)
            if finished is not None:  # else cancelled or taken over meanwhile: not ours
                self._metrics.build_ended(finished)
                await self._outbox.status(finished)

    async def _ship(self, build_id: int) -> None:
        while True:
            await asyncio.sleep(SHIP_INTERVAL)
            try:
                await asyncio.to_thread(self._logs.ship, build_id)
            except Exception:  # the store failing: the next round ships it
                log.exception("build %s: shipping its log failed", build_id)

    async def idle(self) -> None:
        """Wait until every submitted build has finished."""
        while self._tasks:
            await asyncio.gather(*self._tasks.values(), return_exceptions=True)

    async def shutdown(self) -> None:
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
