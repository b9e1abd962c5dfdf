"""Place a newcomer in the detected lineage: re-point the edges it explains better, then join
it to its family by one edge.

Detected edges are a best guess made with the models registered so far; a later registration
can show better. Every decision compares *gaps* (how far apart two models are, at full
resolution: :func:`registry.services.identify.compare.gap_of`), and only a gap clearly smaller
(beyond ``GAP_TIE``) moves an edge, so a sibling, a copy of an ancestor or a quantized copy never
stands in for a parent that matches as well. A moved edge keeps its id and is re-pointed in
place, with the reason in its evidence; the caller logs its new state as an event.
"""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, col, select

from registry.db.lineage_queries import is_ancestor_or_self
from registry.db.models import LineageEdge, Variant, utcnow
from registry.services.identify.compare import DETECT_MAX_FPR, Scored, closer, gap_of

ORDER_ONLY = "direction from registration order"


def evidence_of(s: Scored) -> dict[str, Any]:
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


def _by_order(edge: LineageEdge) -> bool:
    """Whether only registration order pointed the edge (no structural evidence)."""
    ev = edge.evidence or {}
    return ev.get("direction_from") == "registration order" or ORDER_ONLY in (
        ev.get("reasons") or []
    )


def _edge_gap(edge: LineageEdge) -> float:
    return gap_of(edge.evidence, edge.score)


def _may_parent(s: Scored) -> bool:
    """The newcomer may be this relative's parent: the weights say derived (or the same), and
    nothing structural says the newcomer is the child; a re-encoded copy of the relative is no
    parent of it either (the relative came first)."""
    c = s.comparison
    if c is None or c.verdict not in ("derived", "identical") or c.direction == "a_is_child":
        return False
    return not (c.relation == "repackaged" and c.direction != "b_is_child")


def _has_edge(session: Session, child: int, parent: int | None) -> bool:
    query = select(LineageEdge.id).where(
        LineageEdge.child_id == child, LineageEdge.parent_id == parent
    )
    return session.exec(query).first() is not None


def _structural_child(s: Scored) -> bool:
    """Structural evidence says the relative is the newcomer's child."""
    return s.comparison is not None and s.comparison.direction == "b_is_child"


def _point(edge: LineageEdge, child: int, parent: int, s: Scored, reason: str) -> None:
    note = evidence_of(s)
    note.setdefault("reasons", []).append(reason)
    edge.child_id, edge.parent_id = child, parent
    edge.relation = (s.comparison.relation if s.comparison else None) or edge.relation
    edge.score, edge.evidence, edge.updated_at = s.score, note, utcnow()


def reparent(session: Session, variant: Variant, scored: list[Scored]) -> list[LineageEdge]:
    """Re-point detected edges to the newcomer where it is clearly the closer parent; returns
    the edges changed.

    A relative whose recorded parent is clearly farther from it than the newcomer is becomes the
    newcomer's child (a quantized copy of a base first joined to a fine-tune of that base moves to
    the base when the base arrives). When both ends of an edge pointed only by registration order
    are clearly closer to the newcomer than to each other, they are siblings and the newcomer is
    their common parent: both become its children."""
    assert variant.id is not None
    if any(s.relation == "merge" for s in scored):
        return []  # a merge of two models is close to both as well
    near = {s.variant.id: s for s in scored if _may_parent(s) and s.fpr <= DETECT_MAX_FPR}
    edges = session.exec(
        select(LineageEdge)
        .where(LineageEdge.source == "detected", col(LineageEdge.child_id).in_(list(near)))
        .order_by(col(LineageEdge.id))
    ).all()
    moved: list[LineageEdge] = []
    children: set[int] = set()  # relatives made the newcomer's children in this pass
    for edge in edges:
        if edge.child_id in children or _has_edge(session, edge.child_id, variant.id):
            continue  # a second recorded parent of the same relative stays where it is
        child = near[edge.child_id]
        parent = near.get(edge.parent_id)
        old_gap = _edge_gap(edge)
        # both ends of an edge pointed by order are the newcomer's children by their structure
        # (two quantized copies of one float model with equal values): it is their ancestor
        # whichever copied the other, so it is the parent known for sure
        structural = parent is not None and _structural_child(child) and _structural_child(parent)
        # a relative as close to the newcomer as to its recorded parent, when that parent is the
        # newcomer's child by its structure: the newcomer is the relative's ancestor either way
        # (parent of both siblings, or grandparent), so it is the parent known for sure
        tied_above = (
            parent is not None
            and _structural_child(parent)
            and not closer(old_gap, child.gap)
            and child.comparison is not None
            and child.comparison.direction != "a_is_child"
        )
        if (
            not (closer(child.gap, old_gap) or (structural and _by_order(edge)) or tied_above)
        ) or is_ancestor_or_self(session, edge.child_id, variant.id):
            continue
        star = (
            parent is not None
            and edge.parent_id not in children
            and not _has_edge(session, edge.parent_id, variant.id)
            and _by_order(edge)
            and (closer(parent.gap, old_gap) or structural)
            and not session.exec(
                select(LineageEdge.id).where(LineageEdge.child_id == edge.parent_id)
            ).first()
            and not is_ancestor_or_self(session, edge.parent_id, variant.id)
        )
        old_parent = session.get(Variant, edge.parent_id)
        was = old_parent.ref if old_parent is not None else "?"
        if star:
            assert parent is not None and parent.variant.id is not None
            reason = f"common parent of {child.variant.ref} and {was}: " + (
                "the child of each by their structure"
                if structural
                else f"closer to each (gaps {child.gap:.2e}, {parent.gap:.2e}) than they "
                f"are to each other ({old_gap:.2e})"
            )
            _point(edge, edge.child_id, variant.id, child, reason)
            sibling = LineageEdge(
                child_id=parent.variant.id, parent_id=variant.id, relation="finetune",
                source="detected", status="detected",
            )  # fmt: skip
            _point(sibling, parent.variant.id, variant.id, parent, reason)
            session.add(sibling)
            moved.append(sibling)
            children.add(edge.parent_id)
        else:
            reason = (
                f"moved from {was}: closer (gap {child.gap:.2e}) than it was ({old_gap:.2e})"
                if closer(child.gap, old_gap)
                else f"moved from {was}, a child of the newcomer by its structure that matches "
                f"no better (gaps {old_gap:.2e}, {child.gap:.2e})"
            )
            _point(edge, edge.child_id, variant.id, child, reason)
        session.add(edge)
        moved.append(edge)
        children.add(edge.child_id)
        session.flush()
    return moved


