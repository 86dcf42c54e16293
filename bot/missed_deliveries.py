"""Missed webhooks: deliveries a GitHub hook sent that the bot never stored.

GitHub does not deliver a failed delivery again ("Handling failed webhook deliveries": "GitHub
does not automatically redeliver failed deliveries"); it keeps a log of each hook's
deliveries for three days, with the request it sent. So, on start and every
`missed_delivery_interval` seconds, the bot reads the logs of its hooks (a GitHub App's own
hook, and the repository hooks `github.hooks` names), back to `missed_delivery_max_age` (and
never further back than `retention_days`, past which the store forgets what it had; after a
pass that left nothing behind, back to the newest entry it saw, less OVERLAP), and
stores each delivery it lacks under its original id (the log entry's `guid`, which was the
X-GitHub-Delivery header), for the workers to process as if it had arrived. A redelivery
shares its event's guid, so a delivery stored once is never stored again, whichever way it
came in.

Trust: the recovered payload is an answer of GitHub's API, read over the bot's own
authenticated connection (its token, or the App's JWT), so it is trusted as any API answer
is, as much as a signed webhook and no more: the bot seals it with the webhook secret
(`WebhookParser.vouch`) so it passes the same parser, and every rule downstream applies as to
a delivery that arrived (the repository confirmed through the API, the clone URL from the
configuration, PR trust...). Nothing a request brought is ever sealed (docs/security.md).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Protocol, runtime_checkable

from bot.catch_up import BRANCH_PREFIX, catch_up_id
from bot.events import Event, EventKind
from bot.forges.base import (
    ForgeError,
    HookDeliveryItem,
    LoggedDelivery,
    SignatureError,
    Webhook,
    WebhookParser,
)
from bot.forges.fields import PayloadError
from bot.store import Delivery, Store

log = logging.getLogger(__name__)

FORGE = "github"  # GitLab keeps no delivery log the API serves; its catch-up is bot/catch_up.py
LISTED_PER_HOOK = 1000  # log entries read per hook and pass at most (ten pages of 100)
# A pass after a clean one reads the logs back to the newest entry that one saw, less this
# much (seconds): GitHub logs an attempt once it ended (up to its 10 s timeout), so an entry
# may appear with a time a little before the newest one already listed.
OVERLAP = 600.0
# Where a recovered delivery came from, among its stored headers (for people reading the
# store; nothing decides on it).
RECOVERED_HEADER = "x-s2i-bot-recovered-from"


@runtime_checkable
class HookLog(Protocol):
    """A forge's webhook delivery logs (bot/forges/github_api.py)."""

    def hook_deliveries(
        self, hook: str, newer_than: datetime, limit: int
    ) -> list[HookDeliveryItem]: ...

    def hook_delivery(self, hook: str, delivery_id: int) -> LoggedDelivery | None: ...


def oldest_wanted(now: datetime, max_age: float, retention_days: int) -> datetime:
    """How far back the logs are read: `max_age` seconds, and never past the retention
    (an older delivery the bot had is deleted from the store, so it would look missed)."""
    seconds = max_age if retention_days <= 0 else min(max_age, retention_days * 86400.0)
    return now - timedelta(seconds=seconds)


def acknowledged(status_code: int) -> bool:
    """The bot answered 2xx: it stored the delivery, or parsed it and had nothing to store
    (a ping, an event or action it does not handle)."""
    return 200 <= status_code < 300


def to_fetch(
    listed: Iterable[HookDeliveryItem], stored: Iterable[str], limit: int
) -> tuple[list[HookDeliveryItem], int]:
    """The log entries whose delivery to fetch: one per event (guid) that the store lacks
    and that no attempt got a 2xx for, oldest first (so pushes to one branch supersede each
    other in order), at most `limit`; and how many more wait for a later pass."""
    have = set(stored)
    entries: dict[str, list[HookDeliveryItem]] = {}
    for item in listed:
        entries.setdefault(item.guid, []).append(item)
    missed = [
        min(attempts, key=lambda i: (i.delivered_at, i.id))
        for guid, attempts in entries.items()
        if guid not in have and not any(acknowledged(i.status_code) for i in attempts)
    ]
    missed.sort(key=lambda i: (i.delivered_at, i.id))
    return missed[:limit], max(len(missed) - limit, 0)


def delivery_of(
    logged: LoggedDelivery, item: HookDeliveryItem, webhooks: WebhookParser
) -> Delivery:
    """The stored form of a logged delivery: its original headers and id, the payload as
    JSON (whatever content type the hook used), sealed with the webhook secret."""
    body = json.dumps(logged.payload).encode()
    headers = {k.lower(): v for k, v in logged.headers.items()}
    headers.update(
        {
            "content-type": "application/json",
            "x-github-delivery": item.guid,
            "x-github-event": logged.event,
            RECOVERED_HEADER: f"{item.hook} delivery {item.id}",
        }
    )
    return Delivery(item.guid, FORGE, logged.event, webhooks.vouch(headers, body), body)


