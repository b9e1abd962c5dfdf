"""An orthogonal rotation of the residual stream (QuaRot/SpinQuant style: norms folded, then
E Q, W Q, Q^T W), plain, Hadamard, int8 or GGUF after it, is a derivative; kin and independent
models stay apart."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.zoo_tools import require_zoo_tools

require_zoo_tools()

from registry.weights import compare_sketches, sketch_path  # noqa: E402
from registry.weights.sketch import Sketch  # noqa: E402
from scripts.realzoo.rotate import int8_per_row, rotate_model  # noqa: E402
from scripts.realzoo.tools import export_gguf  # noqa: E402
from tests.peft_models import REALZOO  # noqa: E402


@pytest.fixture(scope="module")
def rotated(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("rotated")
    plain = rotate_model(REALZOO / "llama-b0", root / "plain", seed=3)
    hadamard = rotate_model(REALZOO / "llama-b0", root / "hadamard", seed=4, hadamard=True)
    return {
        "plain": plain,
        "hadamard": hadamard,
        "hadamard-int8": int8_per_row(hadamard, root / "hadamard-int8"),
        "plain-q8_0": export_gguf(plain, root / "plain-q8_0.gguf", "q8_0"),
        "hadamard-q4_0": export_gguf(hadamard, root / "hadamard-q4_0.gguf", "q4_0"),
        "kin": rotate_model(REALZOO / "llama-k0", root / "kin", seed=3),
    }


@pytest.fixture(scope="module")
def base() -> Sketch:
    return sketch_path(REALZOO / "llama-b0")


def test_a_rotated_model_computes_what_its_parent_computes(rotated: dict[str, Path]) -> None:
    import torch
    from transformers import AutoModelForCausalLM

    torch.manual_seed(0)
    tokens = torch.randint(0, 256, (2, 24))
    parent = AutoModelForCausalLM.from_pretrained(REALZOO / "llama-b0")
    child = AutoModelForCausalLM.from_pretrained(rotated["hadamard"])
    with torch.no_grad():
        a, b = parent(tokens).logits, child(tokens).logits
    assert float((a - b).abs().max()) < 1e-3 * float(a.abs().max())
    # and no tensor that reads or writes the residual stream is the parent's
    from safetensors.numpy import load_file

    p = load_file(str(REALZOO / "llama-b0" / "model.safetensors"))
    c = load_file(str(rotated["hadamard"] / "model.safetensors"))
    assert not np.allclose(p["model.embed_tokens.weight"], c["model.embed_tokens.weight"])


@pytest.mark.parametrize(
    ("form", "relation"),
    [
        ("plain", "repackaged"),
        ("hadamard", "repackaged"),
        ("hadamard-int8", "quantized"),
        ("plain-q8_0", "quantized"),
        ("hadamard-q4_0", "quantized"),
    ],
)
def test_a_rotated_model_is_derived_and_the_rotated_side_is_the_child(
    rotated: dict[str, Path], base: Sketch, form: str, relation: str
) -> None:
    child = sketch_path(rotated[form])
    c = compare_sketches(child, base)
    assert (c.verdict, c.relation, c.direction) == ("derived", relation, "a_is_child"), c.evidence
    assert c.false_positive_rate(100) < 1e-6
    assert any("residual stream rotated" in r for r in c.evidence["reasons"])
    back = compare_sketches(base, child)
    assert (back.verdict, back.relation, back.direction) == ("derived", relation, "b_is_child")


def test_rotated_kin_and_independent_models_are_not_derived(
    rotated: dict[str, Path], base: Sketch
) -> None:
    kin, plain = sketch_path(rotated["kin"]), sketch_path(rotated["plain"])
    independent = sketch_path(REALZOO / "qwen2-b0")  # same widths, trained apart
    pairs = {
        "rotated kin vs base": (kin, base),
        "rotated base vs kin": (plain, sketch_path(REALZOO / "llama-k0")),
        "rotated base vs rotated kin": (plain, kin),
        "rotated base vs independent": (plain, independent),
        "rotated base vs kin sharing a layer": (plain, sketch_path(REALZOO / "llama-k1")),
    }
    for what, (x, y) in pairs.items():
        assert compare_sketches(x, y).verdict != "derived", what
    assert compare_sketches(plain, independent).verdict == "unrelated"
