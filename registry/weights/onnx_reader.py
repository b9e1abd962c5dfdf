"""The ONNX reader: initializers listed from the protobuf, external data confined to the model's
directory; nothing is ever executed.

Initializers held inside the protobuf are not plain byte ranges of the file, so their digests
come from :meth:`OnnxSource.inline_digests` (BLAKE3 of their raw little-endian bytes, as
``raw_data`` stores them); tensors in external data files are byte ranges and stream like
safetensors. :func:`onnx_arrays` gives float32 values, int8 weights dequantized as the graph
dequantizes them (:mod:`registry.weights.onnx_graph`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, NoReturn

import numpy as np
import onnx
from onnx import TensorProto, numpy_helper

from registry.errors import HeaderMalformed, WeightsError, WeightsNotFound
from registry.weights.arrays import ArrayTensor
from registry.weights.digests import tensor_digest
from registry.weights.onnx_graph import QUANTIZED, dequantize, weight_decoders
from registry.weights.reader import (
    ModelSource,
    TensorInfo,
    WeightFile,
    WeightReader,
    read_json_object,
    release_files,
)
from registry.weights.validation import MAX_ONNX_INITIALIZERS

SUFFIX = ".onnx"
MAX_PROTOBUF = 2**31  # protobuf refuses larger messages; bigger models use external data
_HINT = "the file is damaged or was not exported as ONNX; re-download or re-export it"
_EXTERNAL_HINT = "keep external data files inside the model's directory, next to the .onnx file"
_T = TensorProto
# ONNX element types: (safetensors-like name, bits per element).
DTYPES: dict[int, tuple[str, int]] = {
    _T.FLOAT: ("F32", 32), _T.FLOAT16: ("F16", 16), _T.BFLOAT16: ("BF16", 16),
    _T.DOUBLE: ("F64", 64), _T.INT8: ("I8", 8), _T.UINT8: ("U8", 8), _T.INT16: ("I16", 16),
    _T.UINT16: ("U16", 16), _T.INT32: ("I32", 32), _T.UINT32: ("U32", 32),
    _T.INT64: ("I64", 64), _T.UINT64: ("U64", 64), _T.BOOL: ("BOOL", 8),
    _T.FLOAT8E4M3FN: ("F8_E4M3", 8), _T.FLOAT8E5M2: ("F8_E5M2", 8),
    _T.FLOAT8E4M3FNUZ: ("F8_E4M3FNUZ", 8), _T.FLOAT8E5M2FNUZ: ("F8_E5M2FNUZ", 8),
    _T.COMPLEX64: ("C64", 64), _T.COMPLEX128: ("C128", 128), _T.INT4: ("I4", 4),
    _T.UINT4: ("U4", 4), _T.FLOAT4E2M1: ("F4", 4),
}  # fmt: skip


@dataclass
class OnnxSource(ModelSource):
    """An ONNX model; tensors named in ``inline`` live inside the protobuf (``start == end``)."""

    inline: frozenset[str] = field(default_factory=frozenset)

    @property
    def model_path(self) -> Path:
        return self.files[0].path

    def inline_digests(self) -> Iterator[tuple[str, str]]:
        """``(tensor name, digest)`` of each inline initializer, one tensor in memory at a time.

        Raises :class:`HeaderMalformed` when an initializer's data cannot be decoded.
        """
        model = load_model(self.model_path, self.files[0].name)
        for t in model.graph.initializer:
            if t.name in self.inline:
                yield t.name, tensor_digest(_dtype(t), tuple(t.dims), _raw_bytes(t, self))


class OnnxReader(WeightReader):
    format = "onnx"
    suffixes = (SUFFIX,)

    def open(self, path: Path, *, max_header_bytes: int) -> ModelSource:
        if path.is_file():
            return read_model(path, path.parent, self.format)
        found = sorted(p for p in path.iterdir() if p.suffix.lower() == SUFFIX and p.is_file())
        if len(found) != 1:
            raise WeightsError(
                f"{path}: holds {len(found)} ONNX files ({', '.join(p.name for p in found[:3])})",
                hint="give the path of the one .onnx file to register",
            )
        source = read_model(found[0], path, self.format)
        source.extra_files = release_files(path)
        if (path / "config.json").is_file():
            source.config = read_json_object(path / "config.json", "config.json")
        return source


def _bad(name: str, fault: str, hint: str = _HINT) -> NoReturn:
    raise HeaderMalformed(f"{name}: {fault}", hint=hint, detail={"file": name})


def load_model(path: Path, name: str) -> onnx.ModelProto:
    """The model's protobuf without external data; :class:`HeaderMalformed` if it is not one."""
    size = path.stat().st_size
    if size >= MAX_PROTOBUF:
        _bad(name, f"{size} bytes is beyond protobuf's 2 GiB limit")
    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as e:  # protobuf's DecodeError, or whatever onnx raises on odd bytes
        _bad(name, f"not a valid ONNX protobuf, or truncated ({type(e).__name__}: {e})")
    if model.ir_version <= 0 or not model.HasField("graph"):
        _bad(name, "not an ONNX model (no IR version or no graph)")
    if len(model.graph.sparse_initializer):
        _bad(name, "sparse initializers are not supported", "densify them before registering")
    return model


