"""The lazily routed app (the CLI's local mode) serves every route the full app serves, each
from the same route module, loading only the modules of the segment a request names."""

from __future__ import annotations

import re
from pathlib import Path

from fastapi import FastAPI
from fastapi.testclient import TestClient

import registry.api.routes
from registry.api import create_app
from registry.api.app import ALL_ROUTE_MODULES, ROUTE_MODULES, modules_for, route_path
from registry.api.guard import api_routes
from registry.config import Settings
from registry.db import make_engine, make_session_factory


def _served(app: FastAPI) -> set[tuple[str, str, str]]:
    return {
        (method, route.path, route.endpoint.__module__)
        for route in api_routes(app)
        for method in route.methods
    }


def _app(lazy: bool) -> FastAPI:
    return create_app(
        Settings(database_url="sqlite://"), session_factory=lambda: None, lazy_routes=lazy
    )


def test_every_route_is_served_once_its_path_is_asked_for() -> None:
    full = _served(_app(lazy=False))
    assert len({path for _, path, _ in full}) > 30
    for method, path, module in sorted(full):
        lazy = _app(lazy=True)
        route_path(lazy, re.sub(r"\{[^}]+\}", "x", path))
        assert (method, path, module) in _served(lazy), f"{method} {path} not served lazily"


def test_every_route_module_is_part_of_the_full_app() -> None:
    routes = Path(registry.api.routes.__file__).parent
    modules = {p.stem for p in routes.glob("*.py") if p.stem != "__init__"}
    assert modules == set(ALL_ROUTE_MODULES)


def test_a_lazy_app_loads_only_the_modules_of_the_segment_asked_for() -> None:
    lazy = _app(lazy=True)
    before = _served(lazy)
    assert {path for _, path, _ in before if path.startswith("/v1")} == {"/v1/health"}
    route_path(lazy, "/v1/keys/abc")
    keys = {r for r in _served(_app(lazy=False)) if r[1].startswith("/v1/keys")}
    assert _served(lazy) == before | keys
    route_path(lazy, "/v1/keys")  # asked again: included once
    assert len(lazy.router.routes) == len(_app(lazy=True).router.routes) + 1
    assert set(ROUTE_MODULES["variants"]) >= {"variants", "signatures", "advisories"}
    assert {m for ms in ROUTE_MODULES.values() for m in ms} == set(ALL_ROUTE_MODULES)
    # a variant's own read loads its module only; its statement, the signatures module
    assert modules_for("/v1/variants/acme/chat") == ("variants",)
    assert modules_for("/v1/variants/acme/chat/statement") == ("signatures",)
    assert modules_for("/v1/variants/acme/chat/nothing") == ()
    assert modules_for("/ui/app.js") == modules_for("/") == ()


def test_a_lazy_app_answers_a_request_after_its_routes_load() -> None:
    settings = Settings(database_url="sqlite://")
    sessions = make_session_factory(make_engine(settings))
    lazy = create_app(settings, session_factory=sessions, lazy_routes=True)
    http = TestClient(lazy)
    assert http.get("/v1/health").json()["status"] == "ok"
    assert http.get("/v1/log/key").status_code == 404  # not loaded: no such route yet
    route_path(lazy, "/v1/log/key")
    r = http.get("/v1/log/entries/not-a-number")
    assert r.status_code == 422  # the route is there and validates its parameters
