"""Verdicts do not depend on the container or on storage order.

The same weights re-saved with names that carry no layer number (``w0012``), in a shuffled order
(safetensors then sorts the keys), or exported to ONNX by ``torch.onnx.export`` (initializers
named ``onnx::MatMul_702``) must give the verdict and relation of the original files: records
are aligned by content, never by their position in the file.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import load_file, save_file

from registry.weights import open_model
from registry.weights.compare import compare_sketches
from registry.weights.sketch import Sketch
from registry.weights.sketching import sketch_path, sketch_source

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
ZOO = FIXTURES / "zoo"
PAIRS = [
    ("llama-b0-ft", "llama-b0"),
    ("llama-b0-lora", "llama-b0"),
    ("llama-b0-layerdrop", "llama-b0"),
    ("llama-b0-bf16", "llama-b0"),
    ("bert-b0-ft", "bert-b0"),
    ("bert-b0-pruned50", "bert-b0"),
    ("bert-b0-abliterated", "bert-b0"),
]


def _obfuscated(model: str, tmp_path: Path, seed: int) -> Sketch:
    """The model's tensors under meaningless names, in a shuffled order."""
    tensors = load_file(str(ZOO / model / "model.safetensors"))
    names = list(tensors)
    order = np.random.default_rng(seed).permutation(len(names))
    renamed = {f"w{i:04d}": tensors[names[j]] for i, j in enumerate(order)}
    out = tmp_path / f"{model}-{seed}" / "model.safetensors"
    out.parent.mkdir()
    save_file(renamed, str(out))
    return sketch_path(out.parent)


@pytest.mark.parametrize(("child", "parent"), PAIRS)
def test_renamed_and_shuffled_copies_get_the_same_verdict(
    child: str, parent: str, tmp_path: Path
) -> None:
    original = compare_sketches(sketch_path(ZOO / child), sketch_path(ZOO / parent))
    assert original.verdict == "derived"
    for seed in (1, 2):
        resaved = compare_sketches(_obfuscated(child, tmp_path, seed), sketch_path(ZOO / parent))
        both = compare_sketches(
            _obfuscated(child, tmp_path, seed + 10), _obfuscated(parent, tmp_path, seed + 20)
        )
        for c in (resaved, both):
            assert (c.verdict, c.relation, c.direction) == (
                original.verdict,
                original.relation,
                original.direction,
            ), c.evidence
            assert c.evidence["matched_records"] == original.evidence["matched_records"]


def test_a_torch_onnx_export_is_the_same_weights() -> None:
    """``torch.onnx.export`` names MatMul weights ``onnx::MatMul_N`` and stores them transposed."""
    exported = sketch_source(open_model(FIXTURES / "real" / "llama-b0-torch-export.onnx"))
    c = compare_sketches(exported, sketch_path(ZOO / "llama-b0"))
    assert (c.verdict, c.relation) == ("derived", "repackaged"), c.evidence
    assert c.evidence["matched_records"] == len(exported.records)
    finetune = compare_sketches(exported, sketch_path(ZOO / "llama-b0-ft"))
    assert (finetune.verdict, finetune.relation) == ("derived", "finetune"), finetune.evidence
