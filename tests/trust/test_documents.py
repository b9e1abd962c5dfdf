"""Signed documents: DSSE PAE, release statements, golden files, model-signing."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519
from pydantic import BaseModel

from registry.errors import BundleInvalid, SignatureInvalid, StatementMismatch
from registry.trust.checkpoint import Checkpoint, parse_checkpoint, sign_checkpoint
from registry.trust.dsse import open_envelope, pae, sign_envelope
from registry.trust.keys import key_id, load_public_key
from registry.trust.openssf import verify_bundle
from registry.trust.statements import (
    STATEMENT_KINDS,
    check_release_matches,
    open_statement,
    release_statement,
    sign_statement,
    statement_bytes,
)
from schemas import VariantCreate
from schemas.evals import EvaluationStatement
from schemas.statements import (
    LineageCorrectionStatement,
    LineageStatement,
    ParentClaim,
    ReleaseStatement,
)
from tests.factories import variant_request

GOLDEN = Path(__file__).parent / "golden"


def test_pae_matches_the_dsse_spec_example() -> None:
    # https://github.com/secure-systems-lab/dsse/blob/master/protocol.md#test-vectors
    assert pae("http://example.com/HelloWorld", b"hello world") == (
        b"DSSEv1 29 http://example.com/HelloWorld 11 hello world"
    )


def test_envelopes_verify_only_with_the_signing_key() -> None:
    key, other = ed25519.Ed25519PrivateKey.generate(), ed25519.Ed25519PrivateKey.generate()
    text = sign_envelope(b'{"a":1}', key)
    kid, payload = open_envelope(text, {key_id(key.public_key()): key.public_key()})
    assert (kid, payload) == (key_id(key.public_key()), b'{"a":1}')
    with pytest.raises(SignatureInvalid):
        open_envelope(text, {key_id(other.public_key()): other.public_key()})
    forged = json.loads(text)
    forged["payload"] = base64.b64encode(b'{"a":2}').decode()
    with pytest.raises(SignatureInvalid):
        open_envelope(json.dumps(forged), {key_id(key.public_key()): key.public_key()})
    retyped = json.loads(text)
    retyped["payloadType"] = "text/plain"
    with pytest.raises(SignatureInvalid):
        open_envelope(json.dumps(retyped), {key_id(key.public_key()): key.public_key()})
    with pytest.raises(SignatureInvalid):
        open_envelope("not json", {key_id(key.public_key()): key.public_key()})


def test_golden_release_envelope_still_verifies_and_matches_its_request() -> None:
    envelope = (GOLDEN / "release-v1.dsse.json").read_text().strip()
    public = load_public_key((GOLDEN / "release-v1.pub").read_text())
    request = VariantCreate.model_validate_json((GOLDEN / "release-v1.request.json").read_text())
    kid, statement, _ = open_statement(envelope, {key_id(public): public}, ReleaseStatement)
    assert statement.predicate.name == "acme/golden"
    assert statement.predicate.sketch_digest is not None
    parents = [ParentClaim(name="acme/base@v1", relation="finetune")]
    check_release_matches(statement, request, parents)
    # the statement bytes are canonical: rebuilding it gives the signed payload exactly
    signed = base64.b64decode(json.loads(envelope)["payload"])
    rebuilt = release_statement(request, parents)
    assert json.loads(signed) == rebuilt.model_dump(mode="json", by_alias=True)
    assert json.loads(signed)["_type"] == "https://in-toto.io/Statement/v1"


def test_release_statement_mismatches_are_named() -> None:
    key = ed25519.Ed25519PrivateKey.generate()
    request = variant_request("acme/m")
    statement = release_statement(request, [])
    _, opened, _ = open_statement(
        sign_statement(statement, key),
        {key_id(key.public_key()): key.public_key()},
        ReleaseStatement,
    )
    other = variant_request("acme/m", seed="other weights")
    with pytest.raises(StatementMismatch, match="digest"):
        check_release_matches(opened, other, [])
    with pytest.raises(StatementMismatch, match="parents"):
        check_release_matches(opened, request, [ParentClaim(name="acme/x@main", relation="merge")])
    renamed = variant_request("acme/n", seed="acme/m@main")
    with pytest.raises(StatementMismatch, match="name"):
        check_release_matches(opened, renamed, [])


@pytest.mark.parametrize(
    ("stem", "model"),
    [
        ("lineage-v1", LineageStatement),
        ("evaluation-v1", EvaluationStatement),
        ("correction-v1", LineageCorrectionStatement),
    ],
)
def test_golden_statements_still_verify_and_parse(stem: str, model: type[BaseModel]) -> None:
    envelope = (GOLDEN / f"{stem}.dsse.json").read_text().strip()
    public = load_public_key((GOLDEN / f"{stem}.pub").read_text())
    kid, statement, payload_sha = open_statement(envelope, {key_id(public): public}, model)
    assert kid == key_id(public)
    signed = base64.b64decode(json.loads(envelope)["payload"])
    # today's model reads the old document and renders the very bytes that were signed
    assert statement_bytes(statement) == signed
    with pytest.raises(SignatureInvalid):
        other = ed25519.Ed25519PrivateKey.generate().public_key()
        open_statement(envelope, {key_id(other): other}, model)


def test_golden_documents_exist_for_every_statement_kind() -> None:
    for kind in STATEMENT_KINDS:
        assert (GOLDEN / f"{kind}-v1.dsse.json").is_file(), f"no golden {kind} statement"


def test_checkpoint_notes_verify_and_reject_tampering() -> None:
    key = ed25519.Ed25519PrivateKey.generate()
    cp = Checkpoint("example.org/log", 7, bytes(range(32)))
    note = sign_checkpoint(cp, key)
    assert note.splitlines()[:3] == [
        "example.org/log",
        "7",
        base64.b64encode(bytes(range(32))).decode(),
    ]
    assert note.splitlines()[4].startswith("\u2014 example.org/log ")
    assert parse_checkpoint(note, key.public_key(), "example.org/log") == cp
    with pytest.raises(SignatureInvalid):
        parse_checkpoint(note.replace("\n7\n", "\n8\n"), key.public_key(), "example.org/log")
    with pytest.raises(SignatureInvalid):
        parse_checkpoint(note, ed25519.Ed25519PrivateKey.generate().public_key(), "example.org/log")
    with pytest.raises(SignatureInvalid):
        parse_checkpoint(note, key.public_key(), "other.org/log")


def test_a_bad_signature_by_the_logs_key_rejects_the_note_whatever_else_verifies() -> None:
    """C2SP signed-note: a signature line by a known key that does not verify rejects the note,
    even beside a line by the same key that does; unknown keys' lines (witnesses) are ignored;
    a malformed signature line rejects the note."""
    key = ed25519.Ed25519PrivateKey.generate()
    origin = "example.org/log"
    cp = Checkpoint(origin, 7, bytes(range(32)))
    note = sign_checkpoint(cp, key)
    good_line = note.splitlines()[-1]
    blob = base64.b64decode(good_line.split(" ")[2])
    forged = blob[:4] + bytes(64)  # the log's key hash, a signature that does not verify
    bad_line = f"\u2014 {origin} {base64.b64encode(forged).decode()}"
    for lines in ([good_line, bad_line], [bad_line, good_line]):
        tampered = cp.body() + "\n" + "\n".join(lines) + "\n"
        with pytest.raises(SignatureInvalid) as info:
            parse_checkpoint(tampered, key.public_key(), origin)
        assert "does not verify" in info.value.message
    witness = ed25519.Ed25519PrivateKey.generate()
    witness_line = sign_checkpoint(Checkpoint("witness.example", 7, bytes(32)), witness)
    witnessed = note + witness_line.splitlines()[-1] + "\n"
    assert parse_checkpoint(witnessed, key.public_key(), origin) == cp
    for junk in ("not a signature line", "\u2014 example.org/log !!!notbase64"):
        with pytest.raises(SignatureInvalid):
            parse_checkpoint(note + junk + "\n", key.public_key(), origin)


def test_golden_model_signing_bundle_verifies_and_lists_files() -> None:
    bundle = (GOLDEN / "model-signing-v1.sig").read_text()
    public = load_public_key((GOLDEN / "model-signing-v1.pub").read_text(), allow_ec=True)
    manifest = verify_bundle(bundle, public)
    files = GOLDEN / "model-signing-v1-files"
    import hashlib

    assert manifest.files == {
        p.relative_to(files).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in files.rglob("*")
        if p.is_file()
    }
    other = ed25519.Ed25519PrivateKey.generate().public_key()
    with pytest.raises(SignatureInvalid):
        verify_bundle(bundle, other)
    doc = json.loads(bundle)
    payload = json.loads(base64.b64decode(doc["dsseEnvelope"]["payload"]))
    payload["predicate"]["resources"][0]["digest"] = "0" * 64
    doc["dsseEnvelope"]["payload"] = base64.b64encode(json.dumps(payload).encode()).decode()
    with pytest.raises(SignatureInvalid):
        verify_bundle(json.dumps(doc), public)
    with pytest.raises(BundleInvalid):
        verify_bundle("{}", public)
