"""attach-signature with a keyless (Sigstore) model-signing bundle, locally and over HTTP: the
statement is the one `model_signing` writes for the registered directory, signed by a Sigstore
built offline; the signer is recorded and shown by show and verify."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from tests.cli.conftest import CliRunner
from tests.factories import tiny_tensors, write_model
from tests.trust.sigstore_fixture import make_instance

ALICE = "alice@acme.example"
ISSUER = "https://accounts.acme.example"


def _one_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def _model_signing_statement(model: Path, tmp_path: Path) -> bytes:
    """The in-toto statement `model_signing` writes for ``model`` (signed by a throwaway key,
    which is dropped: the statement is what a keyless signature signs too)."""
    pytest.importorskip("model_signing")
    key = tmp_path / "throwaway.pem"
    key.write_bytes(
        ec.generate_private_key(ec.SECP256R1()).private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    out = tmp_path / "by-key.sig"
    subprocess.run(
        [sys.executable, "-m", "model_signing", "sign", "key", str(model),
         "--private_key", str(key), "--signature", str(out)],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return base64.b64decode(json.loads(out.read_text())["dsseEnvelope"]["payload"])


@pytest.fixture(scope="module")
def signed_model(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """A model, its keyless bundle signed as alice, and the trust root (made once)."""
    tmp_path = tmp_path_factory.mktemp("keyless")
    model = write_model(tmp_path / "m", tiny_tensors(5))
    sigstore = make_instance("acme-sigstore")
    bundle = tmp_path / "model.sig"
    bundle.write_text(
        sigstore.sign_dsse(_model_signing_statement(model, tmp_path), identity=ALICE, issuer=ISSUER)
    )
    return model, bundle, sigstore.write_trusted_root(tmp_path / "trusted_root.json")


@pytest.fixture
def keyless(provreg: CliRunner, signed_model: tuple[Path, Path, Path]) -> tuple[Path, Path]:
    """acme/m registered from the signed model; its bundle and trust root."""
    model, bundle, root = signed_model
    assert provreg("register", model, "--name", "acme/m").code == 0
    return bundle, root


def test_a_keyless_bundle_records_its_signer(
    provreg: CliRunner, keyless: tuple[Path, Path]
) -> None:
    bundle, root = keyless
    args = ["--trust-root", root, "--identity", ALICE, "--issuer", ISSUER]
    r = provreg("attach-signature", "acme/m", bundle, *args, "--json")
    assert r.code == 0, r.err
    out = r.json()
    assert out["kind"] == "openssf-model-signing-sigstore"
    assert out["signer"]["identity"] == ALICE and out["signer"]["issuer"] == ISSUER
    assert out["signer"]["trust_root_sha256"].startswith("sha256:")
    r = provreg("attach-signature", "acme/m", bundle, *args)
    assert r.code == 0 and ALICE in r.out and ISSUER in r.out
    shown = provreg("show", "acme/m", "--json").json()
    assert [a["signer"]["identity"] for a in shown["attached_signatures"]] == [ALICE]
    assert ALICE in provreg("show", "acme/m").out
    r = provreg("verify", "acme/m", "--allow-unsigned", "--json")
    assert r.code == 0, r.err
    assert r.json()["attached_signatures"][0]["signer"]["issuer"] == ISSUER
    assert ALICE in provreg("verify", "acme/m", "--allow-unsigned").out
    assert provreg("audit").code == 0


def test_a_keyless_bundle_is_refused_for_another_signer_or_root(
    provreg: CliRunner, keyless: tuple[Path, Path], tmp_path: Path
) -> None:
    bundle, root = keyless
    r = provreg(
        "attach-signature", "acme/m", bundle,
        "--trust-root", root, "--identity", "mallory@acme.example", "--issuer", ISSUER,
    )  # fmt: skip
    assert r.code == 1 and f"signed by {ALICE}" in _one_line(r.err)
    r = provreg(
        "attach-signature", "acme/m", bundle,
        "--trust-root", root, "--identity", ALICE, "--issuer", "https://evil.example",
    )  # fmt: skip
    assert r.code == 1 and "--issuer https://evil.example" in _one_line(r.err)
    other = make_instance("elsewhere").write_trusted_root(tmp_path / "other_root.json")
    r = provreg(
        "attach-signature", "acme/m", bundle,
        "--trust-root", other, "--identity", ALICE, "--issuer", ISSUER,
    )  # fmt: skip
    assert r.code == 1 and "Fulcio CA of --trust-root" in _one_line(r.err)
    r = provreg("attach-signature", "acme/m", bundle, "--trust-root", root, "--identity", ALICE)
    assert r.code == 1 and "missing --issuer" in _one_line(r.err)
    r = provreg("attach-signature", "acme/m", bundle)
    assert r.code == 1 and "--public-key" in _one_line(r.err) and "--trust-root" in r.err
    assert provreg("show", "acme/m", "--json").json()["attached_signatures"] == []


def test_a_certificate_bundle_with_a_public_key_is_refused(
    provreg: CliRunner, keyless: tuple[Path, Path], tmp_path: Path
) -> None:
    """Its leaf key does verify the signature, and proves nothing about who signed."""
    from cryptography import x509

    bundle, _ = keyless
    raw = json.loads(bundle.read_text())["verificationMaterial"]["certificate"]["rawBytes"]
    leaf = x509.load_der_x509_certificate(base64.b64decode(raw)).public_key()
    pem = tmp_path / "leaf.pub"
    pem.write_bytes(
        leaf.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    r = provreg("attach-signature", "acme/m", bundle, "--public-key", pem)
    assert r.code == 1
    message = _one_line(r.err)
    assert "never verified by its key alone" in message and "--trust-root" in message
    assert provreg("show", "acme/m", "--json").json()["attached_signatures"] == []


def test_a_tampered_keyless_bundle_is_refused(
    provreg: CliRunner, keyless: tuple[Path, Path], tmp_path: Path
) -> None:
    bundle, root = keyless
    doc = json.loads(bundle.read_text())
    statement = json.loads(base64.b64decode(doc["dsseEnvelope"]["payload"]))
    statement["subject"][0]["name"] = "someone-else"
    doc["dsseEnvelope"]["payload"] = base64.b64encode(json.dumps(statement).encode()).decode()
    tampered = tmp_path / "tampered.sig"
    tampered.write_text(json.dumps(doc))
    r = provreg(
        "attach-signature", "acme/m", tampered,
        "--trust-root", root, "--identity", ALICE, "--issuer", ISSUER,
    )  # fmt: skip
    assert r.code == 1 and "DSSE signature does not verify" in _one_line(r.err)
