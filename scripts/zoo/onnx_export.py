"""Write a state dict as an ONNX file the way exporters and quantizers leave it.

Initializers are renamed (``onnx::MatMul_1234`` for linear weights, ``/model/layers.0/...``
paths for the rest), MatMul weights are stored transposed as (in, out), and in the int8 variant
each matrix is an int8 tensor with per-output-channel scale and zero point (embeddings: uint8
per-tensor, asymmetric) wired through ``DequantizeLinear``. The graph is minimal (each weight
feeds one node whose result is a graph output) but passes ``onnx.checker.check_model``.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import onnx
import torch
from onnx import TensorProto, helper, numpy_helper

_EMBEDDING = re.compile(r"(embed_tokens|_embeddings)\.weight$")
_OPSET = 17


def _path_name(name: str, op: str) -> str:
    module, _, kind = name.rpartition(".")
    return "/" + re.sub(r"\.(?!\d)", "/", module) + f"/{op}_{kind}"


class _Graph:
    def __init__(self) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []
        self.inputs: dict[str, onnx.ValueInfoProto] = {}
        self.outputs: list[onnx.ValueInfoProto] = []

    def init(self, name: str, a: np.ndarray) -> str:
        self.inits.append(numpy_helper.from_array(a, name))
        return name

    def input(self, name: str, dtype: int, shape: list) -> str:
        if name not in self.inputs:
            self.inputs[name] = helper.make_tensor_value_info(name, dtype, shape)
        return name

    def node(self, op: str, ins: list[str], out: str, **attrs) -> str:
        self.nodes.append(
            helper.make_node(op, ins, [out], name=out.rsplit("_output", 1)[0], **attrs)
        )
        return out

    def output(self, name: str, width: int) -> None:
        shape = ["batch", width]
        self.outputs.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, shape))


def _quantize_per_channel(w_t: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Symmetric int8 per output channel of an (in, out) matrix."""
    scale = np.abs(w_t).max(axis=0) / 127.0
    scale = np.where(scale == 0, 1.0, scale).astype(np.float32)
    q = np.clip(np.round(w_t / scale[None, :]), -127, 127).astype(np.int8)
    return q, scale, np.zeros(w_t.shape[1], dtype=np.int8)


def _quantize_per_tensor(w: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Asymmetric uint8 over the whole tensor."""
    lo, hi = min(float(w.min()), 0.0), max(float(w.max()), 0.0)
    scale = np.float32((hi - lo) / 255.0 or 1.0)
    zp = np.uint8(np.clip(round(-lo / scale), 0, 255))
    q = np.clip(np.round(w / scale) + int(zp), 0, 255).astype(np.uint8)
    return q, np.array(scale, dtype=np.float32), np.array(zp, dtype=np.uint8)


def write_onnx(
    state: dict[str, torch.Tensor], path: Path, *, int8: bool, first_id: int = 1000
) -> None:
    """Write ``state`` as ONNX; ``int8`` quantizes matrices and embeddings."""
    g = _Graph()
    ids = g.input("input_ids", TensorProto.INT64, ["batch"])
    counter = first_id
    for name, t in state.items():
        a = t.detach().float().numpy()
        if a.ndim == 2 and _EMBEDDING.search(name):
            base = _path_name(name, "Gather")
            if int8:
                q, s, z = _quantize_per_tensor(a)
                deq = g.node(
                    "DequantizeLinear",
                    [
                        g.init(base + "_quantized", q),
                        g.init(base + "_scale", s),
                        g.init(base + "_zero_point", z),
                    ],
                    base + "_dequantized_output_0",
                )
            else:
                deq = g.init(base, a)
            g.output(g.node("Gather", [deq, ids], base + "_output_0", axis=0), a.shape[1])
        elif a.ndim == 2:
            counter += 1 + (counter * 7919) % 13  # exporters' ids are increasing but not dense
            base = f"onnx::MatMul_{counter}"
            w_t = np.ascontiguousarray(a.T)
            x = g.input(f"hidden_{w_t.shape[0]}", TensorProto.FLOAT, ["batch", w_t.shape[0]])
            if int8:
                q, s, z = _quantize_per_channel(w_t)
                weight = g.node(
                    "DequantizeLinear",
                    [
                        g.init(base + "_quantized", q),
                        g.init(base + "_scale", s),
                        g.init(base + "_zero_point", z),
                    ],
                    f"/MatMul_{counter}/DequantizeLinear_output_0",
                    axis=1,
                )
            else:
                weight = g.init(base, w_t)
            g.output(g.node("MatMul", [x, weight], f"/MatMul_{counter}_output_0"), w_t.shape[1])
        else:
            op = "Add" if name.endswith("bias") else "Mul"
            base = _path_name(name, op)
            x = g.input(f"hidden_{a.shape[0]}", TensorProto.FLOAT, ["batch", a.shape[0]])
            g.output(g.node(op, [x, g.init(base, a)], base + "_output_0"), a.shape[0])
    graph = helper.make_graph(g.nodes, "main_graph", list(g.inputs.values()), g.outputs, g.inits)
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", _OPSET)], producer_name="pytorch"
    )
    model.ir_version = 8
    onnx.checker.check_model(model, full_check=True)
    onnx.save(model, str(path))
