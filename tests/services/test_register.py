"""Registration rules: immutability, placeholders, declared lineage, cycles, atomicity."""

from __future__ import annotations

import pytest
from sqlmodel import Session, func, select

from registry.db.models import LineageEdge, Tensor, Variant, VariantFile
from registry.errors import (
    InvalidInput,
    InvalidName,
    LineageCycle,
    LineageNeedsDeclare,
    RevisionImmutable,
    VariantNotFound,
)
from registry.names import parse_ref
from registry.services import register_variant, show_variant
from tests.factories import variant_request


def _count(session: Session, table: type) -> int:
    return session.exec(select(func.count()).select_from(table)).one()


def test_register_then_show_round_trips(session: Session) -> None:
    out = register_variant(session, variant_request("acme/base"))
    assert out.created is True
    assert out.registered and out.digest and out.digest.startswith("sha256:")
    shown = show_variant(session, parse_ref("acme/base"))
    assert shown.digest == out.digest
    assert shown.tensor_count == 3
    assert [f.path for f in shown.files] == ["model.safetensors"]
    assert shown.architecture == "LlamaForCausalLM"


def test_same_digest_again_is_a_no_op(session: Session) -> None:
    register_variant(session, variant_request("acme/base"))
    again = register_variant(session, variant_request("acme/base"))
    assert again.created is False
    assert _count(session, Variant) == 1
    assert _count(session, Tensor) == 3


def test_registering_again_with_an_added_parent_is_an_error_naming_lineage_declare(
    session: Session,
) -> None:
    register_variant(session, variant_request("acme/ft", parents={"acme/base": "finetune"}))
    # the same parents again: unchanged
    again = register_variant(session, variant_request("acme/ft", parents={"acme/base": "finetune"}))
    assert again.created is False
    added = variant_request("acme/ft", parents={"acme/base": "finetune", "acme/other": "merge"})
    with pytest.raises(LineageNeedsDeclare) as err:
        register_variant(session, added)
    assert "lineage declare acme/ft@main --parent acme/other@main --relation merge" in (
        err.value.hint or ""
    )
    changed = variant_request("acme/ft", parents={"acme/base": "adapter"})
    with pytest.raises(LineageNeedsDeclare):
        register_variant(session, changed)
    edges = session.exec(select(LineageEdge)).all()
    assert [(e.relation, e.source) for e in edges] == [("finetune", "declared")]


def test_different_digest_for_a_registered_revision_is_refused(session: Session) -> None:
    register_variant(session, variant_request("acme/base", seed="one"))
    with pytest.raises(RevisionImmutable) as err:
        register_variant(session, variant_request("acme/base", seed="two"))
    assert "--revision" in (err.value.hint or "")
    # a new revision is fine
    register_variant(session, variant_request("acme/base", seed="two", revision="v2"))
    assert _count(session, Variant) == 2


def test_declared_parent_unknown_yet_becomes_a_placeholder(session: Session) -> None:
    out = register_variant(
        session, variant_request("acme/chat", parents={"meta/base@v1": "finetune"})
    )
    assert [(e.parent, e.relation, e.source, e.status) for e in out.lineage] == [
        ("meta/base@v1", "finetune", "declared", "unverified")
    ]
    placeholder = show_variant(session, parse_ref("meta/base@v1"))
    assert placeholder.registered is False and placeholder.digest is None
    assert [e.child for e in placeholder.children] == ["acme/chat@main"]
    # registering the placeholder later fills it in and keeps the edge
    filled = register_variant(session, variant_request("meta/base", revision="v1"))
    assert filled.registered and filled.created
    assert [e.child for e in filled.children] == ["acme/chat@main"]


def test_edge_closing_a_cycle_is_refused_and_nothing_is_left(session: Session) -> None:
    register_variant(session, variant_request("acme/a"))
    register_variant(session, variant_request("acme/b", parents={"acme/a": "finetune"}))
    register_variant(session, variant_request("acme/c", parents={"acme/b": "finetune"}))
    before = (_count(session, Variant), _count(session, LineageEdge), _count(session, Tensor))
    register_variant(session, variant_request("acme/x", parents={"acme/y": "finetune"}))
    with pytest.raises(LineageCycle):
        register_variant(session, variant_request("acme/y", parents={"acme/x": "merge"}))
    after = (_count(session, Variant), _count(session, LineageEdge), _count(session, Tensor))
    assert after[0] == before[0] + 2  # x and the placeholder y; the failed y left nothing
    assert after[1] == before[1] + 1
    assert after[2] == before[2] + 3
    y = show_variant(session, parse_ref("acme/y"))
    assert y.registered is False and y.lineage == []


def test_self_parent_is_a_cycle(session: Session) -> None:
    with pytest.raises(LineageCycle):
        register_variant(session, variant_request("acme/a", parents={"acme/a": "finetune"}))
    assert _count(session, Variant) == 0
    assert _count(session, VariantFile) == 0


def test_bad_names_and_conflicting_parents(session: Session) -> None:
    with pytest.raises(InvalidName):
        register_variant(session, variant_request("no-namespace"))
    with pytest.raises(InvalidName):
        register_variant(session, variant_request("acme/ok", parents={"bad name": "finetune"}))
    req = variant_request("acme/ok", parents={"acme/p": "finetune"})
    req.parents.append(req.parents[0].model_copy(update={"relation": "merge"}))
    with pytest.raises(InvalidInput):
        register_variant(session, req)
    assert _count(session, Variant) == 0


def test_show_unknown_variant(session: Session) -> None:
    with pytest.raises(VariantNotFound) as err:
        show_variant(session, parse_ref("acme/missing@v9"))
    assert err.value.detail == {"name": "acme/missing", "revision": "v9"}


def test_card_markers_are_their_own_field_and_legacy_config_markers_move_there(
    session: Session,
) -> None:
    from schemas import CardMarkers

    request = variant_request("acme/carded")
    request.card = CardMarkers(tags=["uncensored"], name="Carded")
    out = register_variant(session, request)
    assert out.card == CardMarkers(tags=["uncensored"], name="Carded")
    assert "provreg_card" not in (out.config or {})

    legacy = variant_request("acme/legacy")  # a client from before the card field
    legacy.fingerprint.config = {"hidden_size": 8, "provreg_card": {"tags": ["abliterated"]}}
    out = register_variant(session, legacy)
    assert out.card == CardMarkers(tags=["abliterated"]) and out.config == {"hidden_size": 8}

    bad = variant_request("acme/bad")
    bad.fingerprint.config = {"provreg_card": {"tags": "not a list"}}
    with pytest.raises(InvalidInput, match="provreg_card"):
        register_variant(session, bad)
