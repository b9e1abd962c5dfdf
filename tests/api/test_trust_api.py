"""Authorisation on every write route, rate limits, token revocation, keys and the log over HTTP."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ed25519
from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlmodel import Session

from registry.api import create_app
from registry.api.deps import ScopeRequirement, require_token
from registry.config import Settings
from registry.services import create_token
from registry.services.trust import keys as keys_service
from registry.trust.checkpoint import parse_checkpoint
from registry.trust.keys import load_public_key, public_key_pem
from registry.trust.merkle import leaf_hash, verify_inclusion
from tests.factories import variant_request

# POST routes that only read: each one listed here was reviewed as needing no token.
READ_ONLY_POSTS = {("POST", "/identify"), ("POST", "/v1/identify")}


def _depends_on(dependant: Dependant, target: Callable[..., object]) -> bool:
    return any(d.call is target or _depends_on(d, target) for d in dependant.dependencies)


def _api_routes(routes: list[Any]) -> list[APIRoute]:
    """Every APIRoute, also inside included routers (FastAPI nests them lazily)."""
    found: list[APIRoute] = []
    for route in routes:
        if isinstance(route, APIRoute):
            found.append(route)
        nested = getattr(route, "original_router", None) or getattr(route, "router", None)
        if nested is not None and hasattr(nested, "routes"):
            found.extend(_api_routes(nested.routes))
    return found


def test_every_write_route_requires_a_token(app: FastAPI) -> None:
    routes = _api_routes(app.routes)
    writes = {(m, r.path) for r in routes for m in r.methods - {"GET", "HEAD", "OPTIONS"}}
    # the walk must see the routes, or this test would pass on nothing
    assert {("POST", "/keys"), ("POST", "/lineage/claims"), ("POST", "/variants")} <= writes
    unguarded = sorted(
        f"{m} {r.path}"
        for r in routes
        for m in r.methods - {"GET", "HEAD", "OPTIONS"}
        if (m, r.path) not in READ_ONLY_POSTS and not _depends_on(r.dependant, require_token)
    )
    assert unguarded == [], f"write routes without the token dependency: {unguarded}"
    # the published contract agrees: every write operation declares the bearer scheme
    spec = app.openapi()
    for path, operations in spec["paths"].items():
        for method, op in operations.items():
            if method.upper() in ("GET", "HEAD") or (method.upper(), path) in READ_ONLY_POSTS:
                continue
            assert op.get("security"), f"{method.upper()} {path} does not declare its token"


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _declared_scopes(dependant: Dependant) -> tuple[str, ...] | None:
    """The scopes a route declares through a ScopeRequirement in its dependant tree."""
    for d in dependant.dependencies:
        if isinstance(d.call, ScopeRequirement):
            return d.call.scopes
        found = _declared_scopes(d)
        if found is not None:
            return found
    return None


# one token per scope kind; a route refuses every kind it does not declare
_PROBE_SCOPES = {"admin": "admin", "evaluate": "evaluate", "publish": "publish:other"}
_PATH_VALUES = {"namespace": "acme", "name": "chat", "token_id": "0" * 12}


def _example_bodies() -> dict[tuple[str, str], Any]:
    """Bodies for the routes whose namespace is in the body (every other route is refused
    before its body is read): each names namespace ``acme``."""
    claim = {"predicate": {"child": "acme/chat@main"}}
    pem = public_key_pem(ed25519.Ed25519PrivateKey.generate().public_key())
    return {
        ("POST", "/variants"): variant_request("acme/chat").model_dump(mode="json"),
        ("POST", "/lineage/claims"): {
            "envelope": json.dumps(
                {
                    "payloadType": "application/vnd.in-toto+json",
                    "payload": base64.b64encode(json.dumps(claim).encode()).decode(),
                    "signatures": [{"keyid": "", "sig": ""}],
                }
            )
        },
        ("POST", "/keys"): {"namespace": "acme", "public_key": pem, "role": "evaluator"},
        ("POST", "/webhooks"): {
            "url": "http://127.0.0.1:9/hook",
            "secret": "s3cret-hook",
            "events": ["advisory"],
            "under": "acme/chat",
        },
        ("POST", "/downloads/ingest"): {
            "content": "timestamp,repo,user,country\n2026-11-01T00:00:00Z,acme/chat,u1,DE\n"
        },
    }


def test_every_write_route_declares_its_scopes_and_refuses_others(
    app: FastAPI, http: TestClient, session: Session
) -> None:
    routes = [
        (m, r)
        for r in _api_routes(app.routes)
        for m in sorted(r.methods - {"GET", "HEAD", "OPTIONS"})
        if (m, r.path) not in READ_ONLY_POSTS
    ]
    undeclared = sorted(f"{m} {r.path}" for m, r in routes if _declared_scopes(r.dependant) is None)
    assert undeclared == [], f"write routes without a declared scope requirement: {undeclared}"
    tokens = {kind: create_token(session, scope)[0] for kind, scope in _PROBE_SCOPES.items()}
    tokens["evaluate:other"] = create_token(session, "evaluate", namespace="other")[0]
    guarded_reads = [
        ("GET", r)
        for r in _api_routes(app.routes)
        if "GET" in r.methods and _declared_scopes(r.dependant)
    ]
    bodies = _example_bodies()
    pem = public_key_pem(ed25519.Ed25519PrivateKey.generate().public_key())
    key = keys_service.add_key(session, "acme", pem, "evaluator")  # revoke needs a real key
    values = {**_PATH_VALUES, "key_id": key.key_id}
    probed = 0
    for method, route in routes + guarded_reads:
        requirement = ScopeRequirement(*(_declared_scopes(route.dependant) or ()))
        path = route.path if route.path.startswith("/v1/") else "/v1" + route.path
        url = path.format(**{k: values.get(k, "1") for k in route.param_convertors})
        for kind, token in tokens.items():
            scope = _PROBE_SCOPES.get(kind, kind)
            # every probe is about namespace "acme": publish:other and evaluate:other are
            # unrelated everywhere, whether the namespace is in the path or in the body
            if requirement.allows(scope, "acme"):
                continue
            body = bodies.get((method, route.path.removeprefix("/v1")), {})
            r = http.request(method, url, json=body, headers=_auth(token))
            assert r.status_code == 403, f"{method} {url} with {scope}: {r.status_code} {r.text}"
            assert r.json()["error"]["code"] == "permission_denied"
            probed += 1
    assert probed >= 20  # the walk really sent requests


def test_evaluator_keys_are_managed_by_admin_or_an_evaluator_bound_to_the_namespace(
    http: TestClient, admin_token: str, session: Session
) -> None:
    def add(token: str, namespace: str) -> Any:
        pem = public_key_pem(ed25519.Ed25519PrivateKey.generate().public_key())
        body = {"namespace": namespace, "public_key": pem, "role": "evaluator"}
        return http.post("/v1/keys", json=body, headers=_auth(token))

    anyone = create_token(session, "evaluate")[0]
    lab = create_token(session, "evaluate", namespace="lab")[0]
    rival = create_token(session, "evaluate", namespace="rival")[0]
    publisher = create_token(session, "publish", namespace="lab")[0]
    for token in (anyone, rival, publisher):
        r = add(token, "lab")
        assert (r.status_code, r.json()["error"]["code"]) == (403, "permission_denied")
        assert "evaluate:" in r.text  # the hint names the scope that would do
    r = add(lab, "lab")
    assert r.status_code == 201, r.text
    key_id = r.json()["key_id"]
    assert add(admin_token, "lab").status_code == 201
    for token in (anyone, rival, publisher):
        r = http.post(f"/v1/keys/{key_id}/revoke", headers=_auth(token))
        assert (r.status_code, r.json()["error"]["code"]) == (403, "permission_denied")
    assert http.get(f"/v1/keys/{key_id}").json()["active"] is True
    r = http.post(f"/v1/keys/{key_id}/revoke", headers=_auth(lab))
    assert r.status_code == 200 and r.json()["active"] is False
    # a namespace-bound evaluator still records results like any evaluator
    variant = variant_request("acme/a").model_dump(mode="json")
    http.post("/v1/variants", json=variant, headers=_auth(admin_token))
    result = {"benchmark": "harmbench", "metric": "asr", "value": 0.1}
    r = http.post("/v1/evals/acme/a", json=result, headers=_auth(lab))
    assert r.status_code == 201, r.text


def test_writes_are_rate_limited_per_token(
    settings: Settings, session_factory: Callable[[], Session], session: Session
) -> None:
    limited = settings.model_copy(update={"write_rate": 0.01, "write_burst": 2})
    token, other = create_token(session, "admin")[0], create_token(session, "admin")[0]
    with TestClient(create_app(limited, session_factory=session_factory)) as http:
        body = {"scope": "evaluate"}
        assert http.post("/v1/tokens", json=body, headers=_auth(token)).status_code == 201
        assert http.post("/v1/tokens", json=body, headers=_auth(token)).status_code == 201
        r = http.post("/v1/tokens", json=body, headers=_auth(token))
        assert r.status_code == 429
        assert r.json()["error"]["code"] == "rate_limited"
        assert int(r.headers["retry-after"]) >= 1
        assert http.get("/v1/log/checkpoint").status_code == 200  # reads are not limited
        assert http.post("/v1/tokens", json=body, headers=_auth(other)).status_code == 201


def test_revoked_tokens_are_refused(http: TestClient, admin_token: str, session: Session) -> None:
    secret, row = create_token(session, "publish", namespace="acme")
    body = variant_request("acme/a").model_dump(mode="json")
    assert http.post("/v1/variants", json=body, headers=_auth(secret)).status_code == 201
    r = http.post(f"/v1/tokens/{row.token_id}/revoke", headers=_auth(secret))
    assert r.status_code == 403
    r = http.post(f"/v1/tokens/{row.token_id}/revoke", headers=_auth(admin_token))
    assert r.status_code == 200 and r.json()["revoked_at"]
    body = variant_request("acme/b").model_dump(mode="json")
    r = http.post("/v1/variants", json=body, headers=_auth(secret))
    assert (r.status_code, r.json()["error"]["code"]) == (401, "token_invalid")
    r = http.post("/v1/tokens/000000000000/revoke", headers=_auth(admin_token))
    assert (r.status_code, r.json()["error"]["code"]) == (404, "token_not_found")


def test_publishers_manage_only_their_own_namespace_keys(
    http: TestClient, acme_token: str, session: Session
) -> None:
    pem = public_key_pem(ed25519.Ed25519PrivateKey.generate().public_key())
    r = http.post(
        "/v1/keys", json={"namespace": "other", "public_key": pem}, headers=_auth(acme_token)
    )
    assert (r.status_code, r.json()["error"]["code"]) == (403, "permission_denied")
    r = http.post(
        "/v1/keys",
        json={"namespace": "acme", "public_key": pem, "role": "evaluator"},
        headers=_auth(acme_token),
    )
    assert r.status_code == 403
    r = http.post(
        "/v1/keys", json={"namespace": "acme", "public_key": pem}, headers=_auth(acme_token)
    )
    assert r.status_code == 201, r.text
    key_id = r.json()["key_id"]
    other = create_token(session, "publish", namespace="other")[0]
    assert http.post(f"/v1/keys/{key_id}/revoke", headers=_auth(other)).status_code == 403
    r = http.post(
        "/v1/keys", json={"namespace": "acme", "public_key": "junk"}, headers=_auth(acme_token)
    )
    assert (r.status_code, r.json()["error"]["code"]) == (400, "key_invalid")
    r = http.post(f"/v1/keys/{key_id}/revoke", headers=_auth(acme_token))
    assert r.status_code == 200 and r.json()["active"] is False
    assert http.get(f"/v1/keys/{key_id}").json()["revoked_log_index"] == 1


def test_log_endpoints_prove_a_registration(http: TestClient, acme_token: str) -> None:
    body = variant_request("acme/a").model_dump(mode="json")
    index = http.post("/v1/variants", json=body, headers=_auth(acme_token)).json()["log_index"]
    key = http.get("/v1/log/key").json()
    cp = http.get("/v1/log/checkpoint").json()
    checkpoint = parse_checkpoint(cp["note"], load_public_key(key["public_key"]), key["origin"])  # type: ignore[arg-type]
    entry = http.get(f"/v1/log/entries/{index}").json()
    proof = http.get(
        "/v1/log/proof/inclusion", params={"index": index, "tree_size": checkpoint.tree_size}
    ).json()
    verify_inclusion(
        index,
        checkpoint.tree_size,
        leaf_hash(entry["data"].encode()),
        [bytes.fromhex(h) for h in proof["hashes"]],
        checkpoint.root_hash,
    )
    r = http.get("/v1/log/proof/consistency", params={"first": 5, "second": 2})
    assert (r.status_code, r.json()["error"]["code"]) == (400, "log_range_invalid")
    r = http.get("/v1/log/entries/99")
    assert (r.status_code, r.json()["error"]["code"]) == (404, "log_entry_not_found")
    assert http.get("/v1/log/audit", headers=_auth(acme_token)).status_code == 403
