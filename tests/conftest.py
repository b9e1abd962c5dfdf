"""Shared fixtures: one migrated database per backend, a rolled-back transaction per test.

Database tests run on SQLite and on PostgreSQL. PostgreSQL comes from
``PROVREG_TEST_POSTGRES_URL`` when it is set (that database's schema is reset); otherwise each
run creates a database of its own on the local server, ``provreg_test_<pid>_<random>``, and drops
it at the end, so two runs on one server never wipe each other. Where PostgreSQL cannot be
reached the PostgreSQL half is skipped, except under ``CI=true``, where that is a failure.
``PROVREG_TEST_DATABASES=sqlite`` limits the run to one backend.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, event, text
from sqlalchemy.engine import make_url
from sqlmodel import Session

from registry.api import create_app
from registry.client import RegistryClient
from registry.config import Settings
from registry.db import make_engine, upgrade_database
from registry.services import create_token
from tests.peft_models import LoraRecipe, LoraRelease, build_lora
from tests.zoo_tools import require_zoo_tools

DEFAULT_POSTGRES_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
#: this run's own database, used when PROVREG_TEST_POSTGRES_URL is not set
RUN_DATABASE = f"provreg_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
_run_database_created: list[str] = []
BACKENDS = [
    b.strip()
    for b in os.environ.get("PROVREG_TEST_DATABASES", "sqlite,postgresql").split(",")
    if b.strip()
]


def postgres_url() -> str:
    """``PROVREG_TEST_POSTGRES_URL``, else this run's own database on the local server."""
    given = os.environ.get("PROVREG_TEST_POSTGRES_URL")
    if given:
        return given
    return make_url(DEFAULT_POSTGRES_SERVER).set(database=RUN_DATABASE).render_as_string(False)


def _admin_engine(url: str) -> Engine:
    parsed = make_url(url)
    return make_engine(url=parsed.set(database="postgres").render_as_string(hide_password=False))


def drop_postgres_database(url: str) -> None:
    """Drop the database of ``url`` (closing its connections) if it exists."""
    admin = _admin_engine(url)
    try:
        with admin.execution_options(isolation_level="AUTOCOMMIT").connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)'))
    finally:
        admin.dispose()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Drop this run's own PostgreSQL database, if the run created one."""
    if _run_database_created:
        try:
            drop_postgres_database(postgres_url())
        except Exception as exc:  # noqa: BLE001 - a failed clean-up must not hide the results
            print(f"\ncould not drop the test database {RUN_DATABASE}: {exc}")


def _unreachable(reason: str) -> None:
    message = f"PostgreSQL is not reachable ({reason}); set PROVREG_TEST_POSTGRES_URL"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def _ensure_postgres_database(url: str) -> None:
    """Create the test database if the server is up and it is missing."""
    parsed = make_url(url)
    admin = _admin_engine(url)
    if parsed.database == RUN_DATABASE:
        _run_database_created.append(RUN_DATABASE)
    try:
        with admin.execution_options(isolation_level="AUTOCOMMIT").connect() as conn:
            exists = conn.execute(
                text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": parsed.database}
            ).first()
            if not exists:
                conn.execute(text(f'CREATE DATABASE "{parsed.database}"'))
    finally:
        admin.dispose()


