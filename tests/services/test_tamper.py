"""Tampering: every stored column of every table is changed, one at a time, in a registry that
holds one of each record, and ``audit`` must report each change that matters.

A change *matters* when a status, a verdict or a query answer depends on the column. The columns
that do not are listed in :data:`NOT_AUDITED` with the reason; the test fails both when a
column that matters goes unreported and when a listed column turns out to be reported (so the
list stays exact)."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ed25519
from sqlalchemy import JSON, Column, Table, select, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, SQLModel

from registry.db.models import ApiToken, load_tables
from registry.names import parse_ref
from registry.services import create_token, register_variant
from registry.services.downloads.report import record_downloads
from registry.services.evals.corrections import retract_result, supersede_result
from registry.services.evals.results import add_results, import_results
from registry.services.identify.sketch_index import encode_sketch
from registry.services.lineage.claims import claim_lineage
from registry.services.lineage.corrections import declare_parent, retract_parent
from registry.services.safeguards.advisories import add_advisory
from registry.services.safeguards.policy import load_policy
from registry.services.safeguards.query import safeguard_status
from registry.services.trust import keys as keys_service
from registry.services.trust.audit import audit_log
from registry.trust.keys import public_key_pem
from registry.trust.statements import release_statement, sign_statement
from registry.weights import fingerprint_path, open_model, sketch_path
from registry.weights.adapter import sketch_adapter
from schemas import AdvisoryCreate, DownloadRecord, EvalResultCreate, VariantCreate
from schemas.corrections import EvalRetract, EvalSupersede, LineageDeclare, LineageRetract
from schemas.evals import EvalImport
from schemas.statements import (
    LineageCorrectionPredicate,
    LineageCorrectionStatement,
    LineagePredicate,
    LineageStatement,
    ParentClaim,
    Subject,
)
from schemas.variants import CardMarkers, DeclaredParent
from tests.factories import finetuned, tiny_tensors, variant_request, write_lora, write_model

POLICY = load_policy()
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "evals"

# Columns whose change audit does not report, and why none of them matters.
_TIMES = "a bookkeeping time: no status, verdict or answer reads it"
NOT_AUDITED: dict[str, str] = {
    # bookkeeping times (the log's own logged_at is covered by each leaf)
    **{
        f"{t}.{c}": _TIMES
        for t, c in (
            ("namespace", "created_at"),
            ("variant", "created_at"),
            ("variant", "updated_at"),
            ("variant_file", "created_at"),
            ("lineage_edge", "created_at"),
            ("lineage_edge", "updated_at"),
            ("variant_sketch", "created_at"),
            ("variant_adapter", "created_at"),
            ("signing_key", "created_at"),
            ("signed_statement", "created_at"),
            ("eval_result", "created_at"),
            ("advisory", "created_at"),
            ("download_snapshot", "created_at"),
            ("safeguard_status", "updated_at"),
            ("api_token", "created_at"),
            ("api_token", "last_used_at"),
        )
    },  # fmt: skip
    # tokens authenticate writers; they are no part of lineage or trust and never logged
    "api_token.token_id": "authentication only; a changed id only breaks that token",
    "api_token.secret_sha256": "authentication only; a changed hash only breaks that token",
    "api_token.scope": "authentication only (who may write), not what was written",
    "api_token.namespace": "authentication only (who may write), not what was written",
    "api_token.note": "a free-text label",
    "api_token.expires_at": "authentication only",
    "api_token.revoked_at": "authentication only",
    # the namespace row is a grouping key; names are in every leaf through the variant's name
    # materialised status rows: recomputed from covered records when they go stale
    "safeguard_status.reasons": "explanatory text; the status itself is compared",
    "safeguard_status.policy_digest": "a row under another policy is recomputed before use",
    # download snapshots are claims of the variant's publisher, not signed nor logged; the
    # safeguard rows' copies of them are compared (derived_changed)
    "download_snapshot.window": "an unsigned claim, stored as given; not logged",
    "download_snapshot.observed_at": "an unsigned claim, stored as given; not logged",
    "download_snapshot.source": "an unsigned claim's label",
    # an edge's note of what it was checked with; score and evidence are covered
    "namespace.name": "read through a key's namespace (key.added leaves cover it); a "
    "namespace without keys is read by nothing (variant names carry the namespace)",
    "variant.namespace_id": "never read: names (covered) carry the namespace",
}

# (a variant_file row moved to another variant collides only where that variant has a file of
# the same path; the adapter's files move freely, and audit reports that)
REFUSED = {
    "safeguard_status.variant_id",
    "variant_sketch.variant_id",
}

# Tables the scenario leaves empty or that are caches of the Hub, re-fetched on the next sync:
# their columns are not exercised here (the Hub mirror is not the registry's record).
UNTOUCHED_TABLES = {
    "alembic_version": "the schema's migration marker",
    "hub_repo": "the Hub mirror: a cache re-synced from the Hub",
    "hub_file": "the Hub mirror: a cache re-synced from the Hub",
    "hub_sync": "a sync run's progress bookkeeping",
    "hub_sync_item": "a sync run's progress bookkeeping",
    "download_event": "raw Hub download events, folded into snapshots",
    "fingerprint_job": "the worker queue",
    "safeguard_dirty": "a work queue (audit skips queued rows; the next read recomputes them)",
    "log_leaf": "checked by the tree itself (test_translog)",
    "log_node": "checked by the tree itself (test_translog)",
    "attached_signature": "covered by signature.attached leaves (test_signing)",
    "webhook": "subscribers' delivery settings: no lineage, trust or status reads them",
    "webhook_delivery": "the webhook outbox and its attempt log",
}


def _signed_variant(
    tmp: Path, name: str, tensors: dict[str, Any], key: ed25519.Ed25519PrivateKey, **kw: Any
) -> VariantCreate:
    directory = write_model(tmp / name.replace("/", "_"), tensors)
    fp = fingerprint_path(directory)
    fp.sketch = encode_sketch(sketch_path(directory))
    request = VariantCreate(name=name, fingerprint=fp, **kw)
    parents = [ParentClaim(name=f"{p.name}@main", relation=p.relation) for p in request.parents]
    request.signed_statement = sign_statement(release_statement(request, parents), key)
    return request


def _scenario(session: Session, tmp: Path) -> None:
    key = ed25519.Ed25519PrivateKey.generate()
    keys_service.add_key(session, "acme", public_key_pem(key.public_key()))
    base = tiny_tensors(1, hidden=64)
    register_variant(
        session,
        _signed_variant(tmp, "acme/base", base, key, card=CardMarkers(tags=["safety"])),
    )
    child = _signed_variant(
        tmp,
        "acme/tuned",
        finetuned(base, 2),
        key,
        parents=[DeclaredParent(name="acme/base", relation="finetune")],
    )
    tuned = register_variant(session, child)
    other = _signed_variant(tmp, "acme/other", finetuned(base, 3), key)
    other_out = register_variant(session, other)
    statement = LineageStatement(
        subject=[Subject(name="acme/other@main", digest={"sha256": other_out.digest[7:]})],
        predicate=LineagePredicate(
            child="acme/other@main",
            child_digest=other_out.digest,
            parent="acme/base@main",
            relation="finetune",
        ),
    )
    claim_lineage(session, sign_statement(statement, key))
    _corrections(session, key, tuned.digest)
    result = EvalResultCreate(benchmark="harmbench", metric="asr", value=0.05, stderr=0.01)
    add_results(session, parse_ref("acme/base"), [result], POLICY)
    _eval_corrections(session)
    record_downloads(session, parse_ref("acme/base"), DownloadRecord(count=1000))
    record_downloads(session, parse_ref("acme/tuned"), DownloadRecord(count=10))
    add_advisory(session, AdvisoryCreate(name="acme/other", severity="low", summary="s"))
    for name in ("acme/base", "acme/tuned", "acme/other"):
        safeguard_status(session, parse_ref(name), POLICY)
    lora = write_lora(tmp / "lora", base, seed=4)
    fp = fingerprint_path(lora)
    fp.adapter = base64.b64encode(sketch_adapter(lora, open_model(lora)).to_bytes()).decode()
    parents = [DeclaredParent(name="acme/base", relation="adapter")]
    register_variant(session, VariantCreate(name="acme/lora", fingerprint=fp, parents=parents))
    register_variant(session, variant_request("beta/plain"))  # a second namespace
    create_token(session, "publish", namespace="acme")
    assert tuned.digest is not None
    session.commit()


def _corrections(session: Session, key: ed25519.Ed25519PrivateKey, digest: str | None) -> None:
    """A signed retraction of acme/tuned's parent, then an unsigned declaration again."""
    assert digest is not None
    retraction = LineageCorrectionStatement(
        subject=[Subject(name="acme/tuned@main", digest={"sha256": digest[7:]})],
        predicate=LineageCorrectionPredicate(
            action="retract",
            child="acme/tuned@main",
            child_digest=digest,
            parent="acme/base@main",
            reason="declared by mistake",
            issued_at=datetime(2026, 12, 1, tzinfo=UTC),
        ),
    )
    retract = LineageRetract(
        parent="acme/base",
        reason="declared by mistake",
        envelope=sign_statement(retraction, key),
    )
    retract_parent(session, "acme/tuned", None, retract, "tok1")
    declare = LineageDeclare(parent="acme/base", relation="finetune")
    declare_parent(session, "acme/tuned", None, declare, "tok2")


