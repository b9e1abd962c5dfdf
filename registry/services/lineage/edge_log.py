"""Every lineage edge's state (relation, source, status) is logged as ``lineage.status`` events.

An edge's state legitimately changes after registration (a detected edge becomes declared by a
signed claim; checks set ``verified`` or ``disputed``; detected edges appear when a relative is
registered), so a leaf cannot re-derive the *current* state of an edge. Instead each change is
its own append-only event, written in the transaction that made it: the leaf's ``record`` holds
the edge's endpoints (re-derived at audit) and the new state (the event itself, protected by the
tree). The audit folds the events per edge, last one wins, and compares with the stored edge.

A detected edge can also *move*: when a better parent is registered later, the edge is pointed at
it (or a sibling first taken for a parent is re-pointed). The endpoints are then part of the
event's state too, so each leaf keeps the endpoints it was written with and the audit checks the
stored edge against the last event's.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from sqlmodel import Session, col, select

from registry.db.engine import transaction
from registry.db.models import Correction, LineageEdge, LogLeaf, Variant
from registry.services.trust import translog
from registry.services.trust.log_records import evidence_digest

KIND = "lineage.status"
STATE_FIELDS = ("child", "parent", "relation", "source", "status", "evidence")
# leaves before version 2 hold no evidence digest: they are compared on what they hold
_REQUIRED = STATE_FIELDS[:5]


def edge_state(session: Session, edge: LineageEdge) -> dict[str, str]:
    child, parent = session.get(Variant, edge.child_id), session.get(Variant, edge.parent_id)
    return {
        "child": child.ref if child is not None else "?",
        "parent": parent.ref if parent is not None else "?",
        "relation": edge.relation,
        "source": edge.source,
        "status": edge.status,
        "evidence": evidence_digest(edge),  # the score and evidence
    }


def state_of_leaf(data: bytes) -> dict[str, str]:
    """The state a ``lineage.status`` leaf records, endpoints included (a version 1 leaf:
    without ``evidence``); raises ValueError/KeyError when malformed."""
    record = json.loads(data)["record"]
    state = {f: str(record[f]) for f in _REQUIRED}
    if "evidence" in record:
        state["evidence"] = str(record["evidence"])
    return state


def differs(logged: dict[str, str], now: dict[str, str]) -> list[str]:
    """The state fields a stored edge holds other than its last logged event says (the fields
    that event holds)."""
    return [f for f in STATE_FIELDS if f in logged and logged[f] != now[f]]


def logged_state(session: Session, edge_id: int) -> dict[str, str] | None:
    """The state of the edge's latest ``lineage.status`` event, or None when it has none."""
    data = session.exec(
        select(LogLeaf.data)
        .where(LogLeaf.kind == KIND, LogLeaf.record_id == edge_id)
        .order_by(col(LogLeaf.leaf_index).desc())
    ).first()
    return None if data is None else state_of_leaf(bytes(data))


def log_edge_states(session: Session, edges: Iterable[LineageEdge]) -> None:
    """Append a ``lineage.status`` event for each edge whose state differs from its last logged
    one (every new edge); the caller has flushed the edges and commits."""
    for edge in sorted(edges, key=lambda e: e.id or 0):
        assert edge.id is not None
        logged = logged_state(session, edge.id)
        if logged is None or logged != edge_state(session, edge):
            translog.append(session, KIND, edge.id)


def edges_touching(session: Session, variant_id: int) -> list[LineageEdge]:
    """Edges where the variant is the child or the parent."""
    return list(
        session.exec(
            select(LineageEdge).where(
                (LineageEdge.child_id == variant_id) | (LineageEdge.parent_id == variant_id)
            )
        ).all()
    )


def log_unlogged_edges(session: Session) -> int:
    """Log the current state of every edge that has no ``lineage.status`` event yet (edges
    stored before edge states were logged); commits, and returns how many were logged. An edge
    whose state differs from its logged events is left alone: that is the audit's to report."""
    logged = select(LogLeaf.record_id).where(LogLeaf.kind == KIND)
    edges = session.exec(
        select(LineageEdge).where(col(LineageEdge.id).not_in(logged)).order_by(col(LineageEdge.id))
    ).all()
    with transaction(session):
        log_edge_states(session, edges)
    return len(edges)


def retraction_reasons(session: Session, edge_ids: list[int]) -> dict[int, str]:
    """The reason of each edge's latest retraction (for the edges that have one)."""
    if not edge_ids:
        return {}
    rows = session.exec(
        select(Correction.edge_id, Correction.reason)
        .where(Correction.action == "lineage.retract", col(Correction.edge_id).in_(edge_ids))
        .order_by(col(Correction.id))
    ).all()
    return {int(e): str(r) for e, r in rows if e is not None}
