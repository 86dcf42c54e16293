"""bot/store.py: build keys, delivery attempts, and opening a database of a previous version;
on SQLite and on PostgreSQL (the `database_url` fixture runs a test on each)."""

from __future__ import annotations

import sqlite3
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from bot import migrations
from bot.build_record import BuildState
from bot.store import CheckRunRecord, Delivery, Store, metadata
from tests.support.databases import database_url

__all__ = ["database_url"]  # the fixture

# The schema the previous version created (its CREATE statements, as SQLAlchemy emitted them).
PREVIOUS_SCHEMA = """
CREATE TABLE deliveries (id VARCHAR NOT NULL, forge VARCHAR NOT NULL, event VARCHAR NOT NULL,
  headers TEXT NOT NULL, body BLOB NOT NULL, received_at DATETIME NOT NULL,
  processed_at DATETIME, outcome TEXT, PRIMARY KEY (id));
CREATE TABLE builds (id INTEGER NOT NULL, delivery_id VARCHAR NOT NULL, name VARCHAR NOT NULL,
  forge VARCHAR NOT NULL, repo VARCHAR NOT NULL, sha VARCHAR NOT NULL,
  ref_key VARCHAR NOT NULL, pr INTEGER, spec TEXT, state VARCHAR NOT NULL,
  reason TEXT NOT NULL, digest VARCHAR, size BIGINT, created_at DATETIME NOT NULL,
  started_at DATETIME, finished_at DATETIME, PRIMARY KEY (id), UNIQUE (delivery_id, name),
  FOREIGN KEY(delivery_id) REFERENCES deliveries (id));
CREATE INDEX builds_by_ref ON builds (forge, repo, ref_key, name);
CREATE TABLE approvals (forge VARCHAR NOT NULL, repo VARCHAR NOT NULL, pr INTEGER NOT NULL,
  sha VARCHAR NOT NULL, approver VARCHAR NOT NULL, approved_at DATETIME NOT NULL,
  PRIMARY KEY (forge, repo, pr, sha));
CREATE TABLE pull_comments (forge VARCHAR NOT NULL, repo VARCHAR NOT NULL, pr INTEGER NOT NULL,
  comment_id BIGINT, notice TEXT NOT NULL, PRIMARY KEY (forge, repo, pr));
CREATE TABLE outbox ("key" VARCHAR NOT NULL, kind VARCHAR NOT NULL, payload TEXT NOT NULL,
  due_at FLOAT NOT NULL, version INTEGER NOT NULL, attempts INTEGER NOT NULL, last_error TEXT,
  seq FLOAT NOT NULL, PRIMARY KEY ("key"));
INSERT INTO deliveries VALUES ('old', 'github', 'push', '{}', x'7b7d', '2025-01-01 00:00:00',
  NULL, NULL);
INSERT INTO builds VALUES (1, 'old', 'web', 'github', 'acme/app', 'abc', 'refs/heads/main',
  NULL, NULL, 'failed', 'x', NULL, NULL, '2025-01-01 00:00:00', NULL, NULL);
INSERT INTO builds VALUES (2, 'old', 'api', 'github', 'acme/app', 'abc', 'refs/heads/main',
  NULL, NULL, 'failed', 'x', NULL, NULL, '2025-01-01 00:00:00', NULL, NULL);
INSERT INTO pull_comments VALUES ('github', 'acme/app', 7, 99, 'waiting');
"""


def store(tmp_path: Path) -> Store:
    return Store(f"sqlite:///{tmp_path / 'db.sqlite'}")


def test_a_database_of_the_previous_version_opens_and_its_builds_get_keys(
    tmp_path: Path,
) -> None:
    with sqlite3.connect(tmp_path / "db.sqlite") as db:
        db.executescript(PREVIOUS_SCHEMA)
    for _ in range(2):  # the upgrade is idempotent: opening again changes nothing
        opened = store(tmp_path)
        first, second = opened.builds_of_delivery("old")
        assert first.key and second.key and first.key != second.key
        assert opened.find_build_by_key(first.key) == first
        (delivery,) = opened.unprocessed_deliveries(time.time())
        assert delivery.id == "old"
        info = opened.delivery_info("old")
        assert info is not None and (info.attempts, info.last_error) == (0, None)
        assert opened.pull_comment("github", "acme/app", 7).notice_sha == ""
        opened.close()
    again = store(tmp_path)
    assert again.find_build_by_key(first.key) == first  # the keys given once stay
    assert again.find_build_by_key(second.key) == second
    assert again.find_build_by_key("1") is None  # ids are no keys
    again.close()


