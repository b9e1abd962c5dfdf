"""Derivatives made by real tools (transformers, onnxruntime, a llama.cpp-style GGUF writer,
a vocabulary trim), kin and independent models of four architectures: pairwise verdicts.

The fixtures are ``tests/fixtures/realzoo`` (see its README): each derivative is compared with
its parent and must come back ``derived`` with the manifest's relation (``repackaged`` for an
optimized ONNX graph with the same values); a vocabulary trimmed and renumbered is ``pruned``
with the larger vocabulary as the parent; kin that share an embedding table (or it and their
first layers) are ``related``; independently trained models are ``unrelated``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from registry.weights.compare import compare_sketches
from registry.weights.sketch import Sketch
from registry.weights.sketching import sketch_path
from scripts.zoo.truth import load_manifest

ROOT = Path(__file__).resolve().parents[1] / "fixtures" / "realzoo"
MANIFEST = load_manifest(ROOT)
_SKETCHES: dict[str, Sketch] = {}


def _sketch(model_id: str) -> Sketch:
    if model_id not in _SKETCHES:
        entry = next(e for e in MANIFEST if e["id"] == model_id)
        _SKETCHES[model_id] = sketch_path(ROOT / entry["path"])
    return _SKETCHES[model_id]


# kin share part of a model (its embedding table, or that and its first layers) and trained
# the rest: related, never derived
_PARTIAL = ("shares-embeddings", "shares-layers")
DERIVED = [
    (e["id"], p["id"], p["relation"])
    for e in MANIFEST
    for p in e["parents"]
    if p["relation"] not in _PARTIAL
]
KIN = [(e["id"], p["id"]) for e in MANIFEST for p in e["parents"] if p["relation"] in _PARTIAL]
INDEPENDENT = [(f"{arch}-b0", f"{arch}-b1") for arch in ("gpt2", "bert")]


@pytest.mark.parametrize(("child", "parent", "relation"), DERIVED)
def test_a_real_derivative_is_derived_from_its_parent(
    child: str, parent: str, relation: str
) -> None:
    c = compare_sketches(_sketch(child), _sketch(parent))
    assert (c.verdict, c.relation) == ("derived", relation), c.evidence
    if relation in ("quantized", "pruned"):  # structure says which one is the child
        assert c.direction == "a_is_child", c.evidence
    reverse = compare_sketches(_sketch(parent), _sketch(child))
    assert (reverse.verdict, reverse.relation) == (c.verdict, c.relation)


@pytest.mark.parametrize(("kin", "other"), KIN)
def test_kin_sharing_an_embedding_table_are_related(kin: str, other: str) -> None:
    c = compare_sketches(_sketch(kin), _sketch(other))
    assert c.verdict == "related", c.evidence


@pytest.mark.parametrize(("one", "two"), INDEPENDENT)
def test_independently_trained_models_are_unrelated(one: str, two: str) -> None:
    c = compare_sketches(_sketch(one), _sketch(two))
    assert c.verdict == "unrelated", c.evidence
