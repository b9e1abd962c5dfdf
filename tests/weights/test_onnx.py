"""ONNX: initializers listed without running anything, digests inline and in external data,
int8 weights dequantized through DequantizeLinear, and external data confined to the model's
directory."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from registry.errors import HeaderMalformed, WeightsNotFound
from registry.weights import fingerprint_path, open_model, tensor_digest
from registry.weights.compare import compare_sketches
from registry.weights.onnx_reader import onnx_arrays
from registry.weights.sketching import sketch_path
from tests.weights.conftest import write_safetensors
from tests.weights.test_gguf import llama_tensors


def _model(initializers: list[TensorProto], nodes: list[onnx.NodeProto]) -> onnx.ModelProto:
    """A graph whose every node output is a graph output; inputs are declared loosely."""
    produced = {o for n in nodes for o in n.output}
    known = produced | {t.name for t in initializers}
    inputs = sorted({i for n in nodes for i in n.input if i and i not in known})
    graph = helper.make_graph(
        nodes,
        "tiny",
        [helper.make_tensor_value_info(i, TensorProto.FLOAT, None) for i in inputs],
        [helper.make_tensor_value_info(o, TensorProto.FLOAT, None) for o in sorted(produced)],
        initializer=initializers,
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def export(tensors: dict[str, np.ndarray], *, int8: bool = False) -> onnx.ModelProto:
    """As torch.onnx exports it: linear weights transposed to (in, out) under anonymous names,
    optionally int8 per-channel (and a uint8 per-tensor embedding) behind DequantizeLinear."""
    inits: list[TensorProto] = []
    nodes: list[onnx.NodeProto] = []
    for k, (name, w) in enumerate(tensors.items()):
        if w.ndim == 1:
            inits.append(numpy_helper.from_array(w, name))
            nodes.append(helper.make_node("Mul", [f"x{k}", name], [f"y{k}"]))
            continue
        embed = "embed" in name
        value, init_name = (w, name) if embed else (np.ascontiguousarray(w.T), f"onnx::MatMul_{k}")
        op = helper.make_node("Gather", [init_name, "ids"], [f"y{k}"]) if embed else None
        op = op or helper.make_node("MatMul", [f"x{k}", init_name], [f"y{k}"])
        if int8 and embed:
            lo, hi = float(value.min()), float(value.max())
            scale = np.float32((hi - lo) / 255)
            zp = np.uint8(round(-lo / scale))
            q = np.clip(np.round(value / scale) + zp, 0, 255).astype(np.uint8)
            inits += [numpy_helper.from_array(q, init_name + "_q")]
            inits += [numpy_helper.from_array(np.array(scale), init_name + "_scale")]
            inits += [numpy_helper.from_array(np.array(zp), init_name + "_zp")]
            dq = [init_name + "_q", init_name + "_scale", init_name + "_zp"]
            nodes.append(helper.make_node("DequantizeLinear", dq, [init_name]))
        elif int8:  # symmetric, one scale per output channel (axis 1 of the (in, out) weight)
            scale = (np.abs(value).max(axis=0) / 127).astype(np.float32)
            q = np.round(value / scale).astype(np.int8)
            inits += [numpy_helper.from_array(q, init_name + "_q")]
            inits += [numpy_helper.from_array(scale, init_name + "_scale")]
            dq = [init_name + "_q", init_name + "_scale"]
            nodes.append(helper.make_node("DequantizeLinear", dq, [init_name], axis=1))
        else:
            inits.append(numpy_helper.from_array(value, init_name))
        nodes.append(op)
    return _model(inits, nodes)


def save(model: onnx.ModelProto, path: Path, external: str | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if external:
        onnx.save_model(
            model, path, save_as_external_data=True, location=external, size_threshold=0
        )
    else:
        onnx.save_model(model, path)
    return path


@pytest.fixture
def float_file(tmp_path: Path) -> Path:
    return save(export(llama_tensors()), tmp_path / "float" / "model.onnx")


def test_initializers_listed(float_file: Path) -> None:
    source = open_model(float_file)
    assert source.format == "onnx"
    by_name = {t.name: t for t in source.tensors}
    assert by_name["model.embed_tokens.weight"].shape == (256, 64)
    assert {t.dtype for t in source.tensors} == {"F32"}
    assert len(source.tensors) == len(llama_tensors())


def test_fingerprint_and_inline_digests(float_file: Path) -> None:
    fp = fingerprint_path(float_file)
    assert [f.path for f in fp.files] == ["model.onnx"]
    assert fp.files[0].sha256 == hashlib.sha256(float_file.read_bytes()).hexdigest()
    embed = llama_tensors()["model.embed_tokens.weight"]
    digest = next(t.digest for t in fp.tensors if t.name == "model.embed_tokens.weight")
    assert digest == tensor_digest("F32", embed.shape, embed.astype("<f4").tobytes())
    assert fingerprint_path(float_file) == fp


def test_external_data_is_fingerprinted_and_digests_match_inline(
    tmp_path: Path, float_file: Path
) -> None:
    path = save(export(llama_tensors()), tmp_path / "ext" / "model.onnx", "model.onnx.data")
    source = open_model(tmp_path / "ext")
    assert [f.name for f in source.files] == ["model.onnx", "model.onnx.data"]
    fp = fingerprint_path(path)
    data = tmp_path / "ext" / "model.onnx.data"
    sha = {f.path: f.sha256 for f in fp.files}
    assert sha["model.onnx.data"] == hashlib.sha256(data.read_bytes()).hexdigest()
    assert fp.digest == fingerprint_path(float_file).digest  # same tensors, same variant


def test_typed_fields_digest_like_raw_data(tmp_path: Path) -> None:
    values = [0.5, -1.0, 2.0, 3.25]
    raw = helper.make_tensor("w", TensorProto.FLOAT, [2, 2], np.array(values, "f4").tobytes(), True)
    typed = helper.make_tensor("w", TensorProto.FLOAT, [2, 2], values)
    digests = []
    for k, t in enumerate([raw, typed]):
        p = save(
            _model([t], [helper.make_node("MatMul", ["x", "w"], ["y"])]), tmp_path / f"{k}.onnx"
        )
        digests.append(fingerprint_path(p).tensors[0].digest)
    assert digests[0] == digests[1]


def test_int8_values_dequantized_without_scales(tmp_path: Path) -> None:
    tensors = llama_tensors()
    path = save(export(tensors, int8=True), tmp_path / "q" / "model.onnx")
    arrays = {a.name: a for a in onnx_arrays(open_model(path))}
    assert not any(n.endswith(("_scale", "_zp")) for n in arrays)
    embed = arrays["model.embed_tokens.weight_q"]
    assert embed.storage == "UINT8"
    original = tensors["model.embed_tokens.weight"]
    assert np.abs(embed.read_rows() - original).max() < 0.01
    k = list(tensors).index("model.layers.0.mlp.up_proj.weight")
    up = arrays[f"onnx::MatMul_{k}_q"]
    assert up.storage == "INT8"
    w = tensors["model.layers.0.mlp.up_proj.weight"].T
    got = up.read_rows()
    assert np.linalg.norm(got - w) / np.linalg.norm(w) < 0.01
    np.testing.assert_array_equal(up.read_columns(np.array([3, 9])), got[:, [3, 9]])


def test_int8_transposed_export_sketches_as_derived(tmp_path: Path) -> None:
    base = write_safetensors(tmp_path / "base" / "model.safetensors", llama_tensors())
    path = save(export(llama_tensors(), int8=True), tmp_path / "q" / "model.onnx")
    result = compare_sketches(sketch_path(path), sketch_path(base))
    assert (result.verdict, result.relation, result.direction) == (
        "derived",
        "quantized",
        "a_is_child",
    )


# --- refusals ----------------------------------------------------------------------------------


def _external_model(directory: Path, location: str, length: int = 64) -> Path:
    t = TensorProto(name="w", dims=[4, 4], data_type=TensorProto.FLOAT)
    t.data_location = TensorProto.EXTERNAL
    for key, value in (("location", location), ("offset", "0"), ("length", str(length))):
        t.external_data.add(key=key, value=value)
    directory.mkdir(parents=True, exist_ok=True)
    return save(_model([t], [helper.make_node("MatMul", ["x", "w"], ["y"])]), directory / "m.onnx")


@pytest.mark.parametrize("location", ["../secret.bin", "sub/../../secret.bin", "link.bin"])
def test_external_data_escaping_the_directory_refused(tmp_path: Path, location: str) -> None:
    secret = tmp_path / "secret.bin"
    secret.write_bytes(bytes(64))
    (tmp_path / "model").mkdir()
    os.symlink(secret, tmp_path / "model" / "link.bin")  # a link inside that leads outside
    path = _external_model(tmp_path / "model", location)
    with pytest.raises(HeaderMalformed, match=r"m\.onnx: .*(outside|not inside) the dir") as e:
        fingerprint_path(path)
    assert "model's directory" in (e.value.hint or "")


def test_absolute_external_path_refused(tmp_path: Path) -> None:
    (tmp_path / "abs.bin").write_bytes(bytes(64))
    path = _external_model(tmp_path / "model", str(tmp_path / "abs.bin"))
    with pytest.raises(HeaderMalformed, match="not inside the directory"):
        open_model(path)


def test_missing_external_file(tmp_path: Path) -> None:
    path = _external_model(tmp_path, "weights.bin")
    with pytest.raises(WeightsNotFound, match=r"m\.onnx: .*'weights\.bin' is missing"):
        open_model(path)


@pytest.mark.parametrize(("length", "fault"), [(64, "beyond the end"), (32, "needs 64")])
def test_external_range_checked(tmp_path: Path, length: int, fault: str) -> None:
    (tmp_path / "weights.bin").write_bytes(bytes(48))
    path = _external_model(tmp_path, "weights.bin", length)
    with pytest.raises(HeaderMalformed, match=fault):
        open_model(path)


@pytest.mark.parametrize(
    ("content", "fault"),
    [
        (b"\xff" * 64, "not a valid ONNX protobuf"),
        (b"\x08\x07", "not an ONNX model"),
        (b"", "not an ONNX model"),
    ],
)
def test_not_onnx_refused(tmp_path: Path, content: bytes, fault: str) -> None:
    path = tmp_path / "bad.onnx"
    path.write_bytes(content)
    with pytest.raises(HeaderMalformed, match=f"bad.onnx: {fault}") as e:
        open_model(path)
    assert "\n" not in str(e.value)


def test_truncated_file_refused(tmp_path: Path, float_file: Path) -> None:
    cut = tmp_path / "cut.onnx"
    cut.write_bytes(float_file.read_bytes()[: float_file.stat().st_size // 2])
    with pytest.raises(HeaderMalformed, match="cut.onnx: not a valid ONNX protobuf, or truncated"):
        fingerprint_path(cut)
