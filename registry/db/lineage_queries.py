"""Recursive lineage walks in SQL, for SQLite and PostgreSQL alike.

Every walk is depth-limited and uses ``UNION`` (not ``UNION ALL``), so it ends even if a cycle
slipped into the data. Descendant walks are breadth first and stop after the rows asked for: on
SQLite through a LIMIT inside the recursive term, on PostgreSQL because a recursive CTE is only
evaluated as far as the outer query reads it.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import bindparam, text
from sqlmodel import Session


@dataclass(frozen=True)
class WalkRow:
    """One traversed edge: ``id`` reached at ``depth`` steps through neighbour ``via``."""

    id: int
    depth: int
    via: int


def ancestors(session: Session, root_id: int, max_depth: int) -> list[WalkRow]:
    """Edges walked upwards from ``root_id``: ``id`` is a parent of ``via``."""
    rows = session.execute(
        text(
            """
            WITH RECURSIVE up(id, depth, via) AS (
                SELECT e.parent_id, 1, e.child_id FROM lineage_edge e WHERE e.child_id = :root
                UNION
                SELECT e.parent_id, up.depth + 1, e.child_id
                FROM lineage_edge e JOIN up ON e.child_id = up.id
                WHERE up.depth < :max_depth
            )
            SELECT id, depth, via FROM up
            """
        ),
        {"root": root_id, "max_depth": max_depth},
    ).all()
    return [WalkRow(int(r[0]), int(r[1]), int(r[2])) for r in rows]


def descendants(
    session: Session, root_id: int, max_depth: int, *, offset: int, limit: int
) -> list[WalkRow]:
    """Edges walked downwards, breadth first: ``id`` is a child of ``via``.

    Returns at most ``limit`` rows after skipping ``offset``; the walk stops as soon as it has
    produced ``offset + limit`` rows. On PostgreSQL each parent contributes at most that many
    children (a LATERAL ... LIMIT), which keeps the planner's estimates small for hub models
    with tens of thousands of children; the rows returned are the same.
    """
    cap = offset + limit
    if session.get_bind().dialect.name == "sqlite":
        query = """
            WITH RECURSIVE down(id, depth, via) AS (
                SELECT e.child_id, 1, e.parent_id FROM lineage_edge e WHERE e.parent_id = :root
                UNION
                SELECT e.child_id, down.depth + 1, e.parent_id
                FROM lineage_edge e JOIN down ON e.parent_id = down.id
                WHERE down.depth < :max_depth
                ORDER BY 2 LIMIT :cap
            )
            SELECT id, depth, via FROM down LIMIT :limit OFFSET :offset
        """
    else:
        query = """
            WITH RECURSIVE down(id, depth, via) AS (
                SELECT c.child_id, 1, c.parent_id FROM (
                    SELECT child_id, parent_id FROM lineage_edge
                    WHERE parent_id = :root LIMIT :cap
                ) c
                UNION
                SELECT c.child_id, down.depth + 1, c.parent_id
                FROM down CROSS JOIN LATERAL (
                    SELECT child_id, parent_id FROM lineage_edge e
                    WHERE e.parent_id = down.id LIMIT :cap
                ) c
                WHERE down.depth < :max_depth
            )
            SELECT id, depth, via FROM down LIMIT :limit OFFSET :offset
        """
    rows = session.execute(
        text(query),
        {"root": root_id, "max_depth": max_depth, "cap": cap, "limit": limit, "offset": offset},
    ).all()
    return [WalkRow(int(r[0]), int(r[1]), int(r[2])) for r in rows]


def ancestor_sets(session: Session, ids: list[int]) -> dict[int, set[int]]:
    """Every ancestor (any depth) of each of ``ids``, in one recursive query.

    Keyed by each id; a variant without parents maps to an empty set. ``UNION`` keeps the walk
    finite on any graph.
    """
    out: dict[int, set[int]] = {i: set() for i in ids}
    if not ids:
        return out
    rows = session.execute(
        text(
            """
            WITH RECURSIVE up(start, id) AS (
                SELECT e.child_id, e.parent_id FROM lineage_edge e
                WHERE e.child_id IN :starts
                UNION
                SELECT up.start, e.parent_id FROM lineage_edge e JOIN up ON e.child_id = up.id
            )
            SELECT start, id FROM up
            """
        ).bindparams(bindparam("starts", expanding=True)),
        {"starts": sorted(set(ids))},
    ).all()
    for start, parent in rows:
        out[start].add(parent)
    return out


def is_ancestor_or_self(session: Session, candidate_id: int, of_id: int) -> bool:
    """True when ``candidate_id`` is ``of_id`` or one of its ancestors (any depth).

    The walk keeps only ids, so ``UNION`` makes it finite on any graph.
    """
    if candidate_id == of_id:
        return True
    found = session.execute(
        text(
            """
            WITH RECURSIVE up(id) AS (
                SELECT e.parent_id FROM lineage_edge e WHERE e.child_id = :start
                UNION
                SELECT e.parent_id FROM lineage_edge e JOIN up ON e.child_id = up.id
            )
            SELECT 1 FROM up WHERE id = :candidate LIMIT 1
            """
        ),
        {"start": of_id, "candidate": candidate_id},
    ).first()
    return found is not None
