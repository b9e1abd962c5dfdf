"""The log on the database: roots, proofs from stored subtrees, one transaction with each event,
and an audit that catches a byte changed in any stored record."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519
from sqlalchemy import text
from sqlmodel import Session, select

from registry.db.models import LogLeaf, LogNode, Variant
from registry.errors import SignatureInvalid
from registry.services import register_variant
from registry.services.trust import keys as keys_service
from registry.services.trust import translog
from registry.services.trust.audit import audit_log
from registry.trust import merkle
from registry.trust.keys import public_key_pem
from tests.factories import variant_request
from tests.trust.test_merkle import ref_mth

pytestmark = pytest.mark.db


def _pem() -> str:
    return public_key_pem(ed25519.Ed25519PrivateKey.generate().public_key())


def _leaf_data(session: Session) -> list[bytes]:
    return [bytes(x.data) for x in session.exec(select(LogLeaf).order_by(LogLeaf.leaf_index))]


def test_stored_roots_and_proofs_match_rfc_9162_for_one_to_eight_leaves(session: Session) -> None:
    for n in range(1, 9):
        keys_service.add_key(session, "acme", _pem())
        leaves = _leaf_data(session)
        assert len(leaves) == n
        assert translog.root_at(session, n) == ref_mth(leaves)
        for size in range(1, n + 1):
            root = ref_mth(leaves[:size])
            assert translog.root_at(session, size) == root
            for index in range(size):
                p = translog.inclusion_proof(session, index, size)
                merkle.verify_inclusion(
                    index,
                    size,
                    merkle.leaf_hash(leaves[index]),
                    [bytes.fromhex(h) for h in p.hashes],
                    root,
                )
            for first in range(1, size + 1):
                c = translog.consistency_proof(session, first, size)
                merkle.verify_consistency(
                    first, size, [bytes.fromhex(h) for h in c.hashes], ref_mth(leaves[:first]), root
                )


def test_a_failed_registration_leaves_no_leaf_and_no_variant(session: Session) -> None:
    request = variant_request("acme/bad")
    request.signed_statement = '{"payload": "", "payloadType": "x", "signatures": []}'
    before = translog.tree_size(session)
    with pytest.raises(SignatureInvalid):
        register_variant(session, request)
    assert translog.tree_size(session) == before
    assert session.exec(select(Variant).where(Variant.name == "acme/bad")).first() is None
    assert session.exec(select(LogNode)).all() == []


def test_registration_logs_the_variant_and_each_declared_edge(session: Session) -> None:
    out = register_variant(
        session, variant_request("acme/c", parents={"acme/a": "finetune", "acme/b": "merge"})
    )
    kinds = [x.kind for x in session.exec(select(LogLeaf).order_by(LogLeaf.leaf_index))]
    assert kinds == [
        "variant.registered",
        "lineage.declared",
        "lineage.declared",
        "lineage.status",
        "lineage.status",
    ]
    assert out.log_index == 0 and out.signature is None
    assert audit_log(session).ok


def _sql(statement: str) -> Callable[[Session], None]:
    return lambda s: None if s.execute(text(statement)) else None


def _flip_leaf(index: int, column: str) -> Callable[[Session], None]:
    def tamper(s: Session) -> None:
        leaf = s.get(LogLeaf, index)
        assert leaf is not None
        value = bytearray(getattr(leaf, column))
        value[len(value) // 2] ^= 0x20
        setattr(leaf, column, bytes(value))
        s.add(leaf)

    return tamper


def _flip_node(level: int) -> Callable[[Session], None]:
    def tamper(s: Session) -> None:
        node = s.exec(select(LogNode).where(LogNode.level == level)).first()
        assert node is not None
        node.hash = bytes([node.hash[0] ^ 1]) + bytes(node.hash[1:])
        s.add(node)

    return tamper


def _swap_leaves(s: Session) -> None:  # through a free index: the key is unique
    s.execute(text("UPDATE log_leaf SET leaf_index = 99 WHERE leaf_index = 0"))
    s.execute(text("UPDATE log_leaf SET leaf_index = 0 WHERE leaf_index = 1"))
    s.execute(text("UPDATE log_leaf SET leaf_index = 1 WHERE leaf_index = 99"))


TAMPER: dict[str, Callable[[Session], None]] = {
    "variant digest": _sql(
        "UPDATE variant SET digest = 'sha256:" + "0" * 64 + "' WHERE name = 'acme/c'"
    ),
    "variant format": _sql("UPDATE variant SET format = 'gguf' WHERE name = 'acme/c'"),
    "file sha256": _sql("UPDATE variant_file SET sha256 = '" + "1" * 64 + "'"),
    "file size": _sql("UPDATE variant_file SET size = size + 1"),
    "file added": _sql(
        "INSERT INTO variant_file (variant_id, path, size, sha256) SELECT variant_id, 'x', 1, "
        "sha256 FROM variant_file"
    ),
    "tensor digest": _sql(
        "UPDATE tensor SET digest = 'blake3:00' WHERE id = (SELECT min(id) FROM tensor)"
    ),
    "edge relation": _sql("UPDATE lineage_edge SET relation = 'merge'"),
    "key pem": _sql("UPDATE signing_key SET public_key = replace(public_key, 'A', 'B')"),
    "key role": _sql("UPDATE signing_key SET role = 'evaluator'"),
    "key revoked silently": _sql("UPDATE signing_key SET revoked_at = created_at"),
    "leaf data": _flip_leaf(1, "data"),
    "leaf hash": _flip_leaf(0, "leaf_hash"),
    "leaf removed": _sql("DELETE FROM log_leaf WHERE leaf_index = 1"),
    "last leaf removed": _sql(
        "DELETE FROM log_leaf WHERE leaf_index = (SELECT max(leaf_index) FROM log_leaf)"
    ),
    "edge status flipped": _sql("UPDATE lineage_edge SET status = 'verified'"),
    "edge source changed": _sql("UPDATE lineage_edge SET source = 'detected'"),
    "edge inserted": _sql(
        "INSERT INTO lineage_edge (child_id, parent_id, relation, source, status, created_at, "
        "updated_at) SELECT parent_id, child_id, 'merge', 'declared', 'verified', created_at, "
        "updated_at FROM lineage_edge"
    ),
    "leaf reordered": _swap_leaves,
    "node changed": _flip_node(1),
    "leaf node changed": _flip_node(0),
    "node removed": _sql("DELETE FROM log_node WHERE level = 1"),
}


@pytest.mark.parametrize("what", sorted(TAMPER))
def test_audit_catches_a_changed_record(what: str, session_factory: Callable[[], Session]) -> None:
    with session_factory() as s:
        keys_service.add_key(s, "acme", _pem())
        register_variant(s, variant_request("acme/c", parents={"acme/a": "finetune"}))
        report = audit_log(s)
        assert report.ok, report.problems
        TAMPER[what](s)
        s.flush()
        s.expire_all()
        report = audit_log(s)
        assert not report.ok, what
        assert report.problems


def test_a_byte_flipped_in_a_stored_envelope_is_caught(session: Session) -> None:
    from registry.db.models import SignedStatement
    from registry.trust.statements import release_statement, sign_statement

    key = ed25519.Ed25519PrivateKey.generate()
    keys_service.add_key(session, "acme", public_key_pem(key.public_key()))
    request = variant_request("acme/s")
    request.signed_statement = sign_statement(release_statement(request, []), key)
    register_variant(session, request)
    assert audit_log(session).ok
    row = session.exec(select(SignedStatement)).one()
    data = bytearray(row.envelope)
    data[-3] ^= 0x01
    row.envelope = bytes(data)
    session.add(row)
    session.flush()
    problems = audit_log(session).problems
    assert [p.kind for p in problems] == ["record_changed"]
    assert hashlib.sha256(bytes(data)).hexdigest() not in problems[0].message


def test_a_log_written_at_leaf_version_1_still_verifies(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    from registry.services.trust import log_records

    monkeypatch.setattr(log_records, "LEAF_VERSION", 1)
    register_variant(session, variant_request("acme/old"))
    register_variant(session, variant_request("acme/old-child", parents={"acme/old": "finetune"}))
    monkeypatch.setattr(log_records, "LEAF_VERSION", 2)
    register_variant(session, variant_request("acme/new", parents={"acme/old": "finetune"}))
    versions = [json.loads(bytes(d))["v"] for d in _leaf_data(session)]
    assert 1 in versions and 2 in versions
    assert audit_log(session).ok
    # a version 1 variant leaf does not cover the stored description; a version 2 one does
    for name in ("acme/old", "acme/new"):
        variant = session.exec(select(Variant).where(Variant.name == name)).one()
        variant.architecture = "Tampered"
        session.add(variant)
    session.flush()
    messages = [p.message for p in audit_log(session).problems]
    assert len(messages) == 1 and "variant.registered" in messages[0]
