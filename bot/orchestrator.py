"""The orchestrator: one stored delivery -> a normalised Event -> Actions -> carried out.

It owns no state of its own beyond what is being processed: every decision is recorded in the
store first (by intake and pull requests), then carried out by the dispatcher and the outbox.

Several replicas may share one database (bot/replica.py, bot/store.py): a heartbeat renews
what this replica holds every `lease_renew_seconds`, and the periodic duties (`Bot.duties`:
delivery retries, build recovery, retention, the outbox sweep) are each done by the one
replica holding the duty's named lease. Build recovery adopts the builds whose owner's lease
expired (a replica killed mid-build; the last run of a restarted bot): a Kubernetes Job is
adopted, a local build runs again. A graceful stop lets go of everything at once.

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
import contextvars
import functools
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

from bot import log_context
from bot.actions import Actions
from bot.base_images import BaseImageWatch
from bot.build_logs import LogStore
from bot.build_record import Build
from bot.delivery_writer import DeliveryWriter
from bot.dispatcher import Dispatcher
from bot.events import Event, EventKind
from bot.forges.base import ForgeApi, ForgeError, UnknownRepository, WebhookParser
from bot.intake import Intake
from bot.manual_trigger import ManualTrigger
from bot.metrics import Metrics
from bot.outbox import Outbox
from bot.pull_requests import PullRequests
from bot.registry_notifications import TagPushed
from bot.reruns import Reruns
from bot.settings import Settings
from bot.store import Delivery, Store

log = logging.getLogger(__name__)

MAX_RETRY_WAIT = 3600.0
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


@dataclass(frozen=True)
class Duty:
    """A periodic duty: every `interval` seconds, done by whichever replica holds the lease
    named `name` (one at a time)."""

    name: str
    interval: float
    run: Callable[[], Awaitable[object]]


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
    metrics: Metrics = field(default_factory=Metrics)  # GET /metrics (bot/metrics.py)
    reruns: Reruns | None = None  # GitHub's "Re-run" of check runs (bot/reruns.py)
    trigger: ManualTrigger | None = None  # POST /api/builds (bot/manual_trigger.py)
    # Rebuilds on a new base image (bot/base_images.py): POST /webhooks/registry, the duty.
    base_images: BaseImageWatch | None = None
    _duties: list[asyncio.Task[None]] = field(default_factory=list)  # from recover()
    _queue: asyncio.Queue[Delivery] = field(default_factory=asyncio.Queue)
    _queued: set[str] = field(default_factory=set)  # ids in _queue or being processed
    _workers: list[asyncio.Task[None]] = field(default_factory=list)
    _processing: set[asyncio.Task[None]] = field(default_factory=set)
    _notified: set[asyncio.Task[None]] = field(default_factory=set)  # registry notifications

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
        # In this task's context: the forge thread's log lines name the delivery too.
        context = contextvars.copy_context()
        return await asyncio.get_running_loop().run_in_executor(self.forge_pool, context.run, call)

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
        if event.kind is EventKind.RERUN:
            if self.reruns is None:
                return Actions(outcome="re-runs are not handled by this bot")
            return self.reruns.handle(delivery, event)
        if event.kind in (EventKind.PULL_REQUEST, EventKind.COMMENT):
            return self.pulls.handle(delivery, event)
        # A manual trigger's push names the builds it asked for (bot/manual_trigger.py).
        return self.intake.builds_for(delivery, event, names=event.only_builds)

    async def process(self, delivery: Delivery) -> None:
        """Delivery -> actions -> carried out. Failing before the actions are recorded leaves
        the delivery unprocessed, to be tried again later (a bounded number of times): nothing
        is lost, and nothing is tried forever."""
        log_context.delivery_id.set(delivery.id)  # this task's log lines name it
        claimed = await asyncio.to_thread(self.store.claim_delivery, delivery.id)
        if not claimed:
            return  # processed meanwhile, or another attempt (maybe another replica's) holds it
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

    def duties(self) -> list[Duty]:
        """The periodic duties, each done by one replica at a time (its named lease)."""
        renew = self.settings.lease_renew_seconds
        return (
            [
                Duty("build-recovery", renew, self.recover_builds),
                Duty(
                    "delivery-retries", self.settings.delivery_retry_interval, self.retry_deliveries
                ),
                Duty("outbox-sweep", renew, self.sweep_outbox),
                Duty("retention", RETENTION_INTERVAL, self.tidy),
            ]
            + (
                # bot/missed_deliveries.py, then bot/catch_up.py: what the forges sent and no
                # replica stored (idempotent: what they store has the forge's own ids).
                [Duty("missed-deliveries", missed, self.recover_missed)]
                if (missed := self.settings.missed_delivery_interval) > 0
                else []
            )
            + (
                # bot/base_images.py: base image tags that moved, for registries that do not say.
                [Duty("base-images", every, self.check_base_images)]
                if (every := self.settings.base_image_check_interval) > 0 and self.base_images
                else []
            )
        )

    async def recover(self) -> None:
        """On start: the outbox sends what it still holds, the workers, the heartbeat and the
        duties start (at once: builds left by a replica that is gone are adopted, deliveries
        stored but never processed are processed), so no status stays pending."""
        log.info("replica %s starting", self.store.replica.id)
        self.outbox.start()
        self.start_workers()
        self._duties.append(asyncio.create_task(self._heartbeat(), name="heartbeat"))
        for duty in self.duties():
            self._duties.append(asyncio.create_task(self._keep(duty), name=duty.name))

    async def _keep(self, duty: Duty) -> None:
        while True:
            try:
                if await asyncio.to_thread(self.store.take_lease, duty.name):
                    await duty.run()
            except Exception:  # the store failing: try again next round
                log.exception("the periodic duty %s failed", duty.name)
            await asyncio.sleep(duty.interval)

    async def _heartbeat(self) -> None:
        """Renew what this replica holds; stop the builds it no longer holds."""
        while True:
            await asyncio.sleep(self.settings.lease_renew_seconds)
            sending = self.outbox.sending
            try:
                lost = await asyncio.to_thread(
                    functools.partial(
                        self.store.renew, deliveries_held=set(self._queued),
                        builds_held=self.dispatcher.held,
                        outbox_held={sending} if sending else set(),
                    )
                )  # fmt: skip
                await self.dispatcher.lose(lost)
            except Exception:  # the store failing: renew next round, or lose them
                log.exception("renewing this replica's leases failed")

    async def recover_builds(self) -> None:
        """Adopt the builds whose owner's lease expired, and run them here."""
        for orphan in await asyncio.to_thread(self.store.orphaned_builds):
            if orphan.id in self.dispatcher.held:
                continue  # its own, whose lease lapsed (the database was away): renewed next
            build = await asyncio.to_thread(self.store.adopt_build, orphan.id)
            if build is not None:
                log.info("build %s (%s) adopted by replica %s",
                         build.id, orphan.state.value, self.store.replica.id)  # fmt: skip
                self.dispatcher.submit(build)

    async def retry_deliveries(self) -> None:
        """Hand the workers what was stored but not processed (the forge was down, the
        request that stored it went away, the replica processing it died) and is due."""
        due = await asyncio.to_thread(self.store.unprocessed_deliveries, time.time())
        for delivery in due:
            self.accept(delivery)

    async def sweep_outbox(self) -> None:
        """Items another replica put, or left when it died, are sent from here too."""
        self.outbox.wake()

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

    async def check_base_images(self) -> None:
        """One pass of the periodic base image check (bot/base_images.py)."""
        if self.base_images is not None:
            await self._rebuild_on(self.base_images.check)

    def base_images_pushed(self, tags: list[TagPushed]) -> None:
        """A registry's notification: its tags checked against the builds, in the background
        (the registry waits for no build; the periodic check catches what a crash loses)."""
        watch = self.base_images
        if watch is not None and tags:
            task = asyncio.create_task(self._rebuild_on(functools.partial(watch.pushed, tags)))
            self._notified.add(task)
            task.add_done_callback(self._notified.discard)

    async def _rebuild_on(self, find: Callable[[], list[Delivery]]) -> None:
        loop = asyncio.get_running_loop()
        try:
            found = await loop.run_in_executor(self.forge_pool, find)
        except Exception:  # the store or a forge failing: the next pass tries again
            log.exception("looking for builds on moved base images failed")
            return
        for delivery in found:
            self.accept(delivery)

    async def tidy(self) -> None:
        """Retention: what is older than retention_days goes (forget_before)."""
        if self.settings.retention_days <= 0:
            return
        cutoff = datetime.now(UTC) - timedelta(days=self.settings.retention_days)
        forgotten = await asyncio.to_thread(forget_before, self.store, self.logs, cutoff)
        if forgotten:
            log.info("retention: %d builds and their logs deleted", forgotten)

    async def stop(self) -> None:
        for task in [*self._duties, *self._notified]:
            task.cancel()
        for worker in self._workers:
            worker.cancel()
        await asyncio.gather(*self._duties, *self._notified, return_exceptions=True)
        await asyncio.gather(*self._workers, *self._processing, return_exceptions=True)
        await self.writer.close()
        await self.dispatcher.shutdown()
        await self.outbox.close()  # what it still holds is sent after the next start
        try:
            # What it held is free at once: for the other replicas, or its own next start.
            await asyncio.to_thread(self.store.let_go)
        except Exception:  # the store unreachable: then the leases expire
            log.exception("letting go of this replica's leases failed")
        self.forge_pool.shutdown(wait=True)
        self.store.close()
