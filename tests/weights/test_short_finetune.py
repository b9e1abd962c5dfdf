"""``repackaged`` means equal up to a dtype cast and layout: a short real fine-tune saved in bf16
(12 torch AdamW steps; its changes are a few bf16 units in the last place) is a ``finetune``."""

from __future__ import annotations

from pathlib import Path

import pytest

from registry.weights.compare import compare_sketches
from registry.weights.sketching import sketch_path

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


@pytest.mark.parametrize("name", ["llama-b0-adamw12-bf16", "llama-b0-adamw12-lr2e-5-bf16"])
def test_a_short_real_finetune_in_bf16_is_a_finetune(name: str) -> None:
    c = compare_sketches(
        sketch_path(FIXTURES / "real" / name), sketch_path(FIXTURES / "zoo" / "llama-b0")
    )
    assert (c.verdict, c.relation) == ("derived", "finetune"), c.evidence
    assert c.evidence["changed_matrices"] == c.evidence["compared_matrices"]
    assert any("differ beyond a dtype cast" in r for r in c.evidence["reasons"])


@pytest.mark.parametrize("cast", ["llama-b0-bf16", "llama-b0-fp16", "bert-b0-bf16"])
def test_a_dtype_cast_is_still_a_repackage(cast: str) -> None:
    parent = cast.rsplit("-", 1)[0]
    c = compare_sketches(
        sketch_path(FIXTURES / "zoo" / cast), sketch_path(FIXTURES / "zoo" / parent)
    )
    assert (c.verdict, c.relation, c.direction) == ("derived", "repackaged", "a_is_child")
    assert c.evidence["changed_matrices"] == 0
