"""A registry as JSON Lines, streamed: a header line, one line per row (tables in foreign-key
order, rows in primary-key order) and a trailer with the row counts and a signed checkpoint of
the log as dumped.

    {"type": "provreg-dump", "version": 1, "created_at": ..., "log_key": {...}, "tables": [...]}
    {"table": "variant", "row": {...}}
    ...
    {"type": "checkpoint", "tree_size": N, "root_hash": hex, "origin": ..., "note": ...,
     "counts": {"variant": 3, ...}}

API tokens travel as their stored SHA-256 hashes (the secrets are never stored); signing keys
are public keys. The log's private key is not in the dump.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

from sqlalchemy import select
from sqlmodel import Session

import registry
from registry.config import Settings
from registry.db.models import utcnow
from registry.services.backup.rows import dumped_tables, encode_row
from registry.services.trust.translog import checkpoint, log_key

DUMP_FORMAT = "provreg-dump"
DUMP_VERSION = 1
_BATCH = 1000


def dump_lines(session: Session, settings: Settings) -> Iterator[str]:
    """Each line of the dump of the database ``session`` reads, newline-terminated. Read in
    one transaction, so the rows and the checkpoint describe one moment."""
    tables = dumped_tables()
    key = log_key(settings)
    header = {
        "type": DUMP_FORMAT,
        "version": DUMP_VERSION,
        "provreg": registry.__version__,
        "created_at": utcnow().isoformat(),
        "log_key": key.model_dump(mode="json"),
        "tables": [t.name for t in tables],
    }
    yield json.dumps(header) + "\n"
    counts: dict[str, int] = {}
    for table in tables:
        query = select(table).order_by(*table.primary_key.columns)
        n = 0
        for row in session.execute(query, execution_options={"yield_per": _BATCH}):
            yield json.dumps({"table": table.name, "row": encode_row(table, row)}) + "\n"
            n += 1
        counts[table.name] = n
    cp = checkpoint(session, settings)
    trailer = {"type": "checkpoint", **cp.model_dump(mode="json"), "counts": counts}
    yield json.dumps(trailer) + "\n"
