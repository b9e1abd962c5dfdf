"""Keys, signed registration, verify, audit, log and attach-signature through the CLI, locally
and over HTTP."""

from __future__ import annotations

import stat
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import text
from sqlmodel import Session

from tests.cli.conftest import CliRunner
from tests.factories import tiny_tensors, write_model


def _one_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


def _publisher(provreg: CliRunner, tmp_path: Path) -> Path:
    key = tmp_path / "acme.key"
    r = provreg("keys", "generate", "--out", key, "--json")
    assert r.code == 0, r.err
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert len(r.json()["key_id"]) == 64
    r = provreg("keys", "add", "acme", f"{key}.pub", "--json")
    assert r.code == 0, r.err
    assert r.json()["active"] is True and r.json()["namespace"] == "acme"
    return key


def test_signed_release_verifies_with_files(provreg: CliRunner, tmp_path: Path) -> None:
    key = _publisher(provreg, tmp_path)
    model = write_model(tmp_path / "base", tiny_tensors(1))
    r = provreg("register", model, "--name", "acme/base", "--sign", key, "--json")
    assert r.code == 0, r.err
    doc = r.json()
    assert doc["signature"]["log_index"] == doc["log_index"]
    assert set(doc["signature"]) == {"key_id", "signed_at", "log_index"}
    r = provreg("verify", "acme/base", "--path", model, "--json")
    assert r.code == 0, r.err
    report = r.json()
    assert report["verified"] and report["trust_on_first_use"]
    assert {c["check"] for c in report["checks"]} == {
        "signature",
        "log_entry",
        "checkpoint",
        "inclusion",
        "consistency",
        "files",
    }
    again = provreg("verify", "acme/base", "--json").json()
    assert not again["trust_on_first_use"]
    (model / "config.json").write_text('{"changed": true}')
    r = provreg("verify", "acme/base", "--path", model)
    assert r.code == 1
    assert "files" in _one_line(r.err) and "config.json differs" in r.err


def test_unsigned_release_is_shown_and_verify_says_so(provreg: CliRunner, tmp_path: Path) -> None:
    model = write_model(tmp_path / "plain", tiny_tensors(2))
    doc = provreg("register", model, "--name", "acme/plain", "--json").json()
    assert doc["signature"] is None
    assert "unsigned" in provreg("show", "acme/plain").out
    r = provreg("verify", "acme/plain")
    assert r.code == 1 and "registered unsigned" in _one_line(r.err)
    r = provreg("verify", "acme/plain", "--allow-unsigned", "--json")
    assert r.code == 0 and r.json()["verified"]


def test_revoked_key_cannot_sign_and_bad_key_files_fail_cleanly(
    provreg: CliRunner, tmp_path: Path
) -> None:
    key = _publisher(provreg, tmp_path)
    model = write_model(tmp_path / "m", tiny_tensors(3))
    doc = provreg(
        "register", model, "--name", "acme/m", "--revision", "v1", "--sign", key, "--json"
    ).json()
    r = provreg("keys", "revoke", doc["signature"]["key_id"], "--json")
    assert r.code == 0 and r.json()["active"] is False
    r = provreg("register", model, "--name", "acme/m", "--revision", "v2", "--sign", key)
    assert r.code == 1 and "revoked" in _one_line(r.err)
    assert provreg("verify", "acme/m@v1").code == 0  # signed before the revocation
    (tmp_path / "junk.key").write_text("not a key")
    r = provreg("register", model, "--name", "acme/m", "--sign", tmp_path / "junk.key")
    assert r.code == 1 and "hint" in _one_line(r.err)
    r = provreg("keys", "generate", "--out", key)
    assert r.code == 1 and "already exists" in _one_line(r.err)


def test_audit_names_tampering_and_log_commands(
    provreg: CliRunner, tmp_path: Path, session: Session
) -> None:
    key = _publisher(provreg, tmp_path)
    model = write_model(tmp_path / "a", tiny_tensors(4))
    assert provreg("register", model, "--name", "acme/a", "--sign", key).code == 0
    r = provreg("audit", "--json")
    assert r.code == 0, r.err
    assert r.json()["ok"] and r.json()["leaves_checked"] == 2
    cp = provreg("log", "checkpoint", "--json").json()
    assert cp["tree_size"] == 2 and cp["note"].count("\n") == 5
    prove = provreg("log", "prove", "1", "--json").json()
    assert prove["verified"] and prove["entry"]["kind"] == "variant.registered"
    model2 = write_model(tmp_path / "b", tiny_tensors(5))
    assert provreg("register", model2, "--name", "acme/b").code == 0
    cons = provreg("log", "consistency", "--from", "2", "--json").json()
    assert cons["second"] == 3 and cons["verified_against_seen_root"]
    session.execute(text("UPDATE variant_file SET size = size + 1 WHERE path = 'config.json'"))
    session.flush()
    r = provreg("audit")
    assert r.code == 1
    line = _one_line(r.err)
    assert "variant.registered" in line and "does not match the stored record" in line
    r = provreg("audit", "--json")
    assert r.json()["error"]["code"] == "audit_failed"


