"""Several replicas on one database (bot/store.py): each delivery, build, outbox item and
periodic duty is held by one replica at a time, a claim whose holder stops renewing it expires
and another replica takes it over, and a graceful stop lets go at once; on SQLite and on
PostgreSQL (the `database_url` fixture runs each test on both)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest

from bot.build_record import Build, BuildState
from bot.build_result import BuildResult
from bot.replica import Replica
from bot.store import Delivery, Store
from tests.support.databases import database_url

__all__ = ["database_url"]  # the fixture

LEASE = 30.0


@pytest.fixture
def replicas(database_url: str) -> Iterator[tuple[Store, Store]]:
    a = Store(database_url, Replica("replica-a", LEASE))
    b = Store(database_url, Replica("replica-b", LEASE))
    yield a, b
    a.close()
    b.close()


def recorded_build(store: Store) -> Build:
    """A build `store`'s replica recorded (so owns), of a delivery of its own."""
    store.add_delivery(Delivery("d1", "github", "push", {}, b"{}"))
    return store.add_build(delivery_id="d1", name="web", forge="github", repo="acme/app",
                           sha="f" * 40, spec=None)  # fmt: skip


def lost_builds(store: Store, *held: int) -> set[int]:
    """The heartbeat of `store`'s replica, holding builds `held`: those it lost."""
    return store.renew(deliveries_held=set(), builds_held=set(held), outbox_held=set())


def test_a_claimed_delivery_is_left_alone_until_its_holder_stops_renewing_it(
    replicas: tuple[Store, Store],
) -> None:
    a, b = replicas
    a.add_delivery(Delivery("d1", "github", "push", {}, b"{}"))
    now = time.time()
    assert a.claim_delivery("d1", now=now - 20)  # held until now + 10
    assert not b.claim_delivery("d1", now=now)
    assert b.unprocessed_deliveries(now) == []  # not due for the retry duty either
    a.renew(deliveries_held={"d1"}, builds_held=set(), outbox_held=set())  # now + 30
    assert not b.claim_delivery("d1", now=now + 15)  # would have expired without renewal
    assert b.claim_delivery("d1", now=now + LEASE + 1)  # a died: b takes it over
    b.finish_delivery("d1", "done")
    assert not a.claim_delivery("d1", now=now + 3 * LEASE)


def test_each_delivery_is_claimed_once_when_many_replicas_race_for_it(database_url: str) -> None:
    stores = [Store(database_url, Replica(f"replica-{i}", LEASE)) for i in range(6)]
    ids = [f"d{i}" for i in range(20)]
    stores[0].add_deliveries([Delivery(i, "github", "push", {}, b"{}") for i in ids])
    with ThreadPoolExecutor(12) as pool:
        taken = list(pool.map(lambda job: job[0].claim_delivery(job[1]),
                              [(s, i) for i in ids for s in stores]))  # fmt: skip
    assert sum(taken) == len(ids)
    for index in range(len(ids)):
        assert sum(taken[index * len(stores) : (index + 1) * len(stores)]) == 1
    for store in stores:
        store.close()


def test_a_named_lease_has_one_holder_who_keeps_it_by_renewing_until_it_expires(
    replicas: tuple[Store, Store],
) -> None:
    a, b = replicas
    now = time.time()
    assert a.take_lease("retention", now=now)
    assert not b.take_lease("retention", now=now)
    assert a.take_lease("retention", now=now + 5)  # its own: renewed
    assert b.take_lease("build-recovery", now=now)  # another name, another lease
    assert b.take_lease("retention", now=now + 5 + LEASE + 1)  # a stopped renewing
    assert not a.take_lease("retention", now=now + 5 + LEASE + 2)
    assert b.take_lease("retention", now=now + 5 + LEASE + 3)  # b's now: renewed


def test_a_build_is_run_and_finished_only_by_its_owner_and_adopted_once_its_lease_expired(
    replicas: tuple[Store, Store],
) -> None:
    a, b = replicas
    build = recorded_build(a)
    assert b.mark_running(build.id) is None  # a's build: b does not run it
    running = a.mark_running(build.id)
    assert running is not None and running.state is BuildState.RUNNING
    now = time.time()
    assert b.orphaned_builds(now) == []
    assert b.adopt_build(build.id, now) is None
    assert lost_builds(a, build.id) == set()
    later = time.time() + LEASE + 1  # a was killed: nothing renewed its lease since
    assert [o.id for o in b.orphaned_builds(later)] == [build.id]
    adopted = b.adopt_build(build.id, later)
    assert adopted is not None and adopted.state is BuildState.QUEUED  # to run again
    assert a.adopt_build(build.id, later) is None  # adopted once
    # a comes back to life: it may neither finish nor keep the build, and learns it lost it.
    assert a.finish(build.id, BuildResult(state="succeeded")) is None
    assert lost_builds(a, build.id) == {build.id}
    assert b.mark_running(build.id) is not None
    finished = b.finish(build.id, BuildResult(state="succeeded", digest="sha256:" + "1" * 64))
    assert finished is not None and finished.state is BuildState.SUCCEEDED
    assert b.finish(build.id, BuildResult(state="failed")) is None  # finished once
    # Finished here is not lost: the task that finished it goes on to report it.
    assert lost_builds(b, build.id) == set()