def _eval_corrections(session: Session) -> None:
    """An imported file (results keyed by its SHA-256), one result retracted, one superseded."""
    content = (FIXTURES / "lm_eval_results.json").read_text()
    imported = import_results(session, parse_ref("acme/tuned"), EvalImport(content=content), POLICY)
    admin = ApiToken(token_id="tamper", secret_sha256="", scope="admin")
    first, second = imported.results[0].id, imported.results[1].id
    retract_result(session, first, EvalRetract(reason="wrong split"), admin, POLICY)
    supersede_result(session, second, EvalSupersede(value=0.5, reason="rescored"), admin, POLICY)


def _other_value(session: Session, table: Table, column: Column, value: Any) -> Any:
    """A different value of the column's type (another existing row for a foreign key)."""
    if column.foreign_keys:
        target = next(iter(column.foreign_keys)).column
        ids = [i for i in session.execute(select(target)).scalars() if i != value]
        return ids[0] if ids else None
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + 1
    if isinstance(value, float):
        return value + 0.25
    if isinstance(value, str):
        return value[:-1] + ("x" if not value.endswith("x") else "y") if value else "x"
    if isinstance(value, bytes):
        return value[:-1] + bytes([value[-1] ^ 1]) if value else b"x"
    if isinstance(value, dict):
        return {**value, "tampered": 1}
    if isinstance(value, list):
        return [*value, "tampered"] if value else ["tampered"]
    if value is None:
        if isinstance(column.type, JSON):
            return {"tampered": 1}
        kind = column.type.python_type
        return {str: "x", int: 1, float: 0.5, bool: True, bytes: b"x", dict: {"tampered": 1},
                list: ["tampered"]}.get(kind, datetime(2020, 1, 1, tzinfo=UTC))  # fmt: skip
    if hasattr(value, "tzinfo"):
        return value + timedelta(days=1)
    raise AssertionError(f"no other value for {table.name}.{column.name} ({value!r})")