def test_a_rewritten_log_fails_consistency_with_what_the_client_saw(
    provreg: CliRunner, tmp_path: Path, session: Session
) -> None:
    model = write_model(tmp_path / "a", tiny_tensors(6))
    assert provreg("register", model, "--name", "acme/a").code == 0
    assert provreg("log", "checkpoint").code == 0  # pinned: 1 leaf
    # rewrite history consistently: a new leaf 0 with its node, as a dishonest server would
    from registry.db.models import LogLeaf, LogNode
    from registry.trust.merkle import leaf_hash

    leaf = session.get(LogLeaf, 0)
    node = session.get(LogNode, (0, 0))
    assert leaf is not None and node is not None
    leaf.data = bytes(leaf.data).replace(b"acme/a", b"acme/A")
    leaf.leaf_hash = node.hash = leaf_hash(leaf.data)
    session.add_all([leaf, node])
    session.flush()
    r = provreg("log", "checkpoint")
    assert r.code == 1 and "another root" in _one_line(r.err)
    r = provreg("verify", "acme/a", "--allow-unsigned")
    assert r.code == 1 and "consistency" in r.err


def test_attach_a_model_signing_bundle(provreg: CliRunner, tmp_path: Path) -> None:
    pytest.importorskip("model_signing")
    import subprocess
    import sys

    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    model = write_model(tmp_path / "m", tiny_tensors(7))
    doc = provreg("register", model, "--name", "acme/m", "--json").json()
    k = ec.generate_private_key(ec.SECP256R1())
    (tmp_path / "ec.pem").write_bytes(
        k.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    (tmp_path / "ec.pub").write_bytes(
        k.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    bundle = tmp_path / "model.sig"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "model_signing",
            "sign",
            "key",
            str(model),
            "--private_key",
            str(tmp_path / "ec.pem"),
            "--signature",
            str(bundle),
        ],
        check=True,
        capture_output=True,
    )
    r = provreg("attach-signature", "acme/m", bundle, "--public-key", tmp_path / "ec.pub", "--json")
    assert r.code == 0, r.err
    out = r.json()
    assert out["files_checked"] == len(doc["files"]) and out["log_index"] == 1
    r = provreg("attach-signature", "acme/m", bundle, "--public-key", tmp_path / "nope.pub")
    assert r.code == 1 and "cannot read" in _one_line(r.err)
    (model / "config.json").write_text("{}")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "model_signing",
            "sign",
            "key",
            str(model),
            "--private_key",
            str(tmp_path / "ec.pem"),
            "--signature",
            str(bundle),
        ],
        check=True,
        capture_output=True,
    )
    r = provreg("attach-signature", "acme/m", bundle, "--public-key", tmp_path / "ec.pub")
    assert r.code == 1 and "config.json" in _one_line(r.err)


def test_token_revoke(provreg: CliRunner, session: Session) -> None:
    from registry.services import create_token

    _secret, row = create_token(session, "evaluate")
    r = provreg("token", "revoke", row.token_id, "--json")
    assert r.code == 0, r.err
    assert r.json()["token_id"] == row.token_id and r.json()["revoked_at"]
    r = provreg("token", "revoke", "ffffffffffff")
    assert r.code == 1 and "no token" in _one_line(r.err)


def _audit_problems(provreg: CliRunner) -> list[str]:
    r = provreg("audit", "--json")
    assert r.code == 1, r.out
    return [p["message"] for p in r.json()["error"]["detail"]["report"]["problems"]]


