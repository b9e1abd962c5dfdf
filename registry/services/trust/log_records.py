"""What each transparency-log leaf says, derived from the stored records.

A leaf's data is the canonical JSON of ``{"v", "kind", "record_id", "logged_at", "record",
"record_digest"}``. ``record`` is rebuilt from the tables every time (at append and at audit),
hashing stored bytes rather than trusting stored digests, so a byte changed in any record,
envelope or bundle changes the leaf it belongs to.

Kinds: ``variant.registered`` (variant id), ``lineage.declared`` (edge id), ``lineage.claimed``
(signed statement id), ``key.added`` and ``key.revoked`` (signing key id), ``signature.attached``
(attached signature id), ``evaluation.added`` (eval result id), ``advisory.published``
(advisory id), ``lineage.status`` (edge id: one per change of an edge's relation, source or
status; see ``registry.services.lineage.edge_log``), and the corrections (correction id):
``lineage.declare``, ``lineage.retract``, ``evaluation.retract``, ``evaluation.supersede``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlmodel import Session, col, select

from registry.db.models import (
    CORRECTION_ACTIONS,
    Advisory,
    AttachedSignature,
    Correction,
    EvalResult,
    LineageEdge,
    LogLeaf,
    Namespace,
    SignedStatement,
    SigningKey,
    Tensor,
    Variant,
    VariantAdapter,
    VariantFile,
    VariantSketch,
)
from registry.trust.canonical import canonical_json, sha256_digest
from registry.trust.statements import tensors_root
from schemas.variants import TensorDigest

#: leaves are written at this version; audit re-derives each leaf at the version it holds.
#: 1: the records as first logged. 2: also a variant's stored description (architecture,
#: config, dtypes, total size, card markers: ``details``), a statement's key and payload digest,
#: and an edge's score and evidence (``lineage.status``, see ``edge_log``), and an adapter
#: release's stored sketch (``adapter``, only in the leaves of adapters).
LEAF_VERSION = 2


class RecordMissing(LookupError):
    """The record a leaf points at is gone."""


def timestamp(value: datetime | None) -> str | None:
    """UTC, microseconds, ``Z``: one text for a time on every database."""
    if value is None:
        return None
    aware = value if value.tzinfo else value.replace(tzinfo=UTC)
    return aware.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _get(session: Session, model: type, record_id: int) -> Any:
    row = session.get(model, record_id)
    if row is None:
        raise RecordMissing(f"{model.__name__} {record_id}")
    return row


def _ref(session: Session, variant_id: int) -> Variant:
    variant: Variant = _get(session, Variant, variant_id)
    return variant


def _variant_registered(session: Session, record_id: int) -> dict[str, Any]:
    v = _ref(session, record_id)
    files = session.exec(
        select(VariantFile).where(VariantFile.variant_id == v.id).order_by(VariantFile.path)
    ).all()
    tensors = session.exec(select(Tensor).where(Tensor.variant_id == v.id)).all()
    sketch = session.get(VariantSketch, v.id)
    statement = session.exec(
        select(SignedStatement).where(
            SignedStatement.variant_id == v.id, SignedStatement.kind == "release"
        )
    ).first()
    return {
        "name": v.name,
        "revision": v.revision,
        "digest": v.digest,
        "format": v.format,
        "parameters": v.parameters,
        "files": [{"path": f.path, "size": f.size, "sha256": f.sha256} for f in files],
        "tensors_root": tensors_root(
            [
                TensorDigest(name=t.name, dtype=t.dtype, shape=list(t.shape), digest=t.digest)
                for t in tensors
            ]
        ),
        "tensor_count": len(tensors),
        "sketch_digest": sha256_digest(bytes(sketch.data)) if sketch is not None else None,
        "statement": sha256_digest(bytes(statement.envelope)) if statement else None,
    }


DETAIL_FIELDS = ("architecture", "config", "dtypes", "total_size", "card_markers")


def variant_details(v: Variant) -> str:
    """The digest of what a variant's row says beyond its weights' digests (version 2)."""
    return sha256_digest(canonical_json({f: getattr(v, f) for f in DETAIL_FIELDS}))


def _variant_registered_v2(session: Session, record_id: int) -> dict[str, Any]:
    v = _ref(session, record_id)
    statement = session.exec(
        select(SignedStatement).where(
            SignedStatement.variant_id == v.id, SignedStatement.kind == "release"
        )
    ).first()
    signed = {"key_id": statement.key_id, "payload": statement.payload_sha256} if statement else {}
    adapter = session.get(VariantAdapter, v.id)
    # an adapter release's sketch (absent from every other leaf, so theirs read as before)
    stored = {"adapter": sha256_digest(bytes(adapter.data))} if adapter is not None else {}
    return {"details": variant_details(v), **signed, **stored}


def _statement_v2(session: Session, statement_id: int | None) -> dict[str, Any]:
    if statement_id is None:
        return {}
    statement: SignedStatement = _get(session, SignedStatement, statement_id)
    return {"payload": statement.payload_sha256}


def _edge_status_v2(session: Session, edge_id: int) -> dict[str, Any]:
    edge: LineageEdge = _get(session, LineageEdge, edge_id)
    return {"evidence": evidence_digest(edge)}


def evidence_digest(edge: LineageEdge) -> str:
    """The digest of an edge's score and evidence (version 2 ``lineage.status`` events)."""
    return sha256_digest(canonical_json({"score": edge.score, "evidence": edge.evidence}))


