"""The committed tiny zoo: its manifest, its ground truth and the structure of each derivative.

Reads ``tests/fixtures/zoo`` with numpy, safetensors, gguf and onnx only (no torch).
"""

from __future__ import annotations

import json
from pathlib import Path

import gguf
import numpy as np
import onnx
import pytest
from onnx import numpy_helper
from safetensors.numpy import load_file

from scripts.zoo.truth import DERIVATIONS, PARTIAL, expected_verdict, load_manifest

ZOO = Path(__file__).resolve().parents[1] / "fixtures" / "zoo"
pytestmark = pytest.mark.skipif(not (ZOO / "manifest.json").exists(), reason="no fixture zoo")


@pytest.fixture(scope="module")
def manifest() -> list[dict]:
    return load_manifest(ZOO)


def weights(model_id: str) -> dict[str, np.ndarray]:
    return {
        k: v.astype(np.float32)
        for k, v in load_file(str(ZOO / model_id / "model.safetensors")).items()
    }


def test_manifest_is_consistent(manifest: list[dict]) -> None:
    ids = [e["id"] for e in manifest]
    assert len(ids) == len(set(ids))
    for e in manifest:
        assert (ZOO / e["path"]).exists(), e["path"]
        assert e["format"] in ("safetensors", "gguf", "onnx")
        for p in e["parents"]:
            assert p["id"] in ids and p["relation"] in DERIVATIONS | PARTIAL
        if e["format"] == "safetensors":
            config = json.loads((ZOO / e["path"] / "config.json").read_text())
            assert config["model_type"] == e["architecture"]
            assert config["num_hidden_layers"] == e["shape"]["layers"]
    for arch in ("llama", "bert"):
        bases = [e for e in manifest if e["architecture"] == arch and not e["parents"]]
        assert len(bases) >= 2
        for b in bases:  # every base really learned
            assert b["training"]["loss_after"] < b["training"]["loss_before"] - 1.0


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ("llama-b0", "llama-b0", ("identical", None, None)),
        ("llama-b0", "llama-b0-onnx-fp32", ("identical", "repackaged", "a->b")),
        ("llama-b0", "llama-b0-ft", ("derived", "finetune", "a->b")),
        ("llama-b0-lora", "llama-b0", ("derived", "adapter", "b->a")),
        ("llama-b0", "llama-b0-obfuscated-gguf-q4_1", ("derived", "repackaged+quantized", "a->b")),
        ("llama-b0-ft-sibling", "llama-b0-merge-ties", ("derived", "merge", "a->b")),
        ("llama-b0", "llama-b0-merge-linear", ("derived", "finetune+merge", "a->b")),
        ("llama-b0-ft", "llama-b0-ft-sibling", ("related", None, None)),
        ("llama-b0-pruned50-fp16", "llama-b0-gguf-q8_0", ("related", None, None)),
        ("llama-c0", "llama-b0", ("related", "shares-embeddings", None)),
        ("llama-b0-ft", "llama-c0", ("related", "shares-embeddings", None)),
        ("llama-c0", "llama-b1", ("unrelated", None, None)),
        ("llama-b0", "llama-b1", ("unrelated", None, None)),
        ("llama-b0-ft", "llama-b1-ft", ("unrelated", None, None)),
        ("bert-b0", "llama-b0", ("unrelated", None, None)),
        ("bert-b0-obfuscated-onnx-int8", "bert-b0", ("derived", "repackaged+quantized", "b->a")),
    ],
)
def test_expected_verdicts(manifest: list[dict], a: str, b: str, expected: tuple) -> None:
    assert expected_verdict(manifest, a, b) == expected