def test_build_keys_are_random_192_bit_and_a_new_database_never_repeats_one(
    tmp_path: Path,
) -> None:
    keys = []
    for name in ("a", "b"):
        db = Store(f"sqlite:///{tmp_path / name / 'db.sqlite'}")
        db.add_delivery(Delivery("d", "github", "push", {}, b"{}"))
        build = db.add_build(
            delivery_id="d", name="web", forge="github", repo="acme/app", sha="abc",
            spec=None, state=BuildState.FAILED,
        )  # fmt: skip
        assert build.id == 1  # ids restart with a new database ...
        keys.append(build.key)
        db.close()
    assert keys[0] != keys[1]  # ... keys do not, so an old link opens nothing
    assert all(len(k) == 32 for k in keys)  # secrets.token_urlsafe(24): 192 bits


def test_a_claimed_or_waiting_delivery_is_not_due_and_attempts_count(database_url: str) -> None:
    db = Store(database_url)
    db.add_delivery(Delivery("d1", "github", "push", {}, b"{}"))
    now = time.time()
    assert db.claim_delivery("d1", now=now)
    assert not db.claim_delivery("d1", now=now)  # another attempt is under way
    assert db.unprocessed_deliveries(now) == []
    assert db.delivery_failed("d1", "GitHub answered 500") == 1
    db.retry_delivery_at("d1", now + 30)
    assert db.unprocessed_deliveries(now) == []
    assert not db.claim_delivery("d1", now=now)  # waiting for its next attempt
    assert [d.id for d in db.unprocessed_deliveries(now + 31)] == ["d1"]
    assert db.claim_delivery("d1", now=now + 31)
    assert db.delivery_failed("d1", "again") == 2
    db.finish_delivery("d1", "error: given up")
    info = db.delivery_info("d1")
    assert info is not None
    assert (info.processed, info.attempts, info.last_error) == (True, 2, "again")
    assert not db.claim_delivery("d1", now=now + 3600)
    db.close()


def test_the_migrations_make_the_schema_the_store_queries(database_url: str) -> None:
    Store(database_url).close()
    engine = sa.create_engine(database_url.replace("postgresql://", "postgresql+psycopg://"))
    with engine.connect() as conn:
        differences = compare_metadata(MigrationContext.configure(conn), metadata)
        assert differences == []
        assert MigrationContext.configure(conn).get_current_revision() == "0005"
    engine.dispose()


def test_a_database_of_the_first_schema_is_upgraded_and_its_builds_get_keys(
    database_url: str,
) -> None:
    engine = sa.create_engine(database_url.replace("postgresql://", "postgresql+psycopg://"))
    with engine.begin() as conn:
        migrations.upgrade(conn, "0001")
        conn.execute(
            sa.text(
                "INSERT INTO deliveries VALUES ('old', 'github', 'push', '{}', :body, "
                "'2025-01-01 00:00:00', NULL, NULL)"
            ),
            {"body": b"{}"},
        )
        for build_id, name in ((1, "web"), (2, "api")):
            conn.execute(
                sa.text(
                    "INSERT INTO builds VALUES (:id, 'old', :name, 'github', 'acme/app', 'abc', "
                    "'refs/heads/main', NULL, NULL, 'failed', 'x', NULL, NULL, "
                    "'2025-01-01 00:00:00', NULL, NULL)"
                ),
                {"id": build_id, "name": name},
            )
    engine.dispose()
    db = Store(database_url)
    first, second = db.builds_of_delivery("old")
    assert first.key and second.key and first.key != second.key
    assert db.find_build_by_key(first.key) == first
    info = db.delivery_info("old")
    assert info is not None and (info.attempts, info.last_error) == (0, None)
    db.close()


