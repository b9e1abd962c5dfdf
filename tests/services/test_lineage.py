"""Lineage walks: depth limits, DAGs with merges, pagination, and safety against cycles."""

from __future__ import annotations

import pytest
from sqlmodel import Session

from registry.db.models import LineageEdge
from registry.errors import InvalidInput, VariantNotFound
from registry.names import parse_ref
from registry.services import lineage_graph, register_variant
from registry.services.variants.register import get_variant
from tests.factories import variant_request


def _family(session: Session) -> None:
    """base -> chat -> chat-q8; base -> code; merge(chat, code); merge -> merge-gguf."""
    register_variant(session, variant_request("acme/base"))
    register_variant(session, variant_request("acme/chat", parents={"acme/base": "finetune"}))
    register_variant(session, variant_request("acme/code", parents={"acme/base": "finetune"}))
    register_variant(session, variant_request("acme/chat-q8", parents={"acme/chat": "quantized"}))
    register_variant(
        session,
        variant_request("acme/merge", parents={"acme/chat": "merge", "acme/code": "merge"}),
    )
    register_variant(
        session, variant_request("acme/merge-gguf", parents={"acme/merge": "quantized"})
    )


def _edges(graph) -> set[tuple[str, str]]:  # type: ignore[no-untyped-def]
    return {(e.child.split("@")[0], e.parent.split("@")[0]) for e in graph.edges}


def test_ancestors_of_a_merge_descendant(session: Session) -> None:
    _family(session)
    g = lineage_graph(session, parse_ref("acme/merge-gguf"), direction="up")
    assert _edges(g) == {
        ("acme/merge-gguf", "acme/merge"),
        ("acme/merge", "acme/chat"),
        ("acme/merge", "acme/code"),
        ("acme/chat", "acme/base"),
        ("acme/code", "acme/base"),
    }
    depths = {n.name: n.depth for n in g.nodes}
    assert depths == {
        "acme/merge-gguf": 0,
        "acme/merge": -1,
        "acme/chat": -2,
        "acme/code": -2,
        "acme/base": -3,
    }
    assert g.truncated is False


def test_depth_limit_cuts_and_says_so(session: Session) -> None:
    _family(session)
    g = lineage_graph(session, parse_ref("acme/merge-gguf"), direction="up", depth=1)
    assert _edges(g) == {("acme/merge-gguf", "acme/merge")}
    assert g.truncated is True
    g = lineage_graph(session, parse_ref("acme/base"), direction="down", depth=1)
    assert {n.name for n in g.nodes} == {"acme/base", "acme/chat", "acme/code"}
    assert g.truncated is True


def test_descendants_include_every_path_of_a_dag(session: Session) -> None:
    _family(session)
    g = lineage_graph(session, parse_ref("acme/base"), direction="down")
    assert ("acme/merge", "acme/chat") in _edges(g) and ("acme/merge", "acme/code") in _edges(g)
    assert {n.name: n.depth for n in g.nodes}["acme/merge-gguf"] == 3
    assert g.next_cursor is None


def test_descendant_pages_cover_the_subtree(session: Session) -> None:
    register_variant(session, variant_request("acme/root"))
    for i in range(12):
        register_variant(
            session, variant_request(f"acme/c{i:02d}", parents={"acme/root": "finetune"})
        )
    for i in range(5):
        register_variant(session, variant_request(f"acme/g{i}", parents={"acme/c00": "quantized"}))
    seen: list[tuple[str, str]] = []
    cursor = None
    pages = 0
    while True:
        g = lineage_graph(session, parse_ref("acme/root"), direction="down", limit=5, cursor=cursor)
        pages += 1
        seen += sorted(_edges(g))
        assert len(g.edges) <= 5
        cursor = g.next_cursor
        if cursor is None:
            break
    assert pages == 4
    assert len(seen) == len(set(seen)) == 17
    # breadth first: every child of the root comes before any grandchild
    first_grandchild = min(i for i, (c, _) in enumerate(seen) if c.startswith("acme/g"))
    assert first_grandchild >= 12


def test_walks_end_even_if_the_data_holds_a_cycle(session: Session) -> None:
    """Registration refuses cycles; a cycle written behind its back still cannot hang a walk."""
    register_variant(session, variant_request("acme/a"))
    register_variant(session, variant_request("acme/b", parents={"acme/a": "finetune"}))
    a = get_variant(session, parse_ref("acme/a"))
    b = get_variant(session, parse_ref("acme/b"))
    assert a.id and b.id
    session.add(
        LineageEdge(
            child_id=a.id,
            parent_id=b.id,
            relation="finetune",
            source="declared",
            status="unverified",
        )
    )
    session.commit()
    g = lineage_graph(session, parse_ref("acme/a"), direction="both", depth=64)
    assert _edges(g) == {("acme/a", "acme/b"), ("acme/b", "acme/a")}


def test_bad_arguments(session: Session) -> None:
    with pytest.raises(VariantNotFound):
        lineage_graph(session, parse_ref("acme/nothing"))
    register_variant(session, variant_request("acme/a"))
    with pytest.raises(InvalidInput):
        lineage_graph(session, parse_ref("acme/a"), depth=0)
