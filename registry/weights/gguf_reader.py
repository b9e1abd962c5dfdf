"""The GGUF reader: a strict walk of the header, then the ``gguf`` package for its values.

The walk bounds every length and count by the file's size before the ``gguf`` package (which
trusts them) sees the file, so a damaged or hostile header becomes one :class:`HeaderMalformed`
line instead of a hang or a traceback. Tensors map to their stored bytes (quantized blocks as
is); :func:`gguf_arrays` dequantizes only the rows and blocks that sketching asks for.
"""

from __future__ import annotations

import mmap
import re
import struct
from pathlib import Path
from typing import Any, NoReturn

import gguf
import numpy as np

from registry.errors import HeaderMalformed, UnsupportedFormat, WeightsError
from registry.weights.arrays import ArrayTensor, rows_fetcher
from registry.weights.kquants import KQUANT_COLUMNS
from registry.weights.reader import (
    ModelSource,
    TensorInfo,
    WeightFile,
    WeightReader,
    release_files,
)

MAGIC = b"GGUF"
SUFFIX = ".gguf"
VERSIONS = (2, 3)
MAX_DIMS = 4
_HINT = "the file is damaged or was not written by a GGUF writer; re-download it"
_SPLIT = re.compile(r"^(?P<base>.+)-(?P<i>\d{5})-of-(?P<n>\d{5})\.gguf$")
# Scalar value types: struct format by GGUF value type id (8 = string, 9 = array).
_SCALARS = {
    0: "B",
    1: "b",
    2: "H",
    3: "h",
    4: "I",
    5: "i",
    6: "f",
    7: "?",
    10: "Q",
    11: "q",
    12: "d",
}
_STRING, _ARRAY = 8, 9
_MIN_KV, _MIN_TENSOR = 8 + 4 + 1, 8 + 4 + 8 + 4 + 8  # smallest possible header entries
# ggml types whose elements numpy reads directly (no blocks).
_PLAIN = {"F32": "<f4", "F16": "<f2", "F64": "<f8", "I8": "i1", "I16": "<i2", "I32": "<i4"}
_PLAIN |= {"I64": "<i8"}


class GGUFReader(WeightReader):
    format = "gguf"
    suffixes = (SUFFIX,)

    def claims_file(self, path: Path, head: bytes) -> bool:
        return path.suffix.lower() == SUFFIX or head.startswith(MAGIC)

    def open(self, path: Path, *, max_header_bytes: int) -> ModelSource:
        if path.is_file():
            wf, tensors, config = read_file(path, path.name, max_header_bytes=max_header_bytes)
            return ModelSource(self.format, path.parent, [wf], tensors, [], config)
        files, tensors, configs = [], [], []
        for p in _gguf_files(path):
            wf, ts, cfg = read_file(p, p.name, max_header_bytes=max_header_bytes)
            files.append(wf)
            tensors.extend(ts)
            configs.append(cfg)
        seen: set[str] = set()
        for t in tensors:
            if t.name in seen:
                _bad(t.file, f"tensor {t.name!r} also appears in another split")
            seen.add(t.name)
        return ModelSource(self.format, path, files, tensors, release_files(path), configs[0])


def _gguf_files(directory: Path) -> list[Path]:
    """The directory's one GGUF file, or its complete ``name-0000i-of-0000n.gguf`` splits."""
    found = sorted(
        p for p in directory.iterdir() if p.suffix.lower() == SUFFIX and not p.name.startswith(".")
    )
    if len(found) <= 1:
        return found
    matches = [m for p in found if (m := _SPLIT.match(p.name))]
    if len(matches) == len(found) and len({(m["base"], m["n"]) for m in matches}) == 1:
        expected = list(range(1, int(matches[0]["n"]) + 1))
        if [int(m["i"]) for m in matches] == expected:
            return found
    raise WeightsError(
        f"{directory}: holds {len(found)} GGUF files that are not one split model "
        f"({', '.join(p.name for p in found[:3])})",
        hint="give the path of the one .gguf file to register",
    )


def _bad(name: str, fault: str, hint: str = _HINT) -> NoReturn:
    raise HeaderMalformed(f"{name}: {fault}", hint=hint, detail={"file": name})


class _Truncated(Exception):
    pass


class _Cursor:
    """Little-endian reads from a byte buffer that never go past its end."""

    def __init__(self, buf: mmap.mmap, limit: int) -> None:
        self.buf, self.pos, self.limit = buf, 0, limit

    def take(self, n: int) -> bytes:
        if n > self.limit - self.pos:
            raise _Truncated(self.pos)
        self.pos += n
        return self.buf[self.pos - n : self.pos]

    def skip(self, n: int) -> None:
        if n > self.limit - self.pos:
            raise _Truncated(self.pos)
        self.pos += n

    def unpack(self, fmt: str) -> Any:
        return struct.unpack("<" + fmt, self.take(struct.calcsize(fmt)))[0]

    def text(self, what: str) -> str:
        raw = self.take(self.unpack("Q"))
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            raise ValueError(f"{what} at byte {self.pos - len(raw)} is not UTF-8") from None


