"""Opaque cursors: base64url JSON, so clients pass them back without reading them."""

from __future__ import annotations

import base64
import json
from typing import Any

from sqlmodel import Session
from sqlmodel.sql.expression import SelectOfScalar

from registry.errors import CursorInvalid

MAX_PAGE_SIZE = 1000


def encode_cursor(state: dict[str, Any]) -> str:
    raw = json.dumps(state, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> dict[str, Any]:
    """The state inside a cursor ({} for none); raises :class:`CursorInvalid`."""
    if not cursor:
        return {}
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        state = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        state = None
    if not isinstance(state, dict):
        raise CursorInvalid("the cursor is not one this server issued", hint="start without it")
    return state


def check_limit(limit: int) -> int:
    if not 1 <= limit <= MAX_PAGE_SIZE:
        raise CursorInvalid(
            f"limit {limit} is out of range", hint=f"use a limit from 1 to {MAX_PAGE_SIZE}"
        )
    return limit


def id_page(
    session: Session,
    query: SelectOfScalar[Any],
    id_column: Any,
    *,
    limit: int,
    cursor: str | None,
    newest_first: bool = False,
) -> tuple[list[Any], str | None]:
    """One page of ``query`` (rows with an ``id``) in ``id_column`` order, and the cursor of the
    next page (None on the last); raises :class:`CursorInvalid`."""
    check_limit(limit)
    state = decode_cursor(cursor)
    if state:
        try:
            after = int(state["after"])
        except (KeyError, TypeError, ValueError):
            raise CursorInvalid("the cursor is damaged", hint="start without it") from None
        query = query.where(id_column < after if newest_first else id_column > after)
    order = id_column.desc() if newest_first else id_column
    rows: list[Any] = list(session.exec(query.order_by(order).limit(limit + 1)).all())
    next_cursor = encode_cursor({"after": rows[limit - 1].id}) if len(rows) > limit else None
    return rows[:limit], next_cursor
