"""Webhooks of the fake GitHub and their delivery logs, as GitHub's REST API shows them.

GitHub logs every attempt to deliver an event to a hook ("Viewing webhook deliveries"), with
the request it sent (headers and payload) and the answer it got, and serves the log through
"List deliveries for an app webhook" (``GET /app/hook/deliveries``, with the app's JWT) and
"List deliveries for a repository webhook" (``GET /repos/{owner}/{repo}/hooks/{hook_id}/
deliveries``), newest first, paged by a ``cursor`` in the ``Link`` header; one entry with its
request through ``.../deliveries/{delivery_id}``. A redelivery is a new entry with the same
``guid`` (the ``X-GitHub-Delivery`` it sends again) and ``redelivery: true``.

A test records what GitHub would have sent (:meth:`HookLogs.record`) without POSTing it to
the bot: a delivery the bot missed. Hooks have ids in one sequence, an app's hook included.
"""

from __future__ import annotations

import json
import threading
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from tests.fakes.github_objects import iso_datetime
from tests.fakes.webhooks import github_headers

JSON = Any
# What GitHub shows for an attempt that got no answer (the example of GitHub's description).
FAILED = (502, "failed to connect")


@dataclass(frozen=True)
class Hook:
    id: int
    repo: str | None  # lower-case owner/name; None: an app's hook
    app_id: int | None
    url: str  # where GitHub delivers (the bot's /webhooks/github)


@dataclass
class LoggedDelivery:
    """One attempt in a hook's log."""

    id: int
    guid: str
    hook: Hook
    event: str
    action: str | None
    headers: dict[str, str]
    body: bytes = field(repr=False)  # what was (or would have been) POSTed
    status_code: int
    status: str
    delivered_at: datetime
    redelivery: bool
    installation_id: int | None
    repository_id: int | None

    def item(self) -> dict[str, JSON]:
        """``hook-delivery-item``."""
        return {
            "id": self.id,
            "guid": self.guid,
            "delivered_at": iso_datetime(self.delivered_at),
            "redelivery": self.redelivery,
            "duration": 0.03,
            "status": self.status,
            "status_code": self.status_code,
            "event": self.event,
            "action": self.action,
            "installation_id": self.installation_id,
            "repository_id": self.repository_id,
            "throttled_at": None,
        }

    def detail(self) -> dict[str, JSON]:
        """``hook-delivery``: the item with the request sent and the answer got."""
        return {
            **self.item(),
            "url": self.hook.url,
            "request": {"headers": dict(self.headers), "payload": json.loads(self.body)},
            "response": {
                "headers": {"Content-Type": "application/json"} if self.status_code else {},
                "payload": None,
            },
        }


class HookLogs:
    """Hooks and their logs; thread-safe (the fake's server thread reads, tests write)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._hooks: dict[int, Hook] = {}
        self._log: list[LoggedDelivery] = []
        self._ids = 12_000_000_000  # delivery ids are large on github.com (int64)

    def create(self, *, url: str, repo: str | None = None, app_id: int | None = None) -> Hook:
        with self._lock:
            hook = Hook(len(self._hooks) + 1, repo.lower() if repo else None, app_id, url)
            self._hooks[hook.id] = hook
            return hook

    def app_hook(self, app_id: int, url: str) -> Hook:
        """The app's one webhook (created on first use)."""
        with self._lock:
            found = next((h for h in self._hooks.values() if h.app_id == app_id), None)
        return found or self.create(url=url, app_id=app_id)

    def hook(self, hook_id: int) -> Hook | None:
        with self._lock:
            return self._hooks.get(hook_id)

    def record(
        self,
        hook: Hook,
        event: str,
        payload: dict[str, JSON],
        *,
        secret: str | None,
        status_code: int = FAILED[0],
        status: str = FAILED[1],
        guid: str | None = None,
        delivered_at: datetime | None = None,
    ) -> LoggedDelivery:
        """Log an attempt to deliver ``payload``: by default one that failed (the bot never
        got it); with the ``guid`` of an earlier one, a redelivery of that event."""
        body = json.dumps(payload).encode()
        with self._lock:
            redelivery = guid is not None and any(d.guid == guid for d in self._log)
            guid = guid or str(uuid.uuid4())
            headers = github_headers(event, body, secret, guid)
            headers["X-GitHub-Hook-ID"] = str(hook.id)
            installation = payload.get("installation")
            self._ids += 1
            logged = LoggedDelivery(
                id=self._ids, guid=guid, hook=hook, event=event, action=payload.get("action"),
                headers=headers, body=body, status_code=status_code, status=status,
                delivered_at=delivered_at or datetime.now(UTC), redelivery=redelivery,
                installation_id=installation["id"] if installation else None,
                repository_id=(payload.get("repository") or {}).get("id"),
            )  # fmt: skip
            self._log.append(logged)
            return logged

    def of(self, hook: Hook) -> list[LoggedDelivery]:
        """The hook's log, newest first."""
        with self._lock:
            mine = [d for d in self._log if d.hook == hook]
        return sorted(mine, key=lambda d: (d.delivered_at, d.id), reverse=True)

    def find(self, hook: Hook, delivery_id: int) -> LoggedDelivery | None:
        return next((d for d in self.of(hook) if d.id == delivery_id), None)


def cursor_page(
    logged: list[LoggedDelivery], per_page: int, cursor: str | None
) -> tuple[list[LoggedDelivery], str | None]:
    """One page of a newest-first log from ``cursor`` on, and the next page's cursor (None on
    the last page). GitHub's cursors are opaque strings (``v1_<id>`` on github.com)."""
    start = 0
    if cursor is not None:
        ids = [d.id for d in logged]
        wanted = int(cursor.removeprefix("v1_")) if cursor.startswith("v1_") else -1
        start = ids.index(wanted) if wanted in ids else len(logged)
    page = logged[start : start + per_page]
    rest = logged[start + per_page :]
    return page, f"v1_{rest[0].id}" if rest else None
