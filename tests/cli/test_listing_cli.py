"""`provreg list`, `revisions`, `keys list`, `token list`, `advisory list` and `eval list --all`:
filters, sorts, pages (the table names the next page's command), and bad input."""

from __future__ import annotations

import shlex
from pathlib import Path

from sqlmodel import Session

from registry.services import create_token, register_variant
from tests.cli.conftest import CliRunner
from tests.factories import variant_request
from tests.services.test_safeguards import (
    COPY,
    DEGRADED,
    EXPECTED_STATUS,
    QUANTIZED,
    RELEASE,
    UNCENSORED,
    build_scenario,
)

REGISTERED_ORDER = [RELEASE, UNCENSORED, QUANTIZED, DEGRADED, COPY]


def _names(doc: dict) -> list[str]:
    return [item["name"] for item in doc["items"]]


def _next_page_args(out: str) -> list[str]:
    """The arguments of the `provreg ...` command a table prints for its next page."""
    line = next(x for x in out.splitlines() if x.startswith("next page: "))
    args = shlex.split(line.removeprefix("next page: "))
    assert args[0] == "provreg"
    return args[1:]


def test_list_filters_and_sorts(session: Session, provreg: CliRunner) -> None:
    build_scenario(session)
    r = provreg("list", "--json")
    assert r.code == 0, r.err
    doc = r.json()
    assert _names(doc) == REGISTERED_ORDER and doc["next_cursor"] is None
    assert {i["name"]: i["status"] for i in doc["items"]} == EXPECTED_STATUS
    assert set(doc["items"][0]) >= {"name", "revision", "digest", "format", "parameters",
                                    "registered", "created_at", "downloads", "reach"}  # fmt: skip
    downloads = _names(provreg("list", "--sort", "downloads", "--json").json())
    assert downloads == [RELEASE, QUANTIZED, UNCENSORED, DEGRADED, COPY]
    reach = provreg("list", "--sort", "reach", "--json").json()["items"]
    assert [i["name"] for i in reach][:3] == [RELEASE, UNCENSORED, QUANTIZED]
    assert reach[0]["reach"] == 90000 + 1000 + 5000 + 300
    lacking = provreg("list", "--status", "lacking,suspected", "--json").json()
    assert _names(lacking) == [UNCENSORED, QUANTIZED]
    assert _names(provreg("list", "--search", "UNCENSORED", "--json").json()) == [
        UNCENSORED,
        QUANTIZED,
    ]
    assert _names(provreg("list", "--namespace", "worse", "--json").json()) == [DEGRADED]
    digest = doc["items"][3]["digest"]
    assert _names(provreg("list", "--digest", digest, "--json").json()) == [DEGRADED]
    assert provreg("list", "--search", "no-such-model").out.strip() == "no variants match"


def test_list_table_pages_through_everything(session: Session, provreg: CliRunner) -> None:
    build_scenario(session)
    r = provreg("list", "--sort", "downloads", "--limit", "2")
    assert r.code == 0, r.err
    header = r.out.splitlines()[0].split()
    assert header[:4] == ["variant", "status", "downloads", "reach"]
    seen = [line.split()[0] for line in r.out.splitlines()[1:3]]
    args = _next_page_args(r.out)
    assert args[:5] == ["list", "--sort", "downloads", "--limit", "2"]
    while True:
        r = provreg(*args)
        assert r.code == 0, r.err
        seen += [p[0] for line in r.out.splitlines()[1:] if (p := line.split()) and "@" in p[0]]
        if "next page: " not in r.out:
            break
        args = _next_page_args(r.out)
    assert seen == [f"{n}@main" for n in (RELEASE, QUANTIZED, UNCENSORED, DEGRADED, COPY)]


def test_list_refuses_bad_input(provreg: CliRunner) -> None:
    r = provreg("list", "--sort", "popularity")
    assert r.code == 2 and "'registered', 'downloads', 'reach'" in r.err
    r = provreg("list", "--cursor", "not-a-cursor")
    assert r.code == 1 and "cursor" in r.err and len(r.err.strip().splitlines()) == 1
    r = provreg("list", "--status", "dangerous")
    assert r.code == 1 and "unknown status dangerous" in r.err
    cursor = provreg("list", "--limit", "1", "--json").json()["next_cursor"]
    assert cursor is None  # an empty registry has one page
    r = provreg("list", "--limit", "0")
    assert r.code == 2
    r = provreg("list", "--search", "chat\x00")
    assert r.code == 1 and "the search holds a NUL character" in r.err


