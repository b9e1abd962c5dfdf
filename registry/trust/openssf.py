"""OpenSSF model-signing bundles (``model_signing sign key``): verify and read the manifest.

Such a bundle is a sigstore bundle (v0.3 JSON) whose ``dsseEnvelope`` carries an in-toto
Statement v1 with predicate ``https://model_signing/signature/v1.0``: one subject (the model's
name and a SHA-256 over the concatenated resource digests in order) and ``predicate.resources``,
one ``{name, algorithm, digest}`` per file. The DSSE signature (ECDSA, DER-encoded, hash by
curve size; or Ed25519) is checked with the given public key; ``verificationMaterial.publicKey
.hint``, when present, must be the hex SHA-256 of that key's PEM.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from registry.errors import BundleInvalid, SignatureInvalid
from registry.trust.dsse import pae, verify_signature
from registry.trust.keys import PublicKey, public_key_pem

MODEL_SIGNING_PREDICATE = "https://model_signing/signature/v1.0"
# model_signing before 1.0 (0.2) wrote this predicate, with another manifest layout
PRE_1_0_PREDICATE = "https://model_signing/Digests/v0.1"
# model_signing names the one resource "." when it signs a single file
SINGLE_FILE_RESOURCE = "."
STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
PAYLOAD_TYPE = "application/vnd.in-toto+json"


@dataclass(frozen=True)
class ModelSigningManifest:
    model_name: str
    files: dict[str, str]  # path -> sha256 hex


def _field(obj: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(obj, dict) or key not in obj:
            raise BundleInvalid(
                f"the bundle has no {'.'.join(path)}",
                hint="pass the model.sig written by `model_signing sign key`",
            )
        obj = obj[key]
    return obj


def verify_bundle(bundle_text: str | bytes, public_key: PublicKey) -> ModelSigningManifest:
    """Check the bundle's signature with ``public_key`` and return its file manifest.

    Raises :class:`BundleInvalid` (not such a bundle, unsupported serialisation, inconsistent
    manifest) or :class:`SignatureInvalid` (the signature does not verify with the key).
    """
    try:
        bundle = json.loads(bundle_text)
    except ValueError:
        raise BundleInvalid(
            "the bundle is not JSON", hint="pass model_signing's model.sig"
        ) from None
    material = _field(bundle, "verificationMaterial")
    if not isinstance(material, dict):
        raise BundleInvalid("the bundle's verificationMaterial is not an object")
    if "certificate" in material or "x509CertificateChain" in material:
        # The key inside a certificate proves nothing about who signed unless the certificate
        # chains to a trusted root and names the expected identity; never accept it alone.
        raise BundleInvalid(
            "the bundle is signed with a certificate, and a certificate is never verified by "
            "its key alone (--public-key)",
            hint="verify it as Sigstore signs it: --trust-root trusted_root.json --identity "
            "SIGNER --issuer OIDC_ISSUER instead of --public-key",
        )
    hint = (material.get("publicKey") or {}).get("hint")
    pem_sha = hashlib.sha256(public_key_pem(public_key).encode()).hexdigest()
    if hint and hint != pem_sha:
        raise SignatureInvalid(
            "the bundle was signed with another key than --public-key",
            hint="pass the public key paired with the private key used by model_signing",
        )
    envelope = _field(bundle, "dsseEnvelope")
    payload_type = _field(envelope, "payloadType")
    signatures = _field(envelope, "signatures")
    try:
        payload = base64.b64decode(_field(envelope, "payload"), validate=True)
        sigs = [base64.b64decode(s["sig"], validate=True) for s in signatures]
    except (binascii.Error, ValueError, TypeError, KeyError):
        raise BundleInvalid("the bundle's envelope is not valid base64") from None
    if payload_type != PAYLOAD_TYPE:
        raise BundleInvalid(f"the bundle's payloadType is {payload_type!r}, not in-toto JSON")
    if not any(verify_signature(public_key, sig, pae(payload_type, payload)) for sig in sigs):
        raise SignatureInvalid(
            "the model-signing bundle's signature does not verify with --public-key",
            hint="the bundle was altered or signed with another key",
        )
    return read_manifest(payload)


def read_manifest(payload: bytes) -> ModelSigningManifest:
    """The file manifest of a verified model-signing payload (an in-toto Statement v1);
    raises :class:`BundleInvalid` for other predicates, pre-1.0 ones named as such."""
    try:
        statement = json.loads(payload)
    except ValueError:
        raise BundleInvalid("the signed payload is not JSON") from None
    if _field(statement, "_type") != STATEMENT_TYPE:
        raise BundleInvalid("the signed payload is not an in-toto Statement v1")
    if _field(statement, "predicateType") == PRE_1_0_PREDICATE:
        raise BundleInvalid(
            f"the bundle was made by model_signing before 1.0 (predicate {PRE_1_0_PREDICATE}), "
            "whose manifest provreg does not read",
            hint=f"re-sign with model_signing >= 1.0 ({MODEL_SIGNING_PREDICATE})",
        )
    if _field(statement, "predicateType") != MODEL_SIGNING_PREDICATE:
        raise BundleInvalid(
            f"unsupported model-signing predicate {statement['predicateType']!r}",
            hint=f"re-sign with model_signing >= 1.0 ({MODEL_SIGNING_PREDICATE})",
        )
    method = _field(statement, "predicate", "serialization", "method")
    if method != "files":
        raise BundleInvalid(
            f"model-signing serialisation {method!r} is not supported",
            hint="sign whole files (the default `model_signing sign key`), not shards",
        )
    subjects = _field(statement, "subject")
    if not isinstance(subjects, list) or len(subjects) != 1:
        raise BundleInvalid("a model-signing statement has exactly one subject")
    files: dict[str, str] = {}
    root = hashlib.sha256()
    for resource in _field(statement, "predicate", "resources"):
        if resource.get("algorithm") != "sha256":
            raise BundleInvalid(f"resource {resource.get('name')!r} is not hashed with sha256")
        digest = str(resource.get("digest", ""))
        try:
            root.update(bytes.fromhex(digest))
        except ValueError:
            raise BundleInvalid(
                f"resource {resource.get('name')!r} has a malformed digest"
            ) from None
        files[str(resource["name"])] = digest
    if root.hexdigest() != _field(subjects[0], "digest", "sha256"):
        raise BundleInvalid("the bundle's manifest does not hash to its subject digest")
    return ModelSigningManifest(model_name=str(subjects[0].get("name", "")), files=files)