class MissedDeliveries:
    """One pass at a time (`recover`, in a forge thread): read the logs, fetch and store
    what is missing; the orchestrator hands what was stored to its workers."""

    def __init__(
        self,
        store: Store,
        webhooks: WebhookParser,
        hook_log: HookLog,
        hooks: Sequence[str],
        *,
        max_age: float,
        retention_days: int,
        per_pass: int,
    ) -> None:
        self._store, self._webhooks, self._log = store, webhooks, hook_log
        self._hooks = list(hooks)
        self._max_age, self._retention_days, self._per_pass = max_age, retention_days, per_pass
        # The newest entry (GitHub's clock) a pass saw that left nothing behind: what is older
        # (by more than OVERLAP) was dealt with, so the next pass does not list it again.
        self._covered: datetime | None = None

    def recover(self, now: datetime | None = None) -> list[Delivery]:
        """One pass; the deliveries it stored that the workers must process."""
        cutoff = oldest_wanted(now or datetime.now(UTC), self._max_age, self._retention_days)
        if self._covered is not None:
            cutoff = max(cutoff, self._covered - timedelta(seconds=OVERLAP))
        listed: list[HookDeliveryItem] = []
        clean = True  # every log read, every chosen entry fetched, nothing left waiting
        for hook in self._hooks:
            try:
                listed += self._log.hook_deliveries(hook, cutoff, LISTED_PER_HOOK)
            except ForgeError as exc:
                clean = False
                log.warning("missed deliveries: cannot read the log of hook %s: %s", hook, exc)
        stored = self._store.known_deliveries(sorted({item.guid for item in listed}))
        chosen, waiting = to_fetch(listed, stored, self._per_pass)
        found: list[Delivery] = []
        for item in chosen:
            delivery = self._fetch(item)
            clean = clean and delivery is not None
            if delivery is not None and self._store_one(delivery):
                found.append(delivery)
        if clean and not waiting and listed:
            self._covered = max(item.delivered_at for item in listed)
        if chosen or waiting:
            log.info(
                "missed deliveries: %d of %d logged deliveries were never stored; %d stored "
                "now, %d wait for the next pass", len(chosen) + waiting, len(listed),
                len(found), waiting,
            )  # fmt: skip
        return found

    def _fetch(self, item: HookDeliveryItem) -> Delivery | None:
        try:
            logged = self._log.hook_delivery(item.hook, item.id)
        except ForgeError as exc:
            log.warning("missed delivery %s (%s): cannot fetch it: %s", item.guid, item.hook, exc)
            return None
        if logged is None:
            log.warning("missed delivery %s (%s): the log keeps no payload", item.guid, item.hook)
            return None
        return delivery_of(logged, item, self._webhooks)

    def _store_one(self, delivery: Delivery) -> bool:
        """Store it; True when the workers must process it (False: stored meanwhile, or a
        payload the webhook route would have refused, stored already finished so no later
        pass fetches it again)."""
        try:
            webhook = self._webhooks.parse(delivery.headers, delivery.body)
        except (PayloadError, SignatureError) as exc:
            if self._store.add_delivery(delivery):
                self._store.finish_delivery(delivery.id, f"refused: {exc}")
            log.warning(
                "missed delivery %s: refused, as the webhook route would: %s", delivery.id, exc
            )
            return False
        built_by = self._caught_up(webhook)
        if built_by is not None:
            # The catch-up built this head already (it ran before GitHub logged the failed
            # attempt, which it does once the attempt ends): stored finished, not built twice.
            if self._store.add_delivery(delivery):
                self._store.finish_delivery(delivery.id, f"built by the catch-up ({built_by})")
            log.info("missed delivery %s: its head was built by the catch-up", delivery.id)
            return False
        if not self._store.add_delivery(delivery):
            return False
        log.info(
            "missed delivery %s (%s) recovered from %s", delivery.id, delivery.event,
            delivery.headers[RECOVERED_HEADER],
        )  # fmt: skip
        return True

    def _caught_up(self, webhook: Webhook) -> str | None:
        """The catch-up delivery that stored this push's head, if one did."""
        if not isinstance(webhook, Event) or webhook.kind is not EventKind.PUSH:
            return None
        branch = webhook.ref.removeprefix(BRANCH_PREFIX)
        if branch == webhook.ref:
            return None  # a tag: the catch-up follows branches only
        catch_up = catch_up_id(FORGE, webhook.repo.full_name, branch, webhook.sha)
        return catch_up if self._store.has_delivery(catch_up) else None
