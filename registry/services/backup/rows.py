"""Which tables a dump holds, and how their rows travel as JSON (bytes as base64, times as
ISO 8601) and back."""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, LargeBinary, Table
from sqlmodel import SQLModel

from registry.db.models import load_tables

# Webhooks hold their subscribers' secrets and a delivery log: a receiver's business, not the
# registry's record, so a dump leaves them out (add them again after a restore).
EXCLUDED = frozenset({"webhook", "webhook_delivery"})


def dumped_tables() -> list[Table]:
    """Every table a dump holds, parents before children (foreign keys hold as rows arrive)."""
    load_tables()  # the tables load lazily; a dump needs every one on the metadata
    return [t for t in SQLModel.metadata.sorted_tables if t.name not in EXCLUDED]


def encode_row(table: Table, row: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for column in table.columns:
        value = row._mapping[column]
        if value is not None and isinstance(column.type, LargeBinary):
            value = base64.b64encode(bytes(value)).decode("ascii")
        elif isinstance(value, datetime):
            value = value.isoformat()
        out[column.name] = value
    return out


def decode_row(table: Table, values: dict[str, Any]) -> dict[str, Any]:
    """The row as the table takes it; raises ValueError or KeyError on a malformed value."""
    out: dict[str, Any] = {}
    for name, value in values.items():
        column = table.columns[name]
        if value is not None and isinstance(column.type, LargeBinary):
            value = base64.b64decode(value, validate=True)
        elif value is not None and isinstance(column.type, DateTime):
            value = datetime.fromisoformat(value)
        out[name] = value
    return out
