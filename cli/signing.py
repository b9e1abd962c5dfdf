"""Client-side signing: the private key never leaves this machine, only the envelope does."""

from __future__ import annotations

from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import ed25519

from registry.errors import KeyInvalid
from registry.names import parse_ref
from registry.trust.keys import load_private_key
from registry.trust.statements import release_statement, sign_statement
from schemas import VariantCreate
from schemas.statements import ParentClaim


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


def parent_claims(request: VariantCreate) -> list[ParentClaim]:
    """Declared parents as the server normalises them: NAME@REVISION, first relation wins."""
    seen: dict[str, ParentClaim] = {}
    for parent in request.parents:
        name = str(parse_ref(parent.name))
        seen.setdefault(name, ParentClaim(name=name, relation=parent.relation))
    return list(seen.values())


def sign_release(request: VariantCreate, key: ed25519.Ed25519PrivateKey) -> str:
    """A DSSE envelope over the release statement for ``request``."""
    return sign_statement(release_statement(request, parent_claims(request)), key)