def _edge(session: Session, edge_id: int) -> dict[str, Any]:
    edge: LineageEdge = _get(session, LineageEdge, edge_id)
    return {
        "child": _ref(session, edge.child_id).ref,
        "parent": _ref(session, edge.parent_id).ref,
        "relation": edge.relation,
    }


def _edge_status(session: Session, edge_id: int) -> dict[str, Any]:
    """The edge's endpoints and its state now; at audit the state is the leaf's own (an event),
    passed in through :func:`leaf_data`'s ``event``."""
    edge: LineageEdge = _get(session, LineageEdge, edge_id)
    return {
        "child": _ref(session, edge.child_id).ref,
        "parent": _ref(session, edge.parent_id).ref,
        "relation": edge.relation,
        "source": edge.source,
        "status": edge.status,
    }


def _lineage_claimed(session: Session, record_id: int) -> dict[str, Any]:
    statement: SignedStatement = _get(session, SignedStatement, record_id)
    if statement.edge_id is None:
        raise RecordMissing(f"edge of statement {record_id}")
    return {
        **_edge(session, statement.edge_id),
        "key_id": statement.key_id,
        "statement": sha256_digest(bytes(statement.envelope)),
    }


def _key(session: Session, record_id: int) -> SigningKey:
    key: SigningKey = _get(session, SigningKey, record_id)
    return key


def _key_added(session: Session, record_id: int) -> dict[str, Any]:
    key = _key(session, record_id)
    namespace: Namespace = _get(session, Namespace, key.namespace_id)
    return {
        "namespace": namespace.name,
        "key_id": key.key_id,
        "role": key.role,
        "public_key": key.public_key,
    }


def _key_revoked(session: Session, record_id: int) -> dict[str, Any]:
    key = _key(session, record_id)
    return {"key_id": key.key_id, "revoked_at": timestamp(key.revoked_at)}


def _signature_attached(session: Session, record_id: int) -> dict[str, Any]:
    sig: AttachedSignature = _get(session, AttachedSignature, record_id)
    variant = _ref(session, sig.variant_id)
    record: dict[str, Any] = {
        "subject": variant.ref,
        "digest": variant.digest,
        "kind": sig.kind,
        "key_id": sig.key_id,
        "public_key": sig.public_key,
        "bundle": sha256_digest(bytes(sig.bundle)),
    }
    # a keyless bundle's signer (absent before keyless bundles existed, so older leaves
    # re-derive unchanged; any signer set on a row makes its leaf say so)
    signer = (sig.signer_identity, sig.signer_issuer, sig.trust_root_sha256)
    if any(v is not None for v in signer):
        record["signer"] = dict(zip(("identity", "issuer", "trust_root"), signer, strict=True))
    return record


def _evaluation_added(session: Session, record_id: int) -> dict[str, Any]:
    r: EvalResult = _get(session, EvalResult, record_id)
    variant = _ref(session, r.variant_id)
    return {
        "subject": variant.ref,
        "digest": variant.digest,
        "benchmark": r.benchmark,
        "benchmark_version": r.benchmark_version,
        "task": r.task,
        "metric": r.metric,
        "value": r.value,
        "stderr": r.stderr,
        "samples": r.samples,
        "higher_is_better": r.higher_is_better,
        "category": r.category,
        "harness": r.harness,
        "settings": r.settings,
        "evaluator": r.evaluator,
        "evaluated_at": timestamp(r.evaluated_at),
        "source": r.source,
        # imported results only, so the leaves of other results stay as they were
        **({"source_sha256": r.source_sha256} if r.source_sha256 is not None else {}),
        **_eval_statement(session, r.statement_id),
    }


