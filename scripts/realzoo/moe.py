"""Mixture-of-experts fixtures from a dense llama-layout model, in numpy.

``upcycle`` initialises every expert of every layer from the parent's MLP (gate, up, down) and
perturbs each apart (as upcycling then training does), keeping attention, norms and
embeddings (perturbed too, more lightly); the router is new. Written in the per-expert layout
(``block_sparse_moe.experts.E.w1/w2/w3``, as Mixtral checkpoints are) or stacked
(``mlp.experts.gate_up_proj`` [E, 2f, d] and ``mlp.experts.down_proj`` [E, d, f]).
``select_experts`` keeps (and reorders) some experts: expert pruning, or a permutation.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np

_MLP = {"w1": "gate_proj", "w3": "up_proj", "w2": "down_proj"}


def _config(parent: dict, experts: int) -> dict:
    config = {k: v for k, v in parent.items() if k not in ("architectures", "model_type")}
    config.update(
        architectures=["MixtralForCausalLM"], model_type="mixtral",
        num_local_experts=experts, num_experts_per_tok=min(2, experts),
    )  # fmt: skip
    return config


def _noisy(x: np.ndarray, rng: np.random.Generator, scale: float) -> np.ndarray:
    return (x + scale * x.std() * rng.standard_normal(x.shape)).astype(np.float32)


def upcycle(
    src: Path, out: Path, *, experts: int = 4, seed: int = 0, noise: float = 0.1,
    stacked: bool = False,
) -> Path:  # fmt: skip
    """The dense model at ``src`` upcycled to ``experts`` experts per layer, into ``out``."""
    from safetensors.numpy import load_file, save_file

    rng = np.random.default_rng(seed)
    dense = load_file(str(src / "model.safetensors"))
    moe: dict[str, np.ndarray] = {}
    layers = sorted({int(k.split(".")[2]) for k in dense if k.startswith("model.layers.")})
    for name, value in dense.items():
        if ".mlp." not in name:
            moe[name] = _noisy(value, rng, noise / 10) if value.ndim == 2 else value
    d = dense["model.embed_tokens.weight"].shape[1]
    for i in layers:
        mlp = {w: dense[f"model.layers.{i}.mlp.{p}.weight"] for w, p in _MLP.items()}
        per = [{w: _noisy(m, rng, noise) for w, m in mlp.items()} for _ in range(experts)]
        router = (0.02 * rng.standard_normal((experts, d))).astype(np.float32)
        if stacked:
            prefix = f"model.layers.{i}.mlp"
            moe[f"{prefix}.gate.weight"] = router
            moe[f"{prefix}.experts.gate_up_proj"] = np.stack(
                [np.concatenate([e["w1"], e["w3"]]) for e in per]
            )
            moe[f"{prefix}.experts.down_proj"] = np.stack([e["w2"] for e in per])
        else:
            prefix = f"model.layers.{i}.block_sparse_moe"
            moe[f"{prefix}.gate.weight"] = router
            for e, weights in enumerate(per):
                for w, m in weights.items():
                    moe[f"{prefix}.experts.{e}.{w}.weight"] = m
    out.mkdir(parents=True, exist_ok=True)
    save_file(moe, str(out / "model.safetensors"))
    parent = json.loads((src / "config.json").read_text())
    (out / "config.json").write_text(json.dumps(_config(parent, experts)))
    return out


def select_experts(src: Path, out: Path, keep: list[int]) -> Path:
    """Only the experts ``keep``, in that order (fewer: expert pruning; all: a permutation)."""
    from safetensors.numpy import load_file, save_file

    tensors = load_file(str(src / "model.safetensors"))
    kept: dict[str, np.ndarray] = {}
    index = re.compile(r"^(.*\.experts\.)(\d+)(\..*)$")
    for name, value in tensors.items():
        m = index.match(name)
        if m:
            if int(m[2]) in keep:
                kept[f"{m[1]}{keep.index(int(m[2]))}{m[3]}"] = value
        elif name.endswith(("experts.gate_up_proj", "experts.down_proj")) or re.search(
            r"\.(block_sparse_moe|mlp)\.gate\.weight$", name
        ):
            kept[name] = value[keep]
        else:
            kept[name] = value
    out.mkdir(parents=True, exist_ok=True)
    save_file(kept, str(out / "model.safetensors"))
    config = json.loads((src / "config.json").read_text())
    config["num_local_experts"] = len(keep)
    (out / "config.json").write_text(json.dumps(config))
    return out
