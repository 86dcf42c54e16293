"""bot/delivery_writer.py: deliveries arriving together are stored in one transaction, each
request told whether its delivery is new."""

from __future__ import annotations

import asyncio
from pathlib import Path

from bot.delivery_writer import DeliveryWriter
from bot.store import Delivery, Store


def delivery(delivery_id: str) -> Delivery:
    return Delivery(delivery_id, "github", "push", {"x-github-delivery": delivery_id}, b"{}")


def test_a_burst_is_committed_in_fewer_transactions_than_deliveries(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'db.sqlite'}")
    writer = DeliveryWriter(store)

    async def burst() -> list[bool]:
        try:
            return await asyncio.gather(*(writer.add(delivery(f"d{i}")) for i in range(50)))
        finally:
            await writer.close()

    assert asyncio.run(burst()) == [True] * 50
    assert writer.commits < 50  # the first write alone, then the rest together
    assert len(store.unprocessed_deliveries()) == 50
    store.close()


def test_a_redelivery_in_the_same_burst_or_later_is_reported_as_stored_already(
    tmp_path: Path,
) -> None:
    store = Store(f"sqlite:///{tmp_path / 'db.sqlite'}")
    store.add_delivery(delivery("old"))
    writer = DeliveryWriter(store)

    async def burst() -> list[bool]:
        try:
            adds = [writer.add(delivery(i)) for i in ("a", "old", "b", "a")]
            return await asyncio.gather(*adds)
        finally:
            await writer.close()

    assert asyncio.run(burst()) == [True, False, True, False]
    assert sorted(d.id for d in store.unprocessed_deliveries()) == ["a", "b", "old"]
    store.close()
