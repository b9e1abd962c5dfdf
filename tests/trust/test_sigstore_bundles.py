"""Keyless (Sigstore) model-signing bundles, verified offline against a trust root built here:
the signer is named only when every check passes, and each failure says which check."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from registry.errors import BundleInvalid, InvalidInput, SignatureInvalid
from registry.trust.openssf import verify_bundle
from registry.trust.sigstore_bundles import is_certificate_bundle, verify_keyless_bundle
from tests.trust.sigstore_fixture import SigstoreInstance, make_instance

GOLDEN = Path(__file__).resolve().parent / "golden"
ALICE = "alice@acme.example"
ISSUER = "https://accounts.acme.example"


def golden_payload() -> bytes:
    """The in-toto statement `model_signing` wrote for the golden files."""
    bundle = json.loads((GOLDEN / "model-signing-v1.sig").read_text())
    return base64.b64decode(bundle["dsseEnvelope"]["payload"])


@pytest.fixture(scope="module")
def sigstore() -> SigstoreInstance:
    return make_instance("acme-sigstore")


@pytest.fixture(scope="module")
def root(sigstore: SigstoreInstance) -> str:
    return json.dumps(sigstore.trusted_root())


@pytest.fixture(scope="module")
def bundle(sigstore: SigstoreInstance) -> str:
    return sigstore.sign_dsse(golden_payload(), identity=ALICE, issuer=ISSUER)


def test_a_keyless_bundle_names_its_signer_and_lists_the_files(bundle: str, root: str) -> None:
    assert is_certificate_bundle(bundle)
    manifest, signer = verify_keyless_bundle(bundle, root, identity=ALICE, issuer=ISSUER)
    assert signer.identity == ALICE and signer.issuer == ISSUER
    assert signer.trust_root_sha256.startswith("sha256:")
    assert sorted(manifest.files) == ["a.txt", "sub/b.bin"]


def test_a_uri_identity_as_workflows_sign(sigstore: SigstoreInstance, root: str) -> None:
    workflow = "https://github.com/acme/models/.github/workflows/release.yml@refs/heads/main"
    issuer = "https://token.actions.githubusercontent.com"
    bundle = sigstore.sign_dsse(golden_payload(), identity=workflow, issuer=issuer)
    _, signer = verify_keyless_bundle(bundle, root, identity=workflow, issuer=issuer)
    assert signer.identity == workflow


def test_another_identity_is_refused_naming_the_signer(bundle: str, root: str) -> None:
    with pytest.raises(SignatureInvalid) as info:
        verify_keyless_bundle(bundle, root, identity="mallory@acme.example", issuer=ISSUER)
    assert ALICE in info.value.message and "mallory@acme.example" in info.value.message


def test_another_issuer_is_refused_naming_the_issuer(bundle: str, root: str) -> None:
    with pytest.raises(SignatureInvalid) as info:
        verify_keyless_bundle(bundle, root, identity=ALICE, issuer="https://evil.example")
    assert ISSUER in info.value.message and "--issuer https://evil.example" in info.value.message


def test_a_bundle_from_another_sigstore_is_refused(root: str) -> None:
    other = make_instance("elsewhere")
    bundle = other.sign_dsse(golden_payload(), identity=ALICE, issuer=ISSUER)
    with pytest.raises(SignatureInvalid) as info:
        verify_keyless_bundle(bundle, root, identity=ALICE, issuer=ISSUER)
    assert "does not chain to a Fulcio CA of --trust-root" in info.value.message


def test_a_log_entry_from_another_rekor_is_refused(sigstore: SigstoreInstance, bundle: str) -> None:
    """The same Fulcio and CT log, but a Rekor key the trust root does not list."""
    root = sigstore.trusted_root()
    root["tlogs"] = make_instance("elsewhere").trusted_root()["tlogs"]
    with pytest.raises(SignatureInvalid) as info:
        verify_keyless_bundle(bundle, json.dumps(root), identity=ALICE, issuer=ISSUER)
    assert "transparency-log entry does not verify" in info.value.message


def test_a_tampered_payload_is_refused(bundle: str, root: str) -> None:
    doc = json.loads(bundle)
    statement = json.loads(base64.b64decode(doc["dsseEnvelope"]["payload"]))
    statement["predicate"]["resources"][0]["digest"] = "0" * 64
    doc["dsseEnvelope"]["payload"] = base64.b64encode(json.dumps(statement).encode()).decode()
    with pytest.raises(SignatureInvalid) as info:
        verify_keyless_bundle(json.dumps(doc), root, identity=ALICE, issuer=ISSUER)
    assert "DSSE signature does not verify" in info.value.message


def test_a_certificate_bundle_is_never_verified_by_its_leaf_key(bundle: str) -> None:
    """The leaf key does verify the DSSE signature; that alone proves nothing."""
    from cryptography import x509

    from registry.trust.keys import load_public_key

    raw = json.loads(bundle)["verificationMaterial"]["certificate"]["rawBytes"]
    leaf = x509.load_der_x509_certificate(base64.b64decode(raw))
    from cryptography.hazmat.primitives import serialization

    pem = leaf.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    with pytest.raises(BundleInvalid) as info:
        verify_bundle(bundle, load_public_key(pem.decode(), allow_ec=True))
    assert "never verified by its key alone" in info.value.message
    assert "--trust-root" in (info.value.hint or "")


def test_an_unusable_trust_root_is_named(bundle: str) -> None:
    with pytest.raises(InvalidInput) as info:
        verify_keyless_bundle(bundle, '{"mediaType": "nope"}', identity=ALICE, issuer=ISSUER)
    assert "--trust-root" in info.value.message
