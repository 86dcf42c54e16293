"""Check runs: the GitHub check run that shows each build (its id, for the updates that
follow the first), and how many of its annotations GitHub has (they go 50 a request).

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "check_runs",
        sa.Column("build_id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("check_run_id", sa.BigInteger, nullable=False),
        sa.Column("annotations_sent", sa.Integer, nullable=False, server_default=sa.text("0")),
    )


def downgrade() -> None:
    op.drop_table("check_runs")