def _connected(session: Session, a: int, b: int) -> bool:
    return is_ancestor_or_self(session, a, b) or is_ancestor_or_self(session, b, a)


def _structural_parent_instead(session: Session, s: Scored, scored: list[Scored]) -> Scored | None:
    """For a best match that says nothing of direction (the same values, say), a match whose
    structure makes it the newcomer's parent and that is an ancestor of the best match: two
    quantized copies of one float model with equal values are siblings as likely as not, and
    the float model is the newcomer's ancestor either way."""
    if s.comparison is None or s.comparison.direction != "unknown" or s.variant.id is None:
        return None
    for other in sorted(scored, key=lambda o: o.gap):
        c = other.comparison
        if (
            c is not None
            and other.verdict == "derived"
            and c.direction == "a_is_child"
            and other.fpr <= DETECT_MAX_FPR
            and other.variant.id is not None
            and is_ancestor_or_self(session, other.variant.id, s.variant.id)
        ):
            return other
    return None


def link(
    session: Session, variant: Variant, scored: list[Scored], declared: set[int]
) -> list[LineageEdge]:
    """Join the newcomer to each family it matches by one detected edge (two for a merge);
    returns the edges added.

    Identical weights first, then the smallest gap, then the earliest registered: a relative of a
    model the newcomer was just joined to is a sibling or an ancestor of that model, never a
    second parent (merges excepted)."""
    assert variant.id is not None
    linked: list[int] = []
    added: list[LineageEdge] = []
    for s in sorted(scored, key=lambda s: (s.verdict != "identical", s.gap, s.variant.id)):
        other = s.variant.id
        assert other is not None
        if other in declared or s.verdict not in ("identical", "derived"):
            continue
        if s.fpr > DETECT_MAX_FPR:
            continue
        if _connected(session, other, variant.id) or (
            s.relation != "merge" and any(_connected(session, other, x) for x in linked)
        ):
            continue  # already connected through other edges
        s = _structural_parent_instead(session, s, scored) or s
        other = s.variant.id
        assert other is not None
        linked.append(other)
        evidence = evidence_of(s)
        if s.direction == "query_is_parent":
            child_id, parent_id = other, variant.id
        else:
            child_id, parent_id = variant.id, other
            if s.direction == "unknown" or (s.comparison and s.comparison.direction == "unknown"):
                evidence.setdefault("reasons", []).append(ORDER_ONLY)
        relation = s.relation or ("repackaged" if s.verdict == "identical" else "finetune")
        edge = LineageEdge(
            child_id=child_id, parent_id=parent_id, relation=relation, source="detected",
            status="detected", score=s.score, evidence=evidence,
        )  # fmt: skip
        session.add(edge)
        session.flush()
        added.append(edge)
    return added
