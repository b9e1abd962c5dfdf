"""Storage: the engine and sessions, the SQLModel tables (:mod:`registry.db.models`), the
migrations runner and the lineage walks in SQL (:mod:`registry.db.lineage_queries`).

Alembic (top-level ``alembic/``) owns the schema; :func:`upgrade_database` brings any database to
the newest revision, :func:`ready_engine` opens one that is (creating a fresh SQLite file).
"""

from registry.db.engine import make_engine, make_session_factory
from registry.db.migrate import ready_engine, upgrade_database

__all__ = ["make_engine", "make_session_factory", "ready_engine", "upgrade_database"]
