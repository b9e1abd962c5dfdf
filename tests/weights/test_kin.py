"""Kin are not parent and child: models that share an ancestral embedding table (and position
table) but trained their layers apart must come out ``related``, never ``derived``.

Their layers read and write the same residual basis, so the layers' Grams correlate strongly
(here about 0.75, far beyond what independent models reach) while their raw values are
unrelated. A real derivative of either model is still ``derived``.
"""

from __future__ import annotations

import numpy as np

from registry.weights.arrays import ArrayTensor
from registry.weights.compare import compare_sketches
from registry.weights.sketch import Sketch
from registry.weights.sketch_build import build_sketch

VOCAB, HIDDEN, MLP, LAYERS = 400, 64, 256, 4


def _ancestor(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """The shared part: a vocabulary and position table with a strongly structured basis."""
    basis = (
        rng.standard_normal((HIDDEN, HIDDEN)).astype(np.float32)
        * np.linspace(3, 0.2, HIDDEN, dtype=np.float32)[:, None]
    )
    return {
        "basis": basis,
        "model.embed_tokens.weight": rng.standard_normal((VOCAB, HIDDEN)).astype(np.float32)
        @ basis,
        "model.embed_positions.weight": rng.standard_normal((128, HIDDEN)).astype(np.float32)
        @ basis,
    }


def _layers(shared: dict[str, np.ndarray], seed: int) -> dict[str, np.ndarray]:
    """Layers trained apart: independent values shaped by the shared residual basis."""
    rng = np.random.default_rng(seed)
    basis = shared["basis"]
    out = {k: v for k, v in shared.items() if k != "basis"}
    for i in range(LAYERS):
        p = f"model.layers.{i}."
        for name, rows in (("self_attn.q_proj", HIDDEN), ("self_attn.o_proj", HIDDEN),
                           ("mlp.up_proj", MLP)):  # fmt: skip
            w = rng.standard_normal((rows, HIDDEN)).astype(np.float32) @ basis
            out[p + name + ".weight"] = w / np.abs(w).max()
        w = rng.standard_normal((MLP, HIDDEN)).astype(np.float32) @ basis
        out[p + "mlp.down_proj.weight"] = (w / np.abs(w).max()).T.copy()
    return out


def _sketch(tensors: dict[str, np.ndarray]) -> Sketch:
    return build_sketch([ArrayTensor.of(k, v) for k, v in tensors.items()])


def test_models_sharing_only_an_embedding_table_are_related_not_derived() -> None:
    shared = _ancestor(np.random.default_rng(0))
    one, two = _layers(shared, 1), _layers(shared, 2)
    c = compare_sketches(_sketch(one), _sketch(two))
    assert c.evidence["mean_record_r"] >= 0.7  # the Grams alone would say "derived"
    assert c.verdict == "related", c.evidence
    assert any("layers do not descend" in reason for reason in c.evidence["reasons"])
    assert any("embeddings shared" in reason for reason in c.evidence["reasons"])

    # without the position table (another container, another export) the verdict is the same
    no_positions = {k: v for k, v in two.items() if "positions" not in k}
    assert compare_sketches(_sketch(one), _sketch(no_positions)).verdict == "related"

    # a real derivative of one of them is still derived
    rng = np.random.default_rng(3)
    child = {k: v + 0.05 * np.abs(v).mean() * rng.standard_normal(v.shape).astype(np.float32)
             for k, v in one.items()}  # fmt: skip
    derived = compare_sketches(_sketch(child), _sketch(one))
    assert derived.verdict == "derived", derived.evidence
    assert derived.relation == "finetune"