def test_audit_checks_every_edge_against_its_logged_status_events(
    provreg: CliRunner, tmp_path: Path, session: Session
) -> None:
    base = tiny_tensors(21)
    chat = {k: v + 0.01 * np.sign(v) for k, v in base.items()}
    other = write_model(tmp_path / "other", tiny_tensors(22))
    # the child first, its parent later: the edge is kept by name, then filled in
    r = provreg(
        "register", write_model(tmp_path / "chat", chat), "--name", "acme/chat",
        "--parent", "acme/base", "--relation", "finetune",
    )  # fmt: skip
    assert r.code == 0, r.err
    assert (
        provreg("register", write_model(tmp_path / "base", base), "--name", "acme/base").code == 0
    )
    assert provreg("register", other, "--name", "acme/other").code == 0
    # the parent's weights arrived: the child's declared edge was checked and its new status
    # logged as an event of its own
    (edge,) = provreg("show", "acme/chat", "--json").json()["lineage"]
    assert (edge["source"], edge["status"]) == ("declared", "verified")
    events = [provreg("log", "prove", str(i), "--json").json()["entry"] for i in range(6)]
    statuses = [e["record"]["status"] for e in events if e["kind"] == "lineage.status"]
    assert statuses == ["unverified", "verified"]
    r = provreg("audit", "--json")
    assert r.code == 0, r.err
    session.execute(
        text(
            "INSERT INTO lineage_edge (child_id, parent_id, relation, source, status, created_at,"
            " updated_at) SELECT o.id, b.id, 'finetune', 'declared', 'verified', b.created_at,"
            " b.created_at FROM variant o, variant b"
            " WHERE o.name = 'acme/other' AND b.name = 'acme/base'"
        )
    )
    session.flush()
    problems = _audit_problems(provreg)
    assert any("acme/other@main -> acme/base@main" in p and "not in the log" in p for p in problems)
    assert any(p.startswith("lineage.declared #") for p in problems)
    session.execute(
        text(
            "DELETE FROM lineage_edge WHERE relation = 'finetune' AND status = 'verified'"
            " AND child_id = (SELECT id FROM variant WHERE name = 'acme/other')"
        )
    )
    session.execute(
        text(
            "UPDATE lineage_edge SET status = 'disputed'"
            " WHERE child_id = (SELECT id FROM variant WHERE name = 'acme/chat')"
        )
    )
    session.flush()
    (problem,) = _audit_problems(provreg)
    assert "acme/chat@main -> acme/base@main" in problem and "status disputed" in problem


def test_verify_names_a_missing_path_and_times_say_utc(provreg: CliRunner, tmp_path: Path) -> None:
    key = _publisher(provreg, tmp_path)
    model = write_model(tmp_path / "m", tiny_tensors(41))
    assert provreg("register", model, "--name", "acme/m", "--sign", key).code == 0
    r = provreg("verify", "acme/m", "--path", tmp_path / "nonexistent")
    assert r.code == 1
    assert f"--path {tmp_path / 'nonexistent'} does not exist" in _one_line(r.err)
    r = provreg("verify", "acme/m", "--path", model / "model.safetensors", "--json")
    assert r.code == 0, r.err  # a file: its directory's files are checked
    # read back from the database (SQLite keeps no zone), times still say they are UTC
    doc = provreg("show", "acme/m", "--json").json()
    assert doc["signature"]["signed_at"].endswith("Z") and doc["created_at"].endswith("Z")
    r = provreg("advisory", "add", "acme/m", "--severity", "low", "--summary", "s", "--json")
    affected = provreg("advisory", "affected", str(r.json()["id"]), "--json").json()
    assert affected["advisory"]["created_at"].endswith("Z")


def test_init_logs_edges_stored_before_edge_states_were_logged(
    provreg: CliRunner, tmp_path: Path, session: Session
) -> None:
    assert (
        provreg("register", write_model(tmp_path / "a", tiny_tensors(51)), "--name", "acme/a").code
        == 0
    )
    assert (
        provreg("register", write_model(tmp_path / "b", tiny_tensors(52)), "--name", "acme/b").code
        == 0
    )
    # an edge as older versions stored it: no lineage.status event
    session.execute(
        text(
            "INSERT INTO lineage_edge (child_id, parent_id, relation, source, status, created_at,"
            " updated_at) SELECT b.id, a.id, 'finetune', 'detected', 'detected', b.created_at,"
            " b.created_at FROM variant a, variant b WHERE a.name = 'acme/a' AND b.name = 'acme/b'"
        )
    )
    session.flush()
    assert provreg("audit", "--json").code == 1
    r = provreg("init", "--json")
    assert r.code == 0, r.err
    assert r.json()["edge_states_logged"] == 1
    assert provreg("audit", "--json").code == 0
    assert provreg("init", "--json").json()["edge_states_logged"] == 0
    # a logged edge changed afterwards is not re-logged by init: the audit still names it
    session.execute(text("UPDATE lineage_edge SET status = 'verified'"))
    session.flush()
    assert provreg("init", "--json").json()["edge_states_logged"] == 0
    assert provreg("audit", "--json").code == 1
