"""What an ONNX graph computes from its integer weights: the scale and zero point each one is
dequantized with, found by reading the nodes that consume it (nothing is executed).

Exporters and quantizers write the same arithmetic in several shapes:

* ``DequantizeLinear(w, scale, zero_point)``, per tensor, per axis or blocked (opset 21);
* ``Gather(w, ids)`` then ``DequantizeLinear`` (a quantized embedding table);
* ``Cast(w)``, an optional ``Sub(zero_point)``, then ``Mul(scale)``;
* ``MatMulInteger(x, w, x_zp, w_zp)`` then ``Cast`` and ``Mul`` by ``x_scale * w_scale``
  (what ``onnxruntime.quantization.quantize_dynamic`` writes, after ``DynamicQuantizeLinear``);
* ``QLinearMatMul(a, a_scale, a_zp, w, w_scale, w_zp, ...)`` and onnxruntime's fused
  ``DynamicQuantizeMatMul`` / ``MatMulIntegerToFloat``.

Scales multiplied into a MatMul's output broadcast over its last axis, which is the weight's
last axis; :func:`dequantize` applies ONNX's (numpy's) broadcasting rules, or the explicit axis
of ``DequantizeLinear``, and refuses shapes that do not fit.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import numpy as np
import onnx
from onnx import TensorProto

from registry.errors import HeaderMalformed

QUANTIZED = {TensorProto.INT8: "INT8", TensorProto.UINT8: "UINT8"}
_FLOATS = {TensorProto.FLOAT, TensorProto.FLOAT16, TensorProto.BFLOAT16, TensorProto.DOUBLE}
_STANDARD = ("", "ai.onnx")
_MS = "com.microsoft"
_HINT = "re-export or re-quantize the model; its quantization parameters do not fit its weights"


@dataclass
class Decode:
    """How one integer initializer becomes the float weight the graph computes with."""

    scale: str
    zero_point: str | None
    axis: int | None  # DequantizeLinear's axis; None: broadcast as the graph's Mul does
    block_size: int = 0


class _Graph:
    def __init__(self, model: onnx.ModelProto, inits: dict[str, TensorProto]) -> None:
        self.inits = inits
        self.consumers: dict[str, list[onnx.NodeProto]] = defaultdict(list)
        self.producer: dict[str, onnx.NodeProto] = {}
        for node in model.graph.node:
            for name in node.input:
                self.consumers[name].append(node)
            for name in node.output:
                self.producer[name] = node

    def is_float_init(self, name: str) -> bool:
        t = self.inits.get(name)
        return t is not None and t.data_type in _FLOATS

    def init_or_none(self, name: str) -> str | None:
        return name if name and name in self.inits else None

    def only(self, output: str, op: str) -> onnx.NodeProto | None:
        found = [n for n in self.consumers.get(output, []) if n.op_type == op]
        return found[0] if len(found) == 1 else None

    def output_scale(self, output: str) -> str | None:
        """The weight scale multiplied into ``output`` (after an optional Cast): a float
        initializer, directly or as a factor of the Mul that makes the combined scale."""
        cast = self.only(output, "Cast")
        node = self.only(cast.output[0] if cast else output, "Mul")
        if node is None:
            return None
        for other in node.input:
            if self.is_float_init(other):
                return other
            factor = self.producer.get(other)
            if factor is not None and factor.op_type == "Mul":
                scales = [i for i in factor.input if self.is_float_init(i)]
                if len(scales) == 1:
                    return scales[0]
        return None


def _attrs(node: onnx.NodeProto) -> dict:
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def _ins(node: onnx.NodeProto, n: int) -> list[str]:
    return list(node.input) + [""] * (n - len(node.input))


def _dequantize_linear(g: _Graph, node: onnx.NodeProto, gathered: bool) -> Decode | None:
    _, scale, zp = _ins(node, 3)
    if not g.is_float_init(scale) or (zp and zp not in g.inits):
        return None
    attrs = _attrs(node)
    axis = int(attrs.get("axis", 1))
    if gathered:  # the gathered rows keep the table's last axis; a scalar scale is per tensor
        if axis != -1 and list(g.inits[scale].dims) not in ([], [1]):
            return None
        axis = 1
    return Decode(scale, zp or None, axis, int(attrs.get("block_size", 0)))


def _decode(g: _Graph, name: str, node: onnx.NodeProto) -> Decode | None:
    op, standard = node.op_type, node.domain in _STANDARD
    ins = _ins(node, 8)
    if standard and op == "DequantizeLinear" and ins[0] == name:
        return _dequantize_linear(g, node, gathered=False)
    if standard and op == "Gather" and ins[0] == name and int(_attrs(node).get("axis", 0)) == 0:
        dq = g.only(node.output[0], "DequantizeLinear")
        return _dequantize_linear(g, dq, gathered=True) if dq is not None else None
    if standard and op == "Cast":
        out, zp = node.output[0], None
        sub = g.only(out, "Sub")
        if sub is not None and sub.input[0] == out and sub.input[1] in g.inits:
            out, zp = sub.output[0], sub.input[1]
        mul = g.only(out, "Mul")
        scales = [i for i in (mul.input if mul else []) if g.is_float_init(i)]
        return Decode(scales[0], zp, None) if len(scales) == 1 else None
    if standard and op == "MatMulInteger" and ins[1] == name:
        scale = g.output_scale(node.output[0])
        return Decode(scale, g.init_or_none(ins[3]), None) if scale else None
    if standard and op == "QLinearMatMul" and ins[3] == name and g.is_float_init(ins[4]):
        return Decode(ins[4], g.init_or_none(ins[5]), None)
    if node.domain == _MS and op == "DynamicQuantizeMatMul" and ins[1] == name:
        return Decode(ins[2], g.init_or_none(ins[3]), None) if g.is_float_init(ins[2]) else None
    if node.domain == _MS and op == "MatMulIntegerToFloat" and ins[1] == name:
        return Decode(ins[3], g.init_or_none(ins[5]), None) if g.is_float_init(ins[3]) else None
    return None


def weight_decoders(model: onnx.ModelProto, inits: dict[str, TensorProto]) -> dict[str, Decode]:
    """Integer initializers and how the graph dequantizes them (those it does not are absent)."""
    g = _Graph(model, inits)
    out: dict[str, Decode] = {}
    for name, t in inits.items():
        if t.data_type not in QUANTIZED:
            continue
        for node in g.consumers.get(name, []):
            found = _decode(g, name, node)
            if found is not None:
                out[name] = found
                break
    return out


def _bad(file: str, name: str, fault: str) -> HeaderMalformed:
    return HeaderMalformed(
        f"{file}: initializer {name!r}: {fault}", hint=_HINT, detail={"file": file}
    )


def _expand(param: np.ndarray, q: np.ndarray, d: Decode, what: str, file: str, name: str):
    """``param`` (a scale or zero point) shaped to broadcast against ``q``."""
    if d.axis is None:
        try:
            if np.broadcast_shapes(param.shape, q.shape) != q.shape:
                raise ValueError
        except ValueError:
            raise _bad(file, name, f"{what} of shape {param.shape} does not broadcast to "
                       f"{q.shape}") from None  # fmt: skip
        return param
    if param.size == 1:
        return param.reshape(())
    if not -q.ndim <= d.axis < q.ndim:
        raise _bad(file, name, f"axis {d.axis} is outside a {q.ndim}-D weight")
    axis = d.axis % q.ndim
    if d.block_size:
        blocks = -(-q.shape[axis] // d.block_size) if 0 < d.block_size <= q.shape[axis] else -1
        expected = q.shape[:axis] + (blocks,) + q.shape[axis + 1 :]
        if blocks < 0 or param.shape != expected:
            raise _bad(file, name, f"{what} of shape {param.shape} does not fit block size "
                       f"{d.block_size} on axis {axis} of {q.shape}")  # fmt: skip
        return param.take(np.arange(q.shape[axis]) // d.block_size, axis=axis)
    if param.ndim != 1 or param.size != q.shape[axis]:
        raise _bad(file, name, f"{what} of shape {param.shape} is not one per element of "
                   f"axis {axis} of {q.shape}")  # fmt: skip
    shape = [1] * q.ndim
    shape[axis] = -1
    return param.reshape(shape)


def dequantize(
    q: np.ndarray, scale: np.ndarray, zp: np.ndarray | None, d: Decode, file: str, name: str
) -> np.ndarray:
    """``(q - zero_point) * scale`` as the graph computes it; :class:`HeaderMalformed` when the
    parameters' shapes do not fit the weight (never a huge allocation)."""
    if zp is not None and zp.shape != scale.shape and zp.size != 1:
        raise _bad(file, name, f"zero point of shape {zp.shape} differs from scale {scale.shape}")
    s = _expand(scale.astype(np.float32), q, d, "scale", file, name)
    values = q.astype(np.float32)
    if zp is not None:
        values = values - _expand(zp.astype(np.float32), q, d, "zero point", file, name)
    return values * s
