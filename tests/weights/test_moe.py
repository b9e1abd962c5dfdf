"""Mixture-of-experts: stacked and per-expert layouts sketched alike, experts in any order, an
MoE upcycled from a dense parent derived from it, expert pruning ``pruned``; kin and
independent models stay apart."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import load_file, save_file

from registry.weights import compare_sketches, sketch_path
from registry.weights.sketch import Sketch
from scripts.realzoo.moe import select_experts, upcycle
from tests.peft_models import REALZOO


@pytest.fixture(scope="module")
def moe(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Sketch]:
    root = tmp_path_factory.mktemp("moe")
    per_expert = upcycle(REALZOO / "llama-b0", root / "per-expert", seed=1)
    stacked = upcycle(REALZOO / "llama-b0", root / "stacked", seed=2, stacked=True)
    paths = {
        "base": REALZOO / "llama-b0",
        "per-expert": per_expert,
        "stacked": stacked,
        "pruned": select_experts(per_expert, root / "pruned", [3, 1]),
        "stacked-pruned": select_experts(stacked, root / "stacked-pruned", [0, 2, 3]),
        "reordered": select_experts(stacked, root / "reordered", [2, 0, 3, 1]),
        "kin": upcycle(REALZOO / "llama-k0", root / "kin", seed=1),
        "independent": upcycle(REALZOO / "qwen2-b0", root / "independent", seed=1),
        "restacked": _restacked(per_expert, root / "restacked"),
    }
    return {name: sketch_path(path) for name, path in paths.items()}


def _restacked(per_expert: Path, out: Path) -> Path:
    """The per-expert checkpoint's own values in the stacked layout."""
    tensors = load_file(str(per_expert / "model.safetensors"))
    stacked: dict[str, np.ndarray] = {}
    for i in range(2):
        moe = f"model.layers.{i}.block_sparse_moe"
        experts = range(4)
        stacked[f"model.layers.{i}.mlp.experts.gate_up_proj"] = np.stack(
            [np.concatenate([tensors[f"{moe}.experts.{e}.w1.weight"],
                             tensors[f"{moe}.experts.{e}.w3.weight"]]) for e in experts]
        )  # fmt: skip
        stacked[f"model.layers.{i}.mlp.experts.down_proj"] = np.stack(
            [tensors[f"{moe}.experts.{e}.w2.weight"] for e in experts]
        )
        stacked[f"model.layers.{i}.mlp.gate.weight"] = tensors[f"{moe}.gate.weight"]
    stacked.update({k: v for k, v in tensors.items() if ".block_sparse_moe." not in k})
    out.mkdir()
    save_file(stacked, str(out / "model.safetensors"))
    (out / "config.json").write_text((per_expert / "config.json").read_text())
    return out


def test_stacked_experts_are_sketched_one_matrix_per_expert(moe: dict[str, Sketch]) -> None:
    assert moe["base"].experts == 0
    assert moe["per-expert"].experts == moe["stacked"].experts == 4
    assert moe["stacked-pruned"].experts == 3
    assert len(moe["stacked"].records) == len(moe["per-expert"].records) == 2 * (4 + 1 + 4 * 3)
    same = compare_sketches(moe["restacked"], moe["per-expert"])
    assert (same.verdict, same.relation) == ("derived", "repackaged"), same.evidence


@pytest.mark.parametrize(
    ("child", "parent", "relation"),
    [
        ("per-expert", "base", "finetune"),
        ("stacked", "base", "finetune"),
        ("pruned", "per-expert", "pruned"),
        ("stacked-pruned", "stacked", "pruned"),
    ],
)
def test_upcycled_and_expert_pruned_models_are_derived_children(
    moe: dict[str, Sketch], child: str, parent: str, relation: str
) -> None:
    c = compare_sketches(moe[child], moe[parent])
    assert (c.verdict, c.relation, c.direction) == ("derived", relation, "a_is_child"), c.evidence
    assert c.false_positive_rate(100) < 1e-6
    back = compare_sketches(moe[parent], moe[child])
    assert (back.verdict, back.relation, back.direction) == ("derived", relation, "b_is_child")


def test_the_order_of_experts_does_not_matter(moe: dict[str, Sketch]) -> None:
    c = compare_sketches(moe["reordered"], moe["stacked"])
    assert (c.verdict, c.relation) == ("derived", "repackaged"), c.evidence


def test_moe_kin_and_independent_models_are_not_derived(moe: dict[str, Sketch]) -> None:
    kin_pairs = [("kin", "base"), ("kin", "per-expert"), ("kin", "stacked")]
    for a, b in kin_pairs:
        assert compare_sketches(moe[a], moe[b]).verdict != "derived", (a, b)
    for other in ("base", "per-expert", "stacked", "kin"):
        assert compare_sketches(moe["independent"], moe[other]).verdict == "unrelated", other
