"""Concurrent requests against the app on a real database (no test transaction around them):
first registrations in a new namespace, and one safeguard status materialised by many readers."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from registry.api import create_app
from registry.api.routes import variants as routes_variants
from registry.config import Settings
from registry.db import make_engine, make_session_factory, upgrade_database
from registry.services import create_token
from tests.conftest import BACKENDS, _ensure_postgres_database, _unreachable, postgres_url
from tests.factories import variant_request

THREADS = 12


@pytest.fixture(params=BACKENDS)
def real_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """A migrated database of its own, committed to for real: a SQLite file, or a fresh schema
    in the test PostgreSQL database (dropped afterwards)."""
    if request.param == "sqlite":
        engine = make_engine(url=f"sqlite:///{tmp_path / 'race.db'}")
        upgrade_database(engine)
        yield engine
        engine.dispose()
        return
    url = postgres_url()
    schema = f"race_{uuid.uuid4().hex[:10]}"
    try:
        _ensure_postgres_database(url)
        admin = make_engine(url=url)
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    except Exception as exc:  # noqa: BLE001 - any connection failure means unreachable
        _unreachable(str(exc).splitlines()[0])
        raise
    target = make_url(url).set(drivername="postgresql+psycopg").render_as_string(False)
    engine = create_engine(
        target, pool_size=THREADS + 2, connect_args={"options": f"-c search_path={schema}"}
    )
    try:
        upgrade_database(engine)
        yield engine
    finally:
        engine.dispose()
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def race_app(real_engine: Engine, tmp_path: Path) -> tuple[TestClient, str]:
    factory = make_session_factory(real_engine)
    with factory() as session:
        token, _ = create_token(session, "admin")
        session.commit()
    settings = Settings(home=tmp_path, write_rate=1e6, write_burst=10**6)
    app = create_app(settings, session_factory=factory)
    return TestClient(app, raise_server_exceptions=False), token


def _all_at_once(count: int, call: Callable[[int], Any]) -> list[Any]:
    """``call(i)`` for each i in its own thread, released together by a barrier."""
    barrier = threading.Barrier(count)
    results: list[Any] = [None] * count

    def run(i: int) -> None:
        barrier.wait()
        results[i] = call(i)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def test_first_registrations_in_a_new_namespace_race(race_app: tuple[TestClient, str]) -> None:
    http, token = race_app
    headers = {"Authorization": f"Bearer {token}"}

    def register(i: int) -> int:
        body = variant_request(f"fresh-ns/model-{i}").model_dump(mode="json")
        return http.post("/v1/variants", json=body, headers=headers).status_code

    assert _all_at_once(THREADS, register) == [201] * THREADS
    names = {v["name"] for v in http.get("/v1/variants", params={"limit": 100}).json()["items"]}
    assert names == {f"fresh-ns/model-{i}" for i in range(THREADS)}


def test_one_status_materialised_by_many_readers(
    race_app: tuple[TestClient, str], real_engine: Engine
) -> None:
    http, token = race_app
    headers = {"Authorization": f"Bearer {token}"}
    for name in ("acme/base", "acme/tuned"):
        parents = {"acme/base": "finetune"} if name == "acme/tuned" else None
        body = variant_request(name, parents=parents).model_dump(mode="json")
        assert http.post("/v1/variants", json=body, headers=headers).status_code == 201
    # no status stored yet and none queued (a database from before statuses were materialised):
    # the first reads materialise them, all at once
    with real_engine.begin() as conn:
        conn.execute(text("DELETE FROM safeguard_dirty"))
        conn.execute(text("DELETE FROM safeguard_status"))

    def read(i: int) -> tuple[int, str]:
        r = http.get(f"/v1/safeguards/acme/{'tuned' if i % 2 else 'base'}")
        return r.status_code, r.json().get("status", r.text)

    answers = _all_at_once(THREADS, read)
    assert {code for code, _ in answers} == {200}, answers
    # every reader saw the same status for the same variant
    assert len({s for i, (_, s) in enumerate(answers) if i % 2}) == 1
    assert len({s for i, (_, s) in enumerate(answers) if not i % 2}) == 1


def test_concurrent_mixed_writes_never_answer_5xx(race_app: tuple[TestClient, str]) -> None:
    """Registrations under one parent, download counts and status reads, all at once: on SQLite
    writers wait for the write lock (busy timeout) instead of failing with "database is locked"."""
    http, token = race_app
    headers = {"Authorization": f"Bearer {token}"}
    body = variant_request("base/root").model_dump(mode="json")
    assert http.post("/v1/variants", json=body, headers=headers).status_code == 201

    def work(i: int) -> list[tuple[int, str]]:
        answers = []
        for j in range(3):
            name = f"ns{j}/child-{i}"
            body = variant_request(name, parents={"base/root": "finetune"}).model_dump(mode="json")
            answers.append(http.post("/v1/variants", json=body, headers=headers))
            answers.append(http.get("/v1/safeguards/base/root"))
            answers.append(http.post(f"/v1/downloads/{name}", json={"count": 5}, headers=headers))
        return [(r.status_code, r.text[:200]) for r in answers]

    answers = [a for run in _all_at_once(THREADS, work) for a in run]
    assert {code for code, _ in answers} == {200, 201}, [a for a in answers if a[0] >= 300]
    children = http.get("/v1/safeguards/base/root")
    assert children.status_code == 200


def test_a_request_that_lost_a_lock_race_runs_again(
    app: FastAPI, admin_token: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A transaction the database failed to settle a race (deadlock, lock wait run out) rolled
    back whole: the request runs again instead of answering 500."""
    http = TestClient(app, raise_server_exceptions=False)
    body = variant_request("acme/base").model_dump(mode="json")
    headers = {"Authorization": f"Bearer {admin_token}"}
    real = routes_variants.register_variant
    calls: list[int] = []

    def racy(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) == 1:
            raise OperationalError("INSERT ...", {}, Exception("database is locked"))
        return real(*args, **kwargs)

    monkeypatch.setattr(routes_variants, "register_variant", racy)
    r = http.post("/v1/variants", json=body, headers=headers)
    assert r.status_code == 201 and len(calls) == 2
    # anything else is not retried
    monkeypatch.setattr(
        routes_variants,
        "register_variant",
        lambda *a, **k: (_ for _ in ()).throw(
            OperationalError("x", {}, Exception("no such table"))
        ),
    )
    assert http.post("/v1/variants", json=body, headers=headers).status_code == 500