def _sqlite_savepoint_recipe(engine: Engine) -> None:
    """SQLAlchemy's documented recipe: let SQLAlchemy, not pysqlite, emit BEGIN."""

    @event.listens_for(engine, "connect")
    def _no_pysqlite_transactions(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None

    @event.listens_for(engine, "begin")
    def _begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN")


def build_database(backend: str, tmp_dir: Any) -> Engine:
    """A fresh database of ``backend`` at the newest migration."""
    if backend == "sqlite":
        engine = make_engine(url=f"sqlite:///{tmp_dir / 'test.db'}")
        _sqlite_savepoint_recipe(engine)
    elif backend == "postgresql":
        url = postgres_url()
        try:
            _ensure_postgres_database(url)
            engine = make_engine(url=url)
            with engine.begin() as conn:
                conn.execute(text("DROP SCHEMA public CASCADE"))
                conn.execute(text("CREATE SCHEMA public"))
        except Exception as exc:  # noqa: BLE001 - any connection failure means unreachable
            _unreachable(str(exc).splitlines()[0])
            raise
    else:
        raise ValueError(f"unknown backend {backend}")
    upgrade_database(engine)
    return engine


@pytest.fixture(scope="session", params=BACKENDS)
def db_engine(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Engine]:
    engine = build_database(request.param, tmp_path_factory.mktemp(request.param))
    yield engine
    engine.dispose()


@pytest.fixture
def db_connection(db_engine: Engine) -> Iterator[Any]:
    connection = db_engine.connect()
    transaction = connection.begin()
    try:
        yield connection
    finally:
        transaction.rollback()
        connection.close()


@pytest.fixture
def session_factory(db_connection: Any) -> Callable[[], Session]:
    """Sessions inside the test's transaction: their commits become SAVEPOINT releases."""

    def factory() -> Session:
        return Session(
            bind=db_connection, join_transaction_mode="create_savepoint", expire_on_commit=False
        )

    return factory


@pytest.fixture
def session(session_factory: Callable[[], Session]) -> Iterator[Session]:
    s = session_factory()
    try:
        yield s
    finally:
        s.close()


# --- the HTTP app, in process, and a requests-based client talking to it ---------------------


class TestClientAdapter(requests.adapters.BaseAdapter):
    """A requests transport adapter that hands each request to Starlette's TestClient."""

    def __init__(self, client: TestClient) -> None:
        super().__init__()
        self.client = client

    def send(self, request: requests.PreparedRequest, **_kwargs: Any) -> requests.Response:  # type: ignore[override]
        answer = self.client.request(
            request.method or "GET",
            request.url or "/",
            headers=dict(request.headers),
            content=request.body,
        )
        response = requests.Response()
        response.status_code = answer.status_code
        response._content = answer.content
        response.headers = requests.structures.CaseInsensitiveDict(answer.headers)
        response.url = request.url or ""
        response.request = request
        response.encoding = answer.encoding
        return response

    def close(self) -> None:
        pass


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(home=tmp_path / "home", database_url=None, url=None, token=None)


@pytest.fixture
def app(settings: Settings, session_factory: Callable[[], Session]) -> FastAPI:
    return create_app(settings, session_factory=session_factory)


@pytest.fixture
def http(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as client:
        yield client


@pytest.fixture
def admin_token(session: Session) -> str:
    return create_token(session, "admin")[0]


@pytest.fixture
def acme_token(session: Session) -> str:
    return create_token(session, "publish", namespace="acme")[0]


@pytest.fixture
def client_for(http: TestClient) -> Callable[[str | None], RegistryClient]:
    """A RegistryClient over the in-process app, with the given token."""

    def make(token: str | None) -> RegistryClient:
        transport = requests.Session()
        transport.mount("http://testserver", TestClientAdapter(http))
        return RegistryClient("http://testserver", token=token, http=transport)

    return make


@pytest.fixture(scope="session")
def lora_releases(tmp_path_factory: pytest.TempPathFactory) -> dict[str, LoraRelease]:
    """Real PEFT adapters on the tiny realzoo llamas, each saved and merged into its base:
    ``a`` and ``b`` two adapters trained apart on llama-b0 (same targets and rank), ``kin``
    adapter ``a``'s recipe on llama-k0 (which shares only llama-b0's embeddings)."""
    require_zoo_tools()  # PEFT trains them
    recipes = {
        "a": LoraRecipe("llama-b0", seed=1),
        "b": LoraRecipe("llama-b0", seed=2),
        "kin": LoraRecipe("llama-k0", seed=1),
    }
    root = tmp_path_factory.mktemp("lora")
    return {name: build_lora(recipe, root / name) for name, recipe in recipes.items()}
