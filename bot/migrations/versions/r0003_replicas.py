"""Several replicas on one database: who holds each claim and until when, named leases for
the periodic duties, what each outbox key sent last (kept after sending, so no replica sends
it again), and build logs in the database (every replica serves every log link).

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

ADDED: dict[str, list[sa.Column[object]]] = {
    "deliveries": [sa.Column("claimed_by", sa.String)],
    "builds": [sa.Column("owner", sa.String), sa.Column("lease_expires", sa.Float)],
    "outbox": [
        sa.Column("claimed_by", sa.String),
        sa.Column("claimed_until", sa.Float),
        sa.Column("sent_version", sa.Integer),
        sa.Column("sent", sa.String),
    ],
}


def upgrade() -> None:
    for table, columns in ADDED.items():
        for column in columns:
            op.add_column(table, column)
    op.create_table(
        "leases",
        sa.Column("name", sa.String, primary_key=True),
        sa.Column("holder", sa.String, nullable=False),
        sa.Column("expires", sa.Float, nullable=False),
    )
    op.create_table(
        "log_chunks",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("build_id", sa.Integer, nullable=False),
        sa.Column("data", sa.LargeBinary, nullable=False),
    )
    op.create_index("log_chunks_by_build", "log_chunks", ["build_id", "id"])


def downgrade() -> None:
    op.drop_table("log_chunks")
    op.drop_table("leases")
    for table, columns in ADDED.items():
        for column in columns:
            op.drop_column(table, column.name)
