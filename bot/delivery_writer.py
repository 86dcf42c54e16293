"""The intake writer: stores webhook deliveries before they are acknowledged, on a thread of
its own, committing every delivery that arrived meanwhile in one transaction.

A webhook is answered 202 only once its delivery is stored (a crash must not lose it), so the
store write is on the answer's path. It must not wait behind forge API calls: those take the
forge's round trip each (GitHub gives up on a delivery after 10 s, "Handling failed webhook
deliveries"), and they run in threads too. So intake writes have one thread that does nothing
else, and deliveries arriving while a write is under way wait for the next one and are
committed together (a group commit: one transaction, one fsync, for a burst).
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

from bot.store import Delivery, Store


class DeliveryWriter:
    def __init__(self, store: Store) -> None:
        self._store = store
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="intake-writer")
        self._pending: list[tuple[Delivery, asyncio.Future[bool]]] = []
        self._draining: asyncio.Task[None] | None = None
        self.commits = 0  # transactions so far: fewer than deliveries under a burst

    @property
    def pending(self) -> int:
        """Deliveries waiting for their write."""
        return len(self._pending)

    async def add(self, delivery: Delivery) -> bool:
        """Store a delivery; False when its id was stored already (a redelivery)."""
        stored: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._pending.append((delivery, stored))
        if self._draining is None or self._draining.done():
            self._draining = asyncio.create_task(self._drain(), name="intake-writer")
        return await stored

    async def _drain(self) -> None:
        loop = asyncio.get_running_loop()
        while self._pending:
            batch, self._pending = self._pending, []
            try:
                written = await loop.run_in_executor(
                    self._executor, self._store.add_deliveries, [d for d, _ in batch]
                )
            except Exception as exc:  # the store failing: each waiting request answers 500
                for _, stored in batch:
                    if not stored.done():
                        stored.set_exception(exc)
                continue
            self.commits += 1
            # A request cancelled meanwhile (its client went away) has no one to tell; its
            # delivery is stored all the same, and the retry loop processes it.
            for (_, stored), new in zip(batch, written, strict=True):
                if not stored.done():
                    stored.set_result(new)

    async def close(self) -> None:
        if self._draining is not None:
            await self._draining
        self._executor.shutdown(wait=True)
