"""Alembic owns the schema: head matches the models, and every step downgrades cleanly."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, inspect
from sqlmodel import SQLModel

from registry.db.migrate import (
    current_revision,
    downgrade_database,
    head_revision,
    scripted_head,
    upgrade_database,
)
from registry.db.models import load_tables
from tests.conftest import BACKENDS, build_database


@pytest.fixture(params=BACKENDS)
def fresh_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Engine:
    engine = build_database(request.param, tmp_path)
    yield engine
    engine.dispose()


def test_models_and_migrations_agree(fresh_engine: Engine) -> None:
    load_tables()
    with fresh_engine.connect() as conn:
        diff = compare_metadata(
            MigrationContext.configure(conn, opts={"compare_type": True}), SQLModel.metadata
        )
    assert diff == [], f"autogenerate would change the schema: {diff}"


def test_upgrade_downgrade_round_trip(fresh_engine: Engine) -> None:
    assert current_revision(fresh_engine) == head_revision(fresh_engine)
    tables = set(inspect(fresh_engine).get_table_names())
    assert {"variant", "lineage_edge", "tensor", "variant_file", "namespace", "api_token"} <= tables
    downgrade_database(fresh_engine, "base")
    assert current_revision(fresh_engine) is None
    assert set(inspect(fresh_engine).get_table_names()) <= {"alembic_version"}
    upgrade_database(fresh_engine)
    assert set(inspect(fresh_engine).get_table_names()) == tables


def test_sqlite_runs_in_wal_mode(tmp_path: Path) -> None:
    from registry.db import make_engine

    engine = make_engine(url=f"sqlite:///{tmp_path / 'wal.db'}")
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


@pytest.mark.skipif("postgresql" not in BACKENDS, reason="PostgreSQL tests not selected")
def test_init_creates_a_missing_postgresql_database() -> None:
    import uuid

    from sqlalchemy import text
    from sqlalchemy.engine import make_url

    from registry.db import make_engine
    from registry.db.create import ensure_database
    from registry.errors import DatabaseError
    from tests.conftest import postgres_url

    base = make_url(postgres_url())
    name = f"provreg_created_{uuid.uuid4().hex[:12]}"
    engine = make_engine(url=base.set(database=name).render_as_string(hide_password=False))
    admin = make_engine(url=base.set(database="postgres").render_as_string(hide_password=False))
    try:
        assert ensure_database(engine) is True
        assert ensure_database(engine) is False  # it exists now
        upgrade_database(engine)
        assert current_revision(engine) == head_revision(engine)
    finally:
        engine.dispose()
        with admin.execution_options(isolation_level="AUTOCOMMIT").connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()
    stranger = make_engine(url=base.set(username="no_such_role_x").render_as_string())
    with pytest.raises(DatabaseError) as info:
        ensure_database(stranger)
    assert "no_such_role_x" in info.value.message


def test_card_markers_move_out_of_config_and_back(fresh_engine: Engine) -> None:
    """0006 moves `register --card` markers from config into their column; downgrade restores."""
    from sqlalchemy import text

    downgrade_database(fresh_engine, "0005")
    with fresh_engine.begin() as conn:
        conn.execute(text("INSERT INTO namespace (id, name, created_at) VALUES (1, 'acme', :t)"),
                     {"t": "2026-01-01 00:00:00"})  # fmt: skip
        for vid, config in (
            (1, '{"hidden_size": 8, "provreg_card": {"tags": ["uncensored"], "name": "x"}}'),
            (2, '{"hidden_size": 8}'),
        ):
            conn.execute(
                text(
                    "INSERT INTO variant (id, namespace_id, name, revision, config, created_at,"
                    " updated_at) VALUES (:id, 1, :name, 'main', :config, :t, :t)"
                ),
                {"id": vid, "name": f"acme/m{vid}", "config": config, "t": "2026-01-01 00:00:00"},
            )
    upgrade_database(fresh_engine)
    read = "SELECT config, card_markers FROM variant ORDER BY id"
    with fresh_engine.connect() as conn:
        rows = [tuple(_json(c) for c in r) for r in conn.execute(text(read))]
    assert rows == [
        ({"hidden_size": 8}, {"tags": ["uncensored"], "name": "x"}),
        ({"hidden_size": 8}, None),
    ]
    downgrade_database(fresh_engine, "0005")
    with fresh_engine.connect() as conn:
        configs = [
            _json(r[0]) for r in conn.execute(text("SELECT config FROM variant ORDER BY id"))
        ]
    assert configs == [
        {"hidden_size": 8, "provreg_card": {"tags": ["uncensored"], "name": "x"}},
        {"hidden_size": 8},
    ]


def _json(value: object) -> object:
    import json

    return json.loads(value) if isinstance(value, str | bytes) else value


def test_the_head_read_from_the_revision_files_is_alembics(
    fresh_engine: Engine, tmp_path: Path
) -> None:
    assert scripted_head() == head_revision(fresh_engine)
    versions = tmp_path / "versions"
    versions.mkdir()
    for rev, down in (("a1", "None"), ("b2", "'a1'"), ("c3", "'a1'")):
        (versions / f"{rev}.py").write_text(f"revision = '{rev}'\ndown_revision = {down}\n")
    assert scripted_head(tmp_path) is None  # two heads: Alembic decides
    (versions / "d4.py").write_text("revision = 'd4'\ndown_revision = ('b2', 'c3')\n")
    assert scripted_head(tmp_path) == "d4"