def _unpermute(w: np.ndarray, n_head: int) -> np.ndarray:
    return (
        w.reshape(n_head, w.shape[0] // n_head // 2, 2, *w.shape[1:])
        .swapaxes(1, 2)
        .reshape(w.shape)
    )


def _cos(a: np.ndarray, b: np.ndarray) -> float:
    return float(a.ravel() @ b.ravel() / np.linalg.norm(a) / np.linalg.norm(b))


@pytest.mark.parametrize(("quant", "floor"), [("q8_0", 0.9999), ("q4_0", 0.99)])
def test_gguf_is_the_base_quantized(quant: str, floor: float) -> None:
    base = weights("llama-b0")
    config = json.loads((ZOO / "llama-b0" / "config.json").read_text())
    reader = gguf.GGUFReader(ZOO / f"llama-b0-gguf-{quant}.gguf")
    arch = reader.fields["general.architecture"]
    assert bytes(arch.parts[arch.data[0]]).decode() == "llama"
    tensors = {t.name: t for t in reader.tensors}
    for hf, cpp, heads in [
        (
            "model.layers.0.self_attn.q_proj.weight",
            "blk.0.attn_q.weight",
            config["num_attention_heads"],
        ),
        (
            "model.layers.0.self_attn.k_proj.weight",
            "blk.0.attn_k.weight",
            config["num_key_value_heads"],
        ),
        ("model.layers.0.mlp.down_proj.weight", "blk.0.ffn_down.weight", 0),
        ("model.embed_tokens.weight", "token_embd.weight", 0),
    ]:
        t = tensors[cpp]
        w = gguf.quants.dequantize(t.data, t.tensor_type).reshape(base[hf].shape)
        if heads:
            assert _cos(w, base[hf]) < 0.9  # rows really are permuted for llama.cpp's rotary
            w = _unpermute(w, heads)
        assert _cos(w, base[hf]) > floor
    assert tensors["output_norm.weight"].tensor_type == gguf.GGMLQuantizationType.F32


def test_onnx_exports() -> None:
    base = weights("bert-b0")
    fp32 = onnx.load(str(ZOO / "bert-b0-onnx-fp32.onnx"))
    inits = {i.name: numpy_helper.to_array(i) for i in fp32.graph.initializer}
    q = base["bert.encoder.layer.0.attention.self.query.weight"]
    assert not any(n in inits for n in base)
    assert any(np.array_equal(v, q.T) for v in inits.values())  # renamed and transposed
    int8 = onnx.load(str(ZOO / "bert-b0-onnx-int8.onnx"))
    onnx.checker.check_model(int8)
    inits = {i.name: numpy_helper.to_array(i) for i in int8.graph.initializer}
    int8_names = [n for n, v in inits.items() if v.dtype == np.int8]
    assert int8_names
    deq = [
        inits[n].astype(np.float32) * inits[n.replace("_quantized", "_scale")] for n in int8_names
    ]
    assert max(_cos(d, q.T) for d in deq if d.shape == q.T.shape) > 0.999


def test_structural_evidence() -> None:
    base = weights("llama-b0")
    mats = [k for k, v in base.items() if v.ndim == 2 and ".layers." in k]
    pruned = weights("llama-b0-pruned50")
    assert all((pruned[k] == 0).mean() >= 0.5 for k in mats)
    dropped = weights("llama-b0-layerdrop")
    assert np.array_equal(
        dropped["model.layers.1.mlp.up_proj.weight"], base["model.layers.2.mlp.up_proj.weight"]
    )
    ext = weights("llama-b0-vocab-ext")
    n = base["model.embed_tokens.weight"].shape[0]
    assert ext["model.embed_tokens.weight"].shape[0] == n + 16
    assert np.array_equal(ext["model.embed_tokens.weight"][:n], base["model.embed_tokens.weight"])
    lora = weights("llama-b0-lora")
    delta = (
        lora["model.layers.0.self_attn.q_proj.weight"]
        - base["model.layers.0.self_attn.q_proj.weight"]
    )
    assert np.linalg.matrix_rank(delta, tol=1e-5) <= 8
    assert np.array_equal(
        lora["model.layers.0.self_attn.k_proj.weight"],
        base["model.layers.0.self_attn.k_proj.weight"],
    )
    abl = weights("llama-b0-abliterated")
    delta = (
        abl["model.layers.0.self_attn.o_proj.weight"]
        - base["model.layers.0.self_attn.o_proj.weight"]
    )
    assert np.linalg.matrix_rank(delta, tol=1e-5) == 1
    half = weights("llama-b0-fp16")
    assert np.array_equal(
        half["lm_head.weight"], base["lm_head.weight"].astype(np.float16).astype(np.float32)
    )
    ft, sib, merged = (
        weights("llama-b0-ft"),
        weights("llama-b0-ft-sibling"),
        weights("llama-b0-merge-linear"),
    )
    assert np.allclose(
        merged["lm_head.weight"], (ft["lm_head.weight"] + sib["lm_head.weight"]) / 2, atol=1e-6
    )


def test_obfuscation_hides_the_weights_but_keeps_their_values() -> None:
    base, obf = weights("llama-b0"), weights("llama-b0-obfuscated")
    g = "model.layers.0.input_layernorm.weight"
    assert not np.array_equal(obf[g], base[g])
    assert np.array_equal(np.sort(obf[g]), np.sort(base[g]))  # gains permuted, not changed
    emb = "model.embed_tokens.weight"
    assert abs(_cos(obf[emb], base[emb])) < 0.5
