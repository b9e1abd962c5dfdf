"""Adapter releases in the registry: their sketches, the check of their declared base, and
naming the adapter a merged model carries.

An adapter's declared edge is ``verified`` when every target module is a matrix of the base
with the adapter's shape, ``disputed`` when not (the evidence lists each mismatch). A model
found derived from a base is "base + this adapter" when its change from the base is the delta
of an adapter registered on that base (:func:`registry.weights.adapter_match.merged_fit`).
"""

from __future__ import annotations

import base64
import binascii
import math
from typing import TYPE_CHECKING, Any

import numpy as np
from sqlmodel import Session, col, select

from registry.db.models import LineageEdge, Tensor, Variant, VariantAdapter, utcnow
from registry.errors import SketchInvalid
from registry.weights.adapter import AdapterSketch
from registry.weights.adapter_match import base_mismatches, merged_fit
from registry.weights.sketch import Sketch

if TYPE_CHECKING:
    from registry.services.identify.compare import Scored


def decode_adapter(encoded: str) -> tuple[AdapterSketch, bytes]:
    """Parse a base64 adapter sketch from the wire; raises :class:`SketchInvalid`."""
    try:
        blob = base64.b64decode(encoded, validate=True)
        adapter = AdapterSketch.from_bytes(blob)
        for t in adapter.targets:
            blocks = [b for b in (t.by_cols, t.by_rows) if b is not None]
            if not math.isfinite(t.scale) or any(not np.isfinite(b).all() for b in blocks):
                raise ValueError(f"{t.module} holds NaN or infinite values")
        return adapter, blob
    except (binascii.Error, ValueError) as exc:
        raise SketchInvalid(
            f"the adapter sketch is not valid: {exc}",
            hint="compute it with this provreg version (`provreg register`)",
        ) from None


def store_adapter(session: Session, variant_id: int, adapter: AdapterSketch, blob: bytes) -> None:
    session.add(
        VariantAdapter(
            variant_id=variant_id,
            version=adapter.version,
            digest=adapter.digest(),
            targets=len(adapter.targets),
            rank=max((t.rank for t in adapter.targets), default=0),
            data=blob,
        )
    )


def load_adapter(session: Session, variant_id: int) -> AdapterSketch | None:
    row = session.get(VariantAdapter, variant_id)
    return AdapterSketch.from_bytes(row.data) if row is not None else None


def _tensor_shapes(session: Session, variant_id: int) -> dict[str, tuple[int, ...]]:
    rows = session.exec(
        select(Tensor.name, Tensor.shape).where(Tensor.variant_id == variant_id)
    ).all()
    return {name: tuple(shape) for name, shape in rows}


def judge_adapter_edge(session: Session, edge: LineageEdge, adapter: AdapterSketch) -> None:
    """Verify or dispute an adapter's edge to its base by target names and shapes; a base
    without registered weights leaves it unverified."""
    shapes = _tensor_shapes(session, edge.parent_id)
    if not shapes:
        return
    problems = base_mismatches(adapter, shapes)
    edge.status = "disputed" if problems else "verified"
    edge.score = None if problems else 1.0
    names = sorted({t.module.rsplit(".", 1)[-1] for t in adapter.targets})
    evidence: dict[str, Any] = {
        "verdict": "mismatch" if problems else "fits",
        "checked": "the adapter's target modules against the base's matrix names and shapes",
        "targets": len(adapter.targets),
        "target_modules": names,
        "rank": max((t.rank for t in adapter.targets), default=0),
        "reasons": problems[:20]
        or [f"all {len(adapter.targets)} target modules are matrices of the base's shapes"],
    }
    if adapter.base:
        evidence["declared_base"] = adapter.base
    edge.evidence = evidence
    edge.updated_at = utcnow()


def judge_waiting_adapters(session: Session, variant: Variant) -> None:
    """Adapters that declared ``variant`` as their base before its weights were registered."""
    waiting = session.exec(
        select(LineageEdge, VariantAdapter)
        .join(VariantAdapter, col(VariantAdapter.variant_id) == LineageEdge.child_id)
        .where(
            LineageEdge.parent_id == variant.id,
            LineageEdge.source == "declared",
            LineageEdge.status == "unverified",
        )
    ).all()
    for edge, row in waiting:
        judge_adapter_edge(session, edge, AdapterSketch.from_bytes(row.data))


def _adapters_on(session: Session, base_id: int) -> list[tuple[Variant, AdapterSketch]]:
    """Registered adapters whose edge to this base is not disputed."""
    rows = session.exec(
        select(Variant, VariantAdapter)
        .join(LineageEdge, col(LineageEdge.child_id) == Variant.id)
        .join(VariantAdapter, col(VariantAdapter.variant_id) == Variant.id)
        .where(LineageEdge.parent_id == base_id, LineageEdge.status != "disputed")
        .order_by(col(Variant.id))
    ).all()
    return [(v, AdapterSketch.from_bytes(row.data)) for v, row in rows]


def name_adapters(session: Session, query: Sketch, scored: list[Scored]) -> None:
    """A model derived from a base that is that base with a registered adapter merged in is
    reported as an ``adapter`` child of the base, the adapter named in the evidence."""
    for s in scored:
        if s.verdict != "derived" or s.sketch is None or s.comparison is None:
            continue
        assert s.variant.id is not None
        best: tuple[float, Variant, dict[str, Any]] | None = None
        for adapter_variant, adapter in _adapters_on(session, s.variant.id):
            fit = merged_fit(adapter, s.sketch, query)
            if fit and fit["fits"] and (best is None or fit["residual"] < best[0]):
                best = (fit["residual"], adapter_variant, fit)
        if best is None:
            continue
        _, adapter_variant, fit = best
        s.relation, s.direction = "adapter", "query_is_child"
        s.comparison.evidence["adapter"] = adapter_variant.ref
        s.comparison.evidence["adapter_fit"] = {k: v for k, v in fit.items() if k != "fits"}
        s.comparison.evidence.setdefault("reasons", []).append(
            f"{s.variant.ref} with the adapter {adapter_variant.ref} merged in: the change "
            f"from the base is the adapter's delta (residual {fit['residual']:.3f})"
        )
