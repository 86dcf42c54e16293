"""The store: deliveries, builds, pull-request state and the outbox, in SQLite by default or
in PostgreSQL (`database_url` postgresql://..., through psycopg 3), by the same code; the
schema is made and upgraded by versioned migrations (bot/migrations) when the store opens.

A delivery is written before the webhook is acknowledged, so a crash loses nothing; its id is
the primary key, so a redelivery is recognised and ignored. A delivery whose processing fails
is tried again later (`next_attempt_at`), a bounded number of times (`attempts`,
`last_error`). Statuses and comments wait in the outbox table until the forge took them, so
neither a forge outage nor a restart drops one.

Several replicas may share one PostgreSQL database (SQLite: one bot). Whatever a replica
works on it claims first, with one conditional UPDATE naming it (bot/replica.py) and an
expiry its heartbeat renews (`renew`): a delivery (`claimed_by`, `next_attempt_at`), a build
(`owner`, `lease_expires`), an outbox item (`claimed_by`, `claimed_until`), a periodic duty
(`leases`). A claim whose holder stopped renewing it expires, and another replica takes the
work over. Build logs live here too (`log_chunks`), so any replica serves any log link.

Each build has a random `key` besides its id: log links carry the key, so they cannot be
guessed, enumerated, or reused by a new database.
"""

from __future__ import annotations

import contextlib
import json
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError

from bot import migrations
from bot.build_record import Build, BuildState
from bot.build_result import BuildResult
from bot.build_spec import BuildSpec
from bot.replica import Replica

metadata = sa.MetaData()

deliveries = sa.Table(
    "deliveries",
    metadata,
    sa.Column("id", sa.String, primary_key=True),  # the forge's delivery id
    sa.Column("forge", sa.String, nullable=False),
    sa.Column("event", sa.String, nullable=False),
    sa.Column("headers", sa.Text, nullable=False),
    sa.Column("body", sa.LargeBinary, nullable=False),
    sa.Column("received_at", sa.DateTime, nullable=False),
    sa.Column("processed_at", sa.DateTime),
    sa.Column("outcome", sa.Text),
    sa.Column("attempts", sa.Integer, nullable=False, server_default=sa.text("0")),
    sa.Column("last_error", sa.Text),
    sa.Column("next_attempt_at", sa.Float),  # epoch seconds; NULL: now
    sa.Column("claimed_by", sa.String),  # the replica processing it until next_attempt_at
)

builds = sa.Table(
    "builds",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("delivery_id", sa.String, sa.ForeignKey("deliveries.id"), nullable=False),
    sa.Column("name", sa.String, nullable=False),
    sa.Column("forge", sa.String, nullable=False),
    sa.Column("repo", sa.String, nullable=False),
    sa.Column("sha", sa.String, nullable=False),
    sa.Column("ref_key", sa.String, nullable=False, default=""),
    sa.Column("pr", sa.Integer),
    sa.Column("spec", sa.Text),  # BuildSpec JSON; NULL for a config failure (nothing to build)
    sa.Column("state", sa.String, nullable=False),
    sa.Column("reason", sa.Text, nullable=False, default=""),
    sa.Column("digest", sa.String),
    sa.Column("size", sa.BigInteger),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("started_at", sa.DateTime),
    sa.Column("finished_at", sa.DateTime),
    # What links name the build by (secrets.token_urlsafe): unguessable, never reused.
    sa.Column("key", sa.String),
    # The replica that runs (or will run) the build, until lease_expires (epoch seconds).
    sa.Column("owner", sa.String),
    sa.Column("lease_expires", sa.Float),
    # The builder and runtime images' digests it was built from (bot/base_images.py).
    sa.Column("builder_digest", sa.String),
    sa.Column("runtime_digest", sa.String),
    sa.UniqueConstraint("delivery_id", "name"),
    sa.Index("builds_by_ref", "forge", "repo", "ref_key", "name"),
)
_BUILDS_BY_KEY = sa.Index("builds_by_key", builds.c.key, unique=True)
KEY_BYTES = 24  # 192 bits


def _pull_key(*, with_sha: bool = False) -> list[sa.Column[Any]]:
    """forge, repo, pr (and a head sha): the primary key of what the bot keeps per pull
    request. New Column objects each time: a Column belongs to one table."""
    key: list[sa.Column[Any]] = [
        sa.Column("forge", sa.String, primary_key=True),
        sa.Column("repo", sa.String, primary_key=True),
        sa.Column("pr", sa.Integer, primary_key=True),
    ]
    if with_sha:
        key.append(sa.Column("sha", sa.String, primary_key=True))
    return key


def _of_pull(table: sa.Table, forge: str, repo: str, pr: int) -> Any:
    """The rows of `table` (keyed by _pull_key) that belong to one pull request."""
    return sa.and_(table.c.forge == forge, table.c.repo == repo, table.c.pr == pr)


# `/s2i ok-to-test` approvals, bound to the head sha they were given for.
approvals = sa.Table(
    "approvals",
    metadata,
    *_pull_key(with_sha=True),
    sa.Column("approver", sa.String, nullable=False),
    sa.Column("approved_at", sa.DateTime, nullable=False),
)

# The bot's one comment per pull request (edited in place) and the notice it shows.
pull_comments = sa.Table(
    "pull_comments",
    metadata,
    *_pull_key(),
    sa.Column("comment_id", sa.BigInteger),
    sa.Column("notice", sa.Text, nullable=False, default=""),
    sa.Column("notice_sha", sa.String),  # the head commit the notice asks approval for
)

# When the PR comment showing a waiting notice for a head commit reached the forge: an
# `/s2i ok-to-test` approves the commit whose notice was shown when the comment came in.
pull_notices = sa.Table(
    "pull_notices",
    metadata,
    *_pull_key(with_sha=True),
    sa.Column("published_at", sa.DateTime, nullable=False),
)

