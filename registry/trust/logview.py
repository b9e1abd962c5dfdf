"""A client's view of a log: a fresh checkpoint checked against the pinned log key, and its
consistency with the last checkpoint this client saw. Used by the verifier, the audit and
`provreg log`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from registry.errors import ConsistencyFailed, SignatureInvalid
from registry.interface import Registry
from registry.trust.checkpoint import Checkpoint, parse_checkpoint
from registry.trust.keys import load_public_key
from registry.trust.merkle import verify_consistency
from registry.trust.pinning import SeenCheckpoint, load_seen, save_seen
from schemas import CheckpointPublic, LogKey


@dataclass
class LogView:
    key: LogKey
    checkpoint: Checkpoint
    published: CheckpointPublic
    seen: SeenCheckpoint | None

    @property
    def first_use(self) -> bool:
        return self.seen is None


def fresh_view(trust: Registry, home: Path) -> LogView:
    """Fetch and verify a checkpoint; raises SignatureInvalid when the log key changed or the
    note does not verify."""
    key = trust.log_key()
    seen = load_seen(home, key.origin)
    if seen is not None and seen.public_key.strip() != key.public_key.strip():
        raise SignatureInvalid(
            f"the log {key.origin} now presents another signing key than this client pinned",
            hint="do not trust this server; if the key was rotated on purpose, remove the "
            "state file under PROVREG_HOME/checkpoints",
        )
    public = load_public_key(seen.public_key if seen else key.public_key, source="the log key")
    published = trust.checkpoint()
    checkpoint = parse_checkpoint(published.note, public, key.origin)  # type: ignore[arg-type]
    if checkpoint.tree_size != published.tree_size or checkpoint.root_hash.hex() != (
        published.root_hash
    ):
        raise SignatureInvalid("the checkpoint's fields disagree with its signed note")
    return LogView(key, checkpoint, published, seen)


def check_consistency(trust: Registry, view: LogView) -> str:
    """Prove the fresh checkpoint extends the one this client saw last; returns a description.

    Raises :class:`ConsistencyFailed` when the log shrank, forked or was rewritten.
    """
    seen, now = view.seen, view.checkpoint
    if seen is None:
        return f"first checkpoint seen from {view.key.origin}: trusted on first use"
    old_root = bytes.fromhex(seen.root_hash)
    if now.tree_size < seen.tree_size:
        raise ConsistencyFailed(
            f"the log shrank from {seen.tree_size} to {now.tree_size} leaves",
            hint="entries were removed: do not trust this log",
        )
    if now.tree_size == seen.tree_size:
        if now.root_hash != old_root:
            raise ConsistencyFailed(
                f"the log shows another root for size {now.tree_size} than this client saw",
                hint="the log was rewritten: do not trust it",
            )
        return f"same tree as last seen ({now.tree_size} leaves)"
    proof = trust.consistency_proof(seen.tree_size, now.tree_size)
    try:
        verify_consistency(
            seen.tree_size,
            now.tree_size,
            [bytes.fromhex(h) for h in proof.hashes],
            old_root,
            now.root_hash,
        )
    except ConsistencyFailed as exc:
        raise ConsistencyFailed(
            f"the log at {now.tree_size} leaves is not an extension of the {seen.tree_size} "
            f"leaves this client saw: {exc.message}",
            hint="the log was rewritten: do not trust it",
        ) from None
    return f"consistent with the last checkpoint seen ({seen.tree_size} -> {now.tree_size} leaves)"


def remember(home: Path, view: LogView) -> None:
    """Pin the log key and this checkpoint as the last one seen (only after it checked out)."""
    seen = view.seen
    if seen is not None and seen.tree_size > view.checkpoint.tree_size:
        return
    save_seen(
        home,
        SeenCheckpoint(
            origin=view.key.origin,
            public_key=seen.public_key if seen else view.key.public_key,
            tree_size=view.checkpoint.tree_size,
            root_hash=view.checkpoint.root_hash.hex(),
            note=view.published.note,
        ),
    )
