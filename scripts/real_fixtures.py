"""Build the real-tool fixtures under tests/fixtures/real from the committed zoo's llama-b0.

- ``llama-b0-adamw12-bf16/``, ``llama-b0-adamw12-lr2e-5-bf16/``: 12 steps of torch's AdamW
  (lr 1e-4, 2e-5) on the zoo's fine-tune text, saved in bf16 (short real fine-tunes, the kind
  that must never read as a repackage).
- ``llama-b0-ort-dynamic.onnx`` / ``llama-b0-ort-dynamic-perchannel.onnx``: llama-b0 exported
  with ``torch.onnx.export`` and quantized by ``onnxruntime.quantization.quantize_dynamic``
  (MatMulInteger + DynamicQuantizeLinear; per-tensor and per-channel scales).

Needs the ``zoo`` extra plus onnxruntime (``pip install -e '.[zoo]' onnxruntime``); run from
the repository root: ``python -m scripts.real_fixtures``. Deterministic on CPU.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from scripts.zoo.corpus import WindowSampler, load_corpus
from scripts.zoo.models import SIZES, hf_config, load_model
from scripts.zoo.train import batch_loss

ROOT = Path(__file__).resolve().parents[1]
ZOO = ROOT / "tests" / "fixtures" / "zoo"
OUT = ROOT / "tests" / "fixtures" / "real"


def short_finetune(cfg, state: dict[str, torch.Tensor], lr: float) -> dict[str, torch.Tensor]:
    """12 AdamW steps at ``lr`` (batch 8), then cast to bf16 as a publisher would save it."""
    torch.manual_seed(12)
    model = load_model(cfg, state)
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=lr)
    sampler = WindowSampler(load_corpus().slices["finetune_a"], cfg.seq_len, 8, seed=12)
    gen = torch.Generator().manual_seed(12)
    for _ in range(12):
        opt.zero_grad()
        batch_loss(model, cfg, sampler.next(), gen).backward()
        opt.step()
    return {k: v.detach().to(torch.bfloat16).contiguous() for k, v in model.state_dict().items()}


def export_onnx(cfg, state: dict[str, torch.Tensor], path: Path) -> None:
    model = load_model(cfg, state).eval()
    ids = torch.zeros((1, 16), dtype=torch.long)
    torch.onnx.export(
        model, (ids,), str(path), input_names=["input_ids"], output_names=["logits"],
        opset_version=17, dynamo=False, dynamic_axes={"input_ids": {1: "t"}},
    )  # fmt: skip


def main() -> None:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    cfg = SIZES["tiny"]["llama"]
    state = load_file(str(ZOO / "llama-b0" / "model.safetensors"))
    OUT.mkdir(parents=True, exist_ok=True)
    for label, lr in (("", 1e-4), ("-lr2e-5", 2e-5)):
        ft = OUT / f"llama-b0-adamw12{label}-bf16"
        ft.mkdir(exist_ok=True)
        save_file(short_finetune(cfg, state, lr), str(ft / "model.safetensors"))
        (ft / "config.json").write_text(json.dumps(hf_config(cfg), indent=2) + "\n")
    with tempfile.TemporaryDirectory() as tmp:
        fp32 = Path(tmp) / "fp32.onnx"
        export_onnx(cfg, state, fp32)
        for name, per_channel in (("", False), ("-perchannel", True)):
            quantize_dynamic(
                fp32, OUT / f"llama-b0-ort-dynamic{name}.onnx",
                weight_type=QuantType.QInt8, per_channel=per_channel,
            )  # fmt: skip
        shutil.copy(fp32, OUT / "llama-b0-torch-export.onnx")


if __name__ == "__main__":
    main()
