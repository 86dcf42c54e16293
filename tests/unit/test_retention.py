"""Retention: deliveries, finished builds and their logs older than retention_days go
(Store.delete_finished_before, bot/orchestrator.py forget_before); what is unfinished stays."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.build_logs import LogStore
from bot.build_record import BuildState
from bot.build_result import BuildResult
from bot.orchestrator import forget_before
from bot.store import Delivery, Store

SHA = "f" * 40


def test_old_finished_builds_their_logs_and_deliveries_go_unfinished_work_stays(
    tmp_path: Path,
) -> None:
    store = Store(f"sqlite:///{tmp_path / 'db.sqlite'}")
    logs = LogStore(store, tmp_path / "logs")

    def delivery(name: str, processed: bool = True) -> str:
        store.add_delivery(Delivery(name, "github", "push", {}, b"{}"))
        if processed:
            store.finish_delivery(name, "done")
        return name

    def build(delivery_id: str, name: str, result: BuildResult | None) -> int:
        added = store.add_build(
            delivery_id=delivery_id, name=name, forge="github", repo="acme/web", sha=SHA,
            spec=None,
        )  # fmt: skip
        if result is not None:
            store.finish(added.id, result)
        logs.write(added.id, f"the log of {name}\n")
        return added.id

    done = delivery("done")
    finished = [
        build(done, "a", BuildResult(state="succeeded")),
        build(done, "b", BuildResult(state="failed")),
    ]
    mixed = delivery("mixed")
    old_of_mixed = build(mixed, "c", BuildResult(state="error"))
    queued = build(mixed, "d", None)  # still queued: it and its delivery stay
    pending = delivery("unprocessed", processed=False)
    newest = build(delivery("last"), "e", BuildResult(state="succeeded"))
    orphan = logs.path(999)  # a log whose build is gone already (a crash between the two)
    orphan.write_text("left behind\n")
    os.utime(orphan, (0, 0))

    # A cutoff after everything above: all of it is "older than retention_days".
    cutoff = datetime.now(UTC) + timedelta(seconds=5)
    assert forget_before(store, logs, cutoff) == 3

    for gone in [*finished, old_of_mixed]:
        assert store.find_build(gone) is None
        assert logs.read(gone) is None
    assert not orphan.exists()
    assert store.get_build(queued).state is BuildState.QUEUED
    assert logs.read(queued) == "the log of d\n"
    # The newest build stays whatever its age: its id must not be given to the next build.
    assert store.find_build(newest) is not None
    assert not store.has_delivery(done)
    assert store.has_delivery(mixed) and store.has_delivery(pending)
    assert store.has_delivery("last")
    next_build = build(delivery("next"), "f", None)
    assert next_build > newest


def test_builds_and_deliveries_newer_than_the_cutoff_stay(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'db.sqlite'}")
    logs = LogStore(store, tmp_path / "logs")
    store.add_delivery(Delivery("d", "github", "push", {}, b"{}"))
    store.finish_delivery("d", "done")
    ids = []
    for name in ("a", "b"):
        added = store.add_build(delivery_id="d", name=name, forge="github", repo="acme/web",
                                sha=SHA, spec=None)  # fmt: skip
        store.finish(added.id, BuildResult(state="succeeded"))
        logs.write(added.id, "log\n")
        ids.append(added.id)

    thirty_days_ago = datetime.now(UTC) - timedelta(days=30)
    assert forget_before(store, logs, thirty_days_ago) == 0
    assert all(store.find_build(i) is not None and logs.read(i) == "log\n" for i in ids)
    assert store.has_delivery("d")