def test_a_burst_stores_each_delivery_once_and_names_the_redeliveries(database_url: str) -> None:
    db = Store(database_url)
    db.add_delivery(Delivery("old", "github", "push", {}, b"{}"))
    batch = [Delivery(i, "github", "push", {"k": i}, b"{}") for i in ("a", "old", "b", "a")]
    assert db.add_deliveries(batch) == [True, False, True, False]
    assert sorted(d.id for d in db.unprocessed_deliveries()) == ["a", "b", "old"]
    assert db.backlog() == {
        "unprocessed_deliveries": 3,
        "queued_builds": 0,
        "unsent_outbox_items": 0,
    }
    db.finish_delivery("a", "done")
    assert db.backlog()["unprocessed_deliveries"] == 2
    db.close()


def test_outbox_and_pull_comment_upserts_work_on_either_database(database_url: str) -> None:
    db = Store(database_url)
    db.outbox_put("status:1", "status", {"n": 1}, due_at=100.0)
    db.outbox_put("status:1", "status", {"n": 2}, due_at=200.0)  # keeps the earlier due time
    (item,) = db.outbox_items()
    assert (item.payload, item.due_at, item.version) == ({"n": 2}, 100.0, 2)
    assert db.backlog()["unsent_outbox_items"] == 1  # GET /healthz
    db.outbox_done(item)
    assert db.outbox_items() == []
    assert db.backlog()["unsent_outbox_items"] == 0
    db.set_pull_comment("github", "acme/app", 7, notice="waiting", notice_sha="abc")
    db.set_pull_comment("github", "acme/app", 7, comment_id=99)
    comment = db.pull_comment("github", "acme/app", 7)
    assert (comment.comment_id, comment.notice, comment.notice_sha) == (99, "waiting", "abc")
    db.close()


def test_a_database_of_the_single_bot_schema_is_upgraded_and_its_unfinished_work_adopted(
    database_url: str,
) -> None:
    """0002 -> 0003: builds left queued or running by a bot of the previous version have no
    owner, so the first replica to start adopts them; the rest is kept."""
    engine = sa.create_engine(database_url.replace("postgresql://", "postgresql+psycopg://"))
    with engine.begin() as conn:
        migrations.upgrade(conn, "0002")
        conn.execute(
            sa.text(
                "INSERT INTO deliveries (id, forge, event, headers, body, received_at, attempts)"
                " VALUES ('old', 'github', 'push', '{}', :body, '2025-01-01 00:00:00', 0)"
            ),
            {"body": b"{}"},
        )
        for build_id, state in ((1, "running"), (2, "succeeded")):
            conn.execute(
                sa.text(
                    "INSERT INTO builds (id, delivery_id, name, forge, repo, sha, ref_key, state,"
                    " reason, created_at, key) VALUES (:id, 'old', :name, 'github', 'acme/app',"
                    " 'abc', 'refs/heads/main', :state, '', '2025-01-01 00:00:00', :key)"
                ),
                {"id": build_id, "name": f"b{build_id}", "state": state, "key": f"k{build_id}"},
            )
    engine.dispose()
    db = Store(database_url)
    assert [b.id for b in db.orphaned_builds()] == [1]
    adopted = db.adopt_build(1)
    assert adopted is not None and adopted.state is BuildState.QUEUED
    assert db.claim_delivery("old")
    assert db.log_text(1) is None and db.take_lease("retention")
    db.close()


def test_a_builds_check_run_is_remembered_updated_and_forgotten_with_the_build(
    database_url: str,
) -> None:
    db = Store(database_url)
    db.add_delivery(Delivery("d1", "github", "push", {}, b"{}"))
    db.finish_delivery("d1", "done")
    old, newest = [
        db.add_build(delivery_id="d1", name=name, forge="github", repo="acme/web",
                     sha="a" * 40, spec=None, state=BuildState.FAILED)
        for name in ("web", "api")
    ]  # fmt: skip
    assert db.check_run(old.id) is None
    db.set_check_run(old.id, 9_000_000_001, 0)  # GitHub's ids outgrow 32 bits
    db.set_check_run(old.id, 9_000_000_001, 50)
    db.set_check_run(newest.id, 7, 0)
    assert (db.check_run(old.id), db.check_run(newest.id)) == (
        CheckRunRecord(9_000_000_001, 50), CheckRunRecord(7, 0),
    )  # fmt: skip
    db.delete_finished_before(datetime.now(UTC) + timedelta(seconds=5))
    assert db.check_run(old.id) is None  # gone with its build; the newest build stays
    assert db.check_run(newest.id) == CheckRunRecord(7, 0)
    db.close()
