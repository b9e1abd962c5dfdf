"""Reading safeguard statuses: one variant's, and the lacking-safeguards query.

The query is an index scan of ``safeguard_status`` in ``(downloads | reach, variant_id)``
order, descending, with a keyset cursor on the same pair, so every page costs the same. An
ancestor filter walks the ancestor's descendants in SQL (declared and detected edges, UNION so
cycles end it, depth-limited). Paths back to the nearest safeguarded ancestor are computed for
the page's rows only.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from sqlalchemy import Select, and_, bindparam, or_, select, text
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlmodel import Session

from registry.db.engine import transaction
from registry.db.lineage_queries import ancestors, descendants, walk
from registry.db.models import SafeguardStatus, Variant
from registry.errors import Conflict, CursorInvalid, InvalidInput
from registry.names import VariantRef
from registry.services.pagination import check_limit, decode_cursor, encode_cursor
from registry.services.safeguards.compute import MAX_DEPTH
from registry.services.safeguards.policy import SafeguardPolicy
from registry.services.safeguards.status import catch_up, refresh
from registry.services.variants.register import get_variant, resolve_variant
from schemas.evals import (
    SAFEGUARD_STATES,
    UNSAFE_STATES,
    LackingSafeguardPage,
    LackingSafeguardRow,
    SafeguardStatusPublic,
)

Sort = Literal["downloads", "reach"]
# concurrent first reads of one status: each tries to store it, the losers read the winner's
MATERIALISE_ATTEMPTS = 3


def safeguard_status(
    session: Session, ref: VariantRef, policy: SafeguardPolicy
) -> SafeguardStatusPublic:
    """The status of ``ref`` with its reasons; raises :class:`VariantNotFound`."""
    variant, note = resolve_variant(session, ref)
    assert variant.id is not None
    catch_up(session, policy)
    row = session.get(SafeguardStatus, variant.id)
    for _attempt in range(MATERIALISE_ATTEMPTS):
        if row is not None:
            break
        try:
            with transaction(session):
                refresh(session, policy, [variant.id])
        except (IntegrityError, OperationalError):
            # a concurrent reader materialised the same rows first (or, on PostgreSQL, the
            # two deadlocked and this one was chosen): its rows stand, read them
            pass
        row = session.get(SafeguardStatus, variant.id)
    if row is None:
        raise Conflict(
            f"the safeguard status of {variant.ref} is being computed by other requests",
            hint="retry in a moment",
        )
    return SafeguardStatusPublic(
        name=variant.name,
        revision=variant.revision,
        status=row.status,
        reasons=list(row.reasons),
        note=note,
    )


def parse_statuses(value: str | list[str] | None) -> list[str]:
    """``lacking,degraded`` into a checked list; default: the three unsafe statuses."""
    if not value:
        return list(UNSAFE_STATES)
    items = value.split(",") if isinstance(value, str) else [s for v in value for s in v.split(",")]
    out = [s.strip() for s in items if s.strip()]
    bad = [s for s in out if s not in SAFEGUARD_STATES]
    if bad or not out:
        raise InvalidInput(
            f"unknown status {', '.join(bad) or '(none)'}",
            hint="use any of " + ", ".join(SAFEGUARD_STATES),
        )
    return out


def path_to_safeguarded(session: Session, variant: Variant) -> list[str]:
    """NAME@REV from ``variant`` up to its nearest safeguarded ancestor, or just ``variant``."""
    assert variant.id is not None
    walk = ancestors(session, variant.id, MAX_DEPTH, active_only=True)
    if not walk:
        return [variant.ref]
    best: dict[int, tuple[int, int]] = {}
    for w in walk:
        if w.id not in best or w.depth < best[w.id][0]:
            best[w.id] = (w.depth, w.via)
    ids = list(best)
    statuses = {
        int(r[0]): str(r[1])
        for r in session.execute(
            text(
                "SELECT variant_id, status FROM safeguard_status WHERE variant_id IN :ids"
            ).bindparams(bindparam("ids", expanding=True)),
            {"ids": ids},
        )
    }
    safe = [i for i in ids if statuses.get(i) == "safeguarded"]
    if not safe:
        return [variant.ref]
    target = min(safe, key=lambda i: (best[i][0], i))
    chain = [target]
    while chain[-1] != variant.id and chain[-1] in best and len(chain) <= MAX_DEPTH + 1:
        chain.append(best[chain[-1]][1])
    refs = {
        int(r[0]): f"{r[1]}@{r[2]}"
        for r in session.execute(
            text("SELECT id, name, revision FROM variant WHERE id IN :ids").bindparams(
                bindparam("ids", expanding=True)
            ),
            {"ids": chain},
        )
    }
    return [refs.get(i, f"#{i}") for i in reversed(chain)]


def _since(value: date | datetime | str | None) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day)
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise InvalidInput(f"invalid date {value!r}", hint="use YYYY-MM-DD") from None


def lacking_safeguards(
    session: Session,
    policy: SafeguardPolicy,
    *,
    descendant_of: VariantRef | None = None,
    statuses: list[str] | None = None,
    min_downloads: int = 0,
    since: date | datetime | str | None = None,
    sort: Sort = "downloads",
    limit: int = 50,
    cursor: str | None = None,
) -> LackingSafeguardPage:
    """A page of variants in ``statuses`` (default lacking, degraded, suspected), most
    downloaded (or farthest-reaching) first; ``since`` keeps variants registered on or after a
    date. Raises VariantNotFound, InvalidInput or CursorInvalid."""
    check_limit(limit)
    if sort not in ("downloads", "reach"):
        raise InvalidInput(f"unknown sort {sort!r}", hint="sort by downloads or reach")
    wanted = statuses or list(UNSAFE_STATES)
    state = decode_cursor(cursor)
    if state and state.get("sort") != sort:
        raise CursorInvalid("the cursor belongs to another sort order", hint="start without it")
    root_id = None
    if descendant_of is not None:
        root_id = get_variant(session, descendant_of).id
    catch_up(session, policy)
    key = _S.c.downloads if sort == "downloads" else _S.c.reach
    query = (
        select(_S.c.variant_id, _S.c.status, _S.c.downloads, _S.c.reach, _S.c.reasons)
        .where(_S.c.status.in_(wanted))
        .order_by(key.desc(), _S.c.variant_id.desc())
    )
    if min_downloads:
        query = query.where(_S.c.downloads >= int(min_downloads))
    since_at = _since(since)
    if since_at is not None:
        query = query.join(_V, _V.c.id == _S.c.variant_id).where(_V.c.created_at >= since_at)
    if state:
        try:
            query = _after(query, key, int(state["k"]), int(state["id"]))
        except (KeyError, TypeError, ValueError):
            raise CursorInvalid("the cursor is damaged", hint="start without it") from None
    if root_id is None:
        rows = list(session.execute(query.limit(limit + 1)).all())
    elif _subtree_is_small(session, root_id):
        rows = list(session.execute(_in_subtree(query, root_id).limit(limit + 1)).all())
    else:
        rows = _scan_big_subtree(session, query, key, root_id, limit, sort)
    results = []
    for vid, status, downloads, reach, reasons in rows[:limit]:
        variant = session.get(Variant, int(vid))
        assert variant is not None
        results.append(
            LackingSafeguardRow(
                name=variant.name,
                revision=variant.revision,
                status=status,
                downloads=int(downloads),
                reach=int(reach),
                reasons=list(reasons if isinstance(reasons, list) else _json(reasons)),
                path=path_to_safeguarded(session, variant),
            )
        )
    next_cursor = None
    if len(rows) > limit:
        last = rows[limit - 1]
        k = last[2] if sort == "downloads" else last[3]
        next_cursor = encode_cursor({"sort": sort, "k": int(k), "id": int(last[0])})
    return LackingSafeguardPage(results=results, next_cursor=next_cursor)


_S = SafeguardStatus.__table__  # type: ignore[attr-defined]
_V = Variant.__table__  # type: ignore[attr-defined]
SMALL_SUBTREE = 2_000
SCAN_BATCH = 1_000
MAX_SCAN_BATCHES = 200


def _after(query: Select, key: Any, k: int, after: int) -> Select:
    """The keyset condition: rows ranked after ``(k, after)`` in ``(key, variant_id)`` order."""
    return query.where(or_(key < k, and_(key == k, _S.c.variant_id < after)))


def _in_subtree(query: Select, root_id: int) -> Select:
    """``query`` kept to strict descendants of ``root_id`` (the walked set, depth-limited)."""
    down = walk(root_id, up=False, max_depth=MAX_DEPTH, name="down", active_only=True)
    return query.where(_S.c.variant_id.in_(select(down.c.id).where(down.c.depth > 0)))


def _under_root(session: Session, ids: list[int], root_id: int) -> set[int]:
    """Those of ``ids`` that ``root_id`` is a strict ancestor of (one upward walk for all)."""
    up = walk(ids, up=True, max_depth=MAX_DEPTH, name="up", active_only=True)
    found = select(up.c.start).where(up.c.id == root_id, up.c.depth > 0).distinct()
    return {int(r[0]) for r in session.execute(found)}


def _subtree_is_small(session: Session, root_id: int) -> bool:
    """Whether the walk under ``root_id`` ends within SMALL_SUBTREE edges (then filtering by
    the walked set is cheapest); the walk stops as soon as it passes that many."""
    walked = descendants(
        session, root_id, MAX_DEPTH, offset=0, limit=SMALL_SUBTREE + 1, active_only=True
    )
    return len(walked) <= SMALL_SUBTREE


def _scan_big_subtree(
    session: Session, query: Select, key: Any, root_id: int, limit: int, sort: str
) -> list[Any]:
    """For a root with a big subtree, read candidates in ranking order (the same index scan
    as without the filter) in batches and keep those the root is an ancestor of (one upward
    walk per batch): a page costs in proportion to how rare the subtree's rows are among the
    unsafe ones, not to the subtree's size. Falls back to walking the whole subtree when the
    rows are too rare."""
    found: list[Any] = []
    batch_query = query
    for _ in range(MAX_SCAN_BATCHES):
        batch = session.execute(batch_query.limit(SCAN_BATCH)).all()
        if not batch:
            return found
        under = _under_root(session, [int(r[0]) for r in batch], root_id)
        found += [r for r in batch if int(r[0]) in under]
        if len(found) > limit or len(batch) < SCAN_BATCH:
            return found[: limit + 1]
        last = batch[-1]
        k = int(last[2] if sort == "downloads" else last[3])
        batch_query = _after(query, key, k, int(last[0]))
    # rare rows under a huge root: filter by the whole walked subtree after all
    return list(session.execute(_in_subtree(query, root_id).limit(limit + 1)).all())


def _json(value: Any) -> list[str]:
    import json

    return list(json.loads(value)) if isinstance(value, str | bytes) else []
