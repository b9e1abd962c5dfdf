"""The transparency log: appends in the caller's transaction, proofs, signed checkpoints.

Appending leaf ``n`` stores its hash as the level-0 node ``(0, n)`` and then every complete
subtree it closes (``(l + 1, i // 2)`` from ``(l, i - 1)`` and ``(l, i)`` while ``i`` is odd), so
the hash of any range of leaves, and so any proof, needs O(log n) stored hashes read in one
query. Appends are serialised (a PostgreSQL advisory lock; SQLite has one writer anyway) and are
part of the event's own transaction: a failed event leaves no leaf, a failed append no event.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ed25519
from sqlalchemy import and_, func, insert, or_, text
from sqlmodel import Session, col, select

from registry.config import Settings
from registry.db.models import LogLeaf, LogNode, utcnow
from registry.errors import LogEntryNotFound, LogRangeInvalid
from registry.services.trust import log_records
from registry.services.trust.log_records import leaf_data
from registry.trust import merkle
from registry.trust.checkpoint import Checkpoint, sign_checkpoint
from registry.trust.keys import (
    generate_private_key,
    key_id,
    load_private_key,
    private_key_pem,
    public_key_pem,
)
from schemas.trust import (
    CheckpointPublic,
    ConsistencyProof,
    InclusionProof,
    LogEntryPublic,
    LogKey,
)

_LOCK_ID = 0x70726F76  # "prov": the advisory lock that serialises appends on PostgreSQL


def tree_size(session: Session) -> int:
    last = session.exec(select(func.max(LogLeaf.leaf_index))).one()
    return 0 if last is None else int(last) + 1


def append_row(session: Session, row: Any, kind: str) -> LogLeaf:
    """Add ``row`` (a table row with an ``id``), flush it and log it as ``kind``, inside the
    caller's transaction."""
    session.add(row)
    session.flush()
    return append(session, kind, row.id or 0)


def append(session: Session, kind: str, record_id: int) -> LogLeaf:
    """Append the event about ``record_id`` as the next leaf, inside the caller's transaction.

    The caller has flushed the record; nothing is committed here.
    """
    bind = session.get_bind()
    if bind.dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK_ID})
    index = tree_size(session)
    logged_at = utcnow()
    data = leaf_data(session, kind, record_id, logged_at, version=log_records.LEAF_VERSION)
    leaf = LogLeaf(
        leaf_index=index,
        kind=kind,
        record_id=record_id,
        data=data,
        leaf_hash=merkle.leaf_hash(data),
        logged_at=logged_at,
    )
    session.add(leaf)
    _store_nodes(session, index, leaf.leaf_hash)
    session.flush()
    return leaf


def _store_nodes(session: Session, index: int, digest: bytes) -> None:
    rows = [{"level": 0, "node_index": index, "hash": digest}]
    level, i, current = 0, index, digest
    while i & 1:
        sibling = session.get(LogNode, (level, i - 1))
        if sibling is None:  # only a damaged store gets here; audit reports it
            raise LogRangeInvalid(f"log node ({level}, {i - 1}) is missing", hint="run audit")
        current = merkle.node_hash(bytes(sibling.hash), current)
        level, i = level + 1, i >> 1
        rows.append({"level": level, "node_index": i, "hash": current})
    session.execute(insert(LogNode), rows)


def _fetch(session: Session) -> Callable[[set[merkle.NodeKey]], dict[merkle.NodeKey, bytes]]:
    def fetch(keys: set[merkle.NodeKey]) -> dict[merkle.NodeKey, bytes]:
        if not keys:
            return {}
        by_level: dict[int, list[int]] = {}
        for level, index in keys:
            by_level.setdefault(level, []).append(index)
        # one (level = ? AND node_index IN (...)) term per level: each term is a primary-key
        # range lookup on SQLite and PostgreSQL alike (a row-value IN is not, on SQLite)
        rows = session.exec(
            select(LogNode).where(
                or_(
                    *(
                        and_(col(LogNode.level) == level, col(LogNode.node_index).in_(indexes))
                        for level, indexes in by_level.items()
                    )
                )
            )
        ).all()
        found = {(r.level, r.node_index): bytes(r.hash) for r in rows}
        if len(found) != len(keys):
            raise LogRangeInvalid("the log's stored hashes are incomplete", hint="run audit")
        return found

    return fetch


