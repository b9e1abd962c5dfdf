"""The test PostgreSQL database: one per run unless one is named, dropped at the end."""

from __future__ import annotations

import os

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url

from registry.db import make_engine
from tests.conftest import RUN_DATABASE, _ensure_postgres_database, drop_postgres_database


def test_run_database_is_not_the_shared_default() -> None:
    assert RUN_DATABASE.startswith(f"provreg_test_{os.getpid()}_")
    assert RUN_DATABASE != "provreg_test"


@pytest.mark.db
def test_database_in_use(db_engine: Engine) -> None:
    name = db_engine.url.database or ""
    given = os.environ.get("PROVREG_TEST_POSTGRES_URL")
    if db_engine.dialect.name != "postgresql":
        assert name.endswith("test.db")
    elif given:
        assert name == make_url(given).database  # the named database, as asked
    else:
        assert name == RUN_DATABASE


def _exists(admin_url: str, name: str) -> bool:
    admin = make_engine(url=admin_url)
    try:
        with admin.connect() as conn:
            found = conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name})
            return found.first() is not None
    finally:
        admin.dispose()


@pytest.mark.db
def test_a_created_database_is_dropped_even_with_open_connections(db_engine: Engine) -> None:
    if db_engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL only")
    url = db_engine.url.set(database=f"{RUN_DATABASE}_extra").render_as_string(False)
    admin_url = db_engine.url.set(database="postgres").render_as_string(False)
    _ensure_postgres_database(url)
    held = make_engine(url=url)
    with held.connect():
        assert _exists(admin_url, f"{RUN_DATABASE}_extra")
        drop_postgres_database(url)
    held.dispose()
    assert not _exists(admin_url, f"{RUN_DATABASE}_extra")
