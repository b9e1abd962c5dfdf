"""The zoo directory: writes each model file and its manifest entry.

``ZooWriter.add`` saves one model in one format (safetensors directory with ``config.json``,
GGUF file or ONNX file), records its ground truth (parents with the relation to each, family,
transformation, structural direction evidence) and keeps the manifest in the order written.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import torch
from safetensors.torch import save_file

from .gguf_export import write_gguf
from .models import ModelConfig, hf_config
from .onnx_export import write_onnx

State = dict[str, torch.Tensor]

# relations through which one model is derived from another; "shares-embeddings" is partial
DERIVATIONS = ("finetune", "adapter", "quantized", "repackaged", "pruned", "merge")
PARTIAL = ("shares-embeddings",)


def weights_sha256(state: State) -> str:
    """Digest of the float32 values under their HF names: equal digests = identical weights."""
    h = hashlib.sha256()
    for name in sorted(state):
        t = state[name].detach().float().contiguous()
        h.update(f"{name}:{tuple(t.shape)}\n".encode())
        h.update(t.numpy().tobytes())
    return h.hexdigest()


@dataclass
class ZooWriter:
    """Writes models under ``root`` and collects manifest entries."""

    root: Path
    entries: list[dict] = field(default_factory=list)

    def add(
        self,
        model_id: str,
        cfg: ModelConfig,
        state: State,
        *,
        family: str,
        transformation: str,
        parents: list[tuple[str, str]] = (),  # type: ignore[assignment]
        fmt: str = "safetensors",
        dtype: torch.dtype = torch.float32,
        quant: str | None = None,
        evidence: str | None = None,
        lossless: bool = True,
        **extra: object,
    ) -> dict:
        """Save ``state`` as ``fmt`` and append its manifest entry; return the entry.

        ``lossless`` says whether the file holds ``state`` exactly (then ``weights_sha256`` is
        recorded so identical weights can be recognised); quantized files record ``null``.
        """
        if any(e["id"] == model_id for e in self.entries):
            raise ValueError(f"duplicate zoo id {model_id}")
        if fmt == "safetensors":
            rel = model_id
            out = self.root / rel
            out.mkdir(parents=True, exist_ok=True)
            tensors = {k: v.to(dtype).contiguous() for k, v in state.items()}
            save_file(tensors, str(out / "model.safetensors"), metadata={"format": "pt"})
            config = hf_config(cfg)
            config["torch_dtype"] = str(dtype).removeprefix("torch.")
            (out / "config.json").write_text(json.dumps(config, indent=2) + "\n")
            digest_of = {k: v.float() for k, v in tensors.items()}
        elif fmt == "gguf":
            rel = f"{model_id}.gguf"
            write_gguf(state, cfg, self.root / rel, quant or "q8_0")
            digest_of = state
        elif fmt == "onnx":
            rel = f"{model_id}.onnx"
            write_onnx(state, self.root / rel, int8=quant == "int8")
            digest_of = state
        else:
            raise ValueError(f"unknown format {fmt}")
        entry = {
            "id": model_id,
            "path": rel,
            "format": fmt,
            "architecture": cfg.arch,
            "family": family,
            "parents": [{"id": p, "relation": r} for p, r in parents],
            "transformation": transformation,
            "direction_evidence": evidence,
            "dtype": str(dtype).removeprefix("torch.") if fmt == "safetensors" else quant,
            "shape": {"hidden": cfg.hidden, "layers": cfg.layers, "vocab": cfg.vocab},
            "weights_sha256": weights_sha256(digest_of) if lossless else None,
            **extra,
        }
        for p in entry["parents"]:
            if p["relation"] not in DERIVATIONS + PARTIAL:
                raise ValueError(f"unknown relation {p['relation']}")
            if not any(e["id"] == p["id"] for e in self.entries):
                raise ValueError(f"parent {p['id']} of {model_id} is not in the zoo")
        self.entries.append(entry)
        return entry

    def write_manifest(self) -> Path:
        path = self.root / "manifest.json"
        path.write_text(json.dumps(self.entries, indent=2) + "\n")
        return path
