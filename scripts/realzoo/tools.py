"""Derivatives made by the tools people use, not by numpy imitations.

- ``save_hf``: ``save_pretrained`` (safetensors), in the dtype asked for.
- ``lora_merged``: a PEFT LoRA adapter trained on the frozen model, then ``merge_and_unload``.
- ``resized``: ``resize_token_embeddings`` (new rows appended, mean-initialised), then trained.
- ``vocab_trimmed``: the vocabulary cut to a subset of tokens, ids renumbered, every other tensor
  byte-identical (how multilingual models are trimmed to a few languages).
- ``export_onnx``: ``torch.onnx.export`` (TorchScript exporter: ``onnx::MatMul_N`` initializers,
  weights stored transposed), then onnxruntime's graph optimizer (``optimized_model_filepath``).
- ``quantize_onnx``: ``onnxruntime.quantization`` dynamic (``MatMulInteger`` /
  ``DynamicQuantizeLinear``) and static (QDQ ``DequantizeLinear`` or QOperator ``QLinearMatMul``),
  per tensor or per channel.
- ``export_gguf``: llama.cpp's converter conventions via ``scripts.realzoo.resave`` with the gguf
  package's quantizers (Q8_0, Q4_0, Q4_1, Q5_0, Q5_1; gguf 0.19 cannot quantize K-quants).
"""

from __future__ import annotations

import copy
import json
import tempfile
from pathlib import Path

import numpy as np
import torch
from torch import nn

from scripts.zoo.corpus import fixed_windows

from .models import model_class, train
from .resave import gguf_tensors, write_gguf

LORA_TARGETS = {
    "llama": ["q_proj", "v_proj", "gate_proj", "up_proj", "down_proj"],
    "qwen2": ["q_proj", "v_proj", "gate_proj", "up_proj", "down_proj"],
    "gpt2": ["c_attn", "c_fc"],
    "bert": ["query", "value", "intermediate.dense"],
}


def save_hf(model: nn.Module, out: Path, dtype: torch.dtype = torch.float32) -> Path:
    m = copy.deepcopy(model).to(dtype)
    m.config.torch_dtype = dtype
    m.save_pretrained(out, safe_serialization=True)
    for extra in ("generation_config.json",):
        (out / extra).unlink(missing_ok=True)
    return out


def state_numpy(model: nn.Module) -> dict[str, np.ndarray]:
    return {k: v.detach().float().numpy().copy() for k, v in model.state_dict().items()}


def lora_merged(
    model: nn.Module, arch: str, ids: torch.Tensor, heldout: torch.Tensor, seed: int, steps: int
) -> tuple[nn.Module, dict]:
    from peft import LoraConfig, get_peft_model

    torch.manual_seed(seed)
    cfg = LoraConfig(
        r=8,
        lora_alpha=16,
        target_modules=LORA_TARGETS[arch],
        lora_dropout=0.0,
        fan_in_fan_out=arch == "gpt2",
    )
    peft_model = get_peft_model(copy.deepcopy(model), cfg)
    rec = train(
        peft_model,
        arch,
        ids,
        heldout,
        steps=steps,
        lr=2e-3,
        seed=seed,
        trainable=lambda n: "lora_" in n,
    )
    rec.update({"rank": 8, "alpha": 16, "targets": LORA_TARGETS[arch]})
    return peft_model.merge_and_unload(), rec


def resized(
    model: nn.Module, arch: str, extra: int, ids: torch.Tensor, heldout: torch.Tensor, seed: int
) -> tuple[nn.Module, dict]:
    m = copy.deepcopy(model)
    torch.manual_seed(seed)
    m.resize_token_embeddings(m.config.vocab_size + extra)
    rec = train(m, arch, ids, heldout, steps=20, lr=1e-4, seed=seed, schedule=False)
    rec["added_rows"] = extra
    return m, rec


def _vocab_tensors(model: nn.Module) -> list[str]:
    v = model.config.vocab_size
    return [k for k, t in model.state_dict().items() if t.shape and t.shape[0] == v]


