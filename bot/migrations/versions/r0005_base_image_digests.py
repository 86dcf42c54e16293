"""The digests of the builder and runtime images each build was built from, so a new digest
of either rebuilds it (bot/base_images.py). Builds made before have none (NULL).

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

COLUMNS = ("builder_digest", "runtime_digest")


def upgrade() -> None:
    for name in COLUMNS:
        op.add_column("builds", sa.Column(name, sa.String))


def downgrade() -> None:
    for name in COLUMNS:
        op.drop_column("builds", name)
