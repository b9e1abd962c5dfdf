"""Identify weights against the registry, and check declared lineage against the weights.

:func:`identify` answers "what is this file?": exact digest matches first, then sketch
candidates compared in full, with false-positive rates corrected for every candidate compared.
Registry lineage then refines the raw verdicts: a candidate whose registered ancestor matches at
least as well is a sibling (``related``), and two unconnected parents that together explain the
query make a ``merge``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlmodel import Session, col, select

from registry.db.lineage_queries import ancestor_sets
from registry.db.models import LineageEdge, Variant, VariantSketch
from registry.services.identify.adapters import name_adapters
from registry.services.identify.sketch_index import (
    candidates,
    decode_sketch,
    load_sketch,
    load_sketches,
    row_candidates,
)
from registry.weights.compare import Comparison, compare_sketches
from registry.weights.sketch import Sketch
from schemas import IdentifyMatch, IdentifyQuery, IdentifyResult, QuerySummary

DETECT_MAX_FPR = 1e-6  # a detected edge needs at least this much confidence
_DIRECTION = {"a_is_child": "query_is_child", "b_is_child": "query_is_parent"}
_VERDICT_RANK = {"identical": 0, "derived": 1, "related": 2, "unrelated": 3}
MERGE_RESIDUAL = 0.5  # blend of the parents' values, no common ancestor known
MERGE_RESIDUAL_FROM_ANCESTOR = 0.75  # blend of the parents' changes from their ancestor
MERGE_MIN_SHARE = 0.2  # each parent must contribute at least this much
NEIGHBOUR_BUDGET = 32  # candidates compared in all, counting lineage neighbours
# gaps this close (a factor) tie: a copy of an ancestor, or a sibling, is not a closer parent
GAP_TIE = 1.25
GAP_FLOOR = 1e-6  # the resolution of a gap (record correlations are kept to 6 decimals)


def gap_of(evidence: dict[str, Any] | None, score: float | None) -> float:
    """How far apart two matched models are: 1 - coverage x mean record correlation at the
    evidence's full resolution (0 for the same digest). The score keeps 4 decimals, too few to
    tell a parent (gap 2e-4 from its fine-tune) from its quantized copy (3e-4)."""
    ev = evidence or {}
    if "exact" in ev:
        return 0.0
    if "mean_record_r" in ev and "coverage" in ev:
        cover, r = min(1.0, float(ev["coverage"])), max(0.0, float(ev["mean_record_r"]))
        return max(0.0, 1.0 - cover * r)
    return 1.0 - (score or 0.0)


def closer(gap: float, than: float) -> bool:
    """``gap`` is clearly smaller than ``than``, beyond a tie."""
    return gap * GAP_TIE + GAP_FLOOR < than


@dataclass
class Scored:
    variant: Variant
    sketch: Sketch | None
    comparison: Comparison | None
    verdict: str
    relation: str | None
    direction: str
    score: float
    fpr: float
    parents: list[str] | None = None

    @property
    def gap(self) -> float:
        if self.comparison is None:
            return 0.0 if self.verdict == "identical" else 1.0 - self.score
        return gap_of(self.comparison.evidence, self.comparison.score)


def _blocks(s: Sketch) -> list[np.ndarray | None]:
    return [None if r.block is None else r.block.astype(np.float32) for r in s.records]


def _block_vectors(*sketches: Sketch) -> list[np.ndarray] | None:
    """The sketches' raw blocks flattened side by side, where all of them have one."""
    if len({len(x.records) for x in sketches}) != 1:
        return None
    columns: list[list[np.ndarray]] = [[] for _ in sketches]
    for blocks in zip(*(_blocks(x) for x in sketches), strict=True):
        if any(b is None for b in blocks) or len({b.shape for b in blocks if b is not None}) != 1:
            continue
        for column, b in zip(columns, blocks, strict=True):
            assert b is not None
            column.append(b.ravel())
    if not columns[0]:
        return None
    return [np.concatenate(c) for c in columns]


