"""Signing keys: Ed25519 key pairs in PEM files, and the key id provreg names them by.

A **key id** is the lowercase hex SHA-256 of the public key's DER-encoded SubjectPublicKeyInfo
(the bytes inside the PEM), for every key type. For Ed25519 that is SHA-256 over 44 bytes: the
12-byte algorithm prefix and the 32-byte raw key.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Union

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from registry.errors import InvalidInput, KeyInvalid

PublicKey = Union[ed25519.Ed25519PublicKey, ec.EllipticCurvePublicKey]  # noqa: UP007


def generate_private_key() -> ed25519.Ed25519PrivateKey:
    return ed25519.Ed25519PrivateKey.generate()


def private_key_pem(key: ed25519.Ed25519PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def public_key_pem(key: PublicKey) -> str:
    """The SubjectPublicKeyInfo PEM of ``key``."""
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode("ascii")


def key_id(key: PublicKey) -> str:
    """Hex SHA-256 of the DER SubjectPublicKeyInfo of ``key`` (see the module docstring)."""
    der = key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return hashlib.sha256(der).hexdigest()


def load_private_key(pem: bytes, *, source: str = "the key") -> ed25519.Ed25519PrivateKey:
    """An Ed25519 private key from PEM; raises :class:`KeyInvalid` for anything else."""
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError) as exc:
        raise KeyInvalid(
            f"{source} is not an unencrypted PEM private key ({exc})",
            hint="create one with `provreg keys generate --out KEYFILE`",
        ) from None
    if not isinstance(key, ed25519.Ed25519PrivateKey):
        raise KeyInvalid(
            f"{source} is not an Ed25519 key", hint="create one with `provreg keys generate`"
        )
    return key


def load_public_key(
    pem: bytes | str, *, source: str = "the public key", allow_ec: bool = False
) -> PublicKey:
    """A public key from SubjectPublicKeyInfo PEM: Ed25519, and ECDSA P-256/384/521 when
    ``allow_ec`` (what OpenSSF model-signing uses). Raises :class:`KeyInvalid`."""
    data = pem.encode("ascii", "replace") if isinstance(pem, str) else pem
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, TypeError) as exc:
        raise KeyInvalid(
            f"{source} is not a PEM public key ({exc})",
            hint="pass the KEYFILE.pub written by `provreg keys generate`",
        ) from None
    if isinstance(key, ed25519.Ed25519PublicKey):
        return key
    if (
        allow_ec
        and isinstance(key, ec.EllipticCurvePublicKey)
        and key.curve.name in ("secp256r1", "secp384r1", "secp521r1")
    ):
        return key
    accepted = "Ed25519 or ECDSA P-256/384/521" if allow_ec else "Ed25519"
    raise KeyInvalid(f"{source} is not an {accepted} public key", hint="use a supported key")


def write_key_pair(path: Path) -> tuple[Path, Path, str]:
    """Write a new Ed25519 key to ``path`` (mode 0600) and its public half to ``path.pub``.

    Returns ``(private_path, public_path, key_id)``; refuses to overwrite either file.
    """
    public_path = path.with_name(path.name + ".pub")
    for target in (path, public_path):
        if target.exists():
            raise InvalidInput(
                f"{target} already exists", hint="choose another --out or remove the old key"
            )
    key = generate_private_key()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(private_key_pem(key))
    os.chmod(path, 0o600)  # the umask cannot widen what O_CREAT got, but be explicit
    public_path.write_text(public_key_pem(key.public_key()))
    return path, public_path, key_id(key.public_key())
