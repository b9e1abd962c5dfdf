"""Opaque cursors: base64url JSON, so clients pass them back without reading them."""

from __future__ import annotations

import base64
import json
from typing import Any

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
