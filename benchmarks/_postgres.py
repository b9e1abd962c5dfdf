"""PostgreSQL for the benchmarks: plain libpq URLs and an empty database to load into."""

from __future__ import annotations

from sqlalchemy import make_url


def pg_plain(url: str) -> str:
    """``url`` as psycopg takes it (no SQLAlchemy driver suffix)."""
    return make_url(url).set(drivername="postgresql").render_as_string(False)


def pg_admin(url: str) -> str:
    """The server's ``postgres`` database, from which others are created."""
    return make_url(url).set(drivername="postgresql", database="postgres").render_as_string(False)


def fresh_postgresql(url: str) -> None:
    """Create the database of ``url`` if missing, and empty its ``public`` schema."""
    import psycopg

    dbname = make_url(url).database
    with psycopg.connect(pg_admin(url), autocommit=True) as admin:
        exists = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", (dbname,)).fetchone()
        if not exists:
            admin.execute(f'CREATE DATABASE "{dbname}"')
    with psycopg.connect(pg_plain(url), autocommit=True) as conn:
        conn.execute("DROP SCHEMA IF EXISTS public CASCADE")
        conn.execute("CREATE SCHEMA public")
