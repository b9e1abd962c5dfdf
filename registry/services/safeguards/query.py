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

from sqlalchemy import bindparam, text
from sqlmodel import Session

from registry.db.lineage_queries import ancestors, descendants
from registry.db.models import SafeguardStatus, Variant
from registry.errors import CursorInvalid, InvalidInput
from registry.names import VariantRef
from registry.services.pagination import check_limit, decode_cursor, encode_cursor
from registry.services.safeguards.policy import SafeguardPolicy
from registry.services.safeguards.status import MAX_DEPTH, catch_up, refresh
from registry.services.variants.register import get_variant
from schemas.evals import (
    SAFEGUARD_STATES,
    UNSAFE_STATES,
    LackingSafeguardPage,
    LackingSafeguardRow,
    SafeguardStatusPublic,
)

Sort = Literal["downloads", "reach"]


def safeguard_status(
    session: Session, ref: VariantRef, policy: SafeguardPolicy
) -> SafeguardStatusPublic:
    """The status of ``ref`` with its reasons; raises :class:`VariantNotFound`."""
    variant = get_variant(session, ref)
    assert variant.id is not None
    catch_up(session, policy)
    row = session.get(SafeguardStatus, variant.id)
    if row is None:
        try:
            refresh(session, policy, [variant.id])
            session.commit()
        except BaseException:
            session.rollback()
            raise
        row = session.get(SafeguardStatus, variant.id)
        assert row is not None
    return SafeguardStatusPublic(
        name=variant.name,
        revision=variant.revision,
        status=row.status,
        reasons=list(row.reasons),
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
    walk = ancestors(session, variant.id, MAX_DEPTH)
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
    key = "s.downloads" if sort == "downloads" else "s.reach"
    params: dict[str, Any] = {"statuses": wanted, "limit": limit + 1}
    where = ["s.status IN :statuses"]
    small_subtree = root_id is not None and _subtree_is_small(session, root_id)
    cte = ""
    if small_subtree:
        cte = _SUBTREE_CTE
        where.append("s.variant_id IN (SELECT id FROM sub)")
        params.update(root=root_id, max_depth=MAX_DEPTH)
    if min_downloads:
        where.append("s.downloads >= :min_downloads")
        params["min_downloads"] = int(min_downloads)
    since_at = _since(since)
    join = ""
    if since_at is not None:
        join = "JOIN variant v ON v.id = s.variant_id"
        where.append("v.created_at >= :since")
        params["since"] = since_at
    keyset = f"({key} < :k OR ({key} = :k AND s.variant_id < :after))"
    if state:
        try:
            params["k"], params["after"] = int(state["k"]), int(state["id"])
        except (KeyError, TypeError, ValueError):
            raise CursorInvalid("the cursor is damaged", hint="start without it") from None
    sql = f"""{cte}
        SELECT s.variant_id, s.status, s.downloads, s.reach, s.reasons
        FROM safeguard_status s {join}
        WHERE {" AND ".join(where)} {{keyset}}
        ORDER BY {key} DESC, s.variant_id DESC
        LIMIT :limit
    """
    statement = text(sql.replace("{keyset}", "AND " + keyset if state else "")).bindparams(
        bindparam("statuses", expanding=True)
    )
    if root_id is None or small_subtree:
        rows = list(session.execute(statement, params).all())
    else:
        rows = _scan_big_subtree(session, sql, keyset, params, root_id, limit, sort)
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


_SUBTREE_CTE = """
    WITH RECURSIVE down(id, depth) AS (
        SELECT e.child_id, 1 FROM lineage_edge e WHERE e.parent_id = :root
        UNION
        SELECT e.child_id, down.depth + 1 FROM lineage_edge e
        JOIN down ON e.parent_id = down.id WHERE down.depth < :max_depth
    ), sub AS (SELECT DISTINCT id FROM down)
"""
SMALL_SUBTREE = 2_000
SCAN_BATCH = 1_000
MAX_SCAN_BATCHES = 200

_UNDER_ROOT = """
    WITH RECURSIVE up(start, id, depth) AS (
        SELECT v.id, v.id, 0 FROM variant v WHERE v.id IN :ids
        UNION
        SELECT up.start, e.parent_id, up.depth + 1
        FROM lineage_edge e JOIN up ON e.child_id = up.id
        WHERE up.depth < :max_depth
    )
    SELECT DISTINCT start FROM up WHERE id = :root AND depth > 0
"""


def _subtree_is_small(session: Session, root_id: int) -> bool:
    """Whether the walk under ``root_id`` ends within SMALL_SUBTREE edges (then filtering by
    the walked set is cheapest); the walk stops as soon as it passes that many."""
    walked = descendants(session, root_id, MAX_DEPTH, offset=0, limit=SMALL_SUBTREE + 1)
    return len(walked) <= SMALL_SUBTREE


def _scan_big_subtree(
    session: Session,
    sql: str,
    keyset: str,
    params: dict[str, Any],
    root_id: int,
    limit: int,
    sort: str,
) -> list[Any]:
    """For a root with a big subtree, read candidates in ranking order (the same index scan
    as without the filter) in batches and keep those the root is an ancestor of (one upward
    walk per batch): a page costs in proportion to how rare the subtree's rows are among the
    unsafe ones, not to the subtree's size. Falls back to walking the whole subtree when the
    rows are too rare."""
    found: list[Any] = []
    batch_params = dict(params, limit=SCAN_BATCH)
    has_keyset = "k" in params
    for _ in range(MAX_SCAN_BATCHES):
        statement = text(sql.replace("{keyset}", "AND " + keyset if has_keyset else "")).bindparams(
            bindparam("statuses", expanding=True)
        )
        batch = session.execute(statement, batch_params).all()
        if not batch:
            return found
        under = {
            int(r[0])
            for r in session.execute(
                text(_UNDER_ROOT).bindparams(bindparam("ids", expanding=True)),
                {"ids": [int(r[0]) for r in batch], "root": root_id, "max_depth": MAX_DEPTH},
            )
        }
        found += [r for r in batch if int(r[0]) in under]
        if len(found) > limit or len(batch) < SCAN_BATCH:
            return found[: limit + 1]
        last = batch[-1]
        batch_params["k"] = int(last[2] if sort == "downloads" else last[3])
        batch_params["after"] = int(last[0])
        has_keyset = True
    # rare rows under a huge root: filter by the whole walked subtree after all
    fallback = text(
        (_SUBTREE_CTE + sql).replace(
            "{keyset}",
            ("AND " + keyset if "k" in params else "") + " AND "
            "s.variant_id IN (SELECT id FROM sub)",
        )
    ).bindparams(bindparam("statuses", expanding=True))
    return list(session.execute(fallback, dict(params, root=root_id, max_depth=MAX_DEPTH)).all())


def _json(value: Any) -> list[str]:
    import json

    return list(json.loads(value)) if isinstance(value, str | bytes) else []
