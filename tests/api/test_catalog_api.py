"""The registry as a whole over HTTP and through the client: the overview behind the explorer's
home page, the variants table (sorted, filtered, searched by name and digest prefix, paged),
advisories in the bulk statuses, and the API docs served from this server's own assets."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from registry.api.docs import assets_dir
from registry.client import RegistryClient
from registry.errors import CursorInvalid, InvalidInput
from registry.names import parse_ref
from registry.services import register_variant
from registry.services.downloads.report import record_downloads
from registry.services.evals.results import add_results
from registry.services.pagination import encode_cursor
from registry.services.safeguards.advisories import add_advisory
from registry.services.safeguards.policy import SafeguardPolicy
from schemas import AdvisoryCreate, DownloadRecord, EvalResultCreate
from tests.factories import variant_request

pytestmark = pytest.mark.db

DOWNLOADS = {"acme/base": 500, "acme/chat": 300, "bad/chat-uncensored": 900, "zeta/tool": 20}


def _registry(session: Session, policy: SafeguardPolicy) -> None:
    register_variant(session, variant_request("acme/base", parents={"ghost/origin": "finetune"}))
    register_variant(session, variant_request("acme/chat", parents={"acme/base": "finetune"}))
    register_variant(
        session, variant_request("bad/chat-uncensored", parents={"acme/chat": "finetune"})
    )
    register_variant(session, variant_request("zeta/tool"))
    for name, count in DOWNLOADS.items():
        record_downloads(session, parse_ref(name), DownloadRecord(count=count))
    refusals = EvalResultCreate(benchmark="harmbench", metric="asr", value=0.71, source="manual")
    add_results(session, parse_ref("bad/chat-uncensored"), [refusals], policy)
    for severity in ("medium", "critical"):
        add_advisory(
            session,
            AdvisoryCreate(name="bad/chat-uncensored", severity=severity, summary="no refusals"),  # type: ignore[arg-type]
        )


@pytest.fixture
def policy(app: object) -> SafeguardPolicy:
    from registry.services.safeguards.policy import load_policy

    return load_policy(app.state.settings)  # type: ignore[attr-defined]


def test_overview_counts_recent_and_the_most_reached_lacking(
    http: TestClient, session: Session, policy: SafeguardPolicy
) -> None:
    _registry(session, policy)
    body = http.get("/v1/overview").json()
    assert body["counts"] == {
        "variants": 4,
        "known_by_name": 1,  # ghost/origin, named as a parent only
        "edges": 3,
        "evaluations": 1,
        "advisories": 2,
    }
    assert [r["name"] for r in body["recent"]] == [
        "zeta/tool",
        "bad/chat-uncensored",
        "acme/chat",
        "acme/base",
    ]
    lacking = body["lacking"]
    assert lacking[0]["name"] == "bad/chat-uncensored"
    assert lacking[0]["status"] in ("lacking", "suspected", "degraded")
    assert lacking[0]["downloads"] == 900 and lacking[0]["reach"] == 900
    assert all(r["status"] in ("lacking", "suspected", "degraded") for r in lacking)
    reaches = [r["reach"] for r in lacking]
    assert reaches == sorted(reaches, reverse=True)
    # a name known as a parent first counts as registered when its weights are
    register_variant(session, variant_request("ghost/origin"))
    body = http.get("/v1/overview").json()
    assert body["counts"]["variants"] == 5 and body["counts"]["known_by_name"] == 0
    newest = body["recent"][0]
    assert newest["name"] == "ghost/origin" and newest["registered_at"] > newest["created_at"]
    assert body["recent"][1]["name"] == "zeta/tool"


def test_table_sorts_filters_and_searches_by_name_or_digest_prefix(
    http: TestClient, session: Session, policy: SafeguardPolicy
) -> None:
    _registry(session, policy)

    def names(**params: object) -> list[str]:
        r = http.get("/v1/variants/table", params=params)  # type: ignore[arg-type]
        assert r.status_code == 200, r.text
        return [i["name"] for i in r.json()["items"]]

    assert names(registered=True) == [  # most downloaded first by default
        "bad/chat-uncensored",
        "acme/base",
        "acme/chat",
        "zeta/tool",
    ]
    assert names(sort="name", order="asc") == [
        "acme/base",
        "acme/chat",
        "bad/chat-uncensored",
        "ghost/origin",
        "zeta/tool",
    ]
    reach = names(sort="reach", registered=True)
    assert reach[0] == "acme/base"  # 500 + 300 + 900 below it
    assert names(registered=False) == ["ghost/origin"]
    assert names(q="CHAT", sort="name", order="asc") == ["acme/chat", "bad/chat-uncensored"]
    assert names(q="t_x") == []  # LIKE wildcards are literal
    first = http.get("/v1/variants/table", params={"q": "zeta/tool"}).json()["items"][0]
    assert set(first) >= {"digest", "format", "parameters", "status", "downloads", "reach"}
    assert first["format"] == "safetensors" and first["parameters"] == 48
    hex_part = first["digest"].split(":", 1)[1]
    assert names(q=hex_part[:10]) == ["zeta/tool"]  # a digest prefix finds the variant
    assert names(q=f"sha256:{hex_part[:6]}") == ["zeta/tool"]
    assert names(q=hex_part[3:13]) == []  # not a prefix
    status = http.get("/v1/variants/table", params={"q": "uncensored"}).json()["items"][0]
    assert names(status=status["status"]) == ["bad/chat-uncensored"]
    assert names(format="gguf") == []
    assert http.get("/v1/variants/table?sort=size").status_code == 422
    bad = http.get("/v1/variants/table?status=fine")
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_input"


def test_table_pages_walk_every_row_once_and_cursors_keep_their_query(
    client_for: Callable[[str | None], RegistryClient],
    session: Session,
    policy: SafeguardPolicy,
) -> None:
    _registry(session, policy)
    for i in range(7):
        register_variant(session, variant_request(f"many/v{i}"))
    client = client_for(None)
    seen: list[str] = []
    cursor = None
    while True:
        page = client.variant_table(sort="name", order="asc", limit=3, cursor=cursor)
        assert page.total == 12
        seen += [r.name for r in page.items]
        cursor = page.next_cursor
        if cursor is None:
            break
    assert seen == sorted(seen) and len(seen) == len(set(seen)) == 12
    first = client.variant_table(sort="name", limit=3)
    assert first.next_cursor is not None
    with pytest.raises(CursorInvalid):
        client.variant_table(sort="downloads", limit=3, cursor=first.next_cursor)
    with pytest.raises(InvalidInput):
        client.variant_table(status="nonsense")
    forged = encode_cursor({"q": "", "format": "", "status": [], "registered": None,
                            "sort": "name", "desc": True, "offset": 10**30})  # fmt: skip
    with pytest.raises(CursorInvalid):
        client.variant_table(sort="name", cursor=forged)
    assert client.overview().counts.variants == 11


def test_bulk_statuses_carry_advisories_against_each_variant(
    http: TestClient, session: Session, policy: SafeguardPolicy
) -> None:
    _registry(session, policy)
    items = http.get(
        "/v1/safeguards", params=[("ref", "bad/chat-uncensored"), ("ref", "acme/chat")]
    ).json()["items"]
    assert [(i["advisories"], i["advisory_severity"]) for i in items] == [
        (2, "critical"),  # the most severe of the two
        (0, None),
    ]


def test_docs_and_redoc_load_their_assets_from_this_server(http: TestClient) -> None:
    for page, asset in (("/docs", "swagger-ui-bundle.js"), ("/redoc", "redoc.standalone.js")):
        html = http.get(page)
        assert html.status_code == 200, page
        urls = re.findall(r'(?:src|href)="([^"]+)"', html.text)
        assert f"/static/docs/{asset}" in urls
        assert not [u for u in urls if u.startswith(("http:", "https:", "//"))], urls
        policy = html.headers["content-security-policy"]  # nothing else may load either
        assert "default-src 'self'" in policy and "img-src 'self' data:" in policy
        served = http.get(f"/static/docs/{asset}")
        assert served.status_code == 200
        assert served.content == (assets_dir() / asset).read_bytes()
    assert "fonts.googleapis" not in http.get("/redoc").text
    assert http.get("/docs/oauth2-redirect").status_code == 200
