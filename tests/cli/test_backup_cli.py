"""`provreg dump` and `provreg restore`: a registry with keys, signed releases, a lineage claim,
evaluations, downloads, an advisory and tokens, dumped from SQLite and restored into each
backend (SQLite and PostgreSQL), where `provreg audit` passes; tampered, truncated and
misdirected restores are refused with nothing written."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519
from sqlalchemy import Engine, func, select
from sqlmodel import Session

from cli.main import run
from cli.state import CliState
from registry.config import Settings
from registry.db.models import LogLeaf, Variant
from registry.names import parse_ref
from registry.services import create_token, register_variant
from registry.services.downloads.report import record_downloads
from registry.services.evals.results import add_results
from registry.services.identify.sketch_index import encode_sketch
from registry.services.safeguards.advisories import add_advisory
from registry.services.safeguards.policy import load_policy
from registry.services.safeguards.query import safeguard_status
from registry.services.trust import keys as keys_service
from registry.trust.keys import public_key_pem
from registry.trust.statements import release_statement, sign_statement
from registry.weights import fingerprint_path, sketch_path
from schemas import AdvisoryCreate, DownloadRecord, EvalResultCreate, VariantCreate
from schemas.statements import ParentClaim
from schemas.variants import DeclaredParent
from tests.cli.conftest import Result
from tests.conftest import build_database
from tests.factories import finetuned, tiny_tensors, write_model

POLICY = load_policy()


def _signed(tmp: Path, name: str, tensors: Any, key: ed25519.Ed25519PrivateKey, **kw: Any):
    directory = write_model(tmp / name.replace("/", "_"), tensors)
    fp = fingerprint_path(directory)
    fp.sketch = encode_sketch(sketch_path(directory))
    request = VariantCreate(name=name, fingerprint=fp, **kw)
    parents = [ParentClaim(name=f"{p.name}@main", relation=p.relation) for p in request.parents]
    request.signed_statement = sign_statement(release_statement(request, parents), key)
    return request


def _populate(session: Session, tmp: Path) -> None:
    key = ed25519.Ed25519PrivateKey.generate()
    keys_service.add_key(session, "acme", public_key_pem(key.public_key()))
    base = tiny_tensors(1, hidden=32)
    register_variant(session, _signed(tmp, "acme/base", base, key))
    tuned = [DeclaredParent(name="acme/base", relation="finetune")]
    register_variant(session, _signed(tmp, "acme/tuned", finetuned(base, 2), key, parents=tuned))
    result = EvalResultCreate(benchmark="harmbench", metric="asr", value=0.05, stderr=0.01)
    add_results(session, parse_ref("acme/base"), [result], POLICY)
    record_downloads(session, parse_ref("acme/tuned"), DownloadRecord(count=10))
    add_advisory(session, AdvisoryCreate(name="acme/tuned", severity="low", summary="s"))
    for name in ("acme/base", "acme/tuned"):
        safeguard_status(session, parse_ref(name), POLICY)
    create_token(session, "publish", namespace="acme")
    session.commit()


@pytest.fixture
def source(tmp_path: Path) -> Iterator[Engine]:
    engine = build_database("sqlite", tmp_path / "source")
    with Session(engine, expire_on_commit=False) as session:
        _populate(session, tmp_path)
    yield engine
    engine.dispose()


def _cli(
    capsys: pytest.CaptureFixture[str],
    settings: Settings,
    sessions: Callable[[], Session] | None,
    *args: Any,
) -> Result:
    state = CliState(settings=settings, session_factory_override=sessions)
    capsys.readouterr()
    code = run([str(a) for a in args], state=state)
    out = capsys.readouterr()
    return Result(code, out.out, out.err)


@pytest.fixture
def dumped(
    source: Engine, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> tuple[Path, dict[str, Any]]:
    out = tmp_path / "registry.jsonl"
    settings = Settings(home=tmp_path / "source-home", url=None)
    r = _cli(
        capsys,
        settings,
        lambda: Session(source, expire_on_commit=False),
        "dump",
        "--out",
        out,
        "--json",
    )
    assert r.code == 0, r.err
    return out, r.json()


def _variants(session: Session) -> int:
    return int(session.execute(select(func.count()).select_from(Variant)).scalar_one())


def test_round_trip_restores_a_registry_that_audits(
    dumped: tuple[Path, dict[str, Any]],
    session_factory: Callable[[], Session],
    session: Session,
    settings: Settings,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path, summary = dumped
    lines = path.read_text().splitlines()
    header, trailer = json.loads(lines[0]), json.loads(lines[-1])
    assert header["type"] == "provreg-dump" and trailer["type"] == "checkpoint"
    tables = {json.loads(line)["table"] for line in lines[1:-1]}
    assert {"variant", "variant_file", "variant_sketch", "lineage_edge", "signed_statement",
            "signing_key", "eval_result", "download_snapshot", "advisory", "api_token",
            "log_leaf", "log_node"} <= tables  # fmt: skip
    tokens = [json.loads(x)["row"] for x in lines if '"table": "api_token"' in x]
    assert tokens and all(set(t["secret_sha256"]) <= set("0123456789abcdef") for t in tokens)
    r = _cli(capsys, settings, session_factory, "restore", path, "--json")
    assert r.code == 0, r.err
    report = r.json()
    assert report["rows"] == summary["rows"] and report["tree_size"] == summary["tree_size"]
    assert report["root_hash"] == summary["root_hash"] == trailer["root_hash"]
    r = _cli(capsys, settings, session_factory, "audit", "--json")
    assert r.code == 0, r.err
    audit = r.json()
    assert audit["ok"] and audit["root_hash"] == summary["root_hash"]
    shown = _cli(capsys, settings, session_factory, "show", "acme/tuned", "--json").json()
    assert shown["lineage"][0]["parent"] == "acme/base@main" and shown["signature"] is not None
    # the restored database takes new writes (ids continue after the restored ones)
    r = _cli(
        capsys, settings, session_factory,
        "advisory", "add", "acme/base", "--severity", "high", "--summary", "after restore",
        "--json",
    )  # fmt: skip
    assert r.code == 0, r.err
    assert _cli(capsys, settings, session_factory, "audit", "--json").code == 0
    # a second restore into the now non-empty database is refused
    r = _cli(capsys, settings, session_factory, "restore", path)
    assert r.code == 1 and "not empty" in r.err


def _tampered(path: Path, table: str, change: Callable[[dict[str, Any]], None]) -> Path:
    lines = path.read_text().splitlines()
    for i, line in enumerate(lines):
        doc = json.loads(line)
        if doc.get("table") == table:
            change(doc["row"])
            lines[i] = json.dumps(doc)
            break
    out = path.with_name(f"tampered-{table}.jsonl")
    out.write_text("\n".join(lines) + "\n")
    return out


@pytest.mark.parametrize(
    ("table", "change", "message"),
    [
        ("eval_result", lambda r: r.update(value=0.5), "does not re-derive"),
        ("lineage_edge", lambda r: r.update(relation="merge"), "does not re-derive"),
        ("advisory", lambda r: r.update(severity="critical"), "does not re-derive"),
        ("variant_file", lambda r: r.update(sha256="0" * 64), "does not re-derive"),
    ],
)
def test_a_tampered_dump_is_refused_with_nothing_written(
    dumped: tuple[Path, dict[str, Any]],
    session_factory: Callable[[], Session],
    session: Session,
    settings: Settings,
    capsys: pytest.CaptureFixture[str],
    table: str,
    change: Callable[[dict[str, Any]], None],
    message: str,
) -> None:
    path = _tampered(dumped[0], table, change)
    r = _cli(capsys, settings, session_factory, "restore", path)
    assert r.code == 1 and message in r.err and r.err.count("\n") == 1, r.err
    assert _variants(session) == 0


def test_truncated_and_miscounted_dumps_are_refused(
    dumped: tuple[Path, dict[str, Any]],
    session_factory: Callable[[], Session],
    session: Session,
    settings: Settings,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    lines = dumped[0].read_text().splitlines()
    truncated = tmp_path / "truncated.jsonl"
    truncated.write_text("\n".join(lines[:-1]) + "\n")
    r = _cli(capsys, settings, session_factory, "restore", truncated)
    assert r.code == 1 and "truncated" in r.err
    dropped = tmp_path / "dropped.jsonl"
    kept = [x for x in lines if '"table": "download_snapshot"' not in x]
    dropped.write_text("\n".join(kept) + "\n")
    r = _cli(capsys, settings, session_factory, "restore", dropped)
    assert r.code == 1 and "download_snapshot" in r.err
    r = _cli(capsys, settings, session_factory, "restore", tmp_path / "missing.jsonl")
    assert r.code == 1 and "cannot read" in r.err
    assert _variants(session) == 0
    assert session.execute(select(func.count()).select_from(LogLeaf)).scalar_one() == 0


def test_dump_and_restore_are_refused_over_http(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = Settings(home=tmp_path / "home", url="http://127.0.0.1:9")
    for args in (("dump",), ("restore", tmp_path / "x.jsonl")):
        r = _cli(capsys, settings, None, *args)
        assert r.code == 1 and "not through a server" in r.err and r.out == ""
