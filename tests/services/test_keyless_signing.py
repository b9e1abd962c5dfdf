"""Keyless bundles on the database: the signer is stored, logged and audited; a certificate
bundle is never attached on its leaf key, nor a key-signed one on a Sigstore identity."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import text
from sqlmodel import Session

from registry.errors import BundleInvalid, InvalidInput
from registry.names import parse_ref
from registry.services import register_variant, show_variant
from registry.services.trust.audit import audit_log
from registry.services.trust.signatures import attach_bundle
from registry.services.variants.register import get_variant
from tests.factories import variant_request
from tests.services.test_signing import GOLDEN, golden_bundle_files
from tests.trust.sigstore_fixture import make_instance
from tests.trust.test_sigstore_bundles import ALICE, ISSUER, golden_payload

pytestmark = pytest.mark.db


def _signed_variant(session: Session) -> tuple[str, str]:
    """acme/signed with the golden files, and a keyless bundle of them with its trust root."""
    request = variant_request("acme/signed")
    request.fingerprint.files = golden_bundle_files()
    register_variant(session, request)
    sigstore = make_instance()
    bundle = sigstore.sign_dsse(golden_payload(), identity=ALICE, issuer=ISSUER)
    return bundle, json.dumps(sigstore.trusted_root())


def test_the_signer_is_stored_logged_and_audited(session: Session) -> None:
    bundle, root = _signed_variant(session)
    variant = get_variant(session, parse_ref("acme/signed"))
    out = attach_bundle(session, variant, bundle, trust_root=root, identity=ALICE, issuer=ISSUER)
    assert out.signer is not None and out.signer.identity == ALICE and out.files_checked == 2
    again = attach_bundle(session, variant, bundle, trust_root=root, identity=ALICE, issuer=ISSUER)
    assert again.log_index == out.log_index
    shown = show_variant(session, parse_ref("acme/signed"))
    assert [a.signer.identity for a in shown.attached_signatures if a.signer] == [ALICE]
    assert audit_log(session).ok
    # the signer is part of the logged record: rewriting it in the database is caught
    session.execute(text("UPDATE attached_signature SET signer_identity = 'mallory@acme.example'"))
    assert not audit_log(session).ok


def test_a_certificate_bundle_needs_a_root_and_a_signer_never_a_key(session: Session) -> None:
    bundle, root = _signed_variant(session)
    variant = get_variant(session, parse_ref("acme/signed"))
    pem = (GOLDEN / "model-signing-v1.pub").read_text()
    with pytest.raises(BundleInvalid) as info:
        attach_bundle(session, variant, bundle, pem, trust_root=root, identity=ALICE, issuer=ISSUER)
    assert "never verified by its key alone" in info.value.message
    with pytest.raises(InvalidInput) as missing:
        attach_bundle(session, variant, bundle, trust_root=root)
    assert "--identity, --issuer" in missing.value.message


def test_a_key_signed_bundle_takes_no_sigstore_identity(session: Session) -> None:
    _signed_variant(session)
    variant = get_variant(session, parse_ref("acme/signed"))
    bundle = (GOLDEN / "model-signing-v1.sig").read_text()
    with pytest.raises(InvalidInput) as info:
        attach_bundle(session, variant, bundle, identity=ALICE, issuer=ISSUER)
    assert "signed with a key" in info.value.message and "--public-key" in (info.value.hint or "")
