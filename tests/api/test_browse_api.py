"""The reads behind the explorer, over HTTP: search, statuses in bulk, download series,
advisories reaching a variant, signatures; and the explorer's pages themselves."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from registry.api.pages import STATIC_DIR
from registry.errors import InvalidInput
from registry.names import parse_ref
from registry.services import register_variant
from registry.services.browse import search_variants
from registry.services.downloads.report import record_downloads
from registry.services.safeguards.advisories import add_advisory
from registry.services.trust import keys as keys_service
from registry.services.trust.signatures import attach_bundle
from registry.services.variants.register import get_variant
from schemas import AdvisoryCreate, DownloadRecord
from tests.factories import variant_request
from tests.services.test_signing import GOLDEN, _key, _signed, golden_bundle_files

pytestmark = pytest.mark.db


def _family(session: Session) -> None:
    register_variant(session, variant_request("acme/base"))
    register_variant(session, variant_request("acme/chat", parents={"acme/base": "finetune"}))
    register_variant(
        session, variant_request("bad/chat_x-uncensored", parents={"acme/chat": "finetune"})
    )
    register_variant(session, variant_request("other/base-chat", revision="v2"))
    register_variant(session, variant_request("zeta/chatbot"))


def test_search_ranks_whole_name_then_prefix_then_part_then_anywhere(
    http: TestClient, session: Session
) -> None:
    _family(session)
    items = http.get("/v1/variants/search", params={"q": "CHAT"}).json()["items"]
    assert [i["name"] for i in items] == [
        "acme/chat",  # after the namespace
        "bad/chat_x-uncensored",
        "zeta/chatbot",
        "other/base-chat",  # anywhere
    ]
    assert items[0] == {
        "name": "acme/chat",
        "revision": "main",
        "digest": items[0]["digest"],
        "format": "safetensors",
        "registered": True,
    }
    first = http.get("/v1/variants/search", params={"q": "acme/chat"}).json()["items"][0]
    assert first["name"] == "acme/chat"
    # LIKE wildcards are searched for literally
    assert [i["name"] for i in http.get("/v1/variants/search?q=t_x").json()["items"]] == [
        "bad/chat_x-uncensored"
    ]
    assert http.get("/v1/variants/search?q=%25").json()["items"] == []
    # NAME@REV narrows the revision by prefix; limit bounds the answer
    assert [i["revision"] for i in http.get("/v1/variants/search?q=chat@v").json()["items"]] == [
        "v2"
    ]
    assert len(http.get("/v1/variants/search?q=a&limit=2").json()["items"]) == 2
    assert http.get("/v1/variants/search?q=a&limit=51").status_code == 422
    assert http.get("/v1/variants/search?q=%20").json() == {"query": " ", "items": []}


def test_statuses_in_bulk_keep_the_order_asked_and_name_the_missing(
    http: TestClient, session: Session
) -> None:
    _family(session)
    record_downloads(session, parse_ref("bad/chat_x-uncensored"), DownloadRecord(count=70))
    r = http.get(
        "/v1/safeguards",
        params=[
            ("ref", "bad/chat_x-uncensored"),
            ("ref", "nobody/here@v1"),
            ("ref", "acme/base@main"),
        ],
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert [(i["name"], i["status"]) for i in body["items"]] == [
        ("bad/chat_x-uncensored", "suspected"),  # the name marks it
        ("acme/base", "unverified"),
    ]
    assert body["items"][0]["downloads"] == 70 and body["items"][1]["reach"] == 70
    assert body["items"][0]["reasons"]
    assert body["missing"] == ["nobody/here@v1"]
    single = http.get("/v1/safeguards/bad/chat_x-uncensored").json()
    assert (single["status"], single["reasons"]) == (
        body["items"][0]["status"],
        body["items"][0]["reasons"],
    )
    too_many = [("ref", f"acme/v{i}") for i in range(101)]
    assert http.get("/v1/safeguards", params=too_many).status_code in (400, 422)
    assert http.get("/v1/safeguards").status_code == 422
    bad = http.get("/v1/safeguards", params={"ref": "not a name"})
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_name"


def test_download_series_oldest_first_in_utc(http: TestClient, session: Session) -> None:
    _family(session)
    ref = parse_ref("acme/chat")
    for month, count, window in ((10, 500, "30d"), (9, 200, "30d"), (11, 9000, "all")):
        at = datetime(2026, month, 1, tzinfo=UTC)
        record_downloads(session, ref, DownloadRecord(count=count, observed_at=at, window=window))  # type: ignore[arg-type]
    body = http.get("/v1/downloads/acme/chat").json()  # what the variant page draws
    assert body["reach"]["own"] == 500  # the latest 30d count
    assert [(p["count"], p["window"]) for p in body["series"]] == [
        (200, "30d"),
        (500, "30d"),
        (9000, "all"),
    ]
    assert all(
        datetime.fromisoformat(p["observed_at"]).utcoffset() is not None for p in body["series"]
    )
    assert http.get("/v1/downloads/acme/base").json()["series"] == []
    missing = http.get("/v1/downloads/acme/none")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "variant_not_found"


def test_advisories_reach_descendants_with_their_path(http: TestClient, session: Session) -> None:
    _family(session)
    add_advisory(session, AdvisoryCreate(name="acme/base", severity="low", summary="old"))
    add_advisory(session, AdvisoryCreate(name="acme/chat", severity="high", summary="new"))
    body = http.get("/v1/variants/bad/chat_x-uncensored/advisories").json()
    assert [(a["advisory"]["summary"], a["via"]) for a in body["advisories"]] == [
        ("new", ["acme/chat@main", "bad/chat_x-uncensored@main"]),
        ("old", ["acme/base@main", "acme/chat@main", "bad/chat_x-uncensored@main"]),
    ]
    assert body["advisories"][0]["advisory"]["log_index"] is not None
    assert http.get("/v1/variants/acme/base/advisories").json()["advisories"][0]["via"] == [
        "acme/base@main"
    ]
    assert http.get("/v1/variants/zeta/chatbot/advisories").json()["advisories"] == []


def test_signatures_name_the_release_key_bundles_and_log_leaves(
    http: TestClient, session: Session
) -> None:
    key = _key(session)
    signed = register_variant(session, _signed("acme/signed", key))
    body = http.get("/v1/variants/acme/signed/signatures").json()
    assert body["registration_log_index"] == signed.log_index
    assert body["release"]["key_id"] == signed.signature.key_id  # type: ignore[union-attr]
    assert body["attached"] == []
    request = variant_request("acme/bundled")
    request.fingerprint.files = golden_bundle_files()
    register_variant(session, request)
    pem = (GOLDEN / "model-signing-v1.pub").read_text()
    attached = attach_bundle(
        session,
        get_variant(session, parse_ref("acme/bundled")),
        (GOLDEN / "model-signing-v1.sig").read_text(),
        pem,
    )
    keys_service.add_key(session, "acme", pem)
    body = http.get("/v1/variants/acme/bundled/signatures").json()
    assert body["release"] is None
    assert [(a["key_id"], a["key_registered"], a["log_index"]) for a in body["attached"]] == [
        (attached.key_id, True, attached.log_index)
    ]


def test_pages_are_served_offline_with_a_strict_policy(http: TestClient) -> None:
    page = http.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    policy = page.headers["content-security-policy"]
    assert "default-src 'none'" in policy and "script-src 'self'" in policy
    assert "unsafe" not in policy and page.headers["x-content-type-options"] == "nosniff"
    assert http.head("/").status_code == 200
    script = http.get("/ui/app.js")
    assert script.status_code == 200 and "javascript" in script.headers["content-type"]
    assert script.headers["content-security-policy"] == policy
    assert "content-security-policy" not in http.get("/v1/health").headers
    # every file the page loads is shipped, and nothing is fetched from elsewhere
    referenced = set(re.findall(r'(?:src|href)="/ui/([^"]+)"', page.text))
    for js in STATIC_DIR.glob("*.js"):
        text = js.read_text()
        referenced |= set(re.findall(r'from "\./([^"]+)"', text))
        hosts = set(re.findall(r"https?://([^/\"'`\s]+)", text)) - {"www.w3.org"}
        assert not hosts, f"{js.name} refers to {hosts}"
        assert "innerHTML" not in text and "insertAdjacentHTML" not in text
    assert referenced >= {"app.js", "style.css", "graph.js", "layout.js"}
    for name in referenced:
        assert (STATIC_DIR / name).is_file(), name
        assert http.get(f"/ui/{name}").status_code == 200
    assert Path(STATIC_DIR / "index.html").read_text().count("<script") == 1


def test_search_text_of_wildcards_or_too_long_is_answered_not_crashed(
    http: TestClient, session: Session
) -> None:
    wild = http.get("/v1/variants/search", params={"q": "%_\\" * 100})
    assert wild.status_code == 200 and wild.json()["items"] == []
    with pytest.raises(InvalidInput, match="search text is 60,000 characters long"):
        search_variants(session, "%" * 60_000)
    long = http.get("/v1/variants/search", params={"q": "a" * 301})
    assert long.status_code == 422
