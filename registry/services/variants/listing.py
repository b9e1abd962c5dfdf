"""Listing variants: filtered by namespace, name, digest, text in the name or safeguard status,
in registration order or by downloads or reach, keyset-paginated so every page costs the same.
"""

from __future__ import annotations

from typing import Any, Literal, get_args

from sqlalchemy import and_, func, or_
from sqlmodel import Session, col, select

from registry.db.models import SafeguardStatus, Variant
from registry.errors import CursorInvalid, InvalidInput
from registry.services.browse import MAX_QUERY_CHARS, like_escape
from registry.services.pagination import check_limit, decode_cursor, encode_cursor
from registry.services.safeguards.policy import SafeguardPolicy
from registry.services.safeguards.query import parse_statuses
from registry.services.safeguards.status import catch_up
from schemas import VariantPage, VariantSummary

VariantSort = Literal["registered", "downloads", "reach"]
VARIANT_SORTS: tuple[str, ...] = get_args(VariantSort)


def list_variants(
    session: Session,
    *,
    limit: int = 50,
    cursor: str | None = None,
    namespace: str | None = None,
    digest: str | None = None,
    name: str | None = None,
    search: str | None = None,
    status: str | None = None,
    sort: str = "registered",
    policy: SafeguardPolicy | None = None,
) -> VariantPage:
    """A page of variants: oldest first, or most downloaded (``sort="downloads"``) or
    farthest-reaching (``"reach"``) first, with each one's safeguard status (brought up to
    date under ``policy`` when given). ``search`` matches part of the name, any case;
    ``status`` is a comma-separated list of safeguard statuses. Raises InvalidInput or
    CursorInvalid."""
    check_limit(limit)
    if sort not in VARIANT_SORTS:
        raise InvalidInput(f"unknown sort {sort!r}", hint="sort by " + ", ".join(VARIANT_SORTS))
    if search is not None and len(search) > MAX_QUERY_CHARS:
        raise InvalidInput(
            f"the search text is {len(search):,} characters long",
            hint=f"search for at most {MAX_QUERY_CHARS} characters of a name",
        )
    for option, text in (("namespace", namespace), ("name", name), ("digest", digest),
                         ("search", search), ("status", status)):  # fmt: skip
        if text and "\x00" in text:  # PostgreSQL cannot compare text holding NUL
            raise InvalidInput(f"the {option} holds a NUL character", hint="remove it")
    state = decode_cursor(cursor)
    if state and state.get("sort", "registered") != sort:
        raise CursorInvalid("the cursor belongs to another sort order", hint="start without it")
    if policy is not None:
        catch_up(session, policy)
    query = select(
        Variant,
        col(SafeguardStatus.status),
        col(SafeguardStatus.downloads),
        col(SafeguardStatus.reach),
    ).outerjoin(SafeguardStatus, col(SafeguardStatus.variant_id) == col(Variant.id))
    if namespace:
        query = query.where(col(Variant.name).startswith(f"{namespace}/"))
    if name:
        query = query.where(Variant.name == name)
    if digest:
        query = query.where(Variant.digest == digest)
    if search and search.strip():
        pattern = f"%{like_escape(search.strip().lower())}%"
        query = query.where(func.lower(Variant.name).like(pattern, escape="\\"))
    if status:
        query = query.where(col(SafeguardStatus.status).in_(parse_statuses(status)))
    key: Any = None
    if sort == "registered":
        query = query.where(col(Variant.id) > _cursor_int(state, "after", 0))
        query = query.order_by(col(Variant.id))
    else:
        column = SafeguardStatus.downloads if sort == "downloads" else SafeguardStatus.reach
        key = func.coalesce(column, -1)  # names without weights (no status) come last
        if state:
            k, after = _cursor_int(state, "k", 0), _cursor_int(state, "id", 0)
            query = query.where(or_(key < k, and_(key == k, col(Variant.id) < after)))
        query = query.order_by(key.desc(), col(Variant.id).desc())
    rows = session.exec(query.limit(limit + 1)).all()
    items = [
        VariantSummary(
            name=v.name,
            revision=v.revision,
            digest=v.digest,
            format=v.format,
            parameters=v.parameters,
            registered=v.digest is not None,
            created_at=v.created_at,
            status=status_ if v.digest is not None else None,
            downloads=None if downloads is None else int(downloads),
            reach=None if reach is None else int(reach),
        )
        for v, status_, downloads, reach in rows[:limit]
    ]
    next_cursor = None
    if len(rows) > limit:
        last, _, downloads, reach = rows[limit - 1]
        if sort == "registered":
            next_cursor = encode_cursor({"after": last.id})
        else:
            value = downloads if sort == "downloads" else reach
            k = -1 if value is None else int(value)
            next_cursor = encode_cursor({"sort": sort, "k": k, "id": last.id})
    return VariantPage(items=items, next_cursor=next_cursor)


def _cursor_int(state: dict[str, Any], key: str, default: int) -> int:
    try:
        return int(state.get(key, default))
    except (TypeError, ValueError):
        raise CursorInvalid("the cursor is damaged", hint="start without it") from None