def _merge_fit(query: Sketch, p1: Sketch, p2: Sketch, base: Sketch | None) -> float | None:
    """How well a positive blend of two parents explains the query (0 = exactly).

    With their common ancestor registered, the blend is fitted to the query's change from it
    (a TIES merge keeps trimmed parts of each parent's change); otherwise the parents' raw
    values are blended directly. Returns the residual relative to the fitted signal.
    """
    vectors = _block_vectors(query, p1, p2, *([base] if base is not None else []))
    if vectors is None:
        return None
    q, a, b = vectors[:3]
    if base is not None:
        origin = vectors[3]
        q, a, b = q - origin, a - origin, b - origin
        reference = np.linalg.norm(q)
    else:
        reference = min(np.linalg.norm(q - a), np.linalg.norm(q - b))
    design = np.stack([a, b], axis=1)
    coef, *_ = np.linalg.lstsq(design, q, rcond=None)
    if min(coef) < MERGE_MIN_SHARE or reference == 0:
        return None
    return float(np.linalg.norm(q - design @ coef) / reference)


class _Ancestry:
    """Who descends from whom among the scored candidates, from one recursive query."""

    def __init__(self, session: Session, scored: list[Scored]) -> None:
        self._up = ancestor_sets(session, [s.variant.id for s in scored if s.variant.id])

    def is_ancestor(self, a: Variant, b: Variant) -> bool:
        """``a`` is a strict ancestor of ``b``."""
        return a.id != b.id and a.id in self._up.get(b.id or 0, set())

    def is_ancestor_or_self(self, a: Variant, b: Variant) -> bool:
        return a.id == b.id or self.is_ancestor(a, b)

    def connected(self, a: Variant, b: Variant) -> bool:
        return self.is_ancestor_or_self(a, b) or self.is_ancestor_or_self(b, a)


def _find_merge(ancestry: _Ancestry, query: Sketch, scored: list[Scored]) -> set[int]:
    """Mark the best pair of unconnected candidates whose blend explains the query as a merge."""
    derived = [
        s for s in scored if s.verdict == "derived" and s.relation in ("finetune", "adapter")
    ]
    strong = [s for s in scored if s.verdict in ("identical", "derived") and s.sketch is not None]
    best: tuple[float, Scored, Scored] | None = None
    for i, s1 in enumerate(derived):
        for s2 in derived[i + 1 :]:
            if s1.sketch is None or s2.sketch is None or ancestry.connected(s1.variant, s2.variant):
                continue
            ancestors = [
                c
                for c in strong
                if c not in (s1, s2)
                and ancestry.is_ancestor(c.variant, s1.variant)
                and ancestry.is_ancestor(c.variant, s2.variant)
            ]
            base = max(ancestors, key=lambda c: c.score).sketch if ancestors else None
            limit = MERGE_RESIDUAL_FROM_ANCESTOR if base is not None else MERGE_RESIDUAL
            residual = _merge_fit(query, s1.sketch, s2.sketch, base)
            if residual is not None and residual <= limit and (best is None or residual < best[0]):
                best = (residual, s1, s2)
    if best is None:
        return set()
    residual, s1, s2 = best
    parents = sorted([s1.variant.ref, s2.variant.ref])
    for s in (s1, s2):
        s.relation, s.direction, s.parents = "merge", "query_is_child", parents
        if s.comparison is not None:
            s.comparison.evidence["merge_residual"] = round(residual, 4)
    return {id(s1), id(s2)}


def _refine_with_lineage(session: Session, query: Sketch, scored: list[Scored]) -> None:
    """Find merges first; then a candidate whose registered ancestor (or an exact copy of one)
    matches at least as well is a sibling of the query: ``related``, not its parent."""
    ancestry = _Ancestry(session, scored)
    merge_parents = _find_merge(ancestry, query, scored)
    strong = [s for s in scored if s.verdict in ("identical", "derived")]
    for s in strong:
        if s.verdict != "derived" or id(s) in merge_parents:
            continue
        for other in strong:
            # a clearly worse-matching one is no ancestor standing in for it (merge parents are)
            if other is s or (closer(s.gap, other.gap) and id(other) not in merge_parents):
                continue
            if ancestry.is_ancestor_or_self(other.variant, s.variant):
                s.verdict, s.relation, s.direction = "related", None, "unknown"
                if s.comparison is not None:
                    s.comparison.evidence.setdefault("reasons", []).append(
                        f"sibling: its ancestor {other.variant.ref} matches at least as well"
                    )
                break


def _neighbours(session: Session, variant_id: int) -> list[int]:
    """Registered parents and children of a variant (those that have a sketch)."""
    rows = session.exec(
        select(LineageEdge.parent_id, LineageEdge.child_id).where(
            (LineageEdge.child_id == variant_id) | (LineageEdge.parent_id == variant_id)
        )
    ).all()
    ids = {p if c == variant_id else c for p, c in rows}
    return sorted(
        session.exec(select(VariantSketch.variant_id).where(col(VariantSketch.variant_id).in_(ids)))
    )


