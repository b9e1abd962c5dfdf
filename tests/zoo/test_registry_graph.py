"""Registering a family with no declared lineage, in any order, gives exactly its true graph.

The family: a base, a byte-identical copy of it, a copy with one value edited (equal to the
base wherever a sketch looks), and two independent fine-tunes of the base. Whatever the order,
every model is joined to the family by exactly one detected edge: a fine-tune is never recorded
as the child of its sibling, nor of two of the base's copies at once, and a byte-identical copy
is never the child of an edited copy registered after it.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import load_file, save_file
from sqlmodel import Session, select

from registry.db.models import LineageEdge, Variant
from registry.services.variants import register_variant
from schemas import DeclaredParent, VariantCreate
from scripts.zoo.evaluate import fingerprint_with_sketch

ZOO = Path(__file__).resolve().parents[1] / "fixtures" / "zoo"
SAME = {"base", "copy", "edited"}  # one set of weights at the sketch's resolution


@pytest.fixture(scope="module")
def family(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("family")
    out = {
        "base": ZOO / "llama-b0",
        "ft": ZOO / "llama-b0-ft",
        "ft-sibling": ZOO / "llama-b0-ft-sibling",
    }
    shutil.copytree(ZOO / "llama-b0", root / "copy")
    out["copy"] = root / "copy"
    tensors = load_file(str(ZOO / "llama-b0" / "model.safetensors"))
    w = tensors["model.layers.1.mlp.down_proj.weight"].copy()
    w[3, 5] += 0.25  # one value edited
    tensors["model.layers.1.mlp.down_proj.weight"] = w
    (root / "edited").mkdir()
    save_file(tensors, str(root / "edited" / "model.safetensors"))
    shutil.copy(ZOO / "llama-b0" / "config.json", root / "edited" / "config.json")
    out["edited"] = root / "edited"
    return out


def _edges(session: Session) -> set[tuple[str, str, str]]:
    names = {v.id: v.name.removeprefix("fam/") for v in session.exec(select(Variant))}
    return {
        (names[e.child_id], names[e.parent_id], e.status) for e in session.exec(select(LineageEdge))
    }


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_family_registered_in_any_order_gives_its_true_graph(
    session: Session, family: dict[str, Path], seed: int
) -> None:
    order = [str(x) for x in np.random.default_rng(seed).permutation(sorted(family))]
    for name in order:
        fp, _ = fingerprint_with_sketch(family[name])
        register_variant(session, VariantCreate(name=f"fam/{name}", fingerprint=fp))
    edges = _edges(session)
    assert len(edges) == len(family) - 1, (order, sorted(edges))  # a tree: one edge each
    for child, parent, _ in edges:
        # no fine-tune is a parent, unless registered before the base's weights: without
        # structural evidence the direction of a pair comes from registration order
        assert parent in SAME or (child in SAME and order.index(parent) < order.index(child)), (
            order,
            sorted(edges),
        )
        if (child, parent) in (("base", "edited"), ("copy", "edited")):
            assert order.index("edited") < order.index(child), (order, sorted(edges))
    parents = {c: p for c, p, _ in edges}
    assert frozenset(("base", "copy")) in {frozenset(x) for x in parents.items()} or (
        parents.get("base") == parents.get("copy") == "edited"
    )


def test_a_declared_edge_to_a_sibling_says_what_the_weights_say(
    session: Session, family: dict[str, Path]
) -> None:
    for name in ("base", "ft"):
        fp, _ = fingerprint_with_sketch(family[name])
        register_variant(session, VariantCreate(name=f"fam/{name}", fingerprint=fp))
    fp, _ = fingerprint_with_sketch(family["ft-sibling"])
    register_variant(
        session,
        VariantCreate(
            name="fam/ft-sibling",
            fingerprint=fp,
            parents=[DeclaredParent(name="fam/ft", relation="finetune")],
        ),
    )
    declared = {(c, p): s for c, p, s in _edges(session)}
    assert declared[("ft-sibling", "ft")] == "disputed"
    edge = session.exec(select(LineageEdge).where(LineageEdge.source == "declared")).one()
    assert any("sibling" in r for r in edge.evidence["reasons"]), edge.evidence


def test_a_base_registered_after_its_fine_tunes_becomes_their_parent(
    session: Session, family: dict[str, Path]
) -> None:
    """Two fine-tunes registered first are joined by registration order; the base, closer to
    each than they are to each other, then takes them both as its children."""
    for name in ("ft", "ft-sibling", "base"):
        fp, _ = fingerprint_with_sketch(family[name])
        register_variant(session, VariantCreate(name=f"fam/{name}", fingerprint=fp))
    edges = _edges(session)
    assert {(c, p) for c, p, _ in edges} == {("ft", "base"), ("ft-sibling", "base")}, edges
    edge = session.exec(select(LineageEdge)).first()
    assert edge is not None
    assert any("common parent" in r for r in edge.evidence["reasons"]), edge.evidence


def test_children_declaring_a_parent_not_here_yet_are_not_chained_to_each_other(
    session: Session,
) -> None:
    """Fine-tunes that declare their base, registered before it: the declaration joins each to
    the family; none becomes the parent of a sibling, and each edge is verified when the base's
    weights arrive."""
    zoo = Path(__file__).resolve().parents[1] / "fixtures" / "zoo"
    children = ("llama-b0-abliterated", "llama-b0-lora", "llama-b0-ft")
    for name in (*children, "llama-b0"):
        fp, _ = fingerprint_with_sketch(zoo / name)
        parents = [DeclaredParent(name="zoo/llama-b0", relation="finetune")]
        request = VariantCreate(
            name=f"zoo/{name}", fingerprint=fp, parents=[] if name == "llama-b0" else parents
        )
        register_variant(session, request)
    names = {v.id: v.name for v in session.exec(select(Variant))}
    edges = {
        (names[e.child_id], names[e.parent_id], e.source, e.status)
        for e in session.exec(select(LineageEdge))
    }
    assert edges == {(f"zoo/{c}", "zoo/llama-b0", "declared", "verified") for c in children}
