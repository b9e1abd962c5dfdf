"""The registry as a whole: counts, recent registrations and the variants lacking safeguards
that reach the most people (the explorer's home page), and the table of every variant with its
safeguard status and downloads, sorted and filtered in SQL.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import Select, case, func, or_, select
from sqlmodel import Session, col

from registry.db.models import Advisory, EvalResult, LineageEdge, SafeguardStatus, Variant
from registry.errors import CursorInvalid, InvalidInput
from registry.services.browse import MAX_QUERY_CHARS, like_escape
from registry.services.pagination import check_limit, decode_cursor, encode_cursor
from registry.services.safeguards.policy import SafeguardPolicy
from registry.services.safeguards.status import catch_up
from schemas.catalog import (
    TABLE_SORTS,
    RegistryCounts,
    RegistryOverview,
    VariantRow,
    VariantTable,
)
from schemas.evals import SAFEGUARD_STATES, UNSAFE_STATES

OVERVIEW_ROWS = 8
MAX_OFFSET = 10**9
#: a digest prefix this long (hex, after an optional ``sha256:``) also searches digests
MIN_DIGEST_PREFIX = 4
_HEX = re.compile(r"(?:[a-z0-9]+:)?[0-9a-f]+")
# the table's status order: the most urgent first when sorted ascending
_STATUS_RANK = case(
    *((col(SafeguardStatus.status) == s, i) for i, s in enumerate((*UNSAFE_STATES, "unverified"))),
    (col(SafeguardStatus.status) == "safeguarded", 4),
    else_=5,
)
_SORT_KEYS: dict[str, Any] = {
    "name": func.lower(col(Variant.name)),
    "format": func.coalesce(col(Variant.format), ""),
    "parameters": func.coalesce(col(Variant.parameters), -1),
    "status": _STATUS_RANK,
    "downloads": func.coalesce(col(SafeguardStatus.downloads), 0),
    "reach": func.coalesce(col(SafeguardStatus.reach), 0),
    "registered": col(Variant.updated_at),
}


def _rows(session: Session, query: Select) -> list[VariantRow]:
    return [
        VariantRow(
            name=v.name,
            revision=v.revision,
            digest=v.digest,
            format=v.format,
            parameters=v.parameters,
            registered=v.digest is not None,
            status=s.status if s is not None else None,
            downloads=int(s.downloads) if s is not None else 0,
            reach=int(s.reach) if s is not None else 0,
            created_at=v.created_at,
            # a variant's row changes only when its weights are registered (a name declared as
            # a parent first is filled in then)
            registered_at=v.updated_at if v.digest is not None else None,
        )
        for v, s in session.execute(query).all()
    ]


def _with_status() -> Select:
    return select(Variant, SafeguardStatus).outerjoin(
        SafeguardStatus, col(SafeguardStatus.variant_id) == col(Variant.id)
    )


def _count(session: Session, query: Select) -> int:
    return int(session.execute(query).scalar_one())


def overview(session: Session, policy: SafeguardPolicy) -> RegistryOverview:
    """Counts, the latest registrations and the most-reached variants lacking safeguards."""
    catch_up(session, policy)
    registered = col(Variant.digest).is_not(None)
    counts = RegistryCounts(
        variants=_count(session, select(func.count()).where(registered)),
        known_by_name=_count(session, select(func.count()).where(col(Variant.digest).is_(None))),
        edges=_count(session, select(func.count()).select_from(LineageEdge)),
        evaluations=_count(session, select(func.count()).select_from(EvalResult)),
        advisories=_count(session, select(func.count()).select_from(Advisory)),
    )
    recent = _with_status().where(registered)
    recent = recent.order_by(col(Variant.updated_at).desc(), col(Variant.id).desc())
    lacking = _with_status().where(col(SafeguardStatus.status).in_(UNSAFE_STATES))
    lacking = lacking.order_by(
        col(SafeguardStatus.reach).desc(), col(SafeguardStatus.downloads).desc(), col(Variant.id)
    )
    return RegistryOverview(
        counts=counts,
        recent=_rows(session, recent.limit(OVERVIEW_ROWS)),
        lacking=_rows(session, lacking.limit(OVERVIEW_ROWS)),
    )


def _search(query: Select, text: str) -> Select:
    """Names containing ``text``; also digests starting with it, when it reads as a hex prefix
    (with or without the ``sha256:`` algorithm)."""
    q = text.strip().lower()
    if not q:
        return query
    esc = like_escape(q)
    found = [func.lower(col(Variant.name)).like(f"%{esc}%", escape="\\")]
    hex_part = q.split(":", 1)[-1]
    if _HEX.fullmatch(q) and len(hex_part) >= MIN_DIGEST_PREFIX:
        if ":" in q:
            found.append(col(Variant.digest).like(f"{esc}%", escape="\\"))
        else:
            found.append(col(Variant.digest).like(f"%:{esc}%", escape="\\"))
    return query.where(or_(*found))


def variant_table(
    session: Session,
    policy: SafeguardPolicy,
    *,
    q: str | None = None,
    format: str | None = None,
    statuses: list[str] | None = None,
    registered: bool | None = None,
    sort: str = "downloads",
    descending: bool = True,
    limit: int = 50,
    cursor: str | None = None,
) -> VariantTable:
    """A page of every variant with its status and downloads: ``q`` searches names (and digests
    by prefix), ``format``/``statuses``/``registered`` filter, ``sort`` orders (then by name).
    Raises InvalidInput for an unknown sort or status, CursorInvalid for a foreign cursor."""
    check_limit(limit)
    if sort not in TABLE_SORTS:
        raise InvalidInput(
            f"unknown sort {sort!r}", hint=f"sort by one of {', '.join(TABLE_SORTS)}"
        )
    unknown = sorted(set(statuses or []) - set(SAFEGUARD_STATES))
    if unknown:
        raise InvalidInput(
            f"unknown status {unknown[0]!r}", hint=f"use any of {', '.join(SAFEGUARD_STATES)}"
        )
    if q is not None and len(q) > MAX_QUERY_CHARS:
        raise InvalidInput(
            f"the search text is {len(q):,} characters long",
            hint=f"search for at most {MAX_QUERY_CHARS} characters of a name or digest",
        )
    asked = {"q": q or "", "format": format or "", "status": sorted(statuses or []),
             "registered": registered, "sort": sort, "desc": descending}  # fmt: skip
    state = decode_cursor(cursor)
    offset = state.get("offset", 0) if state else 0
    if state and {k: state.get(k) for k in asked} != asked:
        raise CursorInvalid("the cursor belongs to another query", hint="start without it")
    if not isinstance(offset, int) or not 0 <= offset <= MAX_OFFSET:
        raise CursorInvalid("the cursor is damaged", hint="start without it")
    catch_up(session, policy)
    query = _search(_with_status(), q or "")
    if format:
        query = query.where(col(Variant.format) == format)
    if statuses:
        query = query.where(col(SafeguardStatus.status).in_(statuses))
    if registered is not None:
        known = col(Variant.digest).is_not(None)
        query = query.where(known if registered else ~known)
    total = _count(session, select(func.count()).select_from(query.subquery()))
    key = _SORT_KEYS[sort]
    query = query.order_by(
        key.desc() if descending else key.asc(),
        func.lower(col(Variant.name)),
        col(Variant.revision),
        col(Variant.id),
    )
    items = _rows(session, query.offset(offset).limit(limit))
    more = offset + len(items) < total
    next_cursor = encode_cursor({**asked, "offset": offset + limit}) if more else None
    return VariantTable(items=items, total=total, next_cursor=next_cursor)
