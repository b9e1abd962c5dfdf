"""Checkpoint pinning: what this client has seen of a log, kept under ``home/checkpoints``.

The first checkpoint a client sees is trusted on first use and pinned with the log's key (as
rekor-cli does); from then on every new checkpoint must be signed by that key and extend the
pinned one (see :mod:`registry.trust.logview`).
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path


@dataclass
class SeenCheckpoint:
    origin: str
    public_key: str
    tree_size: int
    root_hash: str
    note: str


def _state_path(home: Path, origin: str) -> Path:
    name = hashlib.sha256(origin.encode()).hexdigest()[:16]
    return home / "checkpoints" / f"{name}.json"


def load_seen(home: Path, origin: str) -> SeenCheckpoint | None:
    """The checkpoint pinned for the log ``origin``, or None before the first one."""
    path = _state_path(home, origin)
    if not path.is_file():
        return None
    return SeenCheckpoint(**json.loads(path.read_text()))


def save_seen(home: Path, seen: SeenCheckpoint) -> Path:
    """Pin ``seen``, atomically (temp file, then rename) so a crash never leaves half a file."""
    path = _state_path(home, seen.origin)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(asdict(seen), indent=2) + "\n")
    os.replace(tmp, path)
    return path