def read_model(path: Path, root: Path, fmt: str) -> OnnxSource:
    """The model at ``path`` with its initializers and external data files listed.

    Raises :class:`HeaderMalformed` (invalid protobuf, bad tensor data, external data escaping
    ``root`` or out of range) and :class:`WeightsNotFound` (missing external data file).
    """
    name = path.relative_to(root).as_posix()
    model = load_model(path, name)
    if (count := len(model.graph.initializer)) > MAX_ONNX_INITIALIZERS:
        _bad(name, f"{count:,} initializers, over the limit of {MAX_ONNX_INITIALIZERS:,}")
    tensors: list[TensorInfo] = []
    externals: dict[str, WeightFile] = {}
    inline: set[str] = set()
    seen: set[str] = set()
    for t in model.graph.initializer:
        if t.name in seen:
            _bad(name, f"duplicate initializer {t.name!r}")
        seen.add(t.name)
        dtype, shape = _dtype(t, name), tuple(int(d) for d in t.dims)
        if any(d < 0 for d in shape):
            _bad(name, f"initializer {t.name!r}: negative dimension in {shape}")
        if t.data_location == TensorProto.EXTERNAL:
            wf, start, end = _external_range(t, root, name, _expected_bytes(t, shape))
            externals.setdefault(wf.name, wf)
            tensors.append(TensorInfo(t.name, dtype, shape, wf.name, start, end))
        else:
            expected = _expected_bytes(t, shape)
            if t.raw_data and expected is not None and len(t.raw_data) != expected:
                _bad(name, f"initializer {t.name!r}: {len(t.raw_data)} bytes, needs {expected}")
            inline.add(t.name)
            tensors.append(TensorInfo(t.name, dtype, shape, name, 0, 0))
    _check_overlaps([t for t in tensors if t.name not in inline])
    files = [WeightFile(path, name, path.stat().st_size), *sorted(externals.values(), key=_key)]
    return OnnxSource(fmt, root, files, tensors, inline=frozenset(inline))


def _key(f: WeightFile) -> str:
    return f.name


def _dtype(t: TensorProto, name: str = "model") -> str:
    if t.data_type == TensorProto.STRING:
        return "STRING"
    if t.data_type not in DTYPES:
        _bad(name, f"initializer {t.name!r}: unknown ONNX data type {t.data_type}")
    return DTYPES[t.data_type][0]