def _eval_statement(session: Session, statement_id: int | None) -> dict[str, Any]:
    """Signed results carry the signer and the envelope's digest; unsigned ones nothing more,
    so their leaves stay as they were."""
    if statement_id is None:
        return {}
    statement: SignedStatement = _get(session, SignedStatement, statement_id)
    return {"key_id": statement.key_id, "statement": sha256_digest(bytes(statement.envelope))}


def _advisory_published(session: Session, record_id: int) -> dict[str, Any]:
    a: Advisory = _get(session, Advisory, record_id)
    variant = _ref(session, a.variant_id)
    return {
        "subject": variant.ref,
        "digest": variant.digest,
        "severity": a.severity,
        "summary": a.summary,
        "references": list(a.references),
    }


def _correction(session: Session, record_id: int) -> dict[str, Any]:
    """A correction: what it did, to which edge or result, why, by whom, and its signature."""
    c: Correction = _get(session, Correction, record_id)
    record: dict[str, Any] = {
        "action": c.action,
        "relation": c.relation,
        "reason": c.reason,
        "actor": c.actor,
        "created_at": timestamp(c.created_at),
    }
    if c.edge_id is not None:
        record["edge"] = {"id": c.edge_id, **_edge_ends(session, c.edge_id)}
    for field, result_id in (("result", c.result_id), ("replacement", c.replacement_id)):
        if result_id is not None:
            r: EvalResult = _get(session, EvalResult, result_id)
            record[field] = {"id": result_id, "subject": _ref(session, r.variant_id).ref}
    return record | _eval_statement(session, c.statement_id)


def _edge_ends(session: Session, edge_id: int) -> dict[str, Any]:
    edge: LineageEdge = _get(session, LineageEdge, edge_id)
    return {"child": _ref(session, edge.child_id).ref, "parent": _ref(session, edge.parent_id).ref}


# what version 2 adds to a kind's record
DERIVERS_V2: dict[str, Callable[[Session, int], dict[str, Any]]] = {
    "variant.registered": _variant_registered_v2,
    "lineage.claimed": lambda s, i: _statement_v2(s, i),
    "lineage.status": _edge_status_v2,
    "evaluation.added": lambda s, i: _statement_v2(s, _get(s, EvalResult, i).statement_id),
}

DERIVERS: dict[str, Callable[[Session, int], dict[str, Any]]] = {
    "variant.registered": _variant_registered,
    "lineage.declared": lambda s, i: _edge(s, i),
    "lineage.claimed": _lineage_claimed,
    "lineage.status": _edge_status,
    "key.added": _key_added,
    "key.revoked": _key_revoked,
    "signature.attached": _signature_attached,
    "evaluation.added": _evaluation_added,
    "advisory.published": _advisory_published,
    **dict.fromkeys(CORRECTION_ACTIONS, _correction),
}


def leaf_data(
    session: Session,
    kind: str,
    record_id: int,
    logged_at: datetime,
    event: dict[str, Any] | None = None,
    version: int = LEAF_VERSION,
) -> bytes:
    """The canonical leaf data for the event; raises :class:`RecordMissing` or KeyError.

    ``event`` overrides record fields that are the event itself rather than a stored record's
    (a ``lineage.status`` leaf's new state, read back from the leaf at audit). ``version`` is
    the leaf's: an older leaf is re-derived as it was written."""
    if version not in (1, 2):
        raise ValueError(f"leaf version {version}")
    record = DERIVERS[kind](session, record_id)
    if version >= 2 and kind in DERIVERS_V2:
        record |= DERIVERS_V2[kind](session, record_id)
    record |= event or {}
    return canonical_json(
        {
            "v": version,
            "kind": kind,
            "record_id": record_id,
            "logged_at": timestamp(logged_at),
            "record": record,
            "record_digest": sha256_digest(canonical_json(record)),
        }
    )


def leaves_of(session: Session, kind: str, record_id: int) -> list[int]:
    """Indexes of the leaves about one record (used to find a variant's registration)."""
    return list(
        session.exec(
            select(LogLeaf.leaf_index)
            .where(LogLeaf.kind == kind, LogLeaf.record_id == record_id)
            .order_by(col(LogLeaf.leaf_index))
        ).all()
    )
