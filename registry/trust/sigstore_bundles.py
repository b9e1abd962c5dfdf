"""Keyless OpenSSF model-signing bundles (``model_signing sign sigstore``), verified offline.

Such a bundle's verification material is a short-lived Fulcio certificate naming the signer
(its SAN, and the OIDC issuer that vouched for it) and a Rekor transparency-log entry. It proves
something only against a root of trust and an expected signer, so both are required: a
sigstore ``trusted_root.json`` (Fulcio CAs, CT log and Rekor keys) and ``identity`` + ``issuer``.
sigstore-python's ``Verifier`` does every check (chain at the log's time, SCT, code-signing
usage, identity policy, inclusion proof, checkpoint and promise, DSSE signature, the entry
matching the envelope); this module turns its failures into registry errors that name the
cause, and reads the model-signing manifest from the verified payload.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from registry.errors import BundleInvalid, InvalidInput, SignatureInvalid
from registry.trust.openssf import PAYLOAD_TYPE, ModelSigningManifest, read_manifest

# Fulcio's OIDC-issuer extensions: v2 holds a DER UTF8String, the legacy one the raw URL
_ISSUER_V2 = "1.3.6.1.4.1.57264.1.8"
_ISSUER_V1 = "1.3.6.1.4.1.57264.1.1"
_KEYLESS_HINT = "pass --trust-root FILE (sigstore trusted_root.json), --identity and --issuer"


@dataclass(frozen=True)
class Signer:
    """Who signed a keyless bundle, as its verified certificate says."""

    identity: str
    issuer: str
    trust_root_sha256: str
    leaf_public_key_pem: str


def is_certificate_bundle(bundle_text: str | bytes) -> bool:
    """Whether the bundle's verification material is a certificate (keyless or a chain) rather
    than a public-key hint. Unreadable bundles answer False (the key path reports them)."""
    try:
        material = json.loads(bundle_text).get("verificationMaterial")
    except (ValueError, AttributeError):
        return False
    return isinstance(material, dict) and bool(
        material.get("certificate") or material.get("x509CertificateChain")
    )


def verify_keyless_bundle(
    bundle_text: str, trust_root_text: str, *, identity: str, issuer: str
) -> tuple[ModelSigningManifest, Signer]:
    """Verify a keyless model-signing bundle against ``trust_root_text`` for a signer who is
    ``identity`` (an email or URI in the certificate's SAN) vouched for by ``issuer``.

    Returns the manifest and the signer. Raises :class:`InvalidInput` (unreadable trust root),
    :class:`BundleInvalid` (not a sigstore bundle, or not model-signing's) or
    :class:`SignatureInvalid` naming the check that failed.
    """
    from sigstore.errors import Error as SigstoreError
    from sigstore.models import Bundle, TrustedRoot
    from sigstore.verify import Verifier
    from sigstore.verify.policy import Identity

    verifier = _verifier(trust_root_text, TrustedRoot, Verifier, SigstoreError)
    try:
        bundle = Bundle.from_json(bundle_text)
    except (SigstoreError, ValueError) as exc:
        raise BundleInvalid(
            f"the bundle is not a sigstore bundle provreg can read: {_first_line(exc)}",
            hint="pass the model.sig written by `model_signing sign sigstore`",
        ) from None
    cert = bundle.signing_certificate
    sans, cert_issuer = _names(cert)
    if identity not in sans:
        raise SignatureInvalid(
            f"the bundle was signed by {', '.join(sorted(sans)) or 'no identity'}, "
            f"not --identity {identity}",
            hint="pass the signer's identity exactly as its certificate names it",
            detail={"signed_by": sorted(sans)},
        )
    if cert_issuer != issuer:
        raise SignatureInvalid(
            f"the bundle's identity was vouched for by {cert_issuer or 'no issuer'}, "
            f"not --issuer {issuer}",
            hint="pass the OIDC issuer the signer logged in with",
            detail={"issuer": cert_issuer},
        )
    try:
        payload_type, payload = verifier.verify_dsse(
            bundle, Identity(identity=identity, issuer=issuer)
        )
    except (SigstoreError, ValueError, TypeError, KeyError, IndexError) as exc:
        # a malformed bundle may fail inside a check rather than before it: still a refusal
        raise SignatureInvalid(_failure(exc), hint=_failure_hint(exc)) from None
    if payload_type != PAYLOAD_TYPE:
        raise BundleInvalid(f"the bundle's payloadType is {payload_type!r}, not in-toto JSON")
    from cryptography.hazmat.primitives import serialization

    pem = cert.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    signer = Signer(
        identity=identity,
        issuer=issuer,
        trust_root_sha256="sha256:" + hashlib.sha256(trust_root_text.encode()).hexdigest(),
        leaf_public_key_pem=pem.decode(),
    )
    return read_manifest(payload), signer


def _verifier(text: str, trusted_root: Any, verifier: Any, error: type[Exception]) -> Any:
    """sigstore's Verifier on the trust root ``text``; raises InvalidInput when unusable."""
    from sigstore_models.trustroot import v1 as trustroot_v1

    try:
        return verifier(trusted_root=trusted_root(trustroot_v1.TrustedRoot.from_json(text)))
    except (error, ValueError) as exc:
        raise InvalidInput(
            f"--trust-root is not a sigstore trusted_root.json provreg can use: {_first_line(exc)}",
            hint="pass the trusted_root.json of the Sigstore instance that signed the bundle",
        ) from None


def _names(cert: Any) -> tuple[set[str], str | None]:
    """The certificate's SAN identities (emails, URIs) and its OIDC issuer."""
    from cryptography import x509
    from cryptography.x509.oid import ObjectIdentifier

    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        sans = set(san.get_values_for_type(x509.RFC822Name))
        sans.update(san.get_values_for_type(x509.UniformResourceIdentifier))
    except x509.ExtensionNotFound:
        sans = set()
    for oid, decode in ((_ISSUER_V2, _der_utf8), (_ISSUER_V1, bytes.decode)):
        try:
            raw = cert.extensions.get_extension_for_oid(ObjectIdentifier(oid)).value.value
            return sans, decode(raw)
        except (x509.ExtensionNotFound, UnicodeDecodeError, ValueError):
            continue
    return sans, None


def _der_utf8(raw: bytes) -> str:
    if len(raw) < 2 or raw[0] != 0x0C:
        raise ValueError("not a UTF8String")
    size, start = raw[1], 2
    if size & 0x80:
        count = size & 0x7F
        size, start = int.from_bytes(raw[2 : 2 + count], "big"), 2 + count
    return raw[start : start + size].decode()


# sigstore's failures, by the step that raised them: what failed, and what to do about it
_STEPS = (
    (
        "certificate chain",
        "the signing certificate does not chain to a Fulcio CA of --trust-root",
        "pass the trusted_root.json of the Sigstore instance that signed the bundle",
    ),
    (
        "SCT",
        "the signing certificate's SCT is not signed by a CT log of --trust-root",
        "pass the trusted_root.json of the Sigstore instance that signed the bundle",
    ),
    (
        "log entry",
        "the bundle's transparency-log entry does not verify with a Rekor key of --trust-root",
        "the bundle was altered, or comes from another Sigstore instance",
    ),
    (
        "DSSE",
        "the bundle's DSSE signature does not verify with its signing certificate",
        "the signed payload was altered after signing",
    ),
    (
        "payload hash",
        "the bundle's transparency-log entry is for another payload",
        "the signed payload was altered after signing",
    ),
)


def _step(exc: Exception) -> tuple[str, str, str] | None:
    text = str(exc)
    markers = {
        "certificate chain": ("certificate chain",),
        "SCT": ("SCT",),
        "log entry": ("invalid log entry",),
        "DSSE": ("DSSE",),
        "payload hash": ("payload hash", "inconsistent with other materials", "signatures do"),
    }
    for step in _STEPS:
        if any(m in text for m in markers[step[0]]):
            return step
    return None


def _failure(exc: Exception) -> str:
    step = _step(exc)
    if step is None:
        return f"the keyless bundle does not verify: {_first_line(exc)}"
    return f"{step[1]} ({_first_line(exc)})"


def _failure_hint(exc: Exception) -> str:
    step = _step(exc)
    return step[2] if step is not None else _KEYLESS_HINT


def _first_line(exc: Exception) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