def _expected_bytes(t: TensorProto, shape: tuple[int, ...]) -> int | None:
    if t.data_type not in DTYPES:
        return None
    numel = 1
    for d in shape:
        numel *= d
    return -(-numel * DTYPES[t.data_type][1] // 8)


def _external_range(
    t: TensorProto, root: Path, name: str, expected: int | None
) -> tuple[WeightFile, int, int]:
    info = {e.key: e.value for e in t.external_data}
    where = f"initializer {t.name!r}"
    location = info.get("location", "")
    rel = PurePosixPath(location)
    if not location or "\\" in location or rel.is_absolute() or ".." in rel.parts:
        _bad(
            name, f"{where}: external data {location!r} is not inside the directory", _EXTERNAL_HINT
        )
    path = root / rel
    try:
        inside = path.resolve().is_relative_to(root.resolve())
    except OSError:
        inside = False
    if not inside:
        _bad(
            name, f"{where}: external data {location!r} leads outside the directory", _EXTERNAL_HINT
        )
    if not path.is_file():
        raise WeightsNotFound(
            f"{name}: {where}: external data file {location!r} is missing",
            hint=f"put {location} next to {name} (it ships with the model)",
            detail={"file": name},
        )
    size = path.stat().st_size
    try:
        offset = int(info.get("offset", "0"))
        length = int(info["length"]) if "length" in info else expected
    except ValueError:
        _bad(name, f"{where}: external data offset or length is not an integer")
    if length is None or offset < 0 or length < 0:
        _bad(name, f"{where}: external data offset {offset} or length {length} is invalid")
    if expected is not None and length != expected:
        _bad(name, f"{where}: external data length {length}, but the tensor needs {expected}")
    if offset + length > size:
        _bad(
            name,
            f"{where}: external data [{offset}, {offset + length}) is beyond the end of "
            f"{location} ({size} bytes)",
        )
    return WeightFile(path, rel.as_posix(), size), offset, offset + length


def _check_overlaps(tensors: list[TensorInfo]) -> None:
    last: dict[str, TensorInfo] = {}
    for t in sorted(tensors, key=lambda t: (t.file, t.start, t.end)):
        prev = last.get(t.file)
        if prev is not None and t.start < prev.end:
            _bad(t.file, f"initializers {prev.name!r} and {t.name!r} overlap in external data")
        last[t.file] = t


def _raw_bytes(t: TensorProto, source: ModelSource) -> bytes:
    """The initializer's bytes as ``raw_data`` would hold them (little-endian, 4-bit packed)."""
    name = source.files[0].name
    if t.data_type == TensorProto.STRING:
        return b"".join(len(s).to_bytes(8, "little") + s for s in t.string_data)
    if t.raw_data:
        return t.raw_data
    try:
        return numpy_helper.from_array(numpy_helper.to_array(t)).raw_data
    except Exception as e:
        _bad(name, f"initializer {t.name!r}: data cannot be decoded ({e})")


def _values(t: TensorProto, info: TensorInfo, source: ModelSource) -> np.ndarray:
    """One initializer as a numpy array (external bytes read from the validated range only)."""
    if t.data_location == TensorProto.EXTERNAL:
        with source.path_of(info).open("rb") as f:
            f.seek(info.start)
            raw = f.read(info.nbytes)
        copy = TensorProto()
        copy.CopyFrom(t)
        copy.ClearField("external_data")
        copy.data_location = TensorProto.DEFAULT
        copy.raw_data = raw
        t = copy
    try:
        return numpy_helper.to_array(t)
    except Exception as e:
        _bad(info.file, f"initializer {t.name!r}: data cannot be decoded ({e})")


class _OnnxArray(ArrayTensor):
    """Decoded on demand; only the most recently decoded tensor stays in memory."""

    def __init__(
        self, name: str, shape: tuple[int, ...], storage: str, load: Any, last: dict
    ) -> None:
        super().__init__(name, shape, storage, load)
        self._last = last

    def values(self) -> np.ndarray:
        if self._last.get("name") != self.name:
            self._last.clear()
            self._last.update(name=self.name, values=np.asarray(self.load(), dtype=np.float32))
        return self._last["values"]


def _squeezed(shape: tuple[int, ...]) -> tuple[int, ...]:
    """A constant-folded table (``[1, positions, hidden]``) as the matrix it is."""
    if len(shape) > 2 and all(d == 1 for d in shape[:-2]):
        return shape[-2:]
    return shape


def onnx_arrays(source: ModelSource) -> list[ArrayTensor]:
    """Initializers as float32 arrays, leading unit axes dropped; integer weights once, as the
    graph dequantizes them (see :mod:`registry.weights.onnx_graph`), in their stored
    orientation (storage ``INT8``/``UINT8``), their scales and zero points not listed."""
    model = load_model(source.files[0].path, source.files[0].name)
    inits = {t.name: t for t in model.graph.initializer}
    infos = {t.name: t for t in source.tensors}
    dq = weight_decoders(model, inits)
    helpers = {n for d in dq.values() for n in (d.scale, d.zero_point) if n}
    last: dict[str, Any] = {}
    out: list[ArrayTensor] = []
    for t in model.graph.initializer:
        info = infos[t.name]
        if t.name in helpers or info.numel == 0 or t.data_type == TensorProto.STRING:
            continue
        if t.data_type in (TensorProto.COMPLEX64, TensorProto.COMPLEX128):
            continue
        shape = _squeezed(info.shape)

        def load(t: TensorProto = t, info: TensorInfo = info, shape=shape) -> np.ndarray:
            values = _values(t, info, source)
            d = dq.get(t.name)
            if d is not None:
                scale = _values(inits[d.scale], infos[d.scale], source)
                zp = (
                    _values(inits[d.zero_point], infos[d.zero_point], source)
                    if d.zero_point
                    else None
                )
                values = dequantize(values, scale, zp, d, info.file, t.name)
            return values.astype(np.float32).reshape(shape)

        storage = QUANTIZED[t.data_type] if t.name in dq else info.dtype
        out.append(_OnnxArray(t.name, shape, storage, load, last))
    return out
