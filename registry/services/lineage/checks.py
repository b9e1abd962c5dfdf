"""Check declared lineage against the weights at registration, and record detected lineage.

A declared edge becomes ``verified`` when the weights say derived (or identical), ``disputed``
when they say anything else (unrelated, or a sibling or kin that only shares an ancestor), and
stays ``unverified`` when the parent has no sketch (an edge to a parent without weights yet is
checked when they are registered). A strong undeclared match becomes a ``detected`` edge, pointed by
structural evidence or, failing that, by registration order (the newcomer is the child).
"""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, col, select

from registry.db.lineage_queries import is_ancestor_or_self
from registry.db.models import LineageEdge, Variant, utcnow
from registry.services.identify.adapters import judge_adapter_edge, judge_waiting_adapters
from registry.services.identify.compare import DETECT_MAX_FPR, Scored, compare_with_registry
from registry.services.identify.sketch_index import load_sketch
from registry.weights.adapter import AdapterSketch
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


def _compare(session: Session, sketch: Sketch | None, other_id: int) -> Scored | None:
    """The query's sketch compared with a registered relative's, or None without sketches."""
    other_sketch = load_sketch(session, other_id) if sketch is not None else None
    if sketch is None or other_sketch is None:
        return None
    c = compare_sketches(sketch, other_sketch)
    other = session.get(Variant, other_id)
    assert other is not None
    direction = {"a_is_child": "query_is_child", "b_is_child": "query_is_parent"}
    return Scored(
        other, other_sketch, c, c.verdict, c.relation,
        direction.get(c.direction, "unknown"), c.score, c.false_positive_rate(1),
    )  # fmt: skip


def _judge(edge: LineageEdge, match: Scored | None) -> None:
    """A declared edge is verified when the weights say derived or identical, disputed when
    they say anything else (a sibling or kin sharing an ancestor is not a parent); only a
    missing comparison leaves it unverified."""
    if match is None:
        return
    edge.status = "verified" if match.verdict in ("identical", "derived") else "disputed"
    edge.score = match.score
    edge.evidence = _evidence(match)
    edge.updated_at = utcnow()


def check_declared_edge(session: Session, edge: LineageEdge) -> None:
    """Judge one declared edge against the weights of both ends (a declaration made after
    both were registered); leaves it ``unverified`` when either has no sketch."""
    edge.status = "unverified"
    _judge(edge, _compare(session, load_sketch(session, edge.child_id), edge.parent_id))


HUB_RATIO = 0.9  # a newcomer this much closer to both ends of an edge is their common parent
_ORDER_ONLY = "direction from registration order"


def _adopt_relatives(session: Session, variant: Variant, scored: list[Scored]) -> None:
    """Move detected edges to the newcomer where it fits better than the parent they name.

    A relative much closer to the newcomer (HUB_RATIO of the distance) than to its recorded
    parent becomes the newcomer's child: a quantized copy of a base first joined to a sibling
    of it moves to the base when the base arrives. When both ends of an edge directed only by
    registration order are that much closer to the newcomer than to each other, both become its
    children: siblings around their common parent (the star's hub)."""
    if any(s.relation == "merge" for s in scored):
        return  # a merge of the two is close to both as well
    near = {
        s.variant.id: s
        for s in scored
        if s.comparison is not None
        and s.comparison.verdict == "derived"
        and s.comparison.direction != "a_is_child"  # the newcomer has no mark of a child
    }
    edges = session.exec(
        select(LineageEdge).where(
            LineageEdge.source == "detected", col(LineageEdge.child_id).in_(list(near))
        )
    ).all()
    adopted: set[int | None] = set()
    for edge in edges:
        gap = 1.0 - (edge.score or 1.0)
        evidence = edge.evidence or {}
        by_order = evidence.get("direction_from") == "registration order" or _ORDER_ONLY in (
            evidence.get("reasons") or []
        )
        ends = [near[edge.child_id]] + ([near[edge.parent_id]] if edge.parent_id in near else [])
        closer = [
            1.0 - (e.comparison.score if e.comparison else 0.0) < HUB_RATIO * gap for e in ends
        ]
        first = ends[0].comparison
        # a newcomer that only copies the relative (same weights re-encoded) is not its parent
        copy = (
            first is not None and first.relation == "repackaged" and first.direction != "b_is_child"
        )
        if gap <= 0 or not closer[0] or copy:
            continue
        star = by_order and len(ends) == 2 and closer[1]
        moved = [e for e in (ends if star else ends[:1]) if e.variant.id not in adopted]
        session.delete(edge)
        adopted.update(e.variant.id for e in moved)
        for s in moved:
            assert s.variant.id is not None and variant.id is not None
            relation = s.comparison.relation if s.comparison else None
            reason = (
                f"common parent of {ends[0].variant.ref} and {ends[1].variant.ref}: closer to "
                f"each (score {s.score:.4f}) than they are to each other ({edge.score:.4f})"
                if star
                else f"closer (score {s.score:.4f}) than the parent first recorded "
                f"({edge.score:.4f})"
            )
            note = _evidence(s)
            note.setdefault("reasons", []).append(reason)
            session.add(
                LineageEdge(
                    child_id=s.variant.id, parent_id=variant.id,
                    relation=relation or edge.relation,
                    source="detected", status="detected", score=s.score, evidence=note,
                )
            )  # fmt: skip
        session.flush()


