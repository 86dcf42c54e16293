"""A fresh, empty database for a test: SQLite in the test's directory, or one of its own on
the PostgreSQL server scripts/provision.sh started (created, then dropped)."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest
import sqlalchemy as sa

from tests.support.testenv import ProvisionedEnv

# PostgreSQL is what scripts/provision.sh started: its tests are e2e (tests/conftest.py), so
# `pytest -m "not e2e"` runs the SQLite half with nothing but the venv.
KINDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.e2e)]


@contextmanager
def fresh_database(kind: str, directory: Path) -> Iterator[str]:
    """The URL of a new empty database of `kind` (sqlite, postgresql)."""
    if kind == "sqlite":
        yield f"sqlite:///{directory / 'db.sqlite'}"
        return
    server = ProvisionedEnv.load().postgres_url
    if not server:
        raise RuntimeError(
            "no PostgreSQL server in testenv.json: run scripts/provision.sh (step postgres)"
        )
    name = f"s2ibot_test_{secrets.token_hex(6)}"
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    try:
        yield sa.make_url(server).set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(server, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE {name} WITH (FORCE)")


@pytest.fixture(params=KINDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Each test using it runs once on SQLite and once on PostgreSQL."""
    with fresh_database(request.param, tmp_path) as url:
        yield url
