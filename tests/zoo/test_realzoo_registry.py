"""Registering the committed real-tools zoo with no declared lineage, in any order, must record
exactly its true graph: no edge to a sibling, kin or unrelated model, none reversed, and every
derivative attached to its parent (copies with identical weights count as one model)."""

from __future__ import annotations

import random
from functools import cache
from pathlib import Path

import pytest
from sqlmodel import Session

from scripts.zoo.evaluate import fingerprint_with_sketch
from scripts.zoo.graph_truth import register_without_lineage, score_edges
from scripts.zoo.truth import load_manifest

ZOO = Path(__file__).resolve().parents[1] / "fixtures" / "realzoo"
pytestmark = pytest.mark.skipif(not (ZOO / "manifest.json").exists(), reason="no fixture zoo")


@cache
def _prints() -> dict:
    return {e["id"]: fingerprint_with_sketch(ZOO / e["path"]) for e in load_manifest(ZOO)}


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_registering_in_any_order_gives_the_true_graph(session: Session, seed: int) -> None:
    manifest = load_manifest(ZOO)
    order = [e["id"] for e in manifest]
    random.Random(seed).shuffle(order)
    score = score_edges(manifest, register_without_lineage(session, order, _prints()))
    assert score.false_edges == []
    assert score.missed == []
    assert score.wrong_relation == []
