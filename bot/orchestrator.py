"""The orchestrator: one stored delivery -> a normalised Event -> Actions -> carried out.

It owns no state of its own beyond what is being processed: every decision is recorded in the
store first (by intake and pull requests), then carried out by the dispatcher and the outbox.
On start it recovers what the last run left: queued and running builds, unprocessed
deliveries, unsent statuses.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from bot.actions import Actions
from bot.build_logs import LogStore
from bot.build_record import BuildState
from bot.dispatcher import Dispatcher
from bot.events import Event, EventKind
from bot.forges.base import ForgeApi, UnknownRepository, WebhookParser
from bot.intake import Intake
from bot.outbox import Outbox
from bot.pull_requests import PullRequests
from bot.settings import Settings
from bot.store import Delivery, Store

log = logging.getLogger(__name__)


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

    async def process(self, delivery: Delivery) -> None:
        """Delivery -> actions -> carried out. Failing before the actions are recorded leaves
        the delivery unprocessed, so the next start tries it again: nothing is lost."""
        try:
            webhook = self.webhooks[delivery.forge].parse(delivery.headers, delivery.body)
            if not isinstance(webhook, Event):
                await asyncio.to_thread(self.store.finish_delivery, delivery.id, "ignored")
                return
            actions = await asyncio.to_thread(self._handle, delivery, webhook)
        except Exception:
            log.exception("delivery %s could not be processed; it will be retried", delivery.id)
            return
        await self.carry_out(actions)
        await asyncio.to_thread(self.store.finish_delivery, delivery.id, actions.outcome or "done")

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
        await self.retry_deliveries()

    async def retry_deliveries(self) -> None:
        """Process what was stored but not processed (the forge was down, the bot crashed)."""
        for delivery in await asyncio.to_thread(self.store.unprocessed_deliveries):
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
