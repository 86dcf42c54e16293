"""The status outbox: commit statuses leave in order, off the build's critical path.

Builds never wait for the forge: a state change is put here and one worker delivers it.
- Writes to a forge are spaced `min_interval` apart: GitHub asks integrations to wait a second
  between writes to stay clear of secondary rate limits ("Best practices for using the REST API").
- A newer state of the same status (repo, sha, context) replaces one not yet sent, so the forge
  gets fewer writes and ends on the latest state either way.
- A pending state waits `settle` seconds before it is sent, so a build that starts as soon as it
  is queued shows "building" once instead of "queued" then "building" a moment later.
  Final states go out as soon as the write spacing allows.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass

from bot.build import Build
from bot.reporter import CONTEXT_PREFIX, Reporter

log = logging.getLogger(__name__)

StatusKey = tuple[str, str, str, str]  # forge, repo, sha, context


@dataclass(frozen=True, slots=True)
class _Entry:
    build: Build
    ready_at: float  # loop time after which it may be sent


class StatusOutbox:
    def __init__(self, reporter: Reporter, *, min_interval: float = 1.0, settle: float = 0.25):
        self._reporter = reporter
        self._min_interval, self._settle = min_interval, settle
        self._pending: dict[StatusKey, _Entry] = {}  # insertion-ordered: oldest first
        self._changed = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._last_write = float("-inf")
        self._worker: asyncio.Task[None] | None = None

    def put(self, build: Build) -> None:
        now = asyncio.get_running_loop().time()
        key = (build.forge, build.repo, build.sha, CONTEXT_PREFIX + build.name)
        ready_at = now if build.state.finished else now + self._settle
        if (previous := self._pending.get(key)) is not None:
            ready_at = min(ready_at, previous.ready_at)  # replacing never postpones
        self._pending[key] = _Entry(build, ready_at)  # a replaced key keeps its place
        self._idle.clear()
        self._changed.set()
        if self._worker is None:
            self._worker = asyncio.create_task(self._run(), name="status-outbox")

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await self._changed.wait()
            self._changed.clear()
            while self._pending:
                key, entry = next(iter(self._pending.items()))
                delay = max(entry.ready_at, self._last_write + self._min_interval) - loop.time()
                if delay > 0:
                    # Wait, but wake up when a newer state arrives: it may replace this one.
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._changed.wait(), delay)
                    self._changed.clear()
                    continue
                del self._pending[key]
                try:
                    await asyncio.to_thread(self._reporter.report, entry.build)
                except Exception:  # the reporter logs; one bad status must not stop the rest
                    log.exception("status for build %s was not delivered", entry.build.id)
                self._last_write = loop.time()
            self._idle.set()

    async def drain(self) -> None:
        """Wait until every status put so far was delivered (or given up on)."""
        await self._idle.wait()

    async def close(self) -> None:
        await self.drain()
        if self._worker is not None:
            self._worker.cancel()
            await asyncio.gather(self._worker, return_exceptions=True)
