"""The orchestrator: one stored delivery -> a normalised Event -> Actions -> carried out.

It owns no state of its own beyond what is being processed: every decision is recorded in the
store first (by intake and pull requests), then carried out by the dispatcher and the outbox.
On start it recovers what the last run left: queued and running builds, unprocessed
deliveries, unsent statuses.

No delivery loops forever: an attempt that raises is counted and tried again later, each wait
twice the last (from `delivery_retry_interval`, at most MAX_RETRY_WAIT); after
`max_delivery_attempts` the delivery is given up, marked processed with the cause, and the
commit it names gets an `error` status saying why.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from bot.actions import Actions
from bot.build_logs import LogStore
from bot.build_record import BuildState
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
    _tidying: asyncio.Task[None] | None = None  # the retention duty, from recover()

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

    async def process(self, delivery: Delivery, *, on_start: bool = False) -> None:
        """Delivery -> actions -> carried out. Failing before the actions are recorded leaves
        the delivery unprocessed, to be tried again later (a bounded number of times): nothing
        is lost, and nothing is tried forever. `on_start`: take it even if the last run
        claimed it."""
        now = time.time()
        claimed = await asyncio.to_thread(
            self.store.claim_delivery, delivery.id, now + ATTEMPT_LEASE,
            now=None if on_start else now,
        )  # fmt: skip
        if not claimed:
            return  # processed meanwhile, or another attempt is under way
        event: Event | None = None
        try:
            webhook = self.webhooks[delivery.forge].parse(delivery.headers, delivery.body)
            if not isinstance(webhook, Event):
                await asyncio.to_thread(self.store.finish_delivery, delivery.id, "ignored")
                return
            event = webhook
            actions = await asyncio.to_thread(self._handle, delivery, event)
        except Exception as exc:
            await self._attempt_failed(delivery, event, exc)
            return
        await self.carry_out(actions)
        await asyncio.to_thread(self.store.finish_delivery, delivery.id, actions.outcome or "done")

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
        build = await asyncio.to_thread(self.intake.delivery_error, delivery, event, reason)
        if build is not None:
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
        self._tidying = asyncio.create_task(self.keep_tidy(), name="retention")
        for build in await asyncio.to_thread(
            self.store.builds_in, BuildState.QUEUED, BuildState.RUNNING
        ):
            build = await asyncio.to_thread(self.store.requeue, build.id)
            self.dispatcher.submit(build)
        for delivery in await asyncio.to_thread(self.store.unprocessed_deliveries):
            await self.process(delivery, on_start=True)

    async def retry_deliveries(self) -> None:
        """Process what was stored but not processed (the forge was down) and is due."""
        due = await asyncio.to_thread(self.store.unprocessed_deliveries, time.time())
        for delivery in due:
            await self.process(delivery)

    async def keep_retrying(self) -> None:
        while True:
            await asyncio.sleep(self.settings.delivery_retry_interval)
            try:
                await self.retry_deliveries()
            except Exception:  # the store itself failing: try again next round
                log.exception("retrying unprocessed deliveries failed")

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
        if self._tidying is not None:
            self._tidying.cancel()
        await self.dispatcher.shutdown()
        await self.outbox.close()  # what it still holds is sent after the next start
        self.store.close()