def test_a_build_cancelled_by_another_replica_is_lost_to_its_owner(
    replicas: tuple[Store, Store],
) -> None:
    a, b = replicas
    build = recorded_build(a)
    a.mark_running(build.id)
    assert b.cancel(build.id, "superseded") is not None
    assert lost_builds(a, build.id) == {build.id}
    assert a.finish(build.id, BuildResult(state="succeeded")) is None
    assert a.get_build(build.id).state is BuildState.CANCELLED


def test_an_outbox_item_is_sent_by_one_replica_and_taken_over_when_its_sender_died(
    replicas: tuple[Store, Store],
) -> None:
    a, b = replicas
    now = time.time()
    a.outbox_put("status:x", "status", {"build_id": 1}, now - 1)
    item = a.outbox_claim(now)
    assert item is not None and item.key == "status:x"
    assert b.outbox_claim(now) is None  # a is sending it
    next_due = b.outbox_next_due()
    assert next_due is not None and next_due > now  # when a's claim expires
    taken = b.outbox_claim(now + LEASE + 1)  # a died while sending
    assert taken is not None and taken.key == "status:x"
    a.outbox_put("status:x", "status", {"build_id": 2}, now)  # a newer state meanwhile
    b.outbox_done(taken, "digest-1")  # the older version sent: the newer one stays
    newer = a.outbox_claim(time.time())
    assert newer is not None and newer.payload == {"build_id": 2}
    assert newer.sent == "digest-1"  # what the forge shows: not sent again if the same
    a.outbox_done(newer, "digest-2")
    assert a.outbox_items() == [] and a.outbox_next_due() is None
    assert a.outbox_claim(time.time() + 3 * LEASE) is None  # sent: never taken again
    a.outbox_put("status:x", "status", {"build_id": 3}, time.time())  # a later state
    (later,) = b.outbox_items()
    assert (later.payload, later.sent, later.attempts) == ({"build_id": 3}, "digest-2", 0)


def test_a_graceful_stop_lets_go_of_everything_at_once(replicas: tuple[Store, Store]) -> None:
    a, b = replicas
    build = recorded_build(a)
    now = time.time()
    a.outbox_put("status:x", "status", {"build_id": build.id}, now - 1)
    assert a.claim_delivery("d1", now=now)
    assert a.take_lease("retention", now=now)
    assert a.outbox_claim(now) is not None
    a.let_go()
    assert b.claim_delivery("d1", now=now)
    assert b.take_lease("retention", now=now)
    assert b.outbox_claim(now) is not None
    assert b.adopt_build(build.id, now) is not None


def test_a_replica_that_let_go_claims_nothing_more_so_a_late_claim_holds_nothing_back(
    replicas: tuple[Store, Store],
) -> None:
    """A stopping bot's duty thread may still be taking its lease when the bot lets go; were
    that claim to land after let_go, the lease would keep the duty from every replica (and
    from this bot's next start) until it expired."""
    a, b = replicas
    build = recorded_build(a)  # and its delivery, d1
    now = time.time()
    a.outbox_put("status:x", "status", {"build_id": build.id}, now - 1)
    a.let_go()
    assert not a.take_lease("catch-up", now=now)
    assert not a.claim_delivery("d1", now=now)
    assert a.outbox_claim(now) is None
    assert b.take_lease("catch-up", now=now) and b.claim_delivery("d1", now=now)
    assert b.outbox_claim(now) is not None


def test_a_build_log_written_on_one_replica_reads_the_same_on_another_and_stays_capped(
    replicas: tuple[Store, Store],
) -> None:
    a, b = replicas
    assert b.log_text(7) is None
    a.log_append(7, b"==> fetch\n", 64)
    b.log_append(7, "<== fetch: done \u2713\n".encode(), 64)
    assert a.log_text(7) == b.log_text(7) == "==> fetch\n<== fetch: done \u2713\n"
    a.log_append(7, b"x" * 100, 64)
    assert len(str(b.log_text(7)).encode()) == 64


def test_what_the_outbox_sent_is_kept_until_retention_and_what_waits_stays(
    replicas: tuple[Store, Store],
) -> None:
    a, _ = replicas
    now = time.time()
    a.outbox_put("status:sent", "status", {"build_id": 1}, now - 1)
    a.outbox_put("status:waiting", "status", {"build_id": 2}, now + 3600)
    sent = a.outbox_claim(now)
    assert sent is not None and sent.key == "status:sent"
    a.outbox_done(sent, "digest")
    a.delete_finished_before(datetime.now(UTC) + timedelta(seconds=5))
    a.outbox_put("status:sent", "status", {"build_id": 1}, now)
    items = {item.key: item for item in a.outbox_items()}
    assert set(items) == {"status:sent", "status:waiting"}
    assert items["status:sent"].sent is None  # the kept row went: a new one
