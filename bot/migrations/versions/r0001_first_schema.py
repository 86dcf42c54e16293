"""The first schema: deliveries, builds, approvals, pull comments, the outbox.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "deliveries",
        sa.Column("id", sa.String, primary_key=True),
        sa.Column("forge", sa.String, nullable=False),
        sa.Column("event", sa.String, nullable=False),
        sa.Column("headers", sa.Text, nullable=False),
        sa.Column("body", sa.LargeBinary, nullable=False),
        sa.Column("received_at", sa.DateTime, nullable=False),
        sa.Column("processed_at", sa.DateTime),
        sa.Column("outcome", sa.Text),
    )
    op.create_table(
        "builds",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("delivery_id", sa.String, sa.ForeignKey("deliveries.id"), nullable=False),
        sa.Column("name", sa.String, nullable=False),
        sa.Column("forge", sa.String, nullable=False),
        sa.Column("repo", sa.String, nullable=False),
        sa.Column("sha", sa.String, nullable=False),
        sa.Column("ref_key", sa.String, nullable=False),
        sa.Column("pr", sa.Integer),
        sa.Column("spec", sa.Text),
        sa.Column("state", sa.String, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("digest", sa.String),
        sa.Column("size", sa.BigInteger),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("started_at", sa.DateTime),
        sa.Column("finished_at", sa.DateTime),
        sa.UniqueConstraint("delivery_id", "name"),
    )
    op.create_index("builds_by_ref", "builds", ["forge", "repo", "ref_key", "name"])
    op.create_table(
        "approvals",
        sa.Column("forge", sa.String, primary_key=True),
        sa.Column("repo", sa.String, primary_key=True),
        sa.Column("pr", sa.Integer, primary_key=True),
        sa.Column("sha", sa.String, primary_key=True),
        sa.Column("approver", sa.String, nullable=False),
        sa.Column("approved_at", sa.DateTime, nullable=False),
    )
    op.create_table(
        "pull_comments",
        sa.Column("forge", sa.String, primary_key=True),
        sa.Column("repo", sa.String, primary_key=True),
        sa.Column("pr", sa.Integer, primary_key=True),
        sa.Column("comment_id", sa.BigInteger),
        sa.Column("notice", sa.Text, nullable=False),
    )
    op.create_table(
        "outbox",
        sa.Column("key", sa.String, primary_key=True),
        sa.Column("kind", sa.String, nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("due_at", sa.Float, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("last_error", sa.Text),
        sa.Column("seq", sa.Float, nullable=False),
    )


def downgrade() -> None:
    for table in ("outbox", "pull_comments", "approvals", "builds", "deliveries"):
        op.drop_table(table)