def compare_with_registry(
    session: Session,
    sketch: Sketch,
    *,
    exclude: set[int] | None = None,
    digest: str | None = None,
) -> list[Scored]:
    """Exact digest matches and compared sketch candidates, refined by registry lineage."""
    scored: list[Scored] = []
    seen: set[int] = set(exclude or ())
    if digest:
        for v in session.exec(select(Variant).where(Variant.digest == digest)):
            if v.id not in seen:
                seen.add(v.id or 0)
                scored.append(Scored(v, None, None, "identical", None, "unknown", 1.0, 0.0))
    found = candidates(session, sketch.code, exclude=seen)
    # the same anchor rows under other token ids: a trimmed vocabulary's parent or child
    by_code = {vid for vid, _ in found}
    found += [
        (vid, -1) for vid in row_candidates(session, sketch, exclude=seen) if vid not in by_code
    ]
    by_id = {
        v.id: v
        for v in session.exec(select(Variant).where(col(Variant.id).in_([i for i, _ in found])))
    }
    queue: list[tuple[int, dict[str, Any]]] = [
        (vid, {"code_hamming": distance} if distance >= 0 else {"found_by": "anchor rows"})
        for vid, distance in found
    ]
    prefetched = load_sketches(session, [vid for vid, _ in found])
    compared: set[int] = set()
    while queue and len(compared) < NEIGHBOUR_BUDGET:
        vid, note = queue.pop(0)
        if vid in compared or vid in seen:
            continue
        compared.add(vid)
        other = prefetched.pop(vid) if vid in prefetched else load_sketch(session, vid)
        variant = by_id.get(vid) or session.get(Variant, vid)
        if other is None or variant is None:
            continue
        c = compare_sketches(sketch, other)
        c.evidence.update(note)
        scored.append(
            Scored(
                variant, other, c, c.verdict, c.relation,
                _DIRECTION.get(c.direction, "unknown"), c.score, 1.0,
            )
        )  # fmt: skip
        if c.verdict in ("derived", "related"):
            # a registry knows more than one code: the lineage around a match is worth a look
            queue.extend((n, {"via_lineage_of": variant.ref}) for n in _neighbours(session, vid))
    for s in scored:
        if s.comparison is not None:
            s.fpr = s.comparison.false_positive_rate(max(1, len(compared)))
    _refine_with_lineage(session, sketch, scored)
    name_adapters(session, sketch, scored)
    for s in scored:
        if s.verdict == "derived" and s.direction == "unknown" and s.comparison is not None:
            # no structural evidence: the variant already registered came first
            s.direction = "query_is_child"
            s.comparison.evidence["direction_from"] = "registration order"
    scored.sort(key=lambda s: (_VERDICT_RANK[s.verdict], -s.score, s.variant.name))
    return scored


def identify(session: Session, query: IdentifyQuery) -> IdentifyResult:
    """Registered variants the query is identical to, derived from or related to, best first."""
    matches: list[IdentifyMatch] = []
    compared = 0
    sketch = decode_sketch(query.sketch)[0] if query.sketch else None
    if sketch is not None:
        scored = compare_with_registry(session, sketch, digest=query.digest)
    else:
        scored = [
            Scored(v, None, None, "identical", None, "unknown", 1.0, 0.0)
            for v in session.exec(select(Variant).where(Variant.digest == query.digest))
        ] if query.digest else []  # fmt: skip
    compared = sum(1 for s in scored if s.comparison is not None)
    for s in scored:
        if s.verdict == "unrelated" and not query.include_unrelated:
            continue
        matches.append(
            IdentifyMatch(
                name=s.variant.name,
                revision=s.variant.revision,
                digest=s.variant.digest,
                verdict=s.verdict,
                relation=s.relation,
                direction=s.direction,
                score=round(s.score, 4),
                false_positive_rate=s.fpr,
                evidence=s.comparison.evidence
                if s.comparison
                else {"exact": "same variant digest"},
                parents=s.parents,
            )
        )
    return IdentifyResult(
        query=QuerySummary(digest=query.digest, format=query.format, parameters=query.parameters),
        matches=matches[: query.top],
        candidates_compared=compared,
    )