def test_cursor_of_one_sort_is_refused_by_another(session: Session, provreg: CliRunner) -> None:
    build_scenario(session)
    cursor = provreg("list", "--sort", "reach", "--limit", "1", "--json").json()["next_cursor"]
    r = provreg("list", "--sort", "downloads", "--cursor", cursor)
    assert r.code == 1 and "another sort order" in r.err


def test_revisions(session: Session, provreg: CliRunner) -> None:
    for revision in ("main", "v2", "v3"):
        register_variant(session, variant_request("acme/chat", revision=revision))
    register_variant(session, variant_request("acme/chat-other"))
    r = provreg("revisions", "acme/chat", "--json")
    assert r.code == 0, r.err
    assert [i["revision"] for i in r.json()["items"]] == ["main", "v2", "v3"]
    r = provreg("revisions", "acme/chat", "--limit", "2")
    assert [line.split()[0] for line in r.out.splitlines()[1:3]] == ["main", "v2"]
    assert _next_page_args(r.out)[:4] == ["revisions", "acme/chat", "--limit", "2"]
    r = provreg("revisions", "acme/nothing")
    assert r.code == 1 and "no revision of acme/nothing" in r.err and "--search" in r.err
    r = provreg("revisions", "not a name")
    assert r.code == 1 and "invalid model name" in r.err


def test_token_list_never_shows_secrets(
    session: Session, provreg: CliRunner, admin_token: str
) -> None:
    secret, row = create_token(session, "publish", namespace="acme", expires_days=30)
    r = provreg("token", "list", "--json")
    assert r.code == 0, r.err
    items = {i["token_id"]: i for i in r.json()["items"]}
    assert items[row.token_id]["scope"] == "publish:acme" and items[row.token_id]["active"]
    assert items[row.token_id]["expires_at"] is not None
    assert all("token" not in i for i in items.values())
    assert provreg("token", "revoke", row.token_id).code == 0
    r = provreg("token", "list")
    assert r.code == 0, r.err
    for text in (r.out, r.err):
        assert secret not in text and admin_token not in text
    line = next(x for x in r.out.splitlines() if x.startswith(row.token_id))
    assert "publish:acme" in line and "revoked" in line


def test_keys_list(provreg: CliRunner, tmp_path: Path) -> None:
    assert provreg("keys", "list").out.strip() == "no keys registered"
    ids = []
    for n, namespace in enumerate(("acme", "acme", "lab")):
        key = tmp_path / f"k{n}.key"
        assert provreg("keys", "generate", "--out", key).code == 0
        r = provreg("keys", "add", namespace, f"{key}.pub", "--json")
        assert r.code == 0, r.err
        ids.append(r.json()["key_id"])
    assert provreg("keys", "revoke", ids[0]).code == 0
    doc = provreg("keys", "list", "--namespace", "acme", "--json").json()
    assert [k["key_id"] for k in doc["items"]] == ids[:2]
    assert [k["active"] for k in doc["items"]] == [False, True]
    r = provreg("keys", "list", "--limit", "2")
    assert "revoked" in r.out and ids[0][:16] in r.out
    r = provreg(*_next_page_args(r.out), "--json")
    assert [k["key_id"] for k in r.json()["items"]] == ids[2:]


def test_advisory_list_and_every_result(session: Session, provreg: CliRunner) -> None:
    build_scenario(session)
    for name, summary in ((UNCENSORED, "no refusals"), (QUANTIZED, "[bold]not markup[/]")):
        r = provreg("advisory", "add", name, "--severity", "high", "--summary", summary)
        assert r.code == 0, r.err
    doc = provreg("advisory", "list", "--json").json()
    assert [a["name"] for a in doc["items"]] == [QUANTIZED, UNCENSORED]  # newest first
    assert "[bold]not markup[/]" in provreg("advisory", "list").out
    r = provreg("eval", "list", "--all", "--json")
    assert r.code == 0, r.err
    results = r.json()["items"]
    assert [x["name"] for x in results] == [DEGRADED, UNCENSORED, RELEASE]
    assert results[1]["benchmark"] == "harmbench" and results[1]["value"] == 0.71
    r = provreg("eval", "list", "--all", "--limit", "1")
    assert DEGRADED in r.out and _next_page_args(r.out)[:4] == ["eval", "list", "--all", "--limit"]
    r = provreg("eval", "list")
    assert r.code == 1 and "NAME[@REV] or --all" in r.err
    assert provreg("eval", "list", RELEASE, "--all").code == 1
