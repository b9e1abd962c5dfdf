"""PEFT adapters: their sketch, their fit to a base, and a merged model seen as base + adapter."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from registry.errors import WeightsError
from registry.weights import open_model, sketch_path
from registry.weights.adapter import AdapterSketch, sketch_adapter
from registry.weights.adapter_match import base_mismatches, merged_fit
from tests.peft_models import REALZOO, LoraRelease


def _adapter(path: Path) -> AdapterSketch:
    return sketch_adapter(path, open_model(path))


def _shapes(path: Path) -> dict[str, tuple[int, ...]]:
    return {t.name: t.shape for t in open_model(path).tensors}


def test_the_adapter_sketch_holds_peft_targets_shapes_and_scale(
    lora_releases: dict[str, LoraRelease],
) -> None:
    adapter = _adapter(lora_releases["a"].adapter)
    assert adapter.peft_type == "LORA" and not adapter.dora
    assert adapter.base is not None and adapter.base.endswith("llama-b0")
    assert len(adapter.targets) == 6  # q, v, down in each of 2 layers
    by_module = {t.module: t for t in adapter.targets}
    q = by_module["model.layers.1.self_attn.q_proj"]
    assert (q.layer, q.rows, q.cols, q.rank, q.scale) == (1, 64, 64, 4, 2.0)
    assert (by_module["model.layers.0.self_attn.v_proj"].rows, adapter.residual) == (32, 64)
    assert by_module["model.layers.0.mlp.down_proj"].cols == 128
    again = AdapterSketch.from_bytes(adapter.to_bytes())
    assert again.to_bytes() == adapter.to_bytes() and again.digest() == adapter.digest()


def test_a_merged_model_is_its_base_plus_its_adapter_and_nothing_else_is(
    lora_releases: dict[str, LoraRelease],
) -> None:
    base = sketch_path(REALZOO / "llama-b0")
    a, b = _adapter(lora_releases["a"].adapter), _adapter(lora_releases["b"].adapter)
    merged_a = sketch_path(lora_releases["a"].merged)
    fit = merged_fit(a, base, merged_a)
    assert fit is not None and fit["fits"] and fit["residual"] < 0.05
    assert fit["matrices"] == fit["targets"] == 6
    # null: another adapter trained apart on the same base, the base itself, a full fine-tune
    # of the base, and the same recipe on a kin model that shares only the embeddings
    others = {
        "other adapter": merged_fit(b, base, merged_a),
        "base": merged_fit(a, base, base),
        "fine-tune": merged_fit(a, base, sketch_path(REALZOO / "llama-b0-ft12-bf16")),
        "kin": merged_fit(a, base, sketch_path(lora_releases["kin"].merged)),
    }
    for what, other in others.items():
        assert other is None or not other["fits"], (what, other)


def test_an_adapter_fits_its_base_and_names_what_does_not_fit(
    lora_releases: dict[str, LoraRelease],
) -> None:
    adapter = _adapter(lora_releases["a"].adapter)
    assert base_mismatches(adapter, _shapes(REALZOO / "llama-b0")) == []
    assert base_mismatches(adapter, _shapes(REALZOO / "llama-k0")) == []  # same shapes
    gpt2 = base_mismatches(adapter, _shapes(REALZOO / "gpt2-b0"))
    assert len(gpt2) == 1 and "q_proj" in gpt2[0] and "32x64" in gpt2[0]
    narrower = _shapes(REALZOO / "llama-b0")
    narrower["model.layers.1.self_attn.q_proj.weight"] = (32, 64)
    del narrower["model.layers.0.mlp.down_proj.weight"]
    assert base_mismatches(adapter, narrower) == [
        "model.layers.0.mlp.down_proj: no such matrix in the base",
        "model.layers.1.self_attn.q_proj: the adapter's delta is 64x64 (rank 4), the base's "
        "matrix is 32x64",
    ]


def test_an_adapter_whose_factors_do_not_multiply_is_refused(
    lora_releases: dict[str, LoraRelease], tmp_path: Path
) -> None:
    from safetensors.numpy import load_file, save_file

    broken = tmp_path / "broken"
    shutil.copytree(lora_releases["a"].adapter, broken)
    factors = load_file(str(broken / "adapter_model.safetensors"))
    del factors["base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight"]
    save_file(factors, str(broken / "adapter_model.safetensors"))
    with pytest.raises(
        WeightsError, match="layers.0.self_attn.q_proj has lora_A 4x64 and lora_B missing"
    ):
        _adapter(broken)
    (broken / "adapter_config.json").write_text("{not json")
    with pytest.raises(WeightsError, match="adapter_config.json: not a readable JSON"):
        _adapter(broken)
    assert json.loads((lora_releases["a"].adapter / "adapter_config.json").read_text())["r"] == 4
