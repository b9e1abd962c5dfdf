"""DSSE v1 envelopes: PAE, signing and opening (https://github.com/secure-systems-lab/dsse).

The signature covers ``PAE(type, body) = "DSSEv1" SP LEN(type) SP type SP LEN(body) SP body``
with lengths as ASCII decimal byte counts. An envelope is kept as the exact text it arrived
in; :func:`open_envelope` checks it against a set of keys and returns the signed payload bytes.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from pydantic import ValidationError

from registry.errors import SignatureInvalid
from registry.trust.keys import PublicKey, key_id
from schemas.statements import PAYLOAD_TYPE, DsseEnvelope, DsseSignature

__all__ = ["PAYLOAD_TYPE", "open_envelope", "pae", "parse_envelope", "sign_envelope"]


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE's pre-authentication encoding of ``payload``."""
    t = payload_type.encode("utf-8")
    return b"DSSEv1 %d %s %d %s" % (len(t), t, len(payload), payload)


def sign_envelope(
    payload: bytes, private_key: ed25519.Ed25519PrivateKey, payload_type: str = PAYLOAD_TYPE
) -> str:
    """A compact JSON envelope over ``payload`` signed with ``private_key``."""
    envelope = DsseEnvelope(
        payload=base64.b64encode(payload).decode("ascii"),
        payloadType=payload_type,
        signatures=[
            DsseSignature(
                keyid=key_id(private_key.public_key()),
                sig=base64.b64encode(private_key.sign(pae(payload_type, payload))).decode(),
            )
        ],
    )
    return json.dumps(envelope.model_dump(), separators=(",", ":"))


def _b64(value: str, what: str) -> bytes:
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise SignatureInvalid(f"the envelope's {what} is not valid base64") from None


def parse_envelope(text: str | bytes) -> DsseEnvelope:
    """The envelope in ``text``; raises :class:`SignatureInvalid` when it is not one."""
    try:
        return DsseEnvelope.model_validate_json(text)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        raise SignatureInvalid(
            f"not a DSSE envelope: {where}: {first.get('msg', '')}",
            hint="pass the envelope exactly as `provreg register --sign` produced it",
        ) from None


def verify_signature(key: PublicKey, signature: bytes, message: bytes) -> bool:
    """True when ``signature`` over ``message`` verifies with ``key`` (Ed25519 or ECDSA)."""
    try:
        if isinstance(key, ed25519.Ed25519PublicKey):
            key.verify(signature, message)
        else:
            algorithm = {256: hashes.SHA256(), 384: hashes.SHA384(), 521: hashes.SHA512()}
            key.verify(signature, message, ec.ECDSA(algorithm[key.curve.key_size]))
    except (InvalidSignature, ValueError, KeyError):
        return False
    return True


def open_envelope(
    text: str | bytes, keys: Mapping[str, PublicKey], *, payload_type: str = PAYLOAD_TYPE
) -> tuple[str, bytes]:
    """Verify ``text`` against ``keys`` (key id -> public key); return ``(key_id, payload)``.

    One valid signature by one of ``keys`` is enough. Raises :class:`SignatureInvalid` when the
    envelope is malformed, of another payload type, or signed by none of ``keys``.
    """
    envelope = parse_envelope(text)
    if envelope.payloadType != payload_type:
        raise SignatureInvalid(
            f"the envelope's payloadType is {envelope.payloadType!r}, expected {payload_type!r}"
        )
    payload = _b64(envelope.payload, "payload")
    message = pae(envelope.payloadType, payload)
    for signature in envelope.signatures:
        sig = _b64(signature.sig, "signature")
        candidates = [signature.keyid] if signature.keyid in keys else list(keys)
        for kid in candidates:
            if verify_signature(keys[kid], sig, message):
                return kid, payload
    raise SignatureInvalid(
        "no signature on the envelope verifies with an active key"
        + (
            f" (signed by key {envelope.signatures[0].keyid[:16]}…)"
            if envelope.signatures[0].keyid
            else ""
        ),
        hint="sign with a key registered and active for the namespace (`provreg keys add`)",
        detail={"key_ids": [s.keyid for s in envelope.signatures]},
    )