def vocab_trimmed(model: nn.Module, arch: str, keep: list[int]) -> nn.Module:
    """A copy with only the ``keep`` token ids (renumbered 0..len-1), the rest identical."""
    cfg = copy.deepcopy(model.config)
    cfg.vocab_size = len(keep)
    cfg.pad_token_id = keep.index(cfg.pad_token_id) if cfg.pad_token_id in keep else None
    for attr in ("bos_token_id", "eos_token_id"):
        old = getattr(cfg, attr, None)
        if old is not None:
            setattr(cfg, attr, keep.index(old) if old in keep else None)
    out = model_class(arch)(cfg)
    idx = torch.tensor(keep)
    state = model.state_dict()
    new = {
        k: (v[idx].clone() if k in _vocab_tensors(model) else v.clone()) for k, v in state.items()
    }
    out.load_state_dict(new, strict=True)
    return out


def _calibration(heldout: torch.Tensor, seq: int, n: int = 8) -> list[np.ndarray]:
    return [w[None, :-1].numpy().astype(np.int64) for w in fixed_windows(heldout, seq, n)]


def _logits_forward(model: nn.Module, arch: str):
    """``forward(input_ids, attention_mask) -> logits``, as exporters wrap a HF model."""
    cls = type(model)
    kw = {} if arch == "bert" else {"logits_to_keep": 0}

    def forward(input_ids, attention_mask):
        return cls.forward(model, input_ids=input_ids, attention_mask=attention_mask, **kw).logits

    return forward


def export_onnx(model: nn.Module, arch: str, path: Path, seq: int) -> Path:
    """``torch.onnx.export`` (TorchScript exporter, opset 17); returns the raw export."""
    m = copy.deepcopy(model).float().eval()
    m.config.use_cache = False
    m.forward = _logits_forward(m, arch)
    ids = torch.arange(seq - 1).remainder(256)[None, :]
    mask = torch.ones_like(ids)
    path.parent.mkdir(parents=True, exist_ok=True)
    axes = {"input_ids": {0: "batch", 1: "seq"}, "attention_mask": {0: "batch", 1: "seq"}}
    with torch.no_grad():
        torch.onnx.export(
            m,
            (ids, mask),
            str(path),
            input_names=["input_ids", "attention_mask"],
            output_names=["logits"],
            dynamic_axes=axes,
            opset_version=17,
            dynamo=False,
        )
    return path


def ort_optimized(src: Path, out: Path, level: str = "extended") -> Path:
    """onnxruntime's graph optimizer, saving the optimized graph (basic or extended)."""
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.graph_optimization_level = {
        "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
        "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
    }[level]
    so.optimized_model_filepath = str(out)
    so.intra_op_num_threads = 1
    ort.InferenceSession(str(src), so, providers=["CPUExecutionProvider"])
    return out


class _Reader:
    def __init__(self, batches: list[np.ndarray]) -> None:
        self.it = iter(batches)

    def get_next(self):
        b = next(self.it, None)
        return None if b is None else {"input_ids": b, "attention_mask": np.ones_like(b)}


def quantize_onnx(
    src: Path, out: Path, kind: str, per_channel: bool, heldout: torch.Tensor, seq: int
) -> Path:
    """``kind``: ``dynamic``, ``static-qdq`` or ``static-qop`` (QOperator: QLinearMatMul)."""
    from onnxruntime.quantization import (
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quant_pre_process,
        quantize_dynamic,
        quantize_static,
    )

    with tempfile.TemporaryDirectory() as tmp:
        pre = Path(tmp) / "pre.onnx"
        quant_pre_process(str(src), str(pre), skip_symbolic_shape=True)
        if kind == "dynamic":
            quantize_dynamic(
                str(pre), str(out), weight_type=QuantType.QInt8, per_channel=per_channel
            )
        else:
            quantize_static(
                str(pre),
                str(out),
                _Reader(_calibration(heldout, seq)),
                quant_format=QuantFormat.QDQ if kind == "static-qdq" else QuantFormat.QOperator,
                per_channel=per_channel,
                activation_type=QuantType.QUInt8,
                weight_type=QuantType.QInt8,
                calibrate_method=CalibrationMethod.MinMax,
            )
    return out


def export_gguf(model_dir: Path, path: Path, quant: str) -> Path:
    """GGUF from a saved HF directory (as ``convert_hf_to_gguf.py`` reads it)."""
    import gguf
    from safetensors.numpy import load_file

    config = json.loads((model_dir / "config.json").read_text())
    tensors = {
        k: v.astype(np.float32) for k, v in load_file(str(model_dir / "model.safetensors")).items()
    }
    qtype = getattr(gguf.GGMLQuantizationType, quant.upper())
    return write_gguf(gguf_tensors(tensors, config), config, path, qtype)