outbox = sa.Table(
    "outbox",
    metadata,
    sa.Column("key", sa.String, primary_key=True),
    sa.Column("kind", sa.String, nullable=False),
    sa.Column("payload", sa.Text, nullable=False),
    sa.Column("due_at", sa.Float, nullable=False),  # epoch seconds: survives restarts
    sa.Column("version", sa.Integer, nullable=False),  # bumped by each put
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("last_error", sa.Text),
    sa.Column("seq", sa.Float, nullable=False),  # when first put: the sending order
    sa.Column("claimed_by", sa.String),  # the replica sending it, until claimed_until
    sa.Column("claimed_until", sa.Float),
    # The version sent last and a digest of what it sent: a sent item stays, so whichever
    # replica sends the key's next version knows what the forge shows already.
    sa.Column("sent_version", sa.Integer),
    sa.Column("sent", sa.String),
)
# Not sent yet: never, or a newer version was put since.
_UNSENT = sa.or_(outbox.c.sent_version.is_(None), outbox.c.version > outbox.c.sent_version)

# Named leases: a periodic duty (retries, recovery, retention...) is done by the replica
# holding its lease, one at a time.
leases = sa.Table(
    "leases",
    metadata,
    sa.Column("name", sa.String, primary_key=True),
    sa.Column("holder", sa.String, nullable=False),
    sa.Column("expires", sa.Float, nullable=False),  # epoch seconds
)

# Build logs, in the order written: what a replica's spool file got, shipped as it grows
# (bot/build_logs.py).
log_chunks = sa.Table(
    "log_chunks",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("build_id", sa.Integer, nullable=False),
    sa.Column("data", sa.LargeBinary, nullable=False),
    sa.Index("log_chunks_by_build", "build_id", "id"),
)


