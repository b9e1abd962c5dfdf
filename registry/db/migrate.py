"""Run Alembic programmatically: ``provreg init`` and the tests bring databases to head."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, inspect

from registry.config import Settings
from registry.db.engine import make_engine
from registry.errors import DatabaseError, DatabaseNotInitialised

PROJECT_ROOT = Path(__file__).resolve().parents[2]
# a wheel carries the top-level alembic/ as registry/migrations (see setup.py)
INSTALLED_DIR = Path(__file__).resolve().parents[1] / "migrations"
SOURCE_DIR = PROJECT_ROOT / "alembic"


def migrations_dir() -> Path:
    """Where the migrations are: inside the installed package, else in the source tree."""
    for candidate in (INSTALLED_DIR, SOURCE_DIR):
        if (candidate / "env.py").is_file():
            return candidate
    raise DatabaseError(
        f"migrations not found in {INSTALLED_DIR} or {SOURCE_DIR}",
        hint="reinstall provreg (pip install provreg, or pip install -e . in its source tree)",
    )


def alembic_config(url: str) -> Config:
    """An Alembic config pointing at the project's migrations and at ``url``."""
    location = migrations_dir()
    ini = PROJECT_ROOT / "alembic.ini"
    cfg = Config(str(ini)) if location == SOURCE_DIR and ini.is_file() else Config()
    cfg.set_main_option("script_location", str(location))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    cfg.attributes["configure_logger"] = False
    return cfg


def _url_of(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=False)


def upgrade_database(engine: Engine, revision: str = "head") -> None:
    """Upgrade the database behind ``engine`` to ``revision`` (default: newest)."""
    cfg = alembic_config(_url_of(engine))
    with engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, revision)


def downgrade_database(engine: Engine, revision: str = "base") -> None:
    cfg = alembic_config(_url_of(engine))
    with engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.downgrade(cfg, revision)


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head_revision(engine: Engine) -> str | None:
    return ScriptDirectory.from_config(alembic_config(_url_of(engine))).get_current_head()


def ready_engine(settings: Settings) -> Engine:
    """An engine on a database at the newest schema.

    A brand-new SQLite database is created on first use; anything else that is behind must be
    upgraded explicitly with ``provreg init`` (raises :class:`DatabaseNotInitialised`).
    """
    engine = make_engine(settings)
    current = current_revision(engine)
    if current == head_revision(engine):
        return engine
    is_empty_sqlite = (
        engine.dialect.name == "sqlite"
        and current is None
        and not inspect(engine).get_table_names()
    )
    if is_empty_sqlite:
        upgrade_database(engine)
        return engine
    raise DatabaseNotInitialised(
        "the database is not initialised"
        if current is None
        else "the database schema is out of date",
        hint="run `provreg init`",
        detail={"current": current},
    )
