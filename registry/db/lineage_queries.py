"""Lineage walks in SQL, for SQLite and PostgreSQL alike, in one place.

:func:`walk` is the one recursive CTE the services compose into their queries (a subtree's
downloads, a variant's ancestors, which candidates a root is an ancestor of...). Every walk uses
``UNION`` (not ``UNION ALL``) and is either depth-limited or keeps only ids, so it ends even if a
cycle slipped into the data. :func:`descendants` is the paginated breadth-first walk behind
``lineage --down``, tuned per dialect: it stops after the rows asked for, on SQLite through a
LIMIT inside the recursive term, on PostgreSQL because a recursive CTE is only evaluated as far as
the outer query reads it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import CTE, Integer, bindparam, cast, exists, literal_column, select, text
from sqlmodel import Session

from registry.db.models import LineageEdge, Variant

_EDGE = LineageEdge.__table__  # type: ignore[attr-defined]
_VARIANT = Variant.__table__  # type: ignore[attr-defined]


RETRACTED = "retracted"  # an edge kept for the record that counts for nothing else


def walk(
    roots: int | Sequence[int],
    *,
    up: bool,
    max_depth: int | None = None,
    name: str = "walk",
    active_only: bool = False,
) -> CTE:
    """A recursive CTE over ``lineage_edge`` from ``roots`` (one id or several), to parents when
    ``up`` else to children.

    Columns ``start`` (the root a row descends from) and ``id`` (reached, the roots themselves
    included); with ``max_depth`` also ``depth`` (0 for a root) and ``via`` (the neighbour ``id``
    was reached from), and no row deeper than ``max_depth``. Select ``depth > 0`` (or ``id`` not
    among the roots) to leave the roots out. ``active_only`` leaves retracted edges out (what
    counts: safeguards, reach); the graph shown keeps them.
    """
    near, far = (
        (_EDGE.c.child_id, _EDGE.c.parent_id) if up else (_EDGE.c.parent_id, _EDGE.c.child_id)
    )
    if isinstance(roots, int):
        root = cast(bindparam(f"{name}_root", roots, type_=Integer), Integer)
        columns = [root.label("start"), root.label("id")]
        anchor = select(*columns)
    else:
        anchor = select(_VARIANT.c.id.label("start"), _VARIANT.c.id.label("id")).where(
            _VARIANT.c.id.in_(list(roots))
        )
    if max_depth is not None:
        zero = cast(literal_column("0"), Integer)
        anchor = anchor.add_columns(zero.label("depth"), anchor.selected_columns.id.label("via"))
    cte = anchor.cte(name, recursive=True)
    step = select(cte.c.start, far).where(near == cte.c.id)
    if active_only:
        step = step.where(_EDGE.c.status != RETRACTED)
    if max_depth is not None:
        step = step.add_columns(cte.c.depth + 1, near).where(cte.c.depth < max_depth)
    return cte.union(step)


@dataclass(frozen=True)
class WalkRow:
    """One traversed edge: ``id`` reached at ``depth`` steps through neighbour ``via``."""

    id: int
    depth: int
    via: int


def ancestors(
    session: Session, root_id: int, max_depth: int, *, active_only: bool = False
) -> list[WalkRow]:
    """Edges walked upwards from ``root_id``: ``id`` is a parent of ``via``."""
    up = walk(root_id, up=True, max_depth=max_depth, name="up", active_only=active_only)
    rows = session.execute(select(up.c.id, up.c.depth, up.c.via).where(up.c.depth > 0)).all()
    return [WalkRow(int(r[0]), int(r[1]), int(r[2])) for r in rows]


def descendants(
    session: Session,
    root_id: int,
    max_depth: int,
    *,
    offset: int,
    limit: int,
    active_only: bool = False,
) -> list[WalkRow]:
    """Edges walked downwards, breadth first: ``id`` is a child of ``via``.

    Returns at most ``limit`` rows after skipping ``offset``; the walk stops as soon as it has
    produced ``offset + limit`` rows. On PostgreSQL each parent contributes at most that many
    children (a LATERAL ... LIMIT), which keeps the planner's estimates small for hub models
    with tens of thousands of children; the rows returned are the same. ``active_only`` leaves
    retracted edges out.
    """
    cap = offset + limit
    if session.get_bind().dialect.name == "sqlite":
        query = """
            WITH RECURSIVE down(id, depth, via) AS (
                SELECT e.child_id, 1, e.parent_id FROM lineage_edge e WHERE e.parent_id = :root
                    AND e.status != :skip
                UNION
                SELECT e.child_id, down.depth + 1, e.parent_id
                FROM lineage_edge e JOIN down ON e.parent_id = down.id
                WHERE down.depth < :max_depth AND e.status != :skip
                ORDER BY 2 LIMIT :cap
            )
            SELECT id, depth, via FROM down LIMIT :limit OFFSET :offset
        """
    else:
        query = """
            WITH RECURSIVE down(id, depth, via) AS (
                SELECT c.child_id, 1, c.parent_id FROM (
                    SELECT child_id, parent_id FROM lineage_edge
                    WHERE parent_id = :root AND status != :skip LIMIT :cap
                ) c
                UNION
                SELECT c.child_id, down.depth + 1, c.parent_id
                FROM down CROSS JOIN LATERAL (
                    SELECT child_id, parent_id FROM lineage_edge e
                    WHERE e.parent_id = down.id AND e.status != :skip LIMIT :cap
                ) c
                WHERE down.depth < :max_depth
            )
            SELECT id, depth, via FROM down LIMIT :limit OFFSET :offset
        """
    rows = session.execute(
        text(query),
        {
            "root": root_id,
            "max_depth": max_depth,
            "cap": cap,
            "limit": limit,
            "offset": offset,
            # no edge has an empty status: "" skips nothing
            "skip": RETRACTED if active_only else "",
        },
    ).all()
    return [WalkRow(int(r[0]), int(r[1]), int(r[2])) for r in rows]


def ancestor_sets(session: Session, ids: list[int]) -> dict[int, set[int]]:
    """Every ancestor (any depth) of each of ``ids``, in one recursive query.

    Keyed by each id; a variant without parents maps to an empty set.
    """
    out: dict[int, set[int]] = {i: set() for i in ids}
    if not ids:
        return out
    up = walk(sorted(set(ids)), up=True, name="up")
    for start, parent in session.execute(select(up.c.start, up.c.id).where(up.c.id != up.c.start)):
        out[start].add(parent)
    return out


def is_ancestor_or_self(session: Session, candidate_id: int, of_id: int) -> bool:
    """True when ``candidate_id`` is ``of_id`` or one of its ancestors (any depth)."""
    if candidate_id == of_id:
        return True
    up = walk(of_id, up=True, name="up")
    return bool(session.execute(select(exists().where(up.c.id == candidate_id))).scalar())


def subtree_ids(session: Session, root_id: int, *, active_only: bool = False) -> list[int]:
    """``root_id`` and every descendant (any depth), each once."""
    down = walk(root_id, up=False, name="down", active_only=active_only)
    return [int(r[0]) for r in session.execute(select(down.c.id))]


def lineage_ids(session: Session, root_id: int, *, active_only: bool = False) -> list[int]:
    """``root_id`` and every ancestor (any depth), each once."""
    up = walk(root_id, up=True, name="up", active_only=active_only)
    return [int(r[0]) for r in session.execute(select(up.c.id))]
