"""Small objects for tests: fingerprints without files, and tiny safetensors models on disk."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
from safetensors.numpy import save_file

from schemas import DeclaredParent, FileDigest, TensorDigest, VariantCreate, WeightsFingerprint


def fake_fingerprint(seed: str, *, n_tensors: int = 3) -> WeightsFingerprint:
    """A well-formed fingerprint whose digests derive from ``seed`` (no files involved)."""
    tensors = [
        TensorDigest(
            name=f"layer.{i}.weight",
            dtype="F32",
            shape=[4, 4],
            digest="blake3:" + hashlib.sha256(f"{seed}/{i}".encode()).hexdigest(),
        )
        for i in range(n_tensors)
    ]
    digest = hashlib.sha256("\n".join(sorted(t.digest for t in tensors)).encode()).hexdigest()
    return WeightsFingerprint(
        digest=f"sha256:{digest}",
        format="safetensors",
        parameters=16 * n_tensors,
        dtypes=["F32"],
        files=[
            FileDigest(
                path="model.safetensors",
                size=64 * n_tensors + 100,
                sha256=hashlib.sha256(f"file/{seed}".encode()).hexdigest(),
            )
        ],
        tensors=tensors,
        architecture="LlamaForCausalLM",
        config={"model_type": "llama"},
    )


def variant_request(
    name: str,
    *,
    seed: str | None = None,
    revision: str = "main",
    parents: dict[str, str] | None = None,
) -> VariantCreate:
    """A registration request for ``name`` with ``parents`` as {NAME[@REV]: relation}."""
    return VariantCreate(
        name=name,
        revision=revision,
        fingerprint=fake_fingerprint(seed or f"{name}@{revision}"),
        parents=[DeclaredParent(name=p, relation=r) for p, r in (parents or {}).items()],  # type: ignore[arg-type]
    )


def tiny_tensors(seed: int, *, hidden: int = 16, layers: int = 2) -> dict[str, np.ndarray]:
    """A tiny Llama-shaped state dict with deterministic values."""
    rng = np.random.default_rng(seed)
    tensors = {"model.embed_tokens.weight": rng.standard_normal((32, hidden), dtype=np.float32)}
    for i in range(layers):
        for part in ("q_proj", "k_proj", "v_proj", "o_proj"):
            tensors[f"model.layers.{i}.self_attn.{part}.weight"] = rng.standard_normal(
                (hidden, hidden), dtype=np.float32
            )
        tensors[f"model.layers.{i}.mlp.up_proj.weight"] = rng.standard_normal(
            (2 * hidden, hidden), dtype=np.float32
        )
    return tensors


def finetuned(
    tensors: dict[str, np.ndarray], seed: int, scale: float = 0.05
) -> dict[str, np.ndarray]:
    """``tensors`` moved a little, as further training would."""
    rng = np.random.default_rng(seed)
    return {
        k: (v + scale * v.std() * rng.standard_normal(v.shape)).astype(np.float32)
        for k, v in tensors.items()
    }


def quantized_int8(tensors: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Symmetric int8 per row, stored as int8 with a scale beside each matrix."""
    out: dict[str, np.ndarray] = {}
    for name, value in tensors.items():
        scale = np.abs(value).max(axis=1, keepdims=True) / 127
        out[name] = np.round(value / scale).astype(np.int8)
        out[name + "_scale"] = scale.astype(np.float32)
    return out


def write_model(
    directory: Path, tensors: dict[str, np.ndarray], *, shards: int = 1, config: dict | None = None
) -> Path:
    """Write ``tensors`` as a safetensors model (sharded with an index when shards > 1)."""
    directory.mkdir(parents=True, exist_ok=True)
    names = sorted(tensors)
    if shards == 1:
        save_file({n: tensors[n] for n in names}, str(directory / "model.safetensors"))
    else:
        weight_map: dict[str, str] = {}
        for k in range(shards):
            shard = f"model-{k + 1:05d}-of-{shards:05d}.safetensors"
            part = names[k::shards]
            save_file({n: tensors[n] for n in part}, str(directory / shard))
            weight_map.update(dict.fromkeys(part, shard))
        (directory / "model.safetensors.index.json").write_text(
            json.dumps({"metadata": {}, "weight_map": weight_map})
        )
    (directory / "config.json").write_text(
        json.dumps(config or {"architectures": ["LlamaForCausalLM"], "model_type": "llama"})
    )
    return directory


def write_lora(
    directory: Path,
    base: dict[str, np.ndarray],
    *,
    modules: tuple[str, ...] = ("q_proj", "v_proj"),
    rank: int = 4,
    alpha: float = 8.0,
    seed: int = 0,
    base_name: str | None = None,
) -> Path:
    """A LoRA adapter release laid out as PEFT saves one (adapter_config.json and
    adapter_model.safetensors, factors named base_model.model.<module>.lora_A/B.weight)."""
    rng = np.random.default_rng(seed)
    factors: dict[str, np.ndarray] = {}
    for name, value in sorted(base.items()):
        module = name.removesuffix(".weight")
        if value.ndim != 2 or module.rsplit(".", 1)[-1] not in modules:
            continue
        out, inp = value.shape
        factors[f"base_model.model.{module}.lora_A.weight"] = (
            rng.standard_normal((rank, inp)) / np.sqrt(inp)
        ).astype(np.float32)
        factors[f"base_model.model.{module}.lora_B.weight"] = (
            0.02 * value.std() * rng.standard_normal((out, rank))
        ).astype(np.float32)
    directory.mkdir(parents=True, exist_ok=True)
    save_file(factors, str(directory / "adapter_model.safetensors"))
    config = {
        "peft_type": "LORA", "r": rank, "lora_alpha": alpha, "target_modules": list(modules),
        "base_model_name_or_path": base_name, "fan_in_fan_out": False, "use_rslora": False,
        "use_dora": False,
    }  # fmt: skip
    (directory / "adapter_config.json").write_text(json.dumps(config))
    return directory


def merged_lora(base: dict[str, np.ndarray], adapter: Path) -> dict[str, np.ndarray]:
    """``base`` with the adapter at ``adapter`` merged in (W + alpha / r * B @ A)."""
    from safetensors.numpy import load_file

    config = json.loads((adapter / "adapter_config.json").read_text())
    factors = load_file(str(adapter / "adapter_model.safetensors"))
    out = dict(base)
    for name in base:
        module = name.removesuffix(".weight")
        a = factors.get(f"base_model.model.{module}.lora_A.weight")
        if a is not None:
            b = factors[f"base_model.model.{module}.lora_B.weight"]
            scale = config["lora_alpha"] / a.shape[0]
            out[name] = (base[name] + scale * b @ a).astype(np.float32)
    return out