# The check run that shows a build on GitHub (bot/check_run.py): created once, then updated;
# annotations go 50 a request, and how many GitHub has is kept so none is sent twice.
check_runs = sa.Table(
    "check_runs",
    metadata,
    sa.Column("build_id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("check_run_id", sa.BigInteger, nullable=False),
    sa.Column("annotations_sent", sa.Integer, nullable=False, server_default=sa.text("0")),
)


@dataclass(frozen=True)
class CheckRunRecord:
    check_run_id: int
    annotations_sent: int


@dataclass(frozen=True)
class Delivery:
    id: str
    forge: str
    event: str
    headers: dict[str, str]
    body: bytes


@dataclass(frozen=True)
class DeliveryInfo:
    """What `GET /deliveries/{id}` shows."""

    id: str
    received_at: datetime
    processed: bool
    outcome: str | None
    attempts: int
    last_error: str | None
    next_attempt_at: float | None


@dataclass(frozen=True)
class OutboxItem:
    key: str
    kind: str
    payload: dict[str, Any]
    due_at: float
    version: int
    attempts: int
    sent: str | None = None  # a digest of what this key sent last (bot/reporter.py)


def _outbox_item(r: Any) -> OutboxItem:
    return OutboxItem(r.key, r.kind, json.loads(r.payload), r.due_at, r.version, r.attempts, r.sent)


@dataclass(frozen=True)
class PullComment:
    comment_id: int | None
    notice: str
    notice_sha: str = ""


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _epoch(naive_utc: datetime) -> float:
    return naive_utc.replace(tzinfo=UTC).timestamp()


def _build(row: Any) -> Build:
    spec = BuildSpec.model_validate_json(row.spec) if row.spec else None
    return Build(
        row.id, row.delivery_id, row.name, row.forge, row.repo, row.sha, spec,
        BuildState(row.state), row.reason, row.digest, row.size, row.ref_key, row.pr, row.key,
        row.created_at, row.started_at, row.finished_at, row.builder_digest, row.runtime_digest,
    )  # fmt: skip


def _insert(dialect: str) -> Any:
    """INSERT with ON CONFLICT, for the embedded SQLite and for PostgreSQL."""
    if dialect == "sqlite":
        return sqlite_insert
    if dialect == "postgresql":
        return postgresql_insert
    raise ValueError(f"the store supports sqlite and postgresql, not {dialect}")


def _sqlite_wal(connection: Any, _record: Any) -> None:
    connection.execute("PRAGMA journal_mode=WAL")
    # Every write but the intake's: a commit is safe from a crash of the bot, and may be lost
    # with the machine's power ("synchronous": in WAL mode NORMAL "does lose durability" only
    # "following a power loss or system crash", https://sqlite.org/pragma.html#pragma_synchronous).
    # What is lost then is work that is done again: a delivery stays stored (the intake's
    # commits sync the log, and with it every commit before theirs) and is processed again.
    connection.execute("PRAGMA synchronous=NORMAL")


def _sqlite_wal_synced(connection: Any, _record: Any) -> None:
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=FULL")  # a delivery acknowledged is on disk


_UNFINISHED = [BuildState.QUEUED.value, BuildState.RUNNING.value]


def _new_key() -> str:
    return secrets.token_urlsafe(KEY_BYTES)


def _driver(url: str) -> str:
    """postgresql://... through psycopg 3 (SQLAlchemy's default driver for it is psycopg2)."""
    parsed = sa.make_url(url)
    if parsed.drivername == "postgresql":
        return parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    return url


# Replicas starting together migrate one at a time (a PostgreSQL advisory lock, held until the
# migration's transaction ends).
_MIGRATION_LOCK = 0x5321B07


class Store:
    def __init__(self, url: str, replica: Replica | None = None) -> None:
        # After let_go, this replica claims nothing more: a claim a stopping bot's thread was
        # still making when it let go would otherwise hold a delivery or a duty's lease
        # until it expires (lease_seconds), keeping it from the next start or the others.
        self._letting_go = threading.Lock()
        self._let_go = False
        # Who this store's claims name; alone (tests, tools): a replica of its own.
        self.replica = replica or Replica.new()
        url = _driver(url)
        if url.startswith("sqlite:///"):
            Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
            # Builds, the outbox and webhooks write from several threads: wait for the lock
            # rather than fail, and let readers go on while one writes (WAL).
            self._engine = sa.create_engine(url, connect_args={"timeout": 30})
            sa.event.listen(self._engine, "connect", _sqlite_wal)
            self._intake_engine = sa.create_engine(url, connect_args={"timeout": 30})
            sa.event.listen(self._intake_engine, "connect", _sqlite_wal_synced)
        else:
            self._engine = sa.create_engine(url, pool_pre_ping=True)
            self._intake_engine = self._engine
        # The schema is the migrations' (bot/migrations): created or brought up to date here.
        with self._engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(sa.select(sa.func.pg_advisory_xact_lock(_MIGRATION_LOCK)))
            migrations.upgrade(conn)

    def close(self) -> None:
        self._intake_engine.dispose()
        self._engine.dispose()

    def _rows(self, query: Any) -> list[Any]:
        with self._engine.connect() as conn:
            return list(conn.execute(query))

    def _write(self, statement: Any) -> Any:
        with self._engine.begin() as conn:
            return conn.execute(statement)

    def ping(self) -> None:
        """A cheap query: raises when the database cannot be reached (GET /readyz)."""
        self._rows(sa.select(sa.literal(1)))

    def _until(self, now: float | None = None) -> float:
        return (time.time() if now is None else now) + self.replica.lease_seconds

    # -- deliveries
    def add_delivery(self, delivery: Delivery) -> bool:
        """Persist a webhook delivery; False when this delivery id was already stored."""
        return self.add_deliveries([delivery])[0]

    def add_deliveries(self, batch: list[Delivery]) -> list[bool]:
        """Persist deliveries in one transaction (the intake writer's group commit: one
        commit, one fsync, for every delivery that arrived meanwhile); for each, False when
        its id was already stored (a redelivery). Three statements whatever the batch's size:
        the writer's thread gives the interpreter lock up at each, and waits to get it back."""
        ids = [delivery.id for delivery in batch]
        received_at = _now()
        with self._intake_engine.begin() as conn:
            known = set(
                conn.execute(sa.select(deliveries.c.id).where(deliveries.c.id.in_(set(ids))))
                .scalars()
                .all()
            )
            stored: list[bool] = []
            rows: list[dict[str, Any]] = []
            for delivery in batch:
                new = delivery.id not in known
                stored.append(new)
                if new:
                    known.add(delivery.id)  # the same id twice in one batch: the first counts
                    rows.append(
                        {
                            "id": delivery.id, "forge": delivery.forge, "event": delivery.event,
                            "headers": json.dumps(delivery.headers), "body": delivery.body,
                            "received_at": received_at,
                        }
                    )  # fmt: skip
            if rows:
                # Another replica may store the same id meanwhile: then both took it, and the
                # claim lets only one process it.
                insert = _insert(self._engine.dialect.name)(deliveries)
                conn.execute(insert.on_conflict_do_nothing(index_elements=[deliveries.c.id]), rows)
        return stored

    def backlog(self) -> dict[str, int]:
        """What waits: deliveries stored but not processed, builds queued, outbox items not
        sent yet, i.e. forge writes and what the bot records once the forge took them
        (GET /healthz)."""
        with self._engine.connect() as conn:
            unprocessed = conn.execute(
                sa.select(sa.func.count()).where(deliveries.c.processed_at.is_(None))
            ).scalar()
            queued = conn.execute(
                sa.select(sa.func.count()).where(builds.c.state == BuildState.QUEUED.value)
            ).scalar()
            unsent = conn.execute(sa.select(sa.func.count()).where(_UNSENT)).scalar()
        return {
            "unprocessed_deliveries": int(unprocessed or 0), "queued_builds": int(queued or 0),
            "unsent_outbox_items": int(unsent or 0),
        }  # fmt: skip

    def gauges(self) -> dict[str, int]:
        """What waits now, for every replica alike (bot/metrics.py, read when scraped):
        deliveries not processed, builds queued and running, outbox items not sent."""
        with self._engine.connect() as conn:

            def count(table: sa.Table, *where: Any) -> int:
                return int(conn.execute(sa.select(sa.func.count()).select_from(table)
                                        .where(*where)).scalar() or 0)  # fmt: skip

            return {
                "unprocessed_deliveries": count(deliveries, deliveries.c.processed_at.is_(None)),
                "queued_builds": count(builds, builds.c.state == BuildState.QUEUED.value),
                "running_builds": count(builds, builds.c.state == BuildState.RUNNING.value),
                "outbox_backlog": count(outbox, _UNSENT),
            }

    def finish_delivery(self, delivery_id: str, outcome: str) -> None:
        self._write(
            deliveries.update()
            .where(deliveries.c.id == delivery_id)
            .values(processed_at=_now(), outcome=outcome, next_attempt_at=None, claimed_by=None)
        )

    def reseal_deliveries(
        self, forge: str, header: str, reseal: Callable[[dict[str, str], bytes], dict[str, str]]
    ) -> int:
        """Rewrite the stored headers of `forge`'s deliveries that still hold `header` with
        `reseal`'s; returns how many. An upgrade step: GitLab deliveries stored before the
        bot sealed them hold the webhook secret itself (bot.forges.gitlab_webhooks)."""
        query = sa.select(deliveries.c.id, deliveries.c.headers, deliveries.c.body).where(
            deliveries.c.forge == forge, deliveries.c.headers.contains(f'"{header}"')
        )
        rows = self._rows(query)
        for row in rows:
            headers = reseal(json.loads(row.headers), row.body)
            self._write(
                deliveries.update()
                .where(deliveries.c.id == row.id)
                .values(headers=json.dumps(headers))
            )
        return len(rows)

    def unprocessed_deliveries(self, due_at: float | None = None) -> list[Delivery]:
        """Deliveries not processed yet; with `due_at`, only those due by then (not waiting
        for their next attempt, not being processed)."""
        query = sa.select(deliveries).where(deliveries.c.processed_at.is_(None))
        if due_at is not None:
            next_attempt = deliveries.c.next_attempt_at
            query = query.where(sa.or_(next_attempt.is_(None), next_attempt <= due_at))
        rows = self._rows(query.order_by(deliveries.c.received_at))
        return [Delivery(r.id, r.forge, r.event, json.loads(r.headers), r.body) for r in rows]

    def claim_delivery(self, delivery_id: str, now: float | None = None) -> bool:
        """Take an unprocessed delivery for this replica, for a lease its heartbeat renews
        (`renew`); False when it is processed, waits for its next attempt, or another
        replica's claim on it has not expired."""
        with self._letting_go:
            if self._let_go:
                return False
            now = time.time() if now is None else now
            next_attempt = deliveries.c.next_attempt_at
            query = deliveries.update().where(
                deliveries.c.id == delivery_id, deliveries.c.processed_at.is_(None),
                sa.or_(next_attempt.is_(None), next_attempt <= now),
            )  # fmt: skip
            claim = {"next_attempt_at": self._until(now), "claimed_by": self.replica.id}
            return bool(self._write(query.values(**claim)).rowcount)

    def delivery_failed(self, delivery_id: str, error: str) -> int:
        """Count a failed attempt and its cause; the number of attempts so far."""
        self._write(
            deliveries.update()
            .where(deliveries.c.id == delivery_id)
            .values(attempts=deliveries.c.attempts + 1, last_error=error)
        )
        rows = self._rows(sa.select(deliveries.c.attempts).where(deliveries.c.id == delivery_id))
        return int(rows[0].attempts) if rows else 0

    def retry_delivery_at(self, delivery_id: str, at: float) -> None:
        """When (epoch seconds) the retry loop may try the delivery again."""
        self._write(
            deliveries.update()
            .where(deliveries.c.id == delivery_id)
            .values(next_attempt_at=at, claimed_by=None)
        )

    def delivery_info(self, delivery_id: str) -> DeliveryInfo | None:
        rows = self._rows(sa.select(deliveries).where(deliveries.c.id == delivery_id))
        if not rows:
            return None
        r = rows[0]
        return DeliveryInfo(
            r.id, r.received_at, r.processed_at is not None, r.outcome, r.attempts,
            r.last_error, r.next_attempt_at,
        )  # fmt: skip

    def delivery_event(self, delivery_id: str) -> str | None:
        """The forge's name for the event a delivery carried (push, pull_request, Note Hook)."""
        rows = self._rows(sa.select(deliveries.c.event).where(deliveries.c.id == delivery_id))
        return str(rows[0].event) if rows else None

    def has_delivery(self, delivery_id: str) -> bool:
        return bool(self._rows(sa.select(deliveries.c.id).where(deliveries.c.id == delivery_id)))

    def known_deliveries(self, ids: list[str]) -> set[str]:
        """Which of these delivery ids are stored (missed-delivery recovery skips them)."""
        known: set[str] = set()
        for start in range(0, len(ids), 500):  # bounded IN lists
            query = sa.select(deliveries.c.id).where(deliveries.c.id.in_(ids[start : start + 500]))
            known.update(row.id for row in self._rows(query))
        return known

    def delivery_outcome(self, delivery_id: str) -> str | None:
        rows = self._rows(sa.select(deliveries.c.outcome).where(deliveries.c.id == delivery_id))
        return rows[0].outcome if rows else None

    # -- builds
    def add_build(
        self,
        *,
        delivery_id: str,
        name: str,
        forge: str,
        repo: str,
        sha: str,
        spec: BuildSpec | None,
        ref_key: str = "",
        pr: int | None = None,
        state: BuildState = BuildState.QUEUED,
        reason: str = "",
    ) -> Build:
        result = self._write(
            builds.insert().values(
                delivery_id=delivery_id, name=name, forge=forge, repo=repo, sha=sha,
                ref_key=ref_key, pr=pr, spec=spec.model_dump_json() if spec else None,
                state=state.value, reason=reason, created_at=_now(),
                finished_at=_now() if state.finished else None, key=_new_key(),
                owner=self.replica.id, lease_expires=None if state.finished else self._until(),
            )
        )  # fmt: skip
        key = result.inserted_primary_key
        assert key is not None
        return self.get_build(int(key[0]))

    def get_build(self, build_id: int) -> Build:
        build = self.find_build(build_id)
        if build is None:
            raise KeyError(f"no build {build_id}")
        return build

    def find_build(self, build_id: int) -> Build | None:
        rows = self._rows(sa.select(builds).where(builds.c.id == build_id))
        return _build(rows[0]) if rows else None

    def find_build_by_key(self, key: str) -> Build | None:
        rows = self._rows(sa.select(builds).where(builds.c.key == key))
        return _build(rows[0]) if rows else None

    def builds_of_repo(
        self, repo: str, limit: int, *, name: str | None = None, ref_key: str | None = None,
        pr: int | None = None, state: BuildState | None = None,
    ) -> list[Build]:  # fmt: skip
        """The newest builds of a repository (any forge, name matched case-insensitively),
        newest first; only those of a build name, a ref, a pull request, a state if given."""
        query = sa.select(builds).where(sa.func.lower(builds.c.repo) == repo.lower())
        for column, value in ((builds.c.name, name), (builds.c.ref_key, ref_key),
                              (builds.c.pr, pr), (builds.c.state, state)):  # fmt: skip
            if value is not None:
                query = query.where(
                    column == (value.value if isinstance(value, BuildState) else value)
                )
        return [_build(r) for r in self._rows(query.order_by(builds.c.id.desc()).limit(limit))]

    def builds_of_delivery(self, delivery_id: str) -> list[Build]:
        query = sa.select(builds).where(builds.c.delivery_id == delivery_id)
        return [_build(r) for r in self._rows(query.order_by(builds.c.id))]

    def unfinished_builds(
        self, forge: str, repo: str, ref_key: str, names: list[str] | None = None
    ) -> list[Build]:
        query = sa.select(builds).where(
            builds.c.forge == forge, builds.c.repo == repo, builds.c.ref_key == ref_key,
            builds.c.state.in_(_UNFINISHED),
        )  # fmt: skip
        if names is not None:
            query = query.where(builds.c.name.in_(names))
        return [_build(r) for r in self._rows(query.order_by(builds.c.id))]

    def newest_build(self, forge: str, repo: str, ref_key: str, name: str) -> Build | None:
        """The newest build of one name and ref (what a re-run would supersede)."""
        query = sa.select(builds).where(
            builds.c.forge == forge, builds.c.repo == repo, builds.c.ref_key == ref_key,
            builds.c.name == name,
        )  # fmt: skip
        rows = self._rows(query.order_by(builds.c.id.desc()).limit(1))
        return _build(rows[0]) if rows else None

    def latest_builds_of_commit(self, forge: str, repo: str, sha: str) -> list[Build]:
        """The newest build of each name of one commit (what GitHub shows on it: one check
        run per name), in id order."""
        query = sa.select(builds).where(
            builds.c.forge == forge, builds.c.repo == repo, builds.c.sha == sha
        )
        latest: dict[str, Build] = {}
        for row in self._rows(query.order_by(builds.c.id)):
            latest[row.name] = _build(row)
        return sorted(latest.values(), key=lambda b: b.id)

    def last_branch_builds(self, limit: int) -> list[Build]:
        """The newest build of each branch the bot built (any name, any state), the most
        recently built branches first, at most `limit` (the catch-up compares their shas
        with the branch heads)."""
        newest = (
            sa.select(sa.func.max(builds.c.id))
            .where(
                builds.c.ref_key.like("refs/heads/%"), builds.c.pr.is_(None),
                # A rebuild on a new base image (bot/base_images.py) builds an older commit
                # again: where the branch was, not where it is.
                builds.c.delivery_id.not_like("rebuild-%"),
            )
            .group_by(builds.c.forge, builds.c.repo, builds.c.ref_key)
        )  # fmt: skip
        query = sa.select(builds).where(builds.c.id.in_(newest))
        return [_build(r) for r in self._rows(query.order_by(builds.c.id.desc()).limit(limit))]

    def last_successful_branch_builds(self) -> list[Build]:
        """The newest successful build of each name on each branch, when no newer build of
        that name and branch is queued or running (which builds on the base images as they
        are now): what a new builder or runtime image rebuilds (bot/base_images.py)."""
        newest_ok = (
            sa.select(sa.func.max(builds.c.id))
            .where(
                builds.c.ref_key.like("refs/heads/%"), builds.c.pr.is_(None),
                builds.c.state == BuildState.SUCCEEDED.value, builds.c.spec.is_not(None),
            )
            .group_by(builds.c.forge, builds.c.repo, builds.c.ref_key, builds.c.name)
        )  # fmt: skip
        newer = builds.alias("newer")
        unfinished_newer = sa.exists().where(
            newer.c.forge == builds.c.forge, newer.c.repo == builds.c.repo,
            newer.c.ref_key == builds.c.ref_key, newer.c.name == builds.c.name,
            newer.c.id > builds.c.id, newer.c.state.in_(_UNFINISHED),
        )  # fmt: skip
        query = sa.select(builds).where(builds.c.id.in_(newest_ok), ~unfinished_newer)
        return [_build(r) for r in self._rows(query.order_by(builds.c.id))]

    def last_success(self, forge: str, repo: str, ref_key: str, name: str) -> Build | None:
        """The newest successful build of one name on one ref."""
        query = sa.select(builds).where(
            builds.c.forge == forge, builds.c.repo == repo, builds.c.ref_key == ref_key,
            builds.c.name == name, builds.c.state == BuildState.SUCCEEDED.value,
        )  # fmt: skip
        rows = self._rows(query.order_by(builds.c.id.desc()).limit(1))
        return _build(rows[0]) if rows else None

    def latest_builds_of_pull(self, forge: str, repo: str, pr: int) -> list[Build]:
        """The newest build of each name for a pull request, in name order."""
        query = sa.select(builds).where(
            builds.c.forge == forge, builds.c.repo == repo, builds.c.pr == pr
        )
        latest: dict[str, Build] = {}
        for row in self._rows(query.order_by(builds.c.id)):
            latest[row.name] = _build(row)
        return [latest[name] for name in sorted(latest)]

    def mark_running(self, build_id: int) -> Build | None:
        """Queued -> running, for a build this replica owns; a build cancelled meanwhile
        stays cancelled (and is returned so); None when another replica took it over."""
        self._write(
            builds.update()
            .where(
                builds.c.id == build_id, builds.c.state == BuildState.QUEUED.value,
                builds.c.owner == self.replica.id,
            )
            .values(state=BuildState.RUNNING.value, started_at=_now())
        )  # fmt: skip
        build = self.get_build(build_id)
        if build.state.finished or self._owner(build_id) == self.replica.id:
            return build
        return None

    def _owner(self, build_id: int) -> str | None:
        rows = self._rows(sa.select(builds.c.owner).where(builds.c.id == build_id))
        return rows[0].owner if rows else None

    def orphaned_builds(self, now: float | None = None) -> list[Build]:
        """Unfinished builds no replica holds: the lease of their owner expired (it died,
        or stopped and let them go)."""
        now = time.time() if now is None else now
        lease = builds.c.lease_expires
        query = sa.select(builds).where(
            builds.c.state.in_(_UNFINISHED), sa.or_(lease.is_(None), lease < now)
        )
        return [_build(r) for r in self._rows(query.order_by(builds.c.id))]

    def adopt_build(self, build_id: int, now: float | None = None) -> Build | None:
        """Take over an orphaned build for this replica, queued to run (again: a Job is
        adopted by the executor); None when it finished or another replica holds it."""
        now = time.time() if now is None else now
        lease = builds.c.lease_expires
        result = self._write(
            builds.update()
            .where(
                builds.c.id == build_id, builds.c.state.in_(_UNFINISHED),
                sa.or_(lease.is_(None), lease < now),
            )
            .values(
                owner=self.replica.id, lease_expires=self._until(now),
                state=BuildState.QUEUED.value, started_at=None,
            )
        )  # fmt: skip
        return self.get_build(build_id) if result.rowcount else None

    def cancel(self, build_id: int, reason: str) -> Build | None:
        """Mark an unfinished build cancelled; None when it had already finished."""
        result = self._write(
            builds.update()
            .where(builds.c.id == build_id, builds.c.state.in_(_UNFINISHED))
            .values(state=BuildState.CANCELLED.value, reason=reason, finished_at=_now())
        )
        return self.get_build(build_id) if result.rowcount else None

    def finish(self, build_id: int, result: BuildResult) -> Build | None:
        """Record how an unfinished build this replica owns ended; None when it was
        cancelled meanwhile or another replica took it over (then that one reports it)."""
        state = {
            "succeeded": BuildState.SUCCEEDED,
            "failed": BuildState.FAILED,
            "error": BuildState.ERROR,
        }[result.state]
        written = self._write(
            builds.update()
            .where(
                builds.c.id == build_id, builds.c.state.in_(_UNFINISHED),
                builds.c.owner == self.replica.id,
            )
            .values(
                state=state.value, reason=result.reason, digest=result.digest,
                size=result.size, finished_at=_now(), lease_expires=None,
                builder_digest=result.builder_digest, runtime_digest=result.runtime_digest,
            )
        )  # fmt: skip
        return self.get_build(build_id) if written.rowcount else None

    # -- pull requests
    def approve(self, forge: str, repo: str, pr: int, sha: str, approver: str) -> None:
        with contextlib.suppress(IntegrityError):  # approved already
            self._write(
                approvals.insert().values(
                    forge=forge, repo=repo, pr=pr, sha=sha, approver=approver,
                    approved_at=_now(),
                )
            )  # fmt: skip

    def approved_by(self, forge: str, repo: str, pr: int, sha: str) -> str | None:
        rows = self._rows(
            sa.select(approvals.c.approver).where(
                _of_pull(approvals, forge, repo, pr), approvals.c.sha == sha
            )
        )
        return rows[0].approver if rows else None

    def pull_comment(self, forge: str, repo: str, pr: int) -> PullComment:
        rows = self._rows(sa.select(pull_comments).where(_of_pull(pull_comments, forge, repo, pr)))
        if not rows:
            return PullComment(None, "")
        return PullComment(rows[0].comment_id, rows[0].notice, rows[0].notice_sha or "")

    def set_pull_comment(
        self, forge: str, repo: str, pr: int, *, comment_id: int | None = None,
        notice: str | None = None, notice_sha: str = "",
    ) -> None:  # fmt: skip
        """Set the comment id or the notice and the head commit it names (only what is
        given: the reporter and the webhook handler each write their own field, at any
        time)."""
        values: dict[str, Any] = {}
        if comment_id is not None:
            values["comment_id"] = comment_id
        if notice is not None:
            values["notice"] = notice
            values["notice_sha"] = notice_sha
        insert = _insert(self._engine.dialect.name)(pull_comments).values(
            forge=forge, repo=repo, pr=pr, comment_id=comment_id, notice=notice or "",
            notice_sha=notice_sha,
        )  # fmt: skip
        self._write(
            insert.on_conflict_do_update(
                index_elements=[pull_comments.c.forge, pull_comments.c.repo, pull_comments.c.pr],
                set_={name: getattr(insert.excluded, name) for name in values},
            )
        )

    def notice_published(self, forge: str, repo: str, pr: int, sha: str) -> None:
        """The forge now shows the waiting notice for `sha`."""
        insert = _insert(self._engine.dialect.name)(pull_notices).values(
            forge=forge, repo=repo, pr=pr, sha=sha, published_at=_now()
        )
        self._write(
            insert.on_conflict_do_update(
                index_elements=[
                    pull_notices.c.forge, pull_notices.c.repo, pull_notices.c.pr,
                    pull_notices.c.sha,
                ],
                set_={"published_at": insert.excluded.published_at},
            )
        )  # fmt: skip

    def notice_shown(self, forge: str, repo: str, pr: int, at: datetime) -> str | None:
        """The head commit the waiting notice named at time `at` (the last one published
        by then), or None when none had been published."""
        rows = self._rows(
            sa.select(pull_notices.c.sha)
            .where(_of_pull(pull_notices, forge, repo, pr), pull_notices.c.published_at <= at)
            .order_by(pull_notices.c.published_at.desc())
            .limit(1)
        )
        return str(rows[0].sha) if rows else None

    # -- outbox
    def outbox_put(self, key: str, kind: str, payload: dict[str, Any], due_at: float) -> None:
        """Add an item, or replace the payload of one not sent yet (keeping its place and the
        earlier due time, so a stream of updates cannot postpone it forever), or put a new
        version of one sent already. One atomic upsert: a sender may update the row at any
        moment."""
        insert = _insert(self._engine.dialect.name)(outbox).values(
            key=key, kind=kind, payload=json.dumps(payload), due_at=due_at, version=1,
            attempts=0, seq=time.time(),
        )  # fmt: skip
        new = insert.excluded
        earlier = (
            sa.func.min(outbox.c.due_at, new.due_at)
            if self._engine.dialect.name == "sqlite"
            else sa.func.least(outbox.c.due_at, new.due_at)
        )
        self._write(
            insert.on_conflict_do_update(
                index_elements=[outbox.c.key],
                set_={
                    "payload": new.payload,
                    "due_at": sa.case((_UNSENT, earlier), else_=new.due_at),
                    "attempts": sa.case((_UNSENT, outbox.c.attempts), else_=0),
                    "seq": sa.case((_UNSENT, outbox.c.seq), else_=new.seq),
                    "version": outbox.c.version + 1,
                },
            )
        )

    def outbox_items(self) -> list[OutboxItem]:
        """What waits to be sent, in order."""
        rows = self._rows(sa.select(outbox).where(_UNSENT).order_by(outbox.c.seq))
        return [_outbox_item(r) for r in rows]

    def _claimable(self, now: float) -> Any:
        until = outbox.c.claimed_until
        return sa.or_(until.is_(None), until < now)

    def outbox_claim(self, now: float | None = None) -> OutboxItem | None:
        """Take the first due item no other replica is sending, for this replica to send;
        None when nothing is due. Each candidate is taken by a conditional UPDATE, so two
        replicas never both take one."""
        with self._letting_go:
            if self._let_go:
                return None
            now = time.time() if now is None else now
            due = (
                sa.select(outbox)
                .where(_UNSENT, outbox.c.due_at <= now, self._claimable(now))
                .order_by(outbox.c.seq)
                .limit(8)
            )
            for r in self._rows(due):
                taken = self._write(
                    outbox.update()
                    .where(outbox.c.key == r.key, _UNSENT, self._claimable(now))
                    .values(claimed_by=self.replica.id, claimed_until=self._until(now))
                )
                if taken.rowcount:
                    rows = self._rows(sa.select(outbox).where(outbox.c.key == r.key))
                    if rows:
                        return _outbox_item(rows[0])
            return None

    def outbox_next_due(self) -> float | None:
        """When (epoch seconds) an item may next be taken: due, and not claimed by a
        replica that still holds it; None when the outbox is empty."""
        until = sa.func.coalesce(outbox.c.claimed_until, 0.0)
        later = sa.case((until > outbox.c.due_at, until), else_=outbox.c.due_at)
        rows = self._rows(sa.select(sa.func.min(later)).where(_UNSENT))
        return None if rows[0][0] is None else float(rows[0][0])

    def outbox_done(self, item: OutboxItem, sent: str | None = None) -> None:
        """The item reached the forge (or was refused for good): it is sent, unless a newer
        version was put meanwhile, which waits then; `sent` (a digest of what the forge got)
        is kept either way, so the next version is not sent again when it is the same."""
        self._write(
            outbox.update()
            .where(outbox.c.key == item.key)
            .values(
                sent=sent,
                sent_version=sa.case(
                    (outbox.c.version == item.version, item.version),
                    else_=outbox.c.sent_version,
                ),
                claimed_by=None, claimed_until=None,
            )
        )  # fmt: skip

    def outbox_retry(self, item: OutboxItem, due_at: float, error: str) -> None:
        self._write(
            outbox.update()
            .where(outbox.c.key == item.key)
            .values(
                due_at=due_at, attempts=outbox.c.attempts + 1, last_error=error,
                claimed_by=None, claimed_until=None,
            )
        )  # fmt: skip

    # -- check runs
    def check_run(self, build_id: int) -> CheckRunRecord | None:
        """The check run showing the build, once one was created."""
        rows = self._rows(sa.select(check_runs).where(check_runs.c.build_id == build_id))
        return (
            CheckRunRecord(int(rows[0].check_run_id), int(rows[0].annotations_sent))
            if rows
            else None
        )

    def set_check_run(self, build_id: int, check_run_id: int, annotations_sent: int) -> None:
        """Remember the build's check run and how many annotations it has."""
        insert = _insert(self._engine.dialect.name)(check_runs).values(
            build_id=build_id, check_run_id=check_run_id, annotations_sent=annotations_sent
        )
        self._write(
            insert.on_conflict_do_update(
                index_elements=[check_runs.c.build_id],
                set_={
                    "check_run_id": insert.excluded.check_run_id,
                    "annotations_sent": insert.excluded.annotations_sent,
                },
            )
        )

    # -- leases
    def take_lease(self, name: str, now: float | None = None) -> bool:
        """Hold the named lease (a periodic duty) for this replica: True when it was free,
        expired, or this replica's already (then renewed). One INSERT ... ON CONFLICT DO
        UPDATE ... WHERE, atomic on both databases."""
        with self._letting_go:
            if self._let_go:
                return False
            now = time.time() if now is None else now
            insert = _insert(self._engine.dialect.name)(leases).values(
                name=name, holder=self.replica.id, expires=self._until(now)
            )
            upsert = insert.on_conflict_do_update(
                index_elements=[leases.c.name],
                set_={"holder": insert.excluded.holder, "expires": insert.excluded.expires},
                where=sa.or_(leases.c.holder == self.replica.id, leases.c.expires < now),
            )
            with self._engine.begin() as conn:
                # RETURNING, not rowcount: psycopg does not tell an INSERT's rowcount (-1).
                return conn.execute(upsert.returning(leases.c.holder)).first() is not None

    def renew(
        self, *, deliveries_held: set[str], builds_held: set[int], outbox_held: set[str]
    ) -> set[int]:
        """The heartbeat: extend this replica's claims on what it still works on, and its
        named leases. The builds of `builds_held` it no longer holds (cancelled, or taken
        over after its lease expired) are returned, for the replica to stop them."""
        until = self._until()
        me = self.replica.id
        with self._engine.begin() as conn:
            if deliveries_held:
                conn.execute(
                    deliveries.update()
                    .where(
                        deliveries.c.id.in_(deliveries_held), deliveries.c.claimed_by == me,
                        deliveries.c.processed_at.is_(None),
                    )
                    .values(next_attempt_at=until)
                )  # fmt: skip
            if outbox_held:
                conn.execute(
                    outbox.update()
                    .where(outbox.c.key.in_(outbox_held), outbox.c.claimed_by == me)
                    .values(claimed_until=until)
                )
            conn.execute(leases.update().where(leases.c.holder == me).values(expires=until))
            if not builds_held:
                return set()
            held = builds.c.id.in_(builds_held)
            conn.execute(
                builds.update()
                .where(held, builds.c.owner == me, builds.c.state.in_(_UNFINISHED))
                .values(lease_expires=until)
            )
            # Lost: another replica owns it now, or cancelled it. (Finished here is not lost:
            # its task is reporting it.)
            lost = sa.or_(builds.c.owner != me, builds.c.state == BuildState.CANCELLED.value)
            rows = conn.execute(sa.select(builds.c.id).where(held, lost))
            return {int(r.id) for r in rows}

    def let_go(self) -> None:
        """On a graceful stop: what this replica held is free at once for the others (or
        for its own next start), instead of when its leases would expire."""
        with self._letting_go:
            self._let_go = True
            me = self.replica.id
            with self._engine.begin() as conn:
                conn.execute(
                    deliveries.update()
                    .where(deliveries.c.claimed_by == me, deliveries.c.processed_at.is_(None))
                    .values(next_attempt_at=None, claimed_by=None)
                )
                conn.execute(
                    builds.update()
                    .where(builds.c.owner == me, builds.c.state.in_(_UNFINISHED))
                    .values(lease_expires=None)
                )
                conn.execute(
                    outbox.update()
                    .where(outbox.c.claimed_by == me)
                    .values(claimed_by=None, claimed_until=None)
                )
                conn.execute(leases.delete().where(leases.c.holder == me))

    # -- build logs
    def log_append(self, build_id: int, data: bytes, max_bytes: int) -> None:
        """Append to a build's log, as much as `max_bytes` in all leaves room for."""
        if not data:
            return
        with self._engine.begin() as conn:
            size = conn.execute(
                sa.select(
                    sa.func.coalesce(sa.func.sum(sa.func.length(log_chunks.c.data)), 0)
                ).where(log_chunks.c.build_id == build_id)
            ).scalar()
            room = max_bytes - int(size or 0)
            if room > 0:
                conn.execute(log_chunks.insert().values(build_id=build_id, data=data[:room]))

    def log_chunks_after(self, build_id: int, chunk_id: int) -> list[tuple[int, bytes]]:
        """A build's log chunks written after chunk `chunk_id` (0: all), in order, with their
        ids: what a live reader (the build page's event stream) has not seen yet."""
        query = sa.select(log_chunks.c.id, log_chunks.c.data).where(
            log_chunks.c.build_id == build_id, log_chunks.c.id > chunk_id
        )
        return [(r.id, bytes(r.data)) for r in self._rows(query.order_by(log_chunks.c.id))]

    def log_text(self, build_id: int) -> str | None:
        """A build's log so far; None when nothing was written yet."""
        query = sa.select(log_chunks.c.data).where(log_chunks.c.build_id == build_id)
        rows = self._rows(query.order_by(log_chunks.c.id))
        if not rows:
            return None
        return b"".join(bytes(r.data) for r in rows).decode(errors="replace")

    # -- retention
    def delete_finished_before(self, cutoff: datetime) -> list[int]:
        """Delete the builds that finished before `cutoff`, then the processed deliveries
        received before it that have no build left; the ids of the deleted builds (their logs
        go too). Unfinished builds and unprocessed deliveries always stay, and so does
        the newest build: SQLite gives a new row the largest id plus one, so deleting it would
        hand its id to the next build."""
        if cutoff.tzinfo is not None:
            cutoff = cutoff.astimezone(UTC).replace(tzinfo=None)
        with self._engine.begin() as conn:
            newest = conn.execute(sa.select(sa.func.max(builds.c.id))).scalar()
            old = sa.select(builds.c.id).where(
                builds.c.finished_at < cutoff, builds.c.state.not_in(_UNFINISHED),
                builds.c.id != (newest or 0),
            )  # fmt: skip
            ids = [int(row.id) for row in conn.execute(old)]
            for start in range(0, len(ids), 500):  # bounded IN lists
                some = ids[start : start + 500]
                conn.execute(log_chunks.delete().where(log_chunks.c.build_id.in_(some)))
                conn.execute(check_runs.delete().where(check_runs.c.build_id.in_(some)))
                conn.execute(builds.delete().where(builds.c.id.in_(some)))
            # What the outbox sent then: kept only so no replica sends a state twice.
            sent = sa.not_(_UNSENT)
            conn.execute(outbox.delete().where(sent, outbox.c.due_at < _epoch(cutoff)))
            conn.execute(
                deliveries.delete().where(
                    deliveries.c.processed_at.is_not(None),
                    deliveries.c.received_at < cutoff,
                    deliveries.c.id.not_in(sa.select(builds.c.delivery_id)),
                )
            )
        return ids