def _tamper_each_column(session: Session) -> tuple[set[str], set[str], set[str]]:
    """(columns whose change audit reported, columns whose change it did not, columns the
    database's own constraints refused to change on every row)."""
    reported: set[str] = set()
    missed: set[str] = set()
    refused: set[str] = set()
    load_tables()
    for table in SQLModel.metadata.sorted_tables:
        if table.name in UNTOUCHED_TABLES:
            continue
        rows = session.execute(select(table)).mappings().all()
        assert rows, f"the scenario stores no {table.name} row"
        for column in table.columns:
            if (
                column.primary_key
                and len(table.primary_key.columns) == 1
                and not column.foreign_keys
            ):
                continue  # a row's own id: changing it is deleting one row and adding another
            name = f"{table.name}.{column.name}"
            outcomes = set()
            for row in rows:  # every row: a change to any one of them must be reported
                new = _other_value(session, table, column, row[column.name])
                if new is None or new == row[column.name]:
                    continue
                keys = [c == row[c.name] for c in table.primary_key.columns]
                savepoint = session.begin_nested()
                try:
                    session.execute(update(table).where(*keys).values({column.name: new}))
                    session.expire_all()
                    outcome = "reported" if audit_log(session, POLICY).problems else "missed"
                except IntegrityError:
                    outcome = "refused"
                savepoint.rollback()
                session.expire_all()
                outcomes.add(outcome)
            assert outcomes, f"{name}: no row could be given another value"
            if "missed" in outcomes:
                missed.add(name)
            elif "reported" in outcomes:
                reported.add(name)
            else:
                refused.add(name)
    return reported, missed, refused


def test_audit_reports_every_tampered_column_that_matters(session: Session, tmp_path: Path) -> None:
    _scenario(session, tmp_path)
    assert audit_log(session, POLICY).ok
    reported, missed, refused = _tamper_each_column(session)
    # moving a row to another variant collides with that variant's own row (primary or unique
    # key): the database refuses the change itself
    assert refused == REFUSED, refused
    unexplained = sorted(missed - set(NOT_AUDITED))
    assert not unexplained, f"tampering with these goes unreported: {unexplained}"
    stale = sorted(set(NOT_AUDITED) & reported)
    assert not stale, f"listed as not audited but reported: {stale}"
    for column in (
        "variant.architecture", "variant.config", "variant.dtypes", "variant.total_size",
        "variant.card_markers", "variant_sketch.code", "sketch_band.value",
        "lineage_edge.score", "lineage_edge.evidence", "signed_statement.key_id",
        "signed_statement.payload_sha256", "safeguard_status.downloads",
    ):  # fmt: skip
        assert column in reported, column
