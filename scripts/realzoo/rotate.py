"""QuaRot/SpinQuant-style rotation of a llama-layout model's residual stream, in numpy.

Each RMSNorm gain is folded into the matrices that read its output (q, k, v after
``input_layernorm``, gate and up after ``post_attention_layernorm``, the head after the final
norm) and set to 1; then the residual stream is rotated by an orthogonal Q (random, or a
randomised Hadamard matrix): embeddings ``E Q``, reading matrices ``W Q``, writing matrices
(o, down) ``Q^T W``. The model computes the same function (up to float rounding).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np

_READ = ("self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "mlp.gate_proj", "mlp.up_proj")
_WRITE = ("self_attn.o_proj", "mlp.down_proj")


def rotation(d: int, seed: int, hadamard: bool) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if hadamard:
        from scipy.linalg import hadamard as walsh

        return walsh(d) / np.sqrt(d) * rng.choice([-1.0, 1.0], d)[None, :]
    q, r = np.linalg.qr(rng.standard_normal((d, d)))
    return q * np.sign(np.diag(r))[None, :]


def rotated_state(
    tensors: dict[str, np.ndarray], *, seed: int = 0, hadamard: bool = False
) -> dict[str, np.ndarray]:
    """The state dict with norms folded and the residual stream rotated (float32)."""
    t = {k: v.astype(np.float64) for k, v in tensors.items()}
    d = t["model.embed_tokens.weight"].shape[1]
    q = rotation(d, seed, hadamard)
    layers = sorted({int(k.split(".")[2]) for k in t if k.startswith("model.layers.")})
    folds = [
        (
            f"model.layers.{i}.input_layernorm.weight",
            [f"model.layers.{i}.{m}.weight" for m in _READ[:3]],
        )
        for i in layers
    ]
    folds += [
        (
            f"model.layers.{i}.post_attention_layernorm.weight",
            [f"model.layers.{i}.{m}.weight" for m in _READ[3:]],
        )
        for i in layers
    ]
    head = "lm_head.weight" if "lm_head.weight" in t else "model.embed_tokens.weight"
    if head == "lm_head.weight":
        folds.append(("model.norm.weight", [head]))
    for norm, readers in folds:
        for name in readers:
            t[name] = t[name] * t[norm][None, :]
        t[norm] = np.ones_like(t[norm])
    t["model.embed_tokens.weight"] = t["model.embed_tokens.weight"] @ q
    if head == "lm_head.weight":
        t[head] = t[head] @ q
    for i in layers:
        for m in _READ:
            t[f"model.layers.{i}.{m}.weight"] = t[f"model.layers.{i}.{m}.weight"] @ q
        for m in _WRITE:
            t[f"model.layers.{i}.{m}.weight"] = q.T @ t[f"model.layers.{i}.{m}.weight"]
    return {k: v.astype(np.float32) for k, v in t.items()}


def rotate_model(src: Path, out: Path, *, seed: int = 0, hadamard: bool = False) -> Path:
    """Rotate the HF safetensors model at ``src`` into ``out`` (config copied)."""
    from safetensors.numpy import load_file, save_file

    tensors = load_file(str(src / "model.safetensors"))
    out.mkdir(parents=True, exist_ok=True)
    save_file(rotated_state(tensors, seed=seed, hadamard=hadamard), str(out / "model.safetensors"))
    shutil.copy(src / "config.json", out / "config.json")
    return out


def int8_per_row(src: Path, out: Path) -> Path:
    """Symmetric int8 per row for every matrix, stored as int8 with a float32 scale beside it
    (the layout of simple int8 releases)."""
    from safetensors.numpy import load_file, save_file

    stored: dict[str, np.ndarray] = {}
    for name, value in load_file(str(src / "model.safetensors")).items():
        if value.ndim == 2:
            scale = np.abs(value).max(axis=1, keepdims=True) / 127
            stored[name] = np.round(value / np.where(scale > 0, scale, 1)).astype(np.int8)
            stored[name.removesuffix(".weight") + ".weight_scale"] = scale.astype(np.float32)
        else:
            stored[name] = value
    out.mkdir(parents=True, exist_ok=True)
    save_file(stored, str(out / "model.safetensors"))
    config = json.loads((src / "config.json").read_text())
    (out / "config.json").write_text(json.dumps(config))
    return out