def _check_size(session: Session, size: int) -> None:
    current = tree_size(session)
    if not 0 <= size <= current:
        raise LogRangeInvalid(
            f"the log has {current} leaves, not {size}", hint=f"ask for a size up to {current}"
        )


def root_at(session: Session, size: int) -> bytes:
    """MTH of the first ``size`` leaves."""
    _check_size(session, size)
    if size == 0:
        return merkle.empty_root()
    return merkle.resolve([(0, size)], _fetch(session))[0]


def inclusion_proof(session: Session, index: int, size: int | None = None) -> InclusionProof:
    """The audit path of leaf ``index`` in the tree of ``size`` leaves (default: all)."""
    size = tree_size(session) if size is None else size
    _check_size(session, size)
    ranges = merkle.inclusion_ranges(index, size)
    hashes = merkle.resolve(ranges, _fetch(session))
    leaf = session.get(LogNode, (0, index))
    assert leaf is not None
    return InclusionProof(
        index=index,
        tree_size=size,
        leaf_hash=bytes(leaf.hash).hex(),
        hashes=[h.hex() for h in hashes],
    )


def consistency_proof(session: Session, first: int, second: int | None = None) -> ConsistencyProof:
    """The proof that the tree of ``second`` leaves (default: all) extends the first ``first``."""
    second = tree_size(session) if second is None else second
    _check_size(session, second)
    ranges = merkle.consistency_ranges(first, second)
    hashes = merkle.resolve(ranges, _fetch(session))
    return ConsistencyProof(first=first, second=second, hashes=[h.hex() for h in hashes])


def get_entry(session: Session, index: int) -> LogEntryPublic:
    leaf = session.get(LogLeaf, index)
    if leaf is None:
        raise LogEntryNotFound(
            f"the log has no entry {index}", hint="`provreg log checkpoint` gives the tree size"
        )
    return LogEntryPublic(
        index=leaf.leaf_index,
        kind=leaf.kind,
        data=bytes(leaf.data).decode("utf-8"),
        leaf_hash=bytes(leaf.leaf_hash).hex(),
    )


# --- the log's signing key and checkpoints ----------------------------------------------------


@lru_cache(maxsize=8)
def _load_or_create(path: Path) -> ed25519.Ed25519PrivateKey:
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        key = generate_private_key()
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process created it first: use theirs
            pass
        else:
            with os.fdopen(fd, "wb") as fh:
                fh.write(private_key_pem(key))
    return load_private_key(path.read_bytes(), source=f"the log key {path}")


def log_signer(settings: Settings) -> tuple[ed25519.Ed25519PrivateKey, str]:
    """The log's private key (created on first use) and its origin line."""
    key = _load_or_create(settings.effective_log_key_path)
    origin = settings.log_origin or f"provreg.local/log/{key_id(key.public_key())[:16]}"
    return key, origin


def log_key(settings: Settings) -> LogKey:
    key, origin = log_signer(settings)
    public = key.public_key()
    return LogKey(origin=origin, public_key=public_key_pem(public), key_id=key_id(public))


def checkpoint(session: Session, settings: Settings) -> CheckpointPublic:
    """A signed checkpoint of the log as it is now."""
    key, origin = log_signer(settings)
    size = tree_size(session)
    root = root_at(session, size)
    note = sign_checkpoint(Checkpoint(origin, size, root), key)
    return CheckpointPublic(origin=origin, tree_size=size, root_hash=root.hex(), note=note)