def _walk(
    name: str, cur: _Cursor, size: int
) -> tuple[int, list[tuple[str, tuple[int, ...], str, int, int]], dict[str, Any]]:
    """Validate the header; return (alignment, [(tensor, ne, type, offset, nbytes)], metadata).

    ``metadata`` holds every scalar and string value, and the length of every array (as
    ``_ArrayLength``), so opening never materialises a vocabulary of 100k+ strings.
    """
    if cur.take(4) != MAGIC:
        _bad(name, "bad magic (not a GGUF file)")
    version = cur.unpack("I")
    if version & 0xFFFF == 0:
        raise UnsupportedFormat(f"{name}: big-endian GGUF is not supported", hint=_HINT)
    if version not in VERSIONS:
        raise UnsupportedFormat(
            f"{name}: GGUF version {version} is not supported (only {VERSIONS})",
            hint="convert it with a current llama.cpp (convert_hf_to_gguf.py / llama-quantize)",
        )
    n_tensors, n_kv = cur.unpack("Q"), cur.unpack("Q")
    if n_tensors * _MIN_TENSOR + n_kv * _MIN_KV > size - cur.pos:
        _bad(
            name, f"header counts absurd for a {size}-byte file ({n_tensors} tensors, {n_kv} keys)"
        )
    alignment = gguf.GGUF_DEFAULT_ALIGNMENT
    metadata: dict[str, Any] = {}
    for _ in range(n_kv):
        key = cur.text("a key")
        if key in metadata:
            _bad(name, f"duplicate key {key!r}")
        vtype = cur.unpack("I")
        if key == "general.alignment":
            if vtype != 4:
                _bad(name, "general.alignment is not a uint32")
            alignment = metadata[key] = cur.unpack("I")
            if alignment == 0 or alignment & (alignment - 1):
                _bad(name, f"general.alignment {alignment} is not a power of two")
            continue
        if vtype in _SCALARS:
            metadata[key] = cur.unpack(_SCALARS[vtype])
        elif vtype == _STRING:
            metadata[key] = cur.text(f"the value of {key!r}")
        else:
            start = cur.pos
            _skip_value(name, cur, vtype, key, top=True)
            metadata[key] = _ArrayLength(int.from_bytes(cur.buf[start + 4 : start + 12], "little"))
    tensors = []
    seen: set[str] = set()
    for _ in range(n_tensors):
        tname = cur.text("a tensor name")
        if tname in seen:
            _bad(name, f"duplicate tensor {tname!r}")
        seen.add(tname)
        n_dims = cur.unpack("I")
        if not 1 <= n_dims <= MAX_DIMS:
            _bad(name, f"tensor {tname!r}: n_dims {n_dims} out of range 1..{MAX_DIMS}")
        ne = tuple(cur.unpack("Q") for _ in range(n_dims))
        raw_type = cur.unpack("I")
        try:
            qtype = gguf.GGMLQuantizationType(raw_type)
            block, type_size = gguf.GGML_QUANT_SIZES[qtype]
        except (ValueError, KeyError):
            _bad(name, f"tensor {tname!r}: unknown ggml type {raw_type}")
        offset = cur.unpack("Q")
        numel = 1
        for d in ne:
            numel *= d
        if numel >= 1 << 62:
            _bad(name, f"tensor {tname!r}: shape {ne} is absurdly large")
        if ne[0] % block:
            _bad(name, f"tensor {tname!r}: row of {ne[0]} is not whole {qtype.name} blocks")
        if offset % alignment:
            _bad(name, f"tensor {tname!r}: data offset {offset} is not {alignment}-aligned")
        tensors.append((tname, ne, qtype.name, offset, numel // block * type_size))
    return alignment, tensors, metadata


def _skip_value(name: str, cur: _Cursor, vtype: int, key: str, *, top: bool) -> None:
    if vtype in _SCALARS:
        cur.skip(struct.calcsize(_SCALARS[vtype]))
    elif vtype == _STRING:
        cur.skip(cur.unpack("Q"))
    elif vtype == _ARRAY and top:
        itype, count = cur.unpack("I"), cur.unpack("Q")
        if itype in _SCALARS:
            cur.skip(count * struct.calcsize(_SCALARS[itype]))
        elif itype == _STRING:
            if count * 8 > cur.limit - cur.pos:
                raise _Truncated(cur.pos)
            for _ in range(count):
                cur.skip(cur.unpack("Q"))
        else:
            _bad(name, f"key {key!r}: array of unsupported type {itype}")
    else:
        _bad(name, f"key {key!r}: unknown value type {vtype}")


def read_file(
    path: Path, name: str, *, max_header_bytes: int
) -> tuple[WeightFile, list[TensorInfo], dict[str, Any]]:
    """One GGUF file's description, its tensors (by offset) and its model metadata.

    Raises :class:`HeaderMalformed` naming the file and the fault, :class:`UnsupportedFormat`
    for GGUF versions other than 2 and 3.
    """
    size = path.stat().st_size
    if size < 24:
        _bad(name, f"truncated file: {size} bytes is shorter than a GGUF header")
    with path.open("rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as buf:
        cur = _Cursor(buf, min(size, max_header_bytes))
        try:
            alignment, specs, metadata = _walk(name, cur, size)
        except _Truncated as e:
            if cur.limit < size:
                _bad(name, f"header exceeds the cap of {max_header_bytes} bytes")
            _bad(name, f"truncated file: header runs past the end at byte {e.args[0]} of {size}")
        except ValueError as e:
            _bad(name, str(e))
    data_start = -(-cur.pos // alignment) * alignment
    tensors = [
        TensorInfo(t, dtype, tuple(reversed(ne)), name, data_start + off, data_start + off + n)
        for t, ne, dtype, off, n in specs
    ]
    _check_layout(
        name, sorted(tensors, key=lambda t: (t.start, t.end)), data_start, size, alignment
    )
    return WeightFile(path, name, size), tensors, _config(metadata)


def _check_layout(
    name: str, tensors: list[TensorInfo], data_start: int, size: int, alignment: int
) -> None:
    """Tensors must lie in the file, not overlap, and be separated by alignment padding only."""
    previous, end = "the header", data_start
    for t in tensors:
        if t.end > size:
            _bad(name, f"truncated file: tensor {t.name!r} data ends at {t.end}, past EOF {size}")
        if t.start < end:
            _bad(name, f"tensor {t.name!r} overlaps {previous}")
        if t.start - end >= alignment:
            _bad(name, f"{t.start - end} unexplained bytes before tensor {t.name!r}")
        previous, end = f"tensor {t.name!r}", t.end
    if tensors and size - end >= alignment:
        _bad(name, f"{size - end} unexplained bytes after the last tensor")


class _ArrayLength(int):
    """An array-valued key, remembered by its length only."""


def _config(metadata: dict[str, Any]) -> dict[str, Any]:
    """Architecture and tokenizer metadata; scalars only, no vocabulary arrays."""

    def scalar(key: str) -> Any:
        value = metadata.get(key)
        return None if isinstance(value, _ArrayLength) else value

    arch = scalar("general.architecture")
    config: dict[str, Any] = {}
    for key in ("general.architecture", "general.name", "general.file_type"):
        if (value := scalar(key)) is not None:
            config[key] = value
    if isinstance(arch, str):
        for key in metadata:
            if key.startswith(arch + ".") and (value := scalar(key)) is not None:
                config[key] = value
    if (model := scalar("tokenizer.ggml.model")) is not None:
        config["tokenizer.ggml.model"] = model
    tokens = metadata.get("tokenizer.ggml.tokens")
    if isinstance(tokens, _ArrayLength):
        config["vocab_size"] = int(tokens)
    return config


class GGUFArray(ArrayTensor):
    """A GGUF tensor memory-mapped as rows of stored blocks; decodes only what is read."""

    def __init__(self, info: TensorInfo, file: np.memmap, source: ModelSource) -> None:
        super().__init__(info.name, info.shape, info.dtype, self._all)
        qtype = gguf.GGMLQuantizationType[info.dtype]
        self._block, self._type_size = gguf.GGML_QUANT_SIZES[qtype]
        self._qtype = qtype
        row = info.shape[-1] if info.shape else 1
        row_bytes = row // self._block * self._type_size
        self._raw = file[info.start : info.end].reshape(-1, row_bytes)
        self.ensure = rows_fetcher(source, info, row_bytes)

    def _decode(self, raw: np.ndarray) -> np.ndarray:
        plain = _PLAIN.get(self.storage)
        if plain is not None:
            return np.ascontiguousarray(raw).view(plain).astype(np.float32)
        if self.storage == "BF16":
            bits = np.ascontiguousarray(raw).view("<u2").astype(np.uint32) << 16
            return bits.view(np.float32)
        # One flat row: the gguf package then decodes every block in one vectorized pass
        # instead of in groups of 16 rows.
        shape = (*raw.shape[:-1], raw.shape[-1] // self._type_size * self._block)
        flat = np.ascontiguousarray(raw).reshape(1, -1)
        try:
            return np.asarray(gguf.quants.dequantize(flat, self._qtype)).reshape(shape)
        except NotImplementedError:
            raise WeightsError(
                f"tensor {self.name!r}: cannot dequantize {self.storage} yet"
            ) from None

    def _all(self) -> np.ndarray:
        self._ensure(None)
        return self._decode(self._raw).reshape(self.shape)

    def read_rows(self, index: np.ndarray | None = None) -> np.ndarray:
        if index is None:
            return self.values()
        self._ensure(np.asarray(index))
        return self._decode(self._raw[np.asarray(index)]).reshape(len(index), -1)

    def read_columns(
        self, index: np.ndarray, rows: np.ndarray | None = None, chunk: int = 4096
    ) -> np.ndarray:
        """Only the blocks holding the wanted columns are decoded, ``chunk`` rows at a time.

        The common types (Q8_0, Q4_0, Q4_1 and the K-quants Q2_K to Q6_K) are decoded element
        by element instead: a column is a few bits per row, whatever the block holds besides.
        """
        index = np.asarray(index)
        self._ensure(None if rows is None else np.asarray(rows))
        raw = self._raw if rows is None else self._raw[np.asarray(rows)]
        if self.storage in _ELEMENT_DECODERS:
            return _ELEMENT_DECODERS[self.storage](raw, index, self._type_size)
        blocks = np.unique(index // self._block)
        where = np.searchsorted(blocks, index // self._block) * self._block + index % self._block
        count = raw.shape[0]
        grouped = raw.reshape(count, -1, self._type_size)
        out = np.empty((count, len(index)), dtype=np.float32)
        for lo in range(0, count, chunk):
            part = self._decode(grouped[lo : lo + chunk][:, blocks, :])
            out[lo : lo + chunk] = part.reshape(part.shape[0], -1)[:, where]
        return out


def _block_parts(index: np.ndarray, type_size: int) -> tuple[np.ndarray, np.ndarray]:
    """Byte offsets (in a row) of each wanted column's block and its position in the block."""
    block = index // _LEGACY_BLOCK
    return block * type_size, index % _LEGACY_BLOCK


def _f16_at(raw: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """The f16 at each (even) byte offset of every row, as float32."""
    if raw.flags.c_contiguous and raw.shape[1] % 2 == 0 and raw.ctypes.data % 2 == 0:
        return raw.view("<u2")[:, offsets // 2].view("<f2").astype(np.float32)
    pair = np.stack([raw[:, offsets], raw[:, offsets + 1]], axis=-1)
    return np.ascontiguousarray(pair).view("<f2")[..., 0].astype(np.float32)


def _q8_0_columns(raw: np.ndarray, index: np.ndarray, type_size: int) -> np.ndarray:
    """Q8_0 blocks: an f16 scale, then 32 int8 quants."""
    start, within = _block_parts(index, type_size)
    quants = raw[:, start + 2 + within].view(np.int8).astype(np.float32)
    return quants * _f16_at(raw, start)


def _nibbles(raw: np.ndarray, at: np.ndarray, within: np.ndarray) -> np.ndarray:
    """4-bit quants: byte ``within % 16`` of the block, low nibble first, then high."""
    byte = raw[:, at + within % 16]
    return np.where(within < 16, byte & 0x0F, byte >> 4).astype(np.float32)


def _q4_0_columns(raw: np.ndarray, index: np.ndarray, type_size: int) -> np.ndarray:
    """Q4_0 blocks: an f16 scale, then 16 bytes of 4-bit quants offset by 8."""
    start, within = _block_parts(index, type_size)
    return (_nibbles(raw, start + 2, within) - 8.0) * _f16_at(raw, start)


def _q4_1_columns(raw: np.ndarray, index: np.ndarray, type_size: int) -> np.ndarray:
    """Q4_1 blocks: an f16 scale and an f16 minimum, then 16 bytes of 4-bit quants."""
    start, within = _block_parts(index, type_size)
    return _nibbles(raw, start + 4, within) * _f16_at(raw, start) + _f16_at(raw, start + 2)


_LEGACY_BLOCK = 32
_ELEMENT_DECODERS = {
    "Q8_0": _q8_0_columns,
    "Q4_0": _q4_0_columns,
    "Q4_1": _q4_1_columns,
    **KQUANT_COLUMNS,
}


def gguf_arrays(source: ModelSource) -> list[ArrayTensor]:
    """The model's tensors as lazily dequantized float32 arrays, stored types as ``storage``."""
    maps: dict[str, np.memmap] = {}
    out: list[ArrayTensor] = []
    for t in source.tensors:
        if t.numel == 0:
            continue
        if t.file not in maps:
            maps[t.file] = np.memmap(source.path_of(t), dtype=np.uint8, mode="r")
        out.append(GGUFArray(t, maps[t.file], source))
    return out
