"""The HTTP API: registration with tokens, reads, pagination, lineage and the error contract."""

from __future__ import annotations

import json

from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.factories import variant_request


def _post(http: TestClient, token: str | None, **kwargs: object):  # type: ignore[no-untyped-def]
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    body = variant_request(**kwargs).model_dump(mode="json")  # type: ignore[arg-type]
    return http.post("/v1/variants", json=body, headers=headers)


def test_write_without_token_is_refused(http: TestClient) -> None:
    r = _post(http, None, name="acme/base")
    assert r.status_code == 401
    assert r.json()["error"]["code"] == "token_missing"
    assert r.headers["www-authenticate"] == "Bearer"
    assert http.get("/v1/variants").json()["items"] == []


def test_bad_token_and_wrong_namespace(http: TestClient, acme_token: str) -> None:
    r = _post(http, "provreg_0123456789ab_" + "x" * 43, name="acme/base")
    assert (r.status_code, r.json()["error"]["code"]) == (401, "token_invalid")
    r = _post(http, acme_token, name="other/base")
    assert (r.status_code, r.json()["error"]["code"]) == (403, "permission_denied")


def test_register_show_and_idempotence(http: TestClient, acme_token: str) -> None:
    r = _post(http, acme_token, name="acme/base")
    assert r.status_code == 201, r.text
    body = r.json()
    assert set(body) >= {"name", "revision", "digest", "format", "parameters", "files", "lineage"}
    assert body["files"][0].keys() == {"path", "size", "sha256"}
    again = _post(http, acme_token, name="acme/base")
    assert again.status_code == 200 and again.json()["created"] is False
    clash = _post(http, acme_token, name="acme/base", seed="other weights")
    assert clash.status_code == 409
    assert clash.json()["error"]["code"] == "revision_immutable"
    assert "hint" in clash.json()["error"]["detail"]
    shown = http.get("/v1/variants/acme/base", params={"revision": "main"})
    assert shown.status_code == 200 and shown.json()["digest"] == body["digest"]


def test_not_found_and_validation_errors_use_the_envelope(http: TestClient) -> None:
    r = http.get("/v1/variants/acme/missing")
    assert r.status_code == 404 and r.json()["error"]["code"] == "variant_not_found"
    r = http.get("/v1/variants", params={"limit": 0})
    assert r.status_code == 422 and r.json()["error"]["code"] == "validation_error"
    r = http.get("/v1/variants", params={"cursor": "!!not-a-cursor!!"})
    assert r.status_code == 400 and r.json()["error"]["code"] == "cursor_invalid"
    r = http.get("/v1/no-such-route")
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"


def test_list_pagination_walks_everything_once(http: TestClient, admin_token: str) -> None:
    names = [f"acme/m{i:02d}" for i in range(7)]
    for n in names:
        assert _post(http, admin_token, name=n).status_code == 201
    seen, cursor = [], None
    while True:
        params = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        page = http.get("/v1/variants", params=params).json()
        seen += [i["name"] for i in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == names


def test_lineage_over_http(http: TestClient, admin_token: str) -> None:
    _post(http, admin_token, name="acme/base")
    _post(http, admin_token, name="acme/chat", parents={"acme/base": "finetune"})
    _post(http, admin_token, name="acme/chat-q8", parents={"acme/chat": "quantized"})
    g = http.get("/v1/lineage/acme/chat", params={"direction": "both"}).json()
    assert g["root"] == "acme/chat@main"
    assert {(e["child"], e["parent"], e["relation"]) for e in g["edges"]} == {
        ("acme/chat@main", "acme/base@main", "finetune"),
        ("acme/chat-q8@main", "acme/chat@main", "quantized"),
    }
    assert {n["name"]: n["depth"] for n in g["nodes"]} == {
        "acme/base": -1,
        "acme/chat": 0,
        "acme/chat-q8": 1,
    }


def test_openapi_and_docs_are_served(http: TestClient) -> None:
    spec = http.get("/openapi.json").json()
    assert "/v1/variants" in spec["paths"] and "/v1/lineage/{namespace}/{name}" in spec["paths"]
    assert http.get("/docs").status_code == 200


def test_tokens_can_be_minted_by_admins_only(
    http: TestClient, admin_token: str, acme_token: str
) -> None:
    r = http.post(
        "/v1/tokens",
        json={"scope": "publish", "namespace": "beta"},
        headers={"Authorization": f"Bearer {acme_token}"},
    )
    assert r.status_code == 403
    r = http.post(
        "/v1/tokens",
        json={"scope": "publish", "namespace": "beta"},
        headers={"Authorization": f"Bearer {admin_token}"},
    )
    assert r.status_code == 201
    minted = r.json()
    assert minted["scope"] == "publish:beta" and minted["token"].startswith("provreg_")
    assert _post(http, minted["token"], name="beta/model").status_code == 201


def test_unstorable_fingerprint_is_a_400_and_stores_nothing(
    http: TestClient, acme_token: str
) -> None:
    body = variant_request("acme/hostile").model_dump(mode="json")
    headers = {"Authorization": f"Bearer {acme_token}", "Content-Type": "application/json"}
    for edit in (
        lambda b: b["fingerprint"]["tensors"][0].update(name="w\u0000"),
        lambda b: b["fingerprint"]["config"].update(a="\ud800"),
        lambda b: b["fingerprint"]["files"][0].update(path="m" * 1025),
    ):
        hostile = json.loads(json.dumps(body))
        edit(hostile)
        r = http.post("/v1/variants", content=json.dumps(hostile), headers=headers)  # \u escapes
        assert (r.status_code, r.json()["error"]["code"]) == (400, "fingerprint_invalid"), r.text
    deep = json.loads(json.dumps(body))
    deep["fingerprint"]["config"]["a"] = json.loads("[" * 100 + "]" * 100)
    r = http.post("/v1/variants", content=json.dumps(deep), headers=headers)
    assert (r.status_code, r.json()["error"]["code"]) == (400, "fingerprint_invalid")
    assert "more than 64 levels deep" in r.json()["error"]["message"]
    assert http.get("/v1/variants/acme/hostile").status_code == 404


def test_a_write_without_token_is_refused_before_its_body_is_read(http: TestClient) -> None:
    # not even JSON: were the body parsed first, this would be a 422
    r = http.post("/v1/variants", content=b"{" * 1_000_000)
    assert r.status_code == 401
    assert r.json()["error"]["code"] == "token_missing"


def test_a_body_over_the_cap_is_refused_with_413(app: FastAPI, admin_token: str) -> None:
    app.state.settings.max_body_bytes = 512
    http = TestClient(app)
    headers = {"Authorization": f"Bearer {admin_token}"}
    body = variant_request("acme/big").model_dump(mode="json")
    r = http.post("/v1/variants", json=body, headers=headers)
    assert r.status_code == 413
    error = r.json()["error"]
    assert error["code"] == "body_too_large" and error["detail"]["max_bytes"] == 512

    # sent in chunks without a length, the body is counted as it arrives
    def chunks():  # type: ignore[no-untyped-def]
        yield json.dumps(body).encode()

    r = http.post("/v1/variants", content=chunks(), headers=headers)
    assert r.status_code == 413
    assert http.get("/v1/variants").json()["items"] == []
