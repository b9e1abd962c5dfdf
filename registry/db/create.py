"""Creating a missing PostgreSQL database, so `provreg init` needs nothing done by hand.

SQLite files are created on first connection; a PostgreSQL server needs ``CREATE DATABASE``,
issued through the server's maintenance database (``postgres``) outside a transaction.
"""

from __future__ import annotations

from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import OperationalError

from registry.errors import DatabaseError

_MISSING_DATABASE = "3D000"  # invalid_catalog_name


def _missing_database(exc: OperationalError, name: str) -> bool:
    # libpq reports a refused connection without a SQLSTATE; its message names the database
    if getattr(exc.orig, "sqlstate", None) == _MISSING_DATABASE:
        return True
    return f'database "{name}" does not exist' in str(exc.orig)


def _first_line(exc: OperationalError) -> str:
    lines = [line.strip() for line in str(exc.orig).splitlines() if line.strip()]
    return next((line for line in lines if "FATAL" in line), lines[0] if lines else str(exc))


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def ensure_database(engine: Engine) -> bool:
    """Create the PostgreSQL database behind ``engine`` when the server says it does not exist.

    Returns True when it was created. Raises :class:`DatabaseError` when it cannot be.
    """
    if engine.url.get_backend_name() != "postgresql":
        return False
    name = engine.url.database or ""
    try:
        with engine.connect():
            return False
    except OperationalError as exc:
        if not _missing_database(exc, name):
            raise DatabaseError(
                f"cannot connect to the database: {_first_line(exc)}",
                hint="check PROVREG_DATABASE_URL (user, host, port) and that the server runs",
            ) from None
    maintenance = create_engine(
        engine.url.set(database="postgres"), isolation_level="AUTOCOMMIT", poolclass=None
    )
    try:
        with maintenance.connect() as connection:
            connection.execute(text(f"CREATE DATABASE {_quoted(name)}"))
    except OperationalError as exc:
        raise DatabaseError(
            f"database {name!r} does not exist and could not be created: {_first_line(exc)}",
            hint="create it (createdb NAME) or give the user the CREATEDB privilege",
        ) from None
    finally:
        maintenance.dispose()
    engine.dispose()  # pooled connections saw no database
    return True
