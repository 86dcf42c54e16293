"""The store's schema migrations (Alembic), run by bot.store when it opens a database.

`versions/` holds one module per schema change, each naming the one before it. A database
made before migrations existed (no `alembic_version` table, the tables there) is stamped with
the first revision, the schema all such databases share, and upgraded from there.
"""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext

FIRST = "0001"
DIRECTORY = Path(__file__).parent


def upgrade(connection: sa.Connection, revision: str = "head") -> None:
    """Bring the database on `connection` to `revision`, the newest by default (in the
    connection's transaction)."""
    config = Config()
    config.set_main_option("script_location", str(DIRECTORY))
    config.attributes["connection"] = connection
    current = MigrationContext.configure(connection).get_current_revision()
    if current is None and sa.inspect(connection).has_table("deliveries"):
        command.stamp(config, FIRST)  # made before migrations: the first schema
    command.upgrade(config, revision)
