"""Lineage around a variant: its ancestors, a page of its descendants, or both."""

from __future__ import annotations

from typing import Literal

from sqlmodel import Session, col, select

from registry.db import lineage_queries
from registry.db.lineage_queries import WalkRow
from registry.db.models import LineageEdge, Variant
from registry.errors import InvalidInput
from registry.names import VariantRef
from registry.services.lineage.edge_log import retraction_reasons
from registry.services.pagination import check_limit, decode_cursor, encode_cursor
from registry.services.variants.register import edge_public, resolve_variant
from schemas import LineageEdgePublic, LineageGraph, LineageNode

Direction = Literal["up", "down", "both"]
DEFAULT_DEPTH = 10
MAX_DEPTH = 64
DEFAULT_PAGE = 200


def _has_edges_beyond(session: Session, ids: set[int], *, upwards: bool) -> bool:
    if not ids:
        return False
    column = LineageEdge.child_id if upwards else LineageEdge.parent_id
    return (
        session.exec(select(LineageEdge.id).where(col(column).in_(ids)).limit(1)).first()
        is not None
    )


def lineage_graph(
    session: Session,
    ref: VariantRef,
    *,
    direction: Direction = "both",
    depth: int = DEFAULT_DEPTH,
    limit: int = DEFAULT_PAGE,
    cursor: str | None = None,
) -> LineageGraph:
    """The lineage graph around ``ref``.

    Ancestors come whole (up to ``depth``); descendants come breadth first, ``limit`` edges a
    page, with ``next_cursor`` for the rest. Raises :class:`VariantNotFound`.
    """
    if not 1 <= depth <= MAX_DEPTH:
        raise InvalidInput(f"depth {depth} is out of range", hint=f"use 1 to {MAX_DEPTH}")
    check_limit(limit)
    root, note = resolve_variant(session, ref)
    assert root.id is not None
    offset = int(decode_cursor(cursor).get("offset", 0))

    up: list[WalkRow] = []
    down: list[WalkRow] = []
    truncated = False
    next_cursor = None
    if direction in ("up", "both") and offset == 0:
        up = lineage_queries.ancestors(session, root.id, depth)
        deepest = {r.id for r in up if r.depth == depth}
        truncated |= _has_edges_beyond(session, deepest, upwards=True)
    if direction in ("down", "both"):
        down = lineage_queries.descendants(session, root.id, depth, offset=offset, limit=limit + 1)
        if len(down) > limit:
            down = down[:limit]
            next_cursor = encode_cursor({"offset": offset + limit})
            truncated = True
        deepest = {r.id for r in down if r.depth == depth}
        truncated |= _has_edges_beyond(session, deepest, upwards=False)

    node_depth: dict[int, int] = {root.id: 0}
    for r in up:
        node_depth[r.id] = max(node_depth.get(r.id, -MAX_DEPTH - 1), -r.depth)
    for r in down:
        node_depth[r.id] = min(node_depth.get(r.id, MAX_DEPTH + 1), r.depth)
    pairs = {(r.via, r.id) for r in up} | {(r.id, r.via) for r in down}  # (child, parent)

    ids = set(node_depth) | {p for pair in pairs for p in pair}
    variants = {v.id: v for v in session.exec(select(Variant).where(col(Variant.id).in_(ids)))}
    edges: list[LineageEdgePublic] = []
    if pairs:
        children = {c for c, _ in pairs}
        found = [
            edge
            for edge in session.exec(
                select(LineageEdge).where(col(LineageEdge.child_id).in_(children))
            )
            if (edge.child_id, edge.parent_id) in pairs
        ]
        reasons = retraction_reasons(session, [e.id or 0 for e in found if e.status == "retracted"])
        for edge in found:
            edges.append(
                edge_public(
                    edge, variants[edge.child_id].ref, variants[edge.parent_id].ref, reasons
                )
            )
    edges.sort(key=lambda e: (e.child, e.parent))
    nodes = [
        LineageNode(
            name=variants[i].name,
            revision=variants[i].revision,
            digest=variants[i].digest,
            depth=d,
            registered=variants[i].digest is not None,
        )
        for i, d in node_depth.items()
    ]
    nodes.sort(key=lambda n: (n.depth, n.name, n.revision))
    return LineageGraph(
        root=root.ref,
        direction=direction,
        depth=depth,
        nodes=nodes,
        edges=edges,
        truncated=truncated,
        next_cursor=next_cursor,
        note=note,
    )
