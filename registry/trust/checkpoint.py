"""Signed checkpoints in the C2SP tlog-checkpoint format, as C2SP signed notes.

A checkpoint body is three lines: the log's origin, the tree size in decimal, and the base64
root hash. The note appends a blank line and one line per signature:
``— <key name> <base64(key hash[4] || Ed25519 signature over the body)>``, where the key hash
is the first four bytes of SHA-256(key name || 0x0A || 0x01 || raw 32-byte public key)
(https://c2sp.org/tlog-checkpoint, https://c2sp.org/signed-note).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from registry.errors import ConsistencyFailed, SignatureInvalid

_DASH = "\u2014"  # EM DASH, as signed-note requires


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    tree_size: int
    root_hash: bytes

    def body(self) -> str:
        return f"{self.origin}\n{self.tree_size}\n{base64.b64encode(self.root_hash).decode()}\n"


def note_key_hash(name: str, public_key: ed25519.Ed25519PublicKey) -> bytes:
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(name.encode() + b"\n" + b"\x01" + raw).digest()[:4]


def sign_checkpoint(checkpoint: Checkpoint, key: ed25519.Ed25519PrivateKey) -> str:
    """The signed note for ``checkpoint``, signed under the key name ``checkpoint.origin``."""
    body = checkpoint.body()
    signature = key.sign(body.encode())
    blob = base64.b64encode(note_key_hash(checkpoint.origin, key.public_key()) + signature)
    return f"{body}\n{_DASH} {checkpoint.origin} {blob.decode()}\n"


def parse_checkpoint(note: str, public_key: ed25519.Ed25519PublicKey, origin: str) -> Checkpoint:
    """The checkpoint in ``note`` after checking its signature by ``public_key`` named ``origin``.

    Raises :class:`SignatureInvalid` when the note is malformed, of another origin, or carries
    no valid signature by the key.
    """
    body, sep, signatures = note.partition("\n\n")
    if not sep or not signatures.endswith("\n"):
        raise SignatureInvalid("the checkpoint is not a signed note")
    body += "\n"
    lines = body.splitlines()
    if len(lines) < 3:
        raise SignatureInvalid("the checkpoint body has fewer than three lines")
    if lines[0] != origin:
        raise SignatureInvalid(
            f"the checkpoint is for log {lines[0]!r}, expected {origin!r}",
            hint="PROVREG_URL points at another log than the one this client has seen",
        )
    try:
        size = int(lines[1])
        root = base64.b64decode(lines[2], validate=True)
    except (ValueError, binascii.Error):
        raise SignatureInvalid("the checkpoint's size or root hash is malformed") from None
    if size < 0 or len(root) != 32 or str(size) != lines[1]:
        raise SignatureInvalid("the checkpoint's size or root hash is malformed")
    want = note_key_hash(origin, public_key)
    verified = False
    for line in signatures.splitlines():
        name, blob = _signature_line(line)
        if name != origin or blob[:4] != want:
            continue  # a signature by another key (a witness): not ours to check
        if len(blob) != 68:
            raise SignatureInvalid("the checkpoint's signature by the log's key is malformed")
        try:
            public_key.verify(blob[4:], body.encode())
        except Exception:  # noqa: BLE001 - any failure means this line does not verify
            # signed-note: a signature by a known key that does not verify rejects the note,
            # whatever other lines say
            raise SignatureInvalid(
                "the checkpoint carries a signature by the log's key that does not verify",
                hint="the checkpoint was altered; do not trust this server",
            ) from None
        verified = True
    if verified:
        return Checkpoint(origin, size, root)
    raise SignatureInvalid(
        "the checkpoint carries no valid signature by the log's key",
        hint="the log key changed or the checkpoint was altered; do not trust this server",
    )


def _signature_line(line: str) -> tuple[str, bytes]:
    """``(key name, key hash || signature)`` of one signature line; a malformed line makes
    the whole note invalid (C2SP signed-note)."""
    parts = line.split(" ")
    if len(parts) != 3 or parts[0] != _DASH or not parts[1]:
        raise SignatureInvalid(f"the checkpoint has a malformed signature line: {line[:80]!r}")
    try:
        blob = base64.b64decode(parts[2], validate=True)
    except (ValueError, binascii.Error):
        raise SignatureInvalid("the checkpoint has a signature line that is not base64") from None
    if len(blob) < 5:
        raise SignatureInvalid("the checkpoint has a signature line too short to be one")
    return parts[1], blob


def require_same_tree(a: Checkpoint, b: Checkpoint) -> None:
    """Two checkpoints of one size must have one root; raises :class:`ConsistencyFailed`."""
    if a.tree_size == b.tree_size and a.root_hash != b.root_hash:
        raise ConsistencyFailed(
            f"the log shows two different roots for size {a.tree_size}",
            hint="the log forked or was rewritten; report it",
        )
