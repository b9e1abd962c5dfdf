"""The committed real-tools zoo: each derivative is what its manifest entry says it is.

Reads ``tests/fixtures/realzoo`` with numpy, safetensors, onnx and gguf only (no torch).
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import gguf
import numpy as np
import onnx
import pytest
from onnx import numpy_helper
from safetensors.numpy import load_file

from scripts.realzoo.recipe import TRIM_KEEP
from scripts.realzoo.resave import permute_qk
from scripts.zoo.truth import DERIVATIONS, PARTIAL, expected_verdict, load_manifest

ZOO = Path(__file__).resolve().parents[1] / "fixtures" / "realzoo"
pytestmark = pytest.mark.skipif(not (ZOO / "manifest.json").exists(), reason="no fixture zoo")
EMBEDDING = {
    "llama": "model.embed_tokens.weight",
    "qwen2": "model.embed_tokens.weight",
    "gpt2": "transformer.wte.weight",
    "bert": "bert.embeddings.word_embeddings.weight",
}


def weights(model_id: str) -> dict[str, np.ndarray]:
    return {
        k: np.asarray(v, dtype=np.float32)
        for k, v in load_file(str(ZOO / model_id / "model.safetensors")).items()
    }


def _cos(a: np.ndarray, b: np.ndarray) -> float:
    return float(a.ravel() @ b.ravel() / np.linalg.norm(a) / np.linalg.norm(b))


def test_manifest_is_consistent() -> None:
    manifest = load_manifest(ZOO)
    ids = {e["id"] for e in manifest}
    assert {e["architecture"] for e in manifest} == {"llama", "qwen2", "gpt2", "bert"}
    for e in manifest:
        assert (ZOO / e["path"]).exists(), e["path"]
        for p in e["parents"]:
            assert p["id"] in ids and p["relation"] in DERIVATIONS | PARTIAL
        if e["format"] == "safetensors":
            config = json.loads((ZOO / e["path"] / "config.json").read_text())
            assert config["model_type"] == e["architecture"]
        if not e["parents"]:
            assert e["training"]["heldout_after"] < e["training"]["heldout_before"] - 1.0
    assert expected_verdict(manifest, "llama-k0", "llama-b0") == (
        "related",
        "shares-embeddings",
        None,
    )
    assert expected_verdict(manifest, "gpt2-b0", "gpt2-b1")[0] == "unrelated"
    assert expected_verdict(manifest, "bert-b0-trim", "bert-b0") == ("derived", "pruned", "b->a")


@pytest.mark.parametrize("arch", ["llama", "qwen2", "gpt2", "bert"])
def test_vocab_trim_keeps_rows_and_layers(arch: str) -> None:
    base, trim = weights(f"{arch}-b0"), weights(f"{arch}-b0-trim")
    emb = EMBEDDING[arch]
    assert np.array_equal(trim[emb], base[emb][TRIM_KEEP])
    for name, v in trim.items():
        if v.shape[0] != len(TRIM_KEEP):
            assert np.array_equal(v, base[name]), name


def test_short_finetune_is_bf16_and_really_moved() -> None:
    base = weights("llama-b0")
    raw = load_file(str(ZOO / "llama-b0-ft12-bf16" / "model.safetensors"))
    assert {str(v.dtype) for v in raw.values()} <= {"bfloat16", "|V2"}
    ft = weights("llama-b0-ft12-bf16")
    q = "model.layers.0.self_attn.q_proj.weight"
    assert 0.99 < _cos(ft[q], base[q]) < 1.0
    bf16 = base[q].astype(np.float32).view(np.uint32) & 0xFFFF0000
    assert not np.array_equal(ft[q].view(np.uint32), bf16)  # not just a cast


def test_onnx_quantizers_write_real_patterns() -> None:
    ops = {}
    for name in ("llama-b0-onnx-qdyn", "llama-b0-onnx-qop", "bert-b0-onnx-opt"):
        model = onnx.load(str(ZOO / f"{name}.onnx"))
        ops[name] = Counter(n.op_type for n in model.graph.node)
    assert ops["llama-b0-onnx-qdyn"]["MatMulInteger"] > 0
    assert ops["llama-b0-onnx-qdyn"]["DynamicQuantizeLinear"] > 0
    assert ops["llama-b0-onnx-qop"]["QLinearMatMul"] > 0
    model = onnx.load(str(ZOO / "llama-b0-onnx-qdyn.onnx"))
    names = [i.name for i in model.graph.initializer]
    assert any(n.startswith("onnx::MatMul_") for n in names)
    int8 = [numpy_helper.to_array(i) for i in model.graph.initializer]
    assert any(a.dtype == np.int8 and a.ndim == 2 for a in int8)


def test_gguf_follows_llama_cpp_conventions() -> None:
    base = weights("llama-b0")
    config = json.loads((ZOO / "llama-b0" / "config.json").read_text())
    reader = gguf.GGUFReader(ZOO / "llama-b0-gguf-q8_0.gguf")
    tensors = {t.name: t for t in reader.tensors}
    t = tensors["blk.0.attn_q.weight"]
    assert t.tensor_type == gguf.GGMLQuantizationType.Q8_0
    w = gguf.quants.dequantize(t.data, t.tensor_type).reshape(
        base[q := "model.layers.0.self_attn.q_proj.weight"].shape
    )
    assert _cos(w, permute_qk(base[q], config["num_attention_heads"])) > 0.9999
    gpt2 = {t.name for t in gguf.GGUFReader(ZOO / "gpt2-b0-gguf-q8_0.gguf").tensors}
    assert {"blk.0.attn_qkv.weight", "position_embd.weight", "output.weight"} <= gpt2


@pytest.mark.parametrize("arch", ["llama", "gpt2", "bert"])
def test_kin_shares_the_embedding_table_not_the_layers(arch: str) -> None:
    base, kin = weights(f"{arch}-b0"), weights(f"{arch}-k0")
    emb = EMBEDDING[arch]
    assert np.array_equal(kin[emb], base[emb])
    mats = [k for k, v in base.items() if v.ndim == 2 and (".layer" in k or ".h." in k)]
    assert mats and all(abs(_cos(kin[k], base[k])) < 0.5 for k in mats)


def test_layer_kin_shares_the_first_layer_only() -> None:
    base, kin = weights("llama-b0"), weights("llama-k1")
    first = [k for k in base if k.startswith("model.layers.0.")]
    second = [k for k in base if k.startswith("model.layers.1.") and base[k].ndim == 2]
    assert first and all(np.array_equal(kin[k], base[k]) for k in first)
    assert second and all(abs(_cos(kin[k], base[k])) < 0.5 for k in second)
