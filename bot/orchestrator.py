"""The orchestrator: one stored delivery -> a normalised Event -> Actions -> carried out.

It owns no state of its own beyond what is being processed: every decision is recorded in the
store first (by intake and pull requests), then carried out by the dispatcher and the outbox.
On start it recovers what the last run left: queued and running builds, unprocessed
deliveries, unsent statuses.

Intake never waits on processing: the webhook route stores a delivery (bot.delivery_writer)
and hands it to `accept`; a bounded pool of workers (`delivery_workers`) claims and processes
stored deliveries, so a burst is acknowledged at once and drained at the workers' pace. Calls
that reach the forge's API run in a bounded pool of their own (`forge_threads`), never in the
default thread pool the store's calls use. `backlog` is what waits for a worker: past
`max_backlog` the route answers 503 and stores nothing.

No delivery loops forever: an attempt that raises is counted and tried again later, each wait
twice the last (from `delivery_retry_interval`, at most MAX_RETRY_WAIT); after
`max_delivery_attempts` the delivery is given up, marked processed with the cause, and the
commit it names gets an `error` status saying why.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

from bot.actions import Actions
from bot.build_logs import LogStore
from bot.build_record import Build, BuildState
from bot.delivery_writer import DeliveryWriter
from bot.dispatcher import Dispatcher
from bot.events import Event, EventKind
from bot.forges.base import ForgeApi, ForgeError, UnknownRepository, WebhookParser
from bot.intake import Intake
from bot.outbox import Outbox
from bot.pull_requests import PullRequests
from bot.settings import Settings
from bot.store import Delivery, Store

log = logging.getLogger(__name__)

MAX_RETRY_WAIT = 3600.0
# How long one attempt may take before the retry loop may start another (a claim, so the loop
# and the webhook's own task never process one delivery at the same time).
ATTEMPT_LEASE = 600.0
_CAUSE_MAX = 500


def retry_wait(interval: float, attempts: int) -> float:
    """Seconds before the next attempt, after `attempts` failed ones: doubling, bounded."""
    return float(min(interval * 2 ** max(attempts - 1, 0), MAX_RETRY_WAIT))


def failure_cause(exc: BaseException) -> str:
    """What went wrong, in one bounded line (a forge error's message says it already)."""
    text = str(exc) if isinstance(exc, ForgeError) else f"{type(exc).__name__}: {exc}"
    text = " ".join(text.split())
    return text if len(text) <= _CAUSE_MAX else text[: _CAUSE_MAX - 1] + "…"


RETENTION_INTERVAL = 3600.0  # seconds between two rounds of the retention duty


def forget_before(store: Store, logs: LogStore, cutoff: datetime) -> int:
    """Delete the deliveries and finished builds older than `cutoff` and their log files,
    and log files of builds no longer in the store (a crash between the two) written before
    it; the number of builds deleted (docs/security.md, "Nothing kept forever")."""
    ids = store.delete_finished_before(cutoff)
    logs.delete(ids)
    logs.delete(i for i in logs.written_before(cutoff) if store.find_build(i) is None)
    return len(ids)


@dataclass
class Bot:
    """Everything one running bot holds, wired once by bot.wiring.build_bot."""

    settings: Settings
    store: Store
    webhooks: Mapping[str, WebhookParser]
    forges: Mapping[str, ForgeApi]
    logs: LogStore
    intake: Intake
    pulls: PullRequests
    dispatcher: Dispatcher
    outbox: Outbox
    writer: DeliveryWriter
    forge_pool: ThreadPoolExecutor  # where calls that reach the forge's API run
    # Passes that find what the forges sent and the bot missed, each storing deliveries for
    # the workers: the hooks' delivery logs, then branch heads never built (bot.wiring).
    missed: list[Callable[[], list[Delivery]]] = field(default_factory=list)
    _tidying: asyncio.Task[None] | None = None  # the retention duty, from recover()
    _recovering: asyncio.Task[None] | None = None  # the missed-deliveries duty, likewise
    _queue: asyncio.Queue[Delivery] = field(default_factory=asyncio.Queue)
    _queued: set[str] = field(default_factory=set)  # ids in _queue or being processed
    _workers: list[asyncio.Task[None]] = field(default_factory=list)
    _processing: set[asyncio.Task[None]] = field(default_factory=set)

    @property
    def backlog(self) -> int:
        """Deliveries stored (or being stored) that wait for a worker or are processed."""
        return len(self._queued) + self.writer.pending

    def accept(self, delivery: Delivery) -> None:
        """A stored delivery, for the workers to process (once: one already waiting is not
        queued again)."""
        if delivery.id not in self._queued:
            self._queued.add(delivery.id)
            self._queue.put_nowait(delivery)

    def start_workers(self) -> None:
        for index in range(max(self.settings.delivery_workers, 1)):
            self._workers.append(asyncio.create_task(self._work(), name=f"delivery-{index}"))

    async def _work(self) -> None:
        while True:
            delivery = await self._queue.get()
            task = asyncio.create_task(self.process(delivery))
            self._processing.add(task)
            try:
                # Shielded: stopping the worker lets the delivery it holds finish (stop()).
                await asyncio.shield(task)
            except Exception:  # the store failing: the retry loop takes it again later
                log.exception("delivery %s: processing failed", delivery.id)
            finally:
                self._processing.discard(task)
                self._queued.discard(delivery.id)

    async def _on_forge(self, call: Callable[[], Actions | Build | None]) -> object:
        return await asyncio.get_running_loop().run_in_executor(self.forge_pool, call)

    def _handle(self, delivery: Delivery, event: Event) -> Actions:
        # The payload names the repository; the forge's API confirms it, and the configuration
        # says where to clone it from (ForgeApi.repository): nothing is fetched from where a
        # payload points.
        try:
            repo = self.forges[delivery.forge].repository(event.repo.full_name, event.repo.id)
        except UnknownRepository as exc:
            log.warning("delivery %s: %s; nothing done", delivery.id, exc)
            return Actions(outcome=str(exc))
        event = replace(event, repo=repo)
        if event.kind in (EventKind.PULL_REQUEST, EventKind.COMMENT):
            return self.pulls.handle(delivery, event)
        return self.intake.builds_for(delivery, event)

    async def process(self, delivery: Delivery) -> None:
        """Delivery -> actions -> carried out. Failing before the actions are recorded leaves
        the delivery unprocessed, to be tried again later (a bounded number of times): nothing
        is lost, and nothing is tried forever."""
        now = time.time()
        claimed = await asyncio.to_thread(
            self.store.claim_delivery, delivery.id, now + ATTEMPT_LEASE, now=now
        )
        if not claimed:
            return  # processed meanwhile, or another attempt is under way
        event: Event | None = None
        try:
            webhook = self.webhooks[delivery.forge].parse(delivery.headers, delivery.body)
            if not isinstance(webhook, Event):
                await asyncio.to_thread(self.store.finish_delivery, delivery.id, "ignored")
                return
            event = webhook
            handled = await self._on_forge(functools.partial(self._handle, delivery, event))
            assert isinstance(handled, Actions)
            actions = handled
        except Exception as exc:
            await self._attempt_failed(delivery, event, exc)
            return
        await self.carry_out(actions)
        outcome = actions.outcome or "done"
        await asyncio.to_thread(self.store.finish_delivery, delivery.id, outcome)
        log.info("delivery %s (%s %s): %s", delivery.id, delivery.forge, delivery.event, outcome)

    async def _attempt_failed(
        self, delivery: Delivery, event: Event | None, exc: Exception
    ) -> None:
        cause = failure_cause(exc)
        attempts = await asyncio.to_thread(self.store.delivery_failed, delivery.id, cause)
        limit = max(self.settings.max_delivery_attempts, 1)
        if attempts < limit:
            wait = retry_wait(self.settings.delivery_retry_interval, attempts)
            log.warning(
                "delivery %s: attempt %d of %d failed (%s); trying again in %.0fs",
                delivery.id, attempts, limit, cause, wait, exc_info=exc,
            )  # fmt: skip
            await asyncio.to_thread(self.store.retry_delivery_at, delivery.id, time.time() + wait)
            return
        log.error(
            "delivery %s: given up after %d attempts: %s", delivery.id, attempts, cause,
            exc_info=exc,
        )  # fmt: skip
        reason = f"not processed after {attempts} attempts: {cause}"
        actions = Actions(outcome=f"error: {reason}")
        build = await self._on_forge(
            functools.partial(self.intake.delivery_error, delivery, event, reason)
        )
        if isinstance(build, Build):
            actions.report.append(build)
        await self.carry_out(actions)
        await asyncio.to_thread(self.store.finish_delivery, delivery.id, actions.outcome)

    async def carry_out(self, actions: Actions) -> None:
        for build, reason in actions.cancel:
            await self.dispatcher.cancel(build, reason)
        for build in actions.report:
            await self.outbox.status(build)
        for build in actions.dispatch:
            self.dispatcher.submit(build)
        for forge, repo, pr, body in actions.replies:
            await self.outbox.reply(forge, repo, pr, body)
        for forge, repo, pr in actions.pull_comments:
            await self.outbox.pull_comment(forge, repo, pr)

    async def recover(self) -> None:
        """On start: builds the last run left queued or running start again, deliveries it
        stored but never processed are processed, and the outbox sends what it still holds,
        so no status stays pending."""
        self.outbox.start()
        self.start_workers()
        self._tidying = asyncio.create_task(self.keep_tidy(), name="retention")
        for build in await asyncio.to_thread(
            self.store.builds_in, BuildState.QUEUED, BuildState.RUNNING
        ):
            build = await asyncio.to_thread(self.store.requeue, build.id)
            self.dispatcher.submit(build)
        # No claim or back-off of the last run holds: every unprocessed delivery is due.
        await asyncio.to_thread(self.store.release_delivery_claims)
        for delivery in await asyncio.to_thread(self.store.unprocessed_deliveries):
            self.accept(delivery)
        self._recovering = asyncio.create_task(self.keep_recovering_missed(), name="missed")

    async def retry_deliveries(self) -> None:
        """Hand the workers what was stored but not processed (the forge was down, or the
        request that stored it went away) and is due."""
        due = await asyncio.to_thread(self.store.unprocessed_deliveries, time.time())
        for delivery in due:
            self.accept(delivery)

    async def keep_retrying(self) -> None:
        while True:
            await asyncio.sleep(self.settings.delivery_retry_interval)
            try:
                await self.retry_deliveries()
            except Exception:  # the store itself failing: try again next round
                log.exception("retrying unprocessed deliveries failed")

    async def recover_missed(self) -> None:
        """One pass of each missed-delivery duty (bot/missed_deliveries.py, then
        bot/catch_up.py); what they stored, the workers process as if it had arrived."""
        loop = asyncio.get_running_loop()
        for duty in self.missed:
            try:
                found = await loop.run_in_executor(self.forge_pool, duty)
            except Exception:  # the store or a forge failing: the next pass tries again
                log.exception("recovering missed deliveries failed")
                continue
            for delivery in found:
                self.accept(delivery)

    async def keep_recovering_missed(self) -> None:
        """On start, then every missed_delivery_interval seconds (0: never)."""
        while self.settings.missed_delivery_interval > 0:
            await self.recover_missed()
            await asyncio.sleep(self.settings.missed_delivery_interval)

    async def keep_tidy(self) -> None:
        """Retention: now, then every RETENTION_INTERVAL, what is older than retention_days
        goes (forget_before)."""
        while self.settings.retention_days > 0:
            cutoff = datetime.now(UTC) - timedelta(days=self.settings.retention_days)
            try:
                forgotten = await asyncio.to_thread(forget_before, self.store, self.logs, cutoff)
            except Exception:  # the store failing: try again next round
                log.exception("deleting old deliveries, builds and logs failed")
            else:
                if forgotten:
                    log.info("retention: %d builds and their logs deleted", forgotten)
            await asyncio.sleep(RETENTION_INTERVAL)

    async def stop(self) -> None:
        for duty in (self._tidying, self._recovering):
            if duty is not None:
                duty.cancel()
        for worker in self._workers:
            worker.cancel()
        await asyncio.gather(*self._workers, *self._processing, return_exceptions=True)
        await self.writer.close()
        await self.dispatcher.shutdown()
        await self.outbox.close()  # what it still holds is sent after the next start
        self.forge_pool.shutdown(wait=True)
        self.store.close()
