"""Signed releases and claims on the database: who may sign, when, and only once."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519
from sqlmodel import Session, select

from registry.db.models import SignedStatement, Variant
from registry.errors import (
    BundleInvalid,
    FilesMismatch,
    KeyExists,
    KeyRevoked,
    SignatureInvalid,
    StatementMismatch,
    StatementReplayed,
)
from registry.names import parse_ref
from registry.services import register_variant, show_variant
from registry.services.lineage.claims import claim_lineage
from registry.services.trust import keys as keys_service
from registry.services.trust import translog
from registry.services.trust.audit import audit_log
from registry.services.trust.signatures import attach_bundle, get_release_statement
from registry.services.variants.register import get_variant
from registry.trust.keys import public_key_pem
from registry.trust.statements import release_statement, sign_statement
from schemas import FileDigest, VariantCreate
from schemas.statements import LineagePredicate, LineageStatement, ParentClaim, Subject
from tests.factories import variant_request

pytestmark = pytest.mark.db
GOLDEN = Path(__file__).resolve().parents[1] / "trust" / "golden"


def _key(session: Session, namespace: str = "acme") -> ed25519.Ed25519PrivateKey:
    key = ed25519.Ed25519PrivateKey.generate()
    keys_service.add_key(session, namespace, public_key_pem(key.public_key()))
    return key


def _signed(name: str, key: ed25519.Ed25519PrivateKey, **kwargs: object) -> VariantCreate:
    request = variant_request(name, **kwargs)  # type: ignore[arg-type]
    parents = [
        ParentClaim(name=str(parse_ref(p.name)), relation=p.relation) for p in request.parents
    ]
    request.signed_statement = sign_statement(release_statement(request, parents), key)
    return request


def test_signed_registration_is_stored_byte_for_byte(session: Session) -> None:
    key = _key(session)
    request = _signed("acme/chat", key, parents={"acme/base": "finetune"})
    out = register_variant(session, request)
    assert out.signature is not None and out.signature.log_index == out.log_index
    stored = get_release_statement(session, get_variant(session, parse_ref("acme/chat")))
    assert stored.envelope == request.signed_statement
    assert show_variant(session, parse_ref("acme/chat")).signature == out.signature
    unsigned = register_variant(session, variant_request("acme/plain"))
    assert unsigned.signature is None and unsigned.log_index is not None


def test_a_reposted_release_with_a_bad_signature_is_refused_not_unchanged(
    session: Session,
) -> None:
    key = _key(session)
    request = _signed("acme/chat", key)
    register_variant(session, request)
    assert register_variant(session, request).created is False  # the same envelope: unchanged
    stranger = _signed("acme/chat", ed25519.Ed25519PrivateKey.generate())
    with pytest.raises(SignatureInvalid):
        register_variant(session, stranger)
    envelope = json.loads(request.signed_statement or "")
    envelope["signatures"][0]["sig"] = base64.b64encode(b"\0" * 64).decode()
    tampered = variant_request("acme/chat")
    tampered.signed_statement = json.dumps(envelope)
    with pytest.raises(SignatureInvalid):
        register_variant(session, tampered)
    # a fresh, valid statement for the same release is accepted as unchanged and not stored
    assert register_variant(session, _signed("acme/chat", key)).created is False
    stored = get_release_statement(session, get_variant(session, parse_ref("acme/chat")))
    assert stored.envelope == request.signed_statement


def test_forged_and_foreign_signatures_are_refused(session: Session) -> None:
    _key(session)
    stranger = ed25519.Ed25519PrivateKey.generate()
    with pytest.raises(SignatureInvalid):
        register_variant(session, _signed("acme/a", stranger))
    other_ns = _key(session, "other")
    with pytest.raises(SignatureInvalid):
        register_variant(session, _signed("acme/a", other_ns))
    key = _key(session)
    request = _signed("acme/a", key)
    envelope = json.loads(request.signed_statement or "")
    sig = bytearray(base64.b64decode(envelope["signatures"][0]["sig"]))
    sig[0] ^= 1
    envelope["signatures"][0]["sig"] = base64.b64encode(bytes(sig)).decode()
    request.signed_statement = json.dumps(envelope)
    with pytest.raises(SignatureInvalid):
        register_variant(session, request)
    with pytest.raises(SignatureInvalid, match="no active publisher key"):
        register_variant(session, _signed("nobody/a", key))
    assert session.exec(select(Variant).where(Variant.name == "acme/a")).first() is None


def test_statement_must_match_the_registration(session: Session) -> None:
    key = _key(session)
    request = _signed("acme/a", key)
    request.fingerprint.files.append(FileDigest(path="extra.json", size=1, sha256="0" * 64))
    with pytest.raises(StatementMismatch):
        register_variant(session, request)
    request = _signed("acme/a", key, parents={"acme/base": "finetune"})
    request.parents = []
    with pytest.raises(StatementMismatch, match="parents"):
        register_variant(session, request)


def test_replayed_statements_are_refused(session: Session) -> None:
    key = _key(session)
    first = _signed("acme/a", key)
    register_variant(session, first)
    replay = variant_request("acme/b")
    replay.signed_statement = first.signed_statement
    with pytest.raises(StatementReplayed):
        register_variant(session, replay)


def test_revoked_keys_sign_nothing_new_but_old_signatures_stand(session: Session) -> None:
    key = _key(session)
    out = register_variant(session, _signed("acme/old", key))
    kid = out.signature.key_id  # type: ignore[union-attr]
    revoked = keys_service.revoke_key(session, kid)
    assert not revoked.active and revoked.revoked_log_index is not None
    with pytest.raises(KeyRevoked):
        register_variant(session, _signed("acme/new", key))
    assert keys_service.valid_at(revoked, out.log_index or 0)
    assert not keys_service.valid_at(revoked, revoked.revoked_log_index + 1)
    assert not keys_service.valid_at(revoked, revoked.added_log_index or 0)
    with pytest.raises(KeyExists):
        keys_service.add_key(session, "acme", revoked.public_key)
    assert audit_log(session).ok


def _claim(child: str, digest: str, parent: str, key: ed25519.Ed25519PrivateKey) -> str:
    statement = LineageStatement(
        subject=[Subject(name=child, digest={"sha256": digest.removeprefix("sha256:")})],
        predicate=LineagePredicate(
            child=child, child_digest=digest, parent=parent, relation="finetune"
        ),
    )
    return sign_statement(statement, key)


def test_signed_lineage_claims_declare_edges_once(session: Session) -> None:
    key = _key(session)
    child = register_variant(session, variant_request("acme/child"))
    envelope = _claim("acme/child@main", child.digest or "", "acme/base@main", key)
    out = claim_lineage(session, envelope)
    assert translog.get_entry(session, out.log_index or 0).kind == "lineage.claimed"
    # the new edge's state follows as its own event
    assert translog.get_entry(session, translog.tree_size(session) - 1).kind == "lineage.status"
    edges = show_variant(session, parse_ref("acme/child")).lineage
    assert [(e.parent, e.source) for e in edges] == [("acme/base@main", "declared")]
    with pytest.raises(StatementReplayed):
        claim_lineage(session, envelope)
    stranger = ed25519.Ed25519PrivateKey.generate()
    with pytest.raises(SignatureInvalid):
        claim_lineage(session, _claim("acme/child@main", child.digest or "", "acme/x", stranger))
    wrong = "sha256:" + "0" * 64
    with pytest.raises(StatementMismatch):
        claim_lineage(session, _claim("acme/child@main", wrong, "acme/y@main", key))
    assert session.exec(select(SignedStatement)).all()[0].kind == "lineage"
    assert audit_log(session).ok


def golden_bundle_files() -> list[FileDigest]:
    """The files the golden OpenSSF model-signing bundle signs."""
    files_dir = GOLDEN / "model-signing-v1-files"
    return [
        FileDigest(
            path=p.relative_to(files_dir).as_posix(),
            size=p.stat().st_size,
            sha256=hashlib.sha256(p.read_bytes()).hexdigest(),
        )
        for p in sorted(files_dir.rglob("*"))
        if p.is_file()
    ]


def test_model_signing_bundles_are_checked_against_registered_files(session: Session) -> None:
    request = variant_request("acme/signed")
    request.fingerprint.files = golden_bundle_files()
    register_variant(session, request)
    variant = get_variant(session, parse_ref("acme/signed"))
    bundle = (GOLDEN / "model-signing-v1.sig").read_text()
    pem = (GOLDEN / "model-signing-v1.pub").read_text()
    out = attach_bundle(session, variant, bundle, pem)
    assert out.files_checked == 2 and not out.key_registered and out.log_index is not None
    keys_service.add_key(session, "acme", pem)  # the namespace registers its ECDSA key
    again = attach_bundle(session, variant, bundle, pem)
    assert again.log_index == out.log_index and again.key_registered
    other = variant_request("acme/other")
    register_variant(session, other)
    with pytest.raises(FilesMismatch):
        attach_bundle(session, get_variant(session, parse_ref("acme/other")), bundle, pem)
    assert audit_log(session).ok


def _single_file(session: Session, name: str) -> Variant:
    path = GOLDEN / "model-signing-v1-single-file" / "weights.gguf"
    request = variant_request(name)
    request.fingerprint.files = [
        FileDigest(
            path=path.name,
            size=path.stat().st_size,
            sha256=hashlib.sha256(path.read_bytes()).hexdigest(),
        )
    ]
    register_variant(session, request)
    return get_variant(session, parse_ref(name))


def test_a_bundle_over_a_single_file_attaches_to_a_single_file_variant(session: Session) -> None:
    """model_signing names the one resource "." when it signs a file rather than a folder."""
    bundle = (GOLDEN / "model-signing-v1-single-file.sig").read_text()
    pem = (GOLDEN / "model-signing-v1-single-file.pub").read_text()
    out = attach_bundle(session, _single_file(session, "acme/one-file"), bundle, pem)
    assert out.files_checked == 1 and out.unregistered_files == []
    # the same bundle does not fit a variant whose one file is another
    other = variant_request("acme/other-file")
    other.fingerprint.files = [FileDigest(path="weights.gguf", size=1, sha256="0" * 64)]
    register_variant(session, other)
    with pytest.raises(FilesMismatch):
        attach_bundle(session, get_variant(session, parse_ref("acme/other-file")), bundle, pem)


def test_a_certificate_bundle_is_never_verified_by_its_leaf_key(session: Session) -> None:
    """A bundle from `model_signing sign certificate`: the leaf's public key does verify the
    DSSE signature, but without a trusted root and an identity that proves nothing."""
    bundle = (GOLDEN / "model-signing-v1-certificate.sig").read_text()
    leaf_pem = (GOLDEN / "model-signing-v1-certificate.pub").read_text()
    with pytest.raises(BundleInvalid) as info:
        attach_bundle(session, _single_file(session, "acme/cert-signed"), bundle, leaf_pem)
    assert "certificate" in info.value.message


def test_pre_1_0_model_signing_bundles_are_refused_with_the_reason(session: Session) -> None:
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    from registry.trust.dsse import pae

    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    statement = {
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{"name": "weights.gguf", "digest": {"sha256": "0" * 64}}],
        "predicateType": "https://model_signing/Digests/v0.1",
        "predicate": {"unused": "0.2 layout"},
    }
    payload = json.dumps(statement).encode()
    ptype = "application/vnd.in-toto+json"
    sig = key.sign(pae(ptype, payload), ec.ECDSA(hashes.SHA256()))
    bundle = json.dumps(
        {
            "mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
            "verificationMaterial": {"publicKey": {}},
            "dsseEnvelope": {
                "payload": base64.b64encode(payload).decode(),
                "payloadType": ptype,
                "signatures": [{"sig": base64.b64encode(sig).decode()}],
            },
        }
    )
    with pytest.raises(BundleInvalid) as info:
        attach_bundle(session, _single_file(session, "acme/old"), bundle, pem.decode())
    assert "before 1.0" in info.value.message
