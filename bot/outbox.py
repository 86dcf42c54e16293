"""The outbox: what the bot tells the forges (statuses, the PR comment, replies) leaves in
order, off the builds' critical path, and survives forge outages and restarts.

- Items live in the store until the forge took them; a failed send is tried again later, with
  the wait the forge asked for (Retry-After / rate-limit reset) or an exponential back-off.
- Writes are spaced `min_interval` apart: GitHub asks integrations to wait a second between
  writes to stay clear of secondary rate limits ("Best practices for using the REST API").
- An item has a key (one commit status, one check run, one PR comment); a newer put replaces
  an item not yet sent, so the forge gets fewer writes and ends on the latest state.
- A build's state goes out as a commit status, or as a GitHub check run (one per build, keyed
  by the build), or both: what each forge reports with is wired from the settings
  (bot/wiring.py `report_kinds`).
- A pending status waits `settle` seconds, so a build that starts as soon as it is queued shows
  "building" once instead of "queued" then "building" a moment later.
- Several replicas share one outbox table: an item is claimed (bot/store.py `outbox_claim`)
  before it is sent, so each is sent by one replica; what a key sent last stays in its row
  (a digest), so a version that would send the same again is not sent, whichever replica
  takes it. A claim whose replica died expires and another sends the item (then a send cut
  short by the kill may reach the forge twice: a status set twice to the same state, the
  comment edited twice, once in a while a reply twice).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Collection

from bot.build_record import Build
from bot.commit_status import context_of
from bot.forges.base import PermanentForgeError, RateLimited
from bot.reporter import Reporter
from bot.store import OutboxItem, Store

log = logging.getLogger(__name__)

MAX_BACKOFF = 600.0


DRAIN_POLL = 0.05  # seconds


class Outbox:
    def __init__(
        self, store: Store, reporter: Reporter, *, min_interval: float = 1.0, settle: float = 0.25,
        check_runs: Collection[str] = (), statuses: Collection[str] | None = None,
    ) -> None:  # fmt: skip
        """`check_runs`: the forges that show builds as check runs; `statuses`: those that
        show them as commit statuses (None: every forge)."""
        self._store, self._reporter = store, reporter
        self._check_runs, self._statuses = frozenset(check_runs), statuses
        self._min_interval, self._settle = min_interval, settle
        self._wake = asyncio.Event()
        self._empty = asyncio.Event()
        self._last_write = float("-inf")  # monotonic
        self._worker: asyncio.Task[None] | None = None
        self.sending: str | None = None  # the key of the item being sent: the heartbeat renews it

    # -- putting
    async def _put(self, key: str, kind: str, payload: dict[str, object], delay: float) -> None:
        await asyncio.to_thread(self._store.outbox_put, key, kind, payload, time.time() + delay)
        self._empty.clear()
        self._wake.set()

    async def status(self, build: Build) -> None:
        """The build's state, as its forge shows builds: a commit status, a check run."""
        delay = 0.0 if build.state.finished else self._settle
        if self._statuses is None or build.forge in self._statuses:
            key = f"status:{build.forge}:{build.repo}:{build.sha}:{context_of(build)}"
            await self._put(key, "status", {"build_id": build.id}, delay)
        if build.forge in self._check_runs:
            await self._put(f"check_run:{build.id}", "check_run", {"build_id": build.id}, delay)
        if build.pr is not None:
            await self.pull_comment(build.forge, build.repo, build.pr)

    async def pull_comment(self, forge: str, repo: str, pr: int) -> None:
        payload = {"forge": forge, "repo": repo, "pr": pr}
        await self._put(f"pull_comment:{forge}:{repo}:{pr}", "pull_comment", payload, self._settle)

    async def reply(self, forge: str, repo: str, pr: int, body: str) -> None:
        payload = {"forge": forge, "repo": repo, "pr": pr, "body": body}
        await self._put(f"reply:{uuid.uuid4()}", "reply", payload, 0.0)

    # -- sending
    def start(self) -> None:
        if self._worker is None:
            self._worker = asyncio.create_task(self._run(), name="outbox")
            self._wake.set()  # items left by the last run

    def wake(self) -> None:
        """Look again now (items another replica put, or left when it died)."""
        self._wake.set()

    async def _run(self) -> None:
        while True:
            spacing = self._last_write + self._min_interval - time.monotonic()
            if spacing > 0:
                await asyncio.sleep(spacing)
            # Clear before reading: a put that lands while we read sets it again, so the wait
            # below returns at once instead of missing it.
            self._wake.clear()
            item = await asyncio.to_thread(self._store.outbox_claim)
            if item is not None:
                await self._send(item)
                continue
            next_due = await asyncio.to_thread(self._store.outbox_next_due)
            if next_due is None:
                if not self._wake.is_set():
                    self._empty.set()
                await self._wait(None)
                continue
            await self._wait(max(next_due - time.time(), 0.0))

    async def _wait(self, timeout: float | None) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout)

    async def _send(self, item: OutboxItem) -> None:
        self.sending = item.key
        try:
            await self._deliver(item)
        finally:
            self.sending = None

    async def _deliver(self, item: OutboxItem) -> None:
        try:
            # What the key sent last (item.sent): a state sent twice (a race between a send
            # and a newer put, on any replica) goes out once.
            sent = await asyncio.to_thread(self._reporter.send, item.kind, item.payload, item.sent)
        except RateLimited as exc:
            log.warning("%s: rate limited, trying again in %.0fs", item.key, exc.retry_after)
            await self._retry(item, exc.retry_after, str(exc))
        except PermanentForgeError as exc:
            log.error("%s: the forge refused it for good, dropping it: %s", item.key, exc)
            await asyncio.to_thread(self._store.outbox_done, item, item.sent)
        except Exception as exc:
            delay = min(2.0**item.attempts, MAX_BACKOFF)
            log.warning("%s: not delivered (%s), trying again in %.0fs", item.key, exc, delay)
            await self._retry(item, delay, repr(exc))
        else:
            await asyncio.to_thread(self._store.outbox_done, item, sent)
        self._last_write = time.monotonic()

    async def _retry(self, item: OutboxItem, delay: float, error: str) -> None:
        await asyncio.to_thread(self._store.outbox_retry, item, time.time() + delay, error)

    async def drain(self) -> None:
        """Wait until everything put so far was delivered (or dropped as refused for good),
        here or by another replica. The worker says when it found nothing to take; an item
        another replica holds it does not take, and waits for that claim to expire, so the
        store is also asked every DRAIN_POLL seconds."""
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._empty.wait(), DRAIN_POLL)
            if not await asyncio.to_thread(self._store.outbox_items):
                return
            self._empty.clear()

    async def close(self) -> None:
        """Stop sending; what is left stays in the store for the next start."""
        if self._worker is not None:
            self._worker.cancel()
            await asyncio.gather(self._worker, return_exceptions=True)
            self._worker = None
