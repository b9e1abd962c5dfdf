"""Identify weights against the registry, and check declared lineage against the weights.

:func:`identify` answers "what is this file?": exact digest matches first, then sketch
candidates compared in full, with false-positive rates corrected for every candidate compared.
Registry lineage then refines the raw verdicts: a candidate whose registered ancestor matches at
least as well is a sibling (``related``), and two unconnected parents that together explain the
query make a ``merge``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sqlmodel import Session, col, select

from registry.db.lineage_queries import is_ancestor_or_self
from registry.db.models import Variant
from registry.services.sketch_index import candidates, decode_sketch, load_sketch
from registry.weights.compare import Comparison, compare_sketches
from registry.weights.sketch import Sketch
from schemas import IdentifyMatch, IdentifyQuery, IdentifyResult, QuerySummary

DETECT_MAX_FPR = 1e-6  # a detected edge needs at least this much confidence
_DIRECTION = {"a_is_child": "query_is_child", "b_is_child": "query_is_parent"}
_VERDICT_RANK = {"identical": 0, "derived": 1, "related": 2, "unrelated": 3}
MERGE_RESIDUAL = 0.5


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


def _blocks(s: Sketch) -> list[np.ndarray | None]:
    return [None if r.block is None else r.block.astype(np.float32) for r in s.records]


def _merge_fit(query: Sketch, p1: Sketch, p2: Sketch) -> float | None:
    """Residual of the best blend a*p1 + b*p2 of raw blocks, relative to the nearer parent."""
    if not (len(query.records) == len(p1.records) == len(p2.records)):
        return None
    q, a, b = [], [], []
    for x, y, z in zip(_blocks(query), _blocks(p1), _blocks(p2), strict=True):
        if x is None or y is None or z is None or not (x.shape == y.shape == z.shape):
            continue
        q.append(x.ravel())
        a.append(y.ravel())
        b.append(z.ravel())
    if not q:
        return None
    qv, av, bv = np.concatenate(q), np.concatenate(a), np.concatenate(b)
    design = np.stack([av, bv], axis=1)
    coef, *_ = np.linalg.lstsq(design, qv, rcond=None)
    if min(coef) < 0.05:
        return None
    fit = np.linalg.norm(qv - design @ coef)
    nearest = min(np.linalg.norm(qv - av), np.linalg.norm(qv - bv))
    return float(fit / nearest) if nearest > 0 else None


def _connected(session: Session, a: Variant, b: Variant) -> bool:
    assert a.id is not None and b.id is not None
    return is_ancestor_or_self(session, a.id, b.id) or is_ancestor_or_self(session, b.id, a.id)


def _find_merge(session: Session, query: Sketch, scored: list[Scored]) -> set[int]:
    """Mark the best pair of unconnected candidates whose blend explains the query as a merge."""
    derived = [
        s for s in scored if s.verdict == "derived" and s.relation in ("finetune", "adapter")
    ]
    best: tuple[float, Scored, Scored] | None = None
    for i, s1 in enumerate(derived):
        for s2 in derived[i + 1 :]:
            if (
                s1.sketch is None
                or s2.sketch is None
                or _connected(session, s1.variant, s2.variant)
            ):
                continue
            residual = _merge_fit(query, s1.sketch, s2.sketch)
            if (
                residual is not None
                and residual <= MERGE_RESIDUAL
                and (best is None or residual < best[0])
            ):
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
    merge_parents = _find_merge(session, query, scored)
    strong = [s for s in scored if s.verdict in ("identical", "derived")]
    for s in strong:
        if s.verdict != "derived" or id(s) in merge_parents:
            continue
        for other in strong:
            if other is s or other.score < s.score:
                continue
            assert other.variant.id is not None and s.variant.id is not None
            if is_ancestor_or_self(session, other.variant.id, s.variant.id):
                s.verdict, s.relation, s.direction = "related", None, "unknown"
                if s.comparison is not None:
                    s.comparison.evidence.setdefault("reasons", []).append(
                        f"sibling: its ancestor {other.variant.ref} matches at least as well"
                    )
                break


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
    by_id = {
        v.id: v
        for v in session.exec(select(Variant).where(col(Variant.id).in_([i for i, _ in found])))
    }
    for vid, distance in found:
        other = load_sketch(session, vid)
        if other is None:
            continue
        c = compare_sketches(sketch, other)
        c.evidence["code_hamming"] = distance
        scored.append(
            Scored(
                by_id[vid], other, c, c.verdict, c.relation,
                _DIRECTION.get(c.direction, "unknown"), c.score,
                c.false_positive_rate(max(1, len(found))),
            )
        )  # fmt: skip
    _refine_with_lineage(session, sketch, scored)
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
