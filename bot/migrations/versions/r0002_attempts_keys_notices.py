"""Delivery attempts, build keys, the notice's head sha, published notices.

What the stop-gap of the previous versions (bot/store.py's `_ADDED_COLUMNS`, an ALTER TABLE
at start) added: a database it upgraded already has some or all of it, so each step checks
first.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import secrets

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

KEY_BYTES = 24  # as bot.store.KEY_BYTES: 192 bits

ADDED: dict[str, list[sa.Column[object]]] = {
    "deliveries": [
        sa.Column("attempts", sa.Integer, nullable=False, server_default=sa.text("0")),
        sa.Column("last_error", sa.Text),
        sa.Column("next_attempt_at", sa.Float),
    ],
    "builds": [sa.Column("key", sa.String)],
    "pull_comments": [sa.Column("notice_sha", sa.String)],
}


def upgrade() -> None:
    inspector = sa.inspect(op.get_bind())
    for table, columns in ADDED.items():
        present = {column["name"] for column in inspector.get_columns(table)}
        for column in columns:
            if column.name not in present:
                op.add_column(table, column)
    builds = sa.table("builds", sa.column("id", sa.Integer), sa.column("key", sa.String))
    bind = op.get_bind()
    for (build_id,) in bind.execute(sa.select(builds.c.id).where(builds.c.key.is_(None))):
        key = secrets.token_urlsafe(KEY_BYTES)
        bind.execute(builds.update().where(builds.c.id == build_id).values(key=key))
    if "builds_by_key" not in {index["name"] for index in inspector.get_indexes("builds")}:
        op.create_index("builds_by_key", "builds", ["key"], unique=True)
    if not inspector.has_table("pull_notices"):
        op.create_table(
            "pull_notices",
            sa.Column("forge", sa.String, primary_key=True),
            sa.Column("repo", sa.String, primary_key=True),
            sa.Column("pr", sa.Integer, primary_key=True),
            sa.Column("sha", sa.String, primary_key=True),
            sa.Column("published_at", sa.DateTime, nullable=False),
        )


def downgrade() -> None:
    op.drop_table("pull_notices")
    op.drop_index("builds_by_key", "builds")
    for table, columns in ADDED.items():
        for column in columns:
            op.drop_column(table, column.name)
