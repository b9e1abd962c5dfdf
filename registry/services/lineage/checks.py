"""Check declared lineage against the weights at registration, and record detected lineage.

A declared edge becomes ``verified`` when the weights say derived (or identical), ``disputed``
when they say anything else (unrelated, or a sibling or kin that only shares an ancestor), and
stays ``unverified`` when the parent has no sketch (an edge to a parent without weights yet is
checked when they are registered). A strong undeclared match becomes a ``detected`` edge, pointed by
structural evidence or, failing that, by registration order (the newcomer is the child); detected
edges the newcomer explains better are re-pointed to it (``placement``).
"""

from __future__ import annotations

from sqlmodel import Session, select

from registry.db.models import LineageEdge, Variant, utcnow
from registry.services.identify.adapters import judge_adapter_edge, judge_waiting_adapters
from registry.services.identify.compare import Scored, compare_with_registry
from registry.services.identify.sketch_index import load_sketch
from registry.services.lineage.placement import evidence_of, link, reparent
from registry.weights.adapter import AdapterSketch
from registry.weights.compare import compare_sketches
from registry.weights.sketch import Sketch


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
    edge.evidence = evidence_of(match)
    edge.updated_at = utcnow()


def check_declared_edge(session: Session, edge: LineageEdge) -> None:
    """Judge one declared edge against the weights of both ends (a declaration made after
    both were registered); leaves it ``unverified`` when either has no sketch."""
    edge.status = "unverified"
    _judge(edge, _compare(session, load_sketch(session, edge.child_id), edge.parent_id))


def check_lineage(
    session: Session, variant: Variant, sketch: Sketch | None, adapter: AdapterSketch | None = None
) -> list[LineageEdge]:
    """Update the variant's declared edges (to its parents, and from children that declared it
    before its weights were registered) from the weights and add detected ones (no commit).
    An adapter's edges are checked against its base's matrix names and shapes. Returns the
    detected edges between other variants that it moved to the newcomer: the caller logs their
    new state with the newcomer's edges."""
    assert variant.id is not None
    declared = list(session.exec(select(LineageEdge).where(LineageEdge.child_id == variant.id)))
    judge_waiting_adapters(session, variant)
    if adapter is not None:
        for edge in declared:
            judge_adapter_edge(session, edge, adapter)
        return []
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
    moved = reparent(session, variant, scored)
    link(session, variant, scored, declared_parents)
    return moved
