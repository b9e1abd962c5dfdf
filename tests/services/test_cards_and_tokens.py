"""Model cards' declared parents, and token scopes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlmodel import Session

from registry.errors import (
    InvalidInput,
    ModelCardInvalid,
    PermissionDenied,
    TokenInvalid,
    TokenMissing,
)
from registry.services import (
    authenticate,
    create_token,
    declared_parents_from_card,
    require_publish,
)


def _card(tmp_path: Path, front: str) -> Path:
    path = tmp_path / "README.md"
    path.write_text(f"---\n{front}\n---\n\n# A model\n", encoding="utf-8")
    return path


def test_card_with_one_base_model(tmp_path: Path) -> None:
    parents = declared_parents_from_card(_card(tmp_path, "base_model: acme/base\nlicense: mit"))
    assert [(p.name, p.relation) for p in parents] == [("acme/base", "finetune")]


def test_card_with_a_list_and_a_relation(tmp_path: Path) -> None:
    card = _card(tmp_path, "base_model:\n- acme/a\n- acme/b\nbase_model_relation: merge")
    assert [(p.name, p.relation) for p in declared_parents_from_card(card)] == [
        ("acme/a", "merge"),
        ("acme/b", "merge"),
    ]
    card = _card(tmp_path, "base_model: [acme/a, acme/b]")
    assert {p.relation for p in declared_parents_from_card(card)} == {"merge"}
    card = _card(tmp_path, "base_model: acme/a\nbase_model_relation: quantized")
    assert declared_parents_from_card(card)[0].relation == "quantized"


def test_card_without_metadata_declares_nothing(tmp_path: Path) -> None:
    path = tmp_path / "README.md"
    path.write_text("# just prose\n")
    assert declared_parents_from_card(path) == []


@pytest.mark.parametrize(
    ("front", "fault"),
    [
        ("base_model: [acme/a\nlicense: x", "not valid YAML"),
        ("- just\n- a list", "not a mapping"),
        ("base_model: 42", "base_model"),
        ("base_model: acme/a\nbase_model_relation: cousin", "base_model_relation"),
    ],
)
def test_bad_cards_name_the_fault(tmp_path: Path, front: str, fault: str) -> None:
    with pytest.raises(ModelCardInvalid) as err:
        declared_parents_from_card(_card(tmp_path, front))
    assert fault in err.value.message and "README.md" in err.value.message


def test_missing_card(tmp_path: Path) -> None:
    with pytest.raises(ModelCardInvalid):
        declared_parents_from_card(tmp_path / "nope.md")


def test_tokens_are_hashed_scoped_and_expire(session: Session) -> None:
    secret, row = create_token(session, "publish", namespace="acme")
    assert secret.startswith("provreg_") and secret not in row.secret_sha256
    assert authenticate(session, secret).scope == "publish:acme"
    require_publish(row, "acme")
    with pytest.raises(PermissionDenied):
        require_publish(row, "other")
    with pytest.raises(TokenMissing):
        authenticate(session, None)
    with pytest.raises(TokenInvalid):
        authenticate(session, secret[:-1] + ("A" if secret[-1] != "A" else "B"))
    row.expires_at = datetime.now(UTC) - timedelta(seconds=1)
    session.add(row)
    session.commit()
    with pytest.raises(TokenInvalid, match="expired"):
        authenticate(session, secret)


def test_scope_validation(session: Session) -> None:
    assert create_token(session, "publish:beta")[1].scope == "publish:beta"
    for scope, ns in [("publish", None), ("root", None), ("admin", "acme"), ("publish:", None)]:
        with pytest.raises(InvalidInput):
            create_token(session, scope, namespace=ns)
