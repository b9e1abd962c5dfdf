"""The library verifier: every step named in its report, failures kept, pinning under home."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from sqlmodel import Session

from cli.signing import sign_release
from registry.api.local import local_client
from registry.config import Settings
from registry.errors import FilesMismatch, SignatureInvalid
from registry.names import parse_ref
from registry.trust.keys import generate_private_key, public_key_pem
from registry.trust.verifier import STEPS, Verifier
from schemas import KeyCreate
from tests.factories import variant_request

pytestmark = pytest.mark.db


def test_verifier_reports_each_step_and_pins_the_checkpoint(
    settings: Settings, session_factory: Callable[[], Session], tmp_path: Path
) -> None:
    registry = local_client(settings, session_factory)
    key = generate_private_key()
    pem = public_key_pem(key.public_key())
    registry.add_key(KeyCreate(namespace="acme", public_key=pem, role="publisher"))
    request = variant_request("acme/base")
    request.signed_statement = sign_release(request, key)
    registry.register(request)
    registry.register(variant_request("acme/plain"))

    verifier = Verifier(registry, tmp_path / "client-home")
    first = verifier.verify(parse_ref("acme/base"))
    assert first.ok and first.report.verified and first.report.trust_on_first_use
    assert [c.check for c in first.report.checks] == list(STEPS[:-1])
    first.raise_for_failure()  # nothing to raise
    assert list((tmp_path / "client-home" / "checkpoints").glob("*.json"))

    again = verifier.verify(parse_ref("acme/base"), path=tmp_path)
    assert not again.report.trust_on_first_use
    assert [c.check for c in again.report.checks] == list(STEPS)
    failed = [c.check for c in again.report.checks if not c.ok]
    assert failed == ["files"] and not again.report.verified
    with pytest.raises(FilesMismatch) as caught:
        again.raise_for_failure()
    assert "model.safetensors missing" in caught.value.message
    assert caught.value.detail["report"]["verified"] is False

    unsigned = verifier.verify(parse_ref("acme/plain"))
    assert isinstance(unsigned.failures[0], SignatureInvalid)
    assert verifier.verify(parse_ref("acme/plain"), allow_unsigned=True).ok
