"""The two ways a command reaches the registry: local services or a remote server."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from sqlalchemy import Engine, inspect
from sqlmodel import Session

from registry.client import RegistryClient
from registry.config import Settings
from registry.db import make_engine, make_session_factory, upgrade_database
from registry.db.migrate import current_revision, head_revision
from registry.errors import DatabaseNotInitialised
from registry.services import lineage_graph, register_variant, show_variant
from registry.services.identify import identify
from registry.services.lineage import Direction
from registry.services.names import VariantRef
from schemas import IdentifyQuery, IdentifyResult, LineageGraph, VariantCreate, VariantPublic


class Backend(Protocol):
    """What commands need from the registry, wherever it is."""

    def register(self, request: VariantCreate) -> VariantPublic: ...

    def show(self, ref: VariantRef) -> VariantPublic: ...

    def lineage(
        self, ref: VariantRef, *, direction: Direction, depth: int, limit: int, cursor: str | None
    ) -> LineageGraph: ...

    def identify(self, query: IdentifyQuery) -> IdentifyResult: ...


class LocalBackend:
    """Runs the services on a database this process opens itself."""

    def __init__(self, session_factory: Callable[[], Session]) -> None:
        self.session_factory = session_factory

    def register(self, request: VariantCreate) -> VariantPublic:
        with self.session_factory() as session:
            return register_variant(session, request)

    def show(self, ref: VariantRef) -> VariantPublic:
        with self.session_factory() as session:
            return show_variant(session, ref)

    def lineage(
        self, ref: VariantRef, *, direction: Direction, depth: int, limit: int, cursor: str | None
    ) -> LineageGraph:
        with self.session_factory() as session:
            return lineage_graph(
                session,
                ref,
                direction=direction,
                depth=depth,
                limit=limit,
                cursor=cursor,
            )

    def identify(self, query: IdentifyQuery) -> IdentifyResult:
        with self.session_factory() as session:
            return identify(session, query)


class RemoteBackend:
    """Goes through :class:`RegistryClient` to a provreg server."""

    def __init__(self, client: RegistryClient) -> None:
        self.client = client

    def register(self, request: VariantCreate) -> VariantPublic:
        return self.client.register(request)

    def show(self, ref: VariantRef) -> VariantPublic:
        return self.client.show(ref.name, ref.revision)

    def lineage(
        self, ref: VariantRef, *, direction: Direction, depth: int, limit: int, cursor: str | None
    ) -> LineageGraph:
        return self.client.lineage(
            ref.name, ref.revision, direction=direction, depth=depth, limit=limit, cursor=cursor
        )

    def identify(self, query: IdentifyQuery) -> IdentifyResult:
        return self.client.identify(query)


def ready_engine(settings: Settings) -> Engine:
    """An engine on a database at the newest schema.

    A brand-new SQLite database is created on first use; anything else that is behind must be
    upgraded explicitly with ``provreg init``.
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


@dataclass
class CliState:
    """Per-invocation state; tests inject a ready backend instead of settings."""

    settings: Settings = field(default_factory=Settings)
    backend_override: Backend | None = None
    session_factory_override: Callable[[], Session] | None = None
    _backend: Backend | None = None

    def local_sessions(self) -> Callable[[], Session]:
        if self.session_factory_override is not None:
            return self.session_factory_override
        return make_session_factory(ready_engine(self.settings))

    def backend(self) -> Backend:
        if self.backend_override is not None:
            return self.backend_override
        if self._backend is None:
            if self.settings.url:
                client = RegistryClient(self.settings.url, token=self.settings.token)
                self._backend = RemoteBackend(client)
            else:
                self._backend = LocalBackend(self.local_sessions())
        return self._backend
