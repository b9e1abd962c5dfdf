"""Run Alembic programmatically: ``provreg init`` and the tests bring databases to head.

Alembic loads only when a database is behind (or its revision cannot be told cheaply): every
command opens the database through :func:`ready_engine`, and a database at head is recognised
by one query and a look at the revision files.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine, inspect
from sqlalchemy.exc import DBAPIError

from registry.config import Settings
from registry.db.engine import make_engine
from registry.errors import DatabaseError, DatabaseNotInitialised

if TYPE_CHECKING:
    from alembic.config import Config

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
    from alembic.config import Config

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
    from alembic import command

    cfg = alembic_config(_url_of(engine))
    with engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, revision)


def downgrade_database(engine: Engine, revision: str = "base") -> None:
    from alembic import command

    cfg = alembic_config(_url_of(engine))
    with engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.downgrade(cfg, revision)


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head_revision(engine: Engine) -> str | None:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config(_url_of(engine))).get_current_head()


_REVISION = re.compile(r"^revision\b[^=\n]*=\s*['\"]([^'\"]+)['\"]", re.MULTILINE)
_DOWN_REVISION = re.compile(r"^down_revision\b[^=\n]*=([^\n]*)", re.MULTILINE)
_QUOTED = re.compile(r"['\"]([^'\"]+)['\"]")


def scripted_head(location: Path | None = None) -> str | None:
    """The one head of the revision files, read as text (no Alembic import); None when it
    cannot be told so simply (no files, a file without a plain ``revision = "..."``, several
    heads): then :func:`head_revision` decides."""
    revisions: set[str] = set()
    revised: set[str] = set()
    for script in sorted((location or migrations_dir()).glob("versions/*.py")):
        text = script.read_text(encoding="utf-8")
        found, down = _REVISION.search(text), _DOWN_REVISION.search(text)
        if found is None or down is None:
            return None
        revisions.add(found.group(1))
        revised.update(_QUOTED.findall(down.group(1)))
    heads = revisions - revised
    return heads.pop() if len(heads) == 1 else None


def _stored_revisions(engine: Engine) -> list[str] | None:
    """The revisions recorded in the database, or None without a version table."""
    try:
        with engine.connect() as connection:
            rows = connection.exec_driver_sql("SELECT version_num FROM alembic_version")
            return [row[0] for row in rows]
    except DBAPIError:
        return None


def ready_engine(settings: Settings) -> Engine:
    """An engine on a database at the newest schema.

    A brand-new SQLite database is created on first use; anything else that is behind must be
    upgraded explicitly with ``provreg init`` (raises :class:`DatabaseNotInitialised`).
    """
    engine = make_engine(settings)
    stored = _stored_revisions(engine)
    if stored is not None and len(stored) == 1 and stored[0] == scripted_head():
        return engine
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
