"""Real int8 ONNX patterns: weights are read as the graph computes them.

onnxruntime's ``quantize_dynamic`` output (MatMulInteger + DynamicQuantizeLinear, a Gather'd
uint8 embedding behind DequantizeLinear), weights dequantized by ``Cast`` + ``Mul`` with
per-channel scales on either axis, ``QLinearMatMul``, and constant-folded 3-D tables; and a
DequantizeLinear whose parameters do not fit its weight is a clean error.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from registry.errors import HeaderMalformed
from registry.weights import open_model
from registry.weights.compare import compare_sketches
from registry.weights.onnx_reader import onnx_arrays
from registry.weights.sketching import sketch_path, sketch_source

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
EXPORT = FIXTURES / "real" / "llama-b0-torch-export.onnx"


@pytest.mark.parametrize("name", ["llama-b0-ort-dynamic", "llama-b0-ort-dynamic-perchannel"])
def test_onnxruntime_dynamic_quantization_is_a_quantized_child(name: str) -> None:
    child = sketch_source(open_model(FIXTURES / "real" / f"{name}.onnx"))
    c = compare_sketches(child, sketch_path(FIXTURES / "zoo" / "llama-b0"))
    assert (c.verdict, c.relation, c.direction) == ("derived", "quantized", "a_is_child")
    assert c.evidence["block_cosine"] >= 0.999  # the scales were applied


def _float_weights(path: Path) -> dict[str, np.ndarray]:
    return {t.name: t.values() for t in onnx_arrays(open_model(path)) if len(t.shape) == 2}


def _requantize(tmp_path: Path, pattern: str) -> tuple[Path, dict[str, np.ndarray]]:
    """The exported graph with every MatMul weight int8, dequantized by ``pattern``."""
    model = onnx.load(str(EXPORT))
    g = model.graph
    weights = {t.name: numpy_helper.to_array(t) for t in g.initializer if "MatMul" in t.name}
    kept = [t for t in g.initializer if t.name not in weights]
    del g.initializer[:]
    g.initializer.extend(kept)
    expected: dict[str, np.ndarray] = {}
    for k, (name, w) in enumerate(sorted(weights.items())):
        # Cast + Mul: per-channel scales alternate between rows ([K, 1]) and columns ([N]);
        # QLinearMatMul: per output column, as its specification allows
        axis = k % 2 if pattern == "cast-mul" else 1
        scale = (np.abs(w).max(axis=1 - axis, keepdims=True) / 127).astype(np.float32)
        if axis == 1:
            scale = scale.reshape(-1)
        q = np.clip(np.round(w / scale), -127, 127).astype(np.int8)
        expected[name + "_q"] = q.astype(np.float32) * scale
        g.initializer.extend([numpy_helper.from_array(q, name + "_q"),
                              numpy_helper.from_array(scale, name + "_s")])  # fmt: skip
        if pattern == "cast-mul":
            cast = helper.make_node("Cast", [name + "_q"], [name + "_f"], to=TensorProto.FLOAT)
            g.node.insert(0, helper.make_node("Mul", [name + "_f", name + "_s"], [name]))
            g.node.insert(0, cast)
            continue
        zero = np.zeros(w.shape[1], np.int8)
        g.initializer.append(numpy_helper.from_array(zero, name + "_z"))
        for i, node in enumerate(g.node):  # the MatMul becomes a QLinearMatMul
            if node.op_type == "MatMul" and node.input[1] == name:
                a = node.input[0]
                g.node[i].CopyFrom(helper.make_node(
                    "QLinearMatMul",
                    [a, "a_scale", "a_zero", name + "_q", name + "_s", name + "_z", "y_s", "y_z"],
                    list(node.output),
                ))  # fmt: skip
    out = tmp_path / f"{pattern}.onnx"
    onnx.save(model, str(out))
    return out, expected


@pytest.mark.parametrize("pattern", ["cast-mul", "qlinear"])
def test_integer_weights_are_read_as_the_graph_dequantizes_them(
    tmp_path: Path, pattern: str
) -> None:
    path, expected = _requantize(tmp_path, pattern)
    got = _float_weights(path)
    for name, values in expected.items():
        np.testing.assert_allclose(got[name], values, rtol=1e-6, atol=1e-7)
    c = compare_sketches(
        sketch_source(open_model(path)), sketch_path(FIXTURES / "zoo" / "llama-b0")
    )
    assert (c.verdict, c.relation, c.direction) == ("derived", "quantized", "a_is_child")
    assert c.evidence["block_cosine"] >= 0.999


def test_a_folded_3d_table_is_read_as_a_matrix(tmp_path: Path) -> None:
    model = onnx.load(str(EXPORT))
    embed = next(t for t in model.graph.initializer if t.name == "model.embed_tokens.weight")
    table = numpy_helper.to_array(embed)
    embed.CopyFrom(numpy_helper.from_array(table[None], embed.name))
    onnx.save(model, str(tmp_path / "folded.onnx"))
    arrays = {t.name: t for t in onnx_arrays(open_model(tmp_path / "folded.onnx"))}
    assert arrays[embed.name].shape == table.shape
    np.testing.assert_array_equal(arrays[embed.name].values(), table)
    c = compare_sketches(
        sketch_source(open_model(tmp_path / "folded.onnx")),
        sketch_path(FIXTURES / "zoo" / "llama-b0"),
    )
    assert (c.verdict, c.relation) == ("derived", "repackaged")


def _dequantize_linear(tmp_path: Path, scale: np.ndarray, **attrs: int) -> Path:
    q = numpy_helper.from_array(np.ones((8, 6), np.int8), "w")
    s = numpy_helper.from_array(scale, "s")
    node = helper.make_node("DequantizeLinear", ["w", "s"], ["y"], **attrs)
    graph = helper.make_graph(
        [node], "g", [], [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], [q, s]
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)])
    onnx.save(model, str(tmp_path / "bad.onnx"))
    return tmp_path / "bad.onnx"


@pytest.mark.parametrize(
    ("scale", "attrs", "fault"),
    [
        (np.ones(5, np.float32), {"axis": 1}, "is not one per element"),
        (np.ones((8, 1), np.float32), {"axis": 1, "block_size": 2**40}, "does not fit block size"),
        (np.ones((8, 3), np.float32), {"axis": 1, "block_size": 4}, "does not fit block size"),
        (np.ones(6, np.float32), {"axis": 7}, "outside"),
    ],
)
def test_dequantize_parameters_that_do_not_fit_are_a_clean_error(
    tmp_path: Path, scale: np.ndarray, attrs: dict, fault: str
) -> None:
    weight = next(t for t in onnx_arrays(open_model(_dequantize_linear(tmp_path, scale, **attrs))))
    with pytest.raises(HeaderMalformed, match=fault):
        weight.values()
