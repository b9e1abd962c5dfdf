"""Check declared lineage against the weights at registration, and record detected lineage.

A declared edge becomes ``verified`` when the weights say derived (or identical), ``disputed``
when they say unrelated, and stays ``unverified`` when the parent has no sketch or the weights
show only shared ancestry. A strong undeclared match becomes a ``detected`` edge, pointed by
structural evidence or, failing that, by registration order (the newcomer is the child).
"""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, select

from registry.db.lineage_queries import is_ancestor_or_self
from registry.db.models import LineageEdge, Variant, utcnow
from registry.services.identify import DETECT_MAX_FPR, Scored, compare_with_registry
from registry.services.sketch_index import load_sketch
from registry.weights.compare import compare_sketches
from registry.weights.sketch import Sketch


def _evidence(s: Scored) -> dict[str, Any]:
    base: dict[str, Any] = (
        dict(s.comparison.evidence) if s.comparison else {"exact": "same variant digest"}
    )
    base.update(
        {
            "verdict": s.verdict,
            "relation_guess": s.relation,
            "direction": s.direction,
            "false_positive_rate": s.fpr,
        }
    )
    if s.parents:
        base["merge_parents"] = s.parents
    return base


def check_lineage(session: Session, variant: Variant, sketch: Sketch | None) -> None:
    """Update the variant's declared edges from the weights and add detected ones (no commit)."""
    assert variant.id is not None
    declared = list(session.exec(select(LineageEdge).where(LineageEdge.child_id == variant.id)))
    scored = (
        compare_with_registry(session, sketch, exclude={variant.id}, digest=variant.digest)
        if sketch is not None
        else []
    )
    by_id = {s.variant.id: s for s in scored}
    for edge in declared:
        match = by_id.get(edge.parent_id)
        if match is None and sketch is not None:
            parent_sketch = load_sketch(session, edge.parent_id)
            if parent_sketch is not None:
                c = compare_sketches(sketch, parent_sketch)
                parent = session.get(Variant, edge.parent_id)
                assert parent is not None
                direction = {"a_is_child": "query_is_child", "b_is_child": "query_is_parent"}
                match = Scored(
                    parent, parent_sketch, c, c.verdict, c.relation,
                    direction.get(c.direction, "unknown"), c.score, c.false_positive_rate(1),
                )  # fmt: skip
        if match is None:
            continue
        if match.verdict in ("identical", "derived"):
            edge.status = "verified"
        elif match.verdict == "unrelated":
            edge.status = "disputed"
        edge.score = match.score
        edge.evidence = _evidence(match)
        edge.updated_at = utcnow()
        session.add(edge)
    declared_parents = {e.parent_id for e in declared}
    for s in scored:
        other = s.variant.id
        assert other is not None
        if other in declared_parents or s.verdict not in ("identical", "derived"):
            continue
        if s.fpr > DETECT_MAX_FPR:
            continue
        if is_ancestor_or_self(session, other, variant.id) or is_ancestor_or_self(
            session, variant.id, other
        ):
            continue  # already connected through other edges
        evidence = _evidence(s)
        if s.direction == "query_is_parent":
            child_id, parent_id = other, variant.id
        else:
            child_id, parent_id = variant.id, other
            if s.direction == "unknown":
                evidence.setdefault("reasons", []).append("direction from registration order")
        relation = s.relation or ("repackaged" if s.verdict == "identical" else "finetune")
        session.add(
            LineageEdge(
                child_id=child_id,
                parent_id=parent_id,
                relation=relation,
                source="detected",
                status="detected",
                score=s.score,
                evidence=evidence,
            )
        )
        session.flush()