def _connected(session: Session, a: int, b: int) -> bool:
    return is_ancestor_or_self(session, a, b) or is_ancestor_or_self(session, b, a)


def check_lineage(
    session: Session, variant: Variant, sketch: Sketch | None, adapter: AdapterSketch | None = None
) -> None:
    """Update the variant's declared edges (to its parents, and from children that declared it
    before its weights were registered) from the weights and add detected ones (no commit).
    An adapter's edges are checked against its base's matrix names and shapes."""
    assert variant.id is not None
    declared = list(session.exec(select(LineageEdge).where(LineageEdge.child_id == variant.id)))
    judge_waiting_adapters(session, variant)
    if adapter is not None:
        for edge in declared:
            judge_adapter_edge(session, edge, adapter)
        return
    scored = (
        compare_with_registry(session, sketch, exclude={variant.id}, digest=variant.digest)
        if sketch is not None
        else []
    )
    by_id = {s.variant.id: s for s in scored}
    for edge in declared:
        _judge(edge, by_id.get(edge.parent_id) or _compare(session, sketch, edge.parent_id))
    # children registered first, declaring this variant as a parent before its weights were
    # known: their edges are checked now that the weights are here
    waiting = session.exec(
        select(LineageEdge).where(
            LineageEdge.parent_id == variant.id,
            LineageEdge.source == "declared",
            LineageEdge.status == "unverified",
        )
    ).all()
    for edge in waiting:
        _judge(edge, by_id.get(edge.child_id) or _compare(session, sketch, edge.child_id))
    declared_parents = {e.parent_id for e in declared}
    if any(e.source == "declared" and e.status == "unverified" for e in declared):
        # a declared parent whose weights are not here yet: the declaration joins the newcomer
        # to its family, and its siblings, already here, must not stand in for that parent (the
        # edge is checked when the parent's weights arrive)
        scored = [s for s in scored if s.verdict == "identical"]
    _adopt_relatives(session, variant, scored)
    linked: list[int] = []
    # identical weights first, then the closest, then the earliest registered: one edge joins
    # the newcomer to a family; a relative of a model it was just joined to is a sibling or an
    # ancestor of that model, never a second parent (merges excepted)
    for s in sorted(scored, key=lambda s: (s.verdict != "identical", -s.score, s.variant.id)):
        other = s.variant.id
        assert other is not None
        if other in declared_parents or s.verdict not in ("identical", "derived"):
            continue
        if s.fpr > DETECT_MAX_FPR:
            continue
        if _connected(session, other, variant.id) or (
            s.relation != "merge" and any(_connected(session, other, x) for x in linked)
        ):
            continue  # already connected through other edges
        linked.append(other)
        evidence = _evidence(s)
        if s.direction == "query_is_parent":
            child_id, parent_id = other, variant.id
        else:
            child_id, parent_id = variant.id, other
            if s.direction == "unknown":
                evidence.setdefault("reasons", []).append(_ORDER_ONLY)
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
