"""Canonical JSON: the one byte form provreg hashes and logs.

Sorted keys, no insignificant whitespace, UTF-8 (non-ASCII kept as is), no NaN. Two equal
documents always give the same bytes, so a digest of a record can be recomputed from the record.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any


def canonical_json(document: Any) -> bytes:
    """``document`` as canonical JSON bytes; raises ValueError on NaN or infinities."""
    return json.dumps(
        document, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def sha256_digest(data: bytes) -> str:
    """``"sha256:" + hex(SHA-256(data))``."""
    return "sha256:" + hashlib.sha256(data).hexdigest()
