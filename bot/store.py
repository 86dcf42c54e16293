"""The build store: deliveries and builds, in SQLite by default (any SQLAlchemy URL scales out).

A delivery is written before the webhook is acknowledged, so a crash loses nothing; its id is
the primary key, so a redelivery is recognised and ignored.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from bot.build import Build, BuildState
from bot.build_spec import BuildResult, BuildSpec

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
    sa.Column("spec", sa.Text),  # BuildSpec JSON; NULL for a config failure (nothing to build)
    sa.Column("state", sa.String, nullable=False),
    sa.Column("reason", sa.Text, nullable=False, default=""),
    sa.Column("digest", sa.String),
    sa.Column("size", sa.BigInteger),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("started_at", sa.DateTime),
    sa.Column("finished_at", sa.DateTime),
    sa.UniqueConstraint("delivery_id", "name"),
)


@dataclass(frozen=True)
class Delivery:
    id: str
    forge: str
    event: str
    headers: dict[str, str]
    body: bytes


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _build(row: Any) -> Build:
    spec = BuildSpec.model_validate_json(row.spec) if row.spec else None
    return Build(
        row.id, row.delivery_id, row.name, row.forge, row.repo, row.sha, spec,
        BuildState(row.state), row.reason, row.digest, row.size,
    )  # fmt: skip


class Store:
    def __init__(self, url: str) -> None:
        if url.startswith("sqlite:///"):
            Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        self._engine = sa.create_engine(url)
        metadata.create_all(self._engine)

    def close(self) -> None:
        self._engine.dispose()

    # deliveries
    def add_delivery(self, delivery: Delivery) -> bool:
        """Persist a webhook delivery; False when this delivery id was already stored."""
        row = {
            "id": delivery.id, "forge": delivery.forge, "event": delivery.event,
            "headers": json.dumps(delivery.headers), "body": delivery.body,
            "received_at": _now(),
        }  # fmt: skip
        try:
            with self._engine.begin() as conn:
                conn.execute(deliveries.insert().values(**row))
        except IntegrityError:
            return False
        return True

    def finish_delivery(self, delivery_id: str, outcome: str) -> None:
        with self._engine.begin() as conn:
            conn.execute(
                deliveries.update()
                .where(deliveries.c.id == delivery_id)
                .values(processed_at=_now(), outcome=outcome)
            )

    def unprocessed_deliveries(self) -> list[Delivery]:
        with self._engine.connect() as conn:
            rows = conn.execute(
                sa.select(deliveries)
                .where(deliveries.c.processed_at.is_(None))
                .order_by(deliveries.c.received_at)
            )
            return [Delivery(r.id, r.forge, r.event, json.loads(r.headers), r.body) for r in rows]

    def has_delivery(self, delivery_id: str) -> bool:
        with self._engine.connect() as conn:
            query = sa.select(deliveries.c.id).where(deliveries.c.id == delivery_id)
            return conn.execute(query).first() is not None

    def delivery_outcome(self, delivery_id: str) -> str | None:
        with self._engine.connect() as conn:
            row = conn.execute(
                sa.select(deliveries.c.outcome).where(deliveries.c.id == delivery_id)
            ).first()
            return row.outcome if row else None

    # builds
    def add_build(
        self,
        *,
        delivery_id: str,
        name: str,
        forge: str,
        repo: str,
        sha: str,
        spec: BuildSpec | None,
        state: BuildState = BuildState.QUEUED,
        reason: str = "",
    ) -> Build:
        with self._engine.begin() as conn:
            result = conn.execute(
                builds.insert().values(
                    delivery_id=delivery_id, name=name, forge=forge, repo=repo, sha=sha,
                    spec=spec.model_dump_json() if spec else None, state=state.value,
                    reason=reason, created_at=_now(),
                    finished_at=_now() if state.finished else None,
                )
            )  # fmt: skip
            key = result.inserted_primary_key
            assert key is not None
            build_id = int(key[0])
        return self.get_build(build_id)

    def get_build(self, build_id: int) -> Build:
        with self._engine.connect() as conn:
            row = conn.execute(sa.select(builds).where(builds.c.id == build_id)).one()
            return _build(row)

    def find_build(self, build_id: int) -> Build | None:
        with self._engine.connect() as conn:
            row = conn.execute(sa.select(builds).where(builds.c.id == build_id)).first()
            return _build(row) if row else None

    def builds_in(self, *states: BuildState) -> list[Build]:
        with self._engine.connect() as conn:
            rows = conn.execute(
                sa.select(builds)
                .where(builds.c.state.in_([s.value for s in states]))
                .order_by(builds.c.id)
            )
            return [_build(r) for r in rows]

    def builds_of_delivery(self, delivery_id: str) -> list[Build]:
        with self._engine.connect() as conn:
            rows = conn.execute(
                sa.select(builds).where(builds.c.delivery_id == delivery_id).order_by(builds.c.id)
            )
            return [_build(r) for r in rows]

    def mark_running(self, build_id: int) -> Build:
        with self._engine.begin() as conn:
            conn.execute(
                builds.update()
                .where(builds.c.id == build_id)
                .values(state=BuildState.RUNNING.value, started_at=_now())
            )
        return self.get_build(build_id)

    def requeue(self, build_id: int) -> Build:
        with self._engine.begin() as conn:
            conn.execute(
                builds.update()
                .where(builds.c.id == build_id)
                .values(state=BuildState.QUEUED.value, started_at=None)
            )
        return self.get_build(build_id)

    def finish(self, build_id: int, result: BuildResult) -> Build:
        state = {
            "succeeded": BuildState.SUCCEEDED,
            "failed": BuildState.FAILED,
            "error": BuildState.ERROR,
        }[result.state]
        with self._engine.begin() as conn:
            conn.execute(
                builds.update()
                .where(builds.c.id == build_id)
                .values(
                    state=state.value, reason=result.reason, digest=result.digest,
                    size=result.size, finished_at=_now(),
                )
            )  # fmt: skip
        return self.get_build(build_id)
