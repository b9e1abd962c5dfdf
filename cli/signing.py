"""Client-side signing: the private key never leaves this machine, only the envelope does."""

from __future__ import annotations

from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import ed25519

from registry.errors import KeyInvalid
from registry.trust.keys import load_private_key
from registry.trust.statements import parent_claims, release_statement, sign_statement
from schemas import VariantCreate


def load_signing_key(path: Path) -> ed25519.Ed25519PrivateKey:
    """The Ed25519 key in ``path``; raises :class:`KeyInvalid` (unreadable, wrong type)."""
    try:
        pem = path.read_bytes()
    except OSError as exc:
        raise KeyInvalid(
            f"cannot read the signing key {path}: {exc.strerror}",
            hint="create one with `provreg keys generate --out KEYFILE`",
        ) from None
    return load_private_key(pem, source=str(path))


def sign_release(request: VariantCreate, key: ed25519.Ed25519PrivateKey) -> str:
    """A DSSE envelope over the release statement for ``request``."""
    return sign_statement(release_statement(request, parent_claims(request)), key)
