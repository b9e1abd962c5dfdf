"""Audit of stored columns that are derived from other stored data rather than logged: each is
re-derived and compared. A sketch's retrieval code, version, size fields and LSH bands (from the
sketch's bytes, which the variant's leaf covers), an adapter sketch's size fields (likewise), a
statement's payload digest (from its envelope, which the leaves cover), and a safeguard row's
downloads and reach (from the download snapshots and the lineage)."""

from __future__ import annotations

import base64
import json
from collections import defaultdict

from sqlmodel import Session, col, select

from registry.db.models import (
    Correction,
    LineageEdge,
    SafeguardDirty,
    SafeguardStatus,
    SignedStatement,
    SketchBand,
    Variant,
    VariantAdapter,
    VariantSketch,
)
from registry.errors import SignatureInvalid
from registry.services.identify.sketch_index import bands_of, index_rows
from registry.services.safeguards import status as safeguards
from registry.trust.canonical import sha256_digest
from registry.trust.dsse import parse_envelope
from registry.weights.adapter import AdapterSketch
from registry.weights.sketch import Sketch
from schemas.statements import (
    EVALUATION_PREDICATE,
    LINEAGE_CORRECTION_PREDICATE,
    LINEAGE_PREDICATE,
    RELEASE_PREDICATE,
)
from schemas.trust import AuditProblem

_KINDS = {
    RELEASE_PREDICATE: "release",
    LINEAGE_PREDICATE: "lineage",
    EVALUATION_PREDICATE: "evaluation",
    LINEAGE_CORRECTION_PREDICATE: "correction",
}


def _problem(message: str) -> AuditProblem:
    return AuditProblem(kind="derived_changed", message=message)


def _name(session: Session, variant_id: int) -> str:
    variant = session.get(Variant, variant_id)
    return variant.ref if variant is not None else f"#{variant_id}"


def check_sketches(session: Session, problems: list[AuditProblem]) -> None:
    """Each stored sketch's columns and band rows against its bytes."""
    bands: dict[int, set[tuple[int, int]]] = defaultdict(set)
    for band in session.exec(select(SketchBand)):
        bands[band.variant_id].add((band.band, band.value))
    for row in session.exec(select(VariantSketch).order_by(col(VariantSketch.variant_id))):
        name = _name(session, row.variant_id)
        try:
            sketch = Sketch.from_bytes(bytes(row.data))
        except ValueError:
            problems.append(_problem(f"the sketch of {name} does not decode"))
            continue
        expected = {
            "version": sketch.version,
            "digest": sketch.digest(),
            "code": sketch.code.hex(),
            "residual": sketch.residual,
            "vocab": sketch.vocab,
        }
        for field, value in expected.items():
            if getattr(row, field) != value:
                problems.append(
                    _problem(f"the sketch of {name}: stored {field} is not its bytes' {field}")
                )
        stored = bands.pop(row.variant_id, set())
        # sketches stored before anchor rows were indexed by content have their code's bands only
        if stored not in (set(index_rows(sketch)), set(bands_of(sketch.code))):
            problems.append(_problem(f"the sketch of {name}: its LSH bands are not its code's"))
    for variant_id in sorted(bands):
        problems.append(_problem(f"LSH bands of {_name(session, variant_id)} without a sketch"))


def check_adapters(session: Session, problems: list[AuditProblem]) -> None:
    """Each adapter sketch's version, digest, target count and rank against its bytes (which
    the adapter's leaf covers)."""
    for row in session.exec(select(VariantAdapter).order_by(col(VariantAdapter.variant_id))):
        name = _name(session, row.variant_id)
        try:
            adapter = AdapterSketch.from_bytes(bytes(row.data))
        except ValueError:
            problems.append(_problem(f"the adapter sketch of {name} does not decode"))
            continue
        expected = {
            "version": adapter.version,
            "digest": adapter.digest(),
            "targets": len(adapter.targets),
            "rank": max((t.rank for t in adapter.targets), default=0),
        }
        for field, value in expected.items():
            if getattr(row, field) != value:
                problems.append(
                    _problem(f"the adapter sketch of {name}: stored {field} is not its bytes'")
                )


def check_statements(session: Session, problems: list[AuditProblem]) -> None:
    """Each signed statement's payload digest, predicate type and kind against its envelope,
    and what it points at: a lineage claim names its edge's child, the others no edge."""
    for row in session.exec(select(SignedStatement).order_by(col(SignedStatement.id))):
        try:
            payload = base64.b64decode(parse_envelope(bytes(row.envelope)).payload)
            predicate_type = str(json.loads(payload)["predicateType"])
        except (ValueError, KeyError, TypeError, SignatureInvalid):
            continue  # a changed envelope is its leaf's record_changed already
        wrong = []
        if sha256_digest(payload) != row.payload_sha256:
            wrong.append("payload digest")
        if predicate_type != row.predicate_type:
            wrong.append("predicate type")
        if _KINDS.get(predicate_type) != row.kind:
            wrong.append("kind")
        edge = session.get(LineageEdge, row.edge_id) if row.edge_id is not None else None
        if (row.kind == "lineage") != (edge is not None) or (
            edge is not None and edge.child_id != row.variant_id
        ):
            wrong.append("subject")
        if row.kind == "correction" and _corrected_child(session, row.id or 0) != row.variant_id:
            wrong.append("subject")
        if wrong:
            problems.append(
                _problem(
                    f"signed statement #{row.id}: stored {', '.join(wrong)} not its envelope's"
                )
            )


def _corrected_child(session: Session, statement_id: int) -> int | None:
    """The child of the edge a signed lineage correction corrects."""
    correction = session.exec(
        select(Correction).where(Correction.statement_id == statement_id)
    ).first()
    edge = (
        session.get(LineageEdge, correction.edge_id) if correction and correction.edge_id else None
    )
    return edge.child_id if edge is not None else None


def check_downloads(session: Session, problems: list[AuditProblem]) -> None:
    """Each safeguard row's downloads and reach against the snapshots and the lineage (rows
    queued for recomputation are left to it)."""
    dirty = set(session.exec(select(SafeguardDirty.variant_id)).all())
    rows = [r for r in session.exec(select(SafeguardStatus)) if r.variant_id not in dirty]
    counts = safeguards.current_downloads(session, [r.variant_id for r in rows])
    for row in sorted(rows, key=lambda r: r.variant_id):
        name = _name(session, row.variant_id)
        if row.downloads != counts.get(row.variant_id, 0):
            problems.append(
                _problem(
                    f"downloads of {name} are {row.downloads} in the safeguard row, "
                    f"{counts.get(row.variant_id, 0)} in the snapshots"
                )  # fmt: skip
            )
        elif row.reach != safeguards.reach_of(session, row.variant_id):
            problems.append(_problem(f"reach of {name} is not its subtree's downloads"))


def check_derived(session: Session, problems: list[AuditProblem]) -> None:
    check_sketches(session, problems)
    check_adapters(session, problems)
    check_statements(session, problems)
    check_downloads(session, problems)
