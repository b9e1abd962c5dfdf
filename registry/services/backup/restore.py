"""Restore a dump into an empty database, all or nothing.

Rows are inserted in one transaction as they stream in; before it commits, the whole log is
re-derived from the restored records (:func:`~registry.services.trust.audit.audit_log`, what
``provreg audit`` runs) and must be sound and end at the dump's checkpoint, whose signature is
checked with the log key the dump names. Anything else (a changed record, leaf or count, a
missing trailer, a database that is not empty) is refused with nothing written.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ed25519
from sqlalchemy import Table, func, insert, select, text
from sqlalchemy.exc import DataError, IntegrityError
from sqlmodel import Session

from registry.errors import DatabaseNotEmpty, DumpInvalid, ProvregError
from registry.services.backup.dump import DUMP_FORMAT, DUMP_VERSION
from registry.services.backup.rows import decode_row, dumped_tables
from registry.services.trust.audit import audit_log
from registry.trust.checkpoint import parse_checkpoint
from registry.trust.keys import key_id, load_public_key
from schemas.trust import RestoreReport

_BATCH = 1000
_HINT = "restore the dump exactly as `provreg dump` wrote it"


def _refuse_non_empty(session: Session, tables: list[Table]) -> None:
    for table in tables:
        if session.execute(select(func.count()).select_from(table)).scalar():
            raise DatabaseNotEmpty(
                f"the database is not empty (table {table.name} has rows)",
                hint="restore into a new database: set PROVREG_DATABASE_URL to an empty one and "
                "run `provreg init` first",
            )


def _parse(line: str, number: int) -> dict[str, Any]:
    try:
        doc = json.loads(line)
    except ValueError:
        raise DumpInvalid(f"line {number} of the dump is not JSON", hint=_HINT) from None
    if not isinstance(doc, dict):
        raise DumpInvalid(f"line {number} of the dump is not a JSON object", hint=_HINT)
    return doc


def _fix_sequences(session: Session, tables: list[Table]) -> None:
    """PostgreSQL: move each serial id's sequence past the restored ids."""
    if session.get_bind().dialect.name != "postgresql":
        return
    for table in tables:
        column = table.columns.get("id")
        if column is None or not column.autoincrement or not column.primary_key:
            continue
        session.execute(
            text(
                f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                f"COALESCE((SELECT MAX(id) FROM {table.name}), 0) + 1, false)"
            )
        )


def _check_log(session: Session, header: dict[str, Any], trailer: dict[str, Any]) -> str:
    """The restored log re-derives to the trailer's checkpoint, signed by the dump's log key;
    returns that key's id."""
    report = audit_log(session)
    if not report.ok:
        first = report.problems[0].message
        more = (
            f" (and {len(report.problems) - 1} more problems)" if len(report.problems) > 1 else ""
        )
        raise DumpInvalid(
            f"the dump's log does not re-derive from its records: {first}{more}", hint=_HINT
        )
    try:
        key = load_public_key(header["log_key"]["public_key"], source="the dump's log key")
        assert isinstance(key, ed25519.Ed25519PublicKey)  # load_public_key without allow_ec
        signed = parse_checkpoint(str(trailer["note"]), key, str(trailer["origin"]))
    except (KeyError, TypeError, ProvregError) as exc:
        raise DumpInvalid(f"the dump's checkpoint does not verify: {exc}", hint=_HINT) from None
    if (signed.tree_size, signed.root_hash.hex()) != (report.tree_size, report.root_hash):
        raise DumpInvalid(
            f"the restored log (size {report.tree_size}, root {report.root_hash[:16]}...) is not "
            f"the dump's checkpoint (size {signed.tree_size}, root "
            f"{signed.root_hash.hex()[:16]}...)",
            hint=_HINT,
        )
    return key_id(key)


def restore_lines(session: Session, lines: Iterable[str]) -> RestoreReport:
    """Restore the dump in ``lines`` into the empty database of ``session``; raises
    :class:`DatabaseNotEmpty` and :class:`DumpInvalid` with nothing written."""
    try:
        return _restore(session, lines)
    except (IntegrityError, DataError) as exc:
        raise DumpInvalid(
            f"the dump's rows do not fit the database: {str(exc.orig).splitlines()[0]}",
            hint=_HINT,
        ) from None


def _restore(session: Session, lines: Iterable[str]) -> RestoreReport:
    tables = {t.name: t for t in dumped_tables()}
    try:
        _refuse_non_empty(session, list(tables.values()))
        header: dict[str, Any] | None = None
        trailer: dict[str, Any] | None = None
        counts: dict[str, int] = dict.fromkeys(tables, 0)
        batch: list[dict[str, Any]] = []
        batch_table: Table | None = None

        def flush() -> None:
            if batch and batch_table is not None:
                session.execute(insert(batch_table), batch)
                batch.clear()

        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            doc = _parse(line, number)
            if header is None:
                if doc.get("type") != DUMP_FORMAT or doc.get("version") != DUMP_VERSION:
                    raise DumpInvalid(
                        f"not a provreg dump of version {DUMP_VERSION} (line 1)", hint=_HINT
                    )
                header = doc
                continue
            if trailer is not None:
                raise DumpInvalid(f"line {number} follows the dump's checkpoint", hint=_HINT)
            if doc.get("type") == "checkpoint":
                trailer = doc
                continue
            table = tables.get(str(doc.get("table")))
            if table is None or not isinstance(doc.get("row"), dict):
                raise DumpInvalid(f"line {number} is not a row of a known table", hint=_HINT)
            try:
                row = decode_row(table, doc["row"])
            except (KeyError, ValueError, TypeError):
                raise DumpInvalid(
                    f"line {number} holds a malformed {table.name} row", hint=_HINT
                ) from None
            if table is not batch_table or len(batch) >= _BATCH:
                flush()
                batch_table = table
            batch.append(row)
            counts[table.name] += 1
        flush()
        if header is None:
            raise DumpInvalid("the dump is empty", hint=_HINT)
        if trailer is None:
            raise DumpInvalid("the dump is truncated: it has no checkpoint line", hint=_HINT)
        expected = trailer.get("counts") or {}
        for name, n in counts.items():
            if int(expected.get(name, 0)) != n:
                raise DumpInvalid(
                    f"the dump holds {n} {name} rows where its trailer counts "
                    f"{expected.get(name, 0)}",
                    hint=_HINT,
                )
        log_key_id = _check_log(session, header, trailer)
        _fix_sequences(session, list(tables.values()))
        session.commit()
    except BaseException:
        session.rollback()
        raise
    return RestoreReport(
        rows=sum(counts.values()),
        counts={k: v for k, v in counts.items() if v},
        tree_size=int(trailer["tree_size"]),
        root_hash=str(trailer["root_hash"]),
        log_key_id=log_key_id,
    )
