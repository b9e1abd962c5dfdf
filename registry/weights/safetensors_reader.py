"""The safetensors reader: strict header validation and sharded-index checks.

Stricter than the safetensors library: duplicate keys, unknown keys, gaps, overlaps and trailing
bytes are all refused, so that every byte of a file is either header or exactly one tensor.
"""

from __future__ import annotations

import re
import struct
from pathlib import Path, PurePosixPath
from typing import Any, NoReturn

from registry.errors import HeaderMalformed, ShardIndexMalformed
from registry.weights.reader import (
    ModelSource,
    TensorInfo,
    WeightFile,
    WeightReader,
    confine,
    read_json_object,
    release_files,
)
from registry.weights.validation import (
    MAX_EMPTY_TENSORS,
    MAX_INDEX_BYTES,
    MAX_PATH_CHARS,
    MAX_TENSORS,
    DuplicateKey,
    JsonFault,
    loads,
    name_fault,
    shown,
)

SUFFIX = ".safetensors"
INDEX_NAME = "model.safetensors.index.json"

# Element sizes in bits, as the safetensors format names its dtypes.
DTYPE_BITS: dict[str, int] = {
    "BOOL": 8,
    "F4": 4,
    "F6_E2M3": 6,
    "F6_E3M2": 6,
    "U8": 8,
    "I8": 8,
    "F8_E5M2": 8,
    "F8_E4M3": 8,
    "F8_E8M0": 8,
    "F8_E4M3FNUZ": 8,
    "F8_E5M2FNUZ": 8,
    "I16": 16,
    "U16": 16,
    "F16": 16,
    "BF16": 16,
    "I32": 32,
    "U32": 32,
    "F32": 32,
    "C64": 64,
    "F64": 64,
    "I64": 64,
    "U64": 64,
}

_HEADER_HINT = "the file is damaged or was not written by a safetensors writer; re-download it"
_INDEX_HINT = "re-download the index, or regenerate it from the shards"
# How every sharding writer (transformers, huggingface_hub) names shards: such a file beside an
# index must be listed in it. Other safetensors files there (Mistral's consolidated.safetensors)
# are a different packaging of the release and are not read.
_SHARD_NAME = re.compile(r"-\d{5}-of-\d{5}\.safetensors$")


class SafetensorsReader(WeightReader):
    format = "safetensors"
    suffixes = (SUFFIX,)

    def claims_directory(self, directory: Path) -> bool:
        return bool(_safetensors_in(directory)) or _find_index(directory) is not None

    def open(self, path: Path, *, max_header_bytes: int) -> ModelSource:
        if path.is_file():
            wf, tensors = read_file(path, path.name, max_header_bytes=max_header_bytes)
            return ModelSource(self.format, path.parent, [wf], tensors)
        index = _find_index(path)
        if index is not None:
            files, tensors = _read_sharded(path, index, max_header_bytes)
            extra = [WeightFile(index, index.name, index.stat().st_size)]
        else:
            files, tensors, extra = [], [], []
            for p in _safetensors_in(path):
                wf, ts = read_file(p, p.name, max_header_bytes=max_header_bytes)
                files.append(wf)
                tensors.extend(ts)
        extra = sorted([*extra, *release_files(path)], key=lambda f: f.name)
        config = None
        if (path / "config.json").is_file():
            config = read_json_object(path / "config.json", "config.json")
        return ModelSource(self.format, path, files, tensors, extra, config)


def _safetensors_in(directory: Path) -> list[Path]:
    return sorted(
        p
        for p in directory.iterdir()
        if p.suffix == SUFFIX and not p.name.startswith(".") and p.is_file()
    )


def _find_index(directory: Path) -> Path | None:
    """``model.safetensors.index.json``, else a sole other ``*.safetensors.index.json``."""
    if (directory / INDEX_NAME).is_file():
        return directory / INDEX_NAME
    others = sorted(directory.glob("*.safetensors.index.json"))
    return others[0] if len(others) == 1 else None


def read_file(
    path: Path, name: str, *, max_header_bytes: int
) -> tuple[WeightFile, list[TensorInfo]]:
    """One safetensors file's description and its tensors, in order of their offsets.

    Raises :class:`HeaderMalformed` naming the file and the fault.
    """
    size = path.stat().st_size
    with path.open("rb") as f:
        prefix = f.read(8)
        if len(prefix) < 8:
            _bad(name, f"file is {size} bytes, shorter than the 8-byte header length")
        (n,) = struct.unpack("<Q", prefix)
        if n > max_header_bytes:
            _bad(name, f"header length {n} exceeds the cap of {max_header_bytes} bytes")
        if 8 + n > size:
            _bad(name, f"header length {n} is larger than the file ({size} bytes)")
        raw = f.read(n)
    data_start = 8 + n
    # Every tensor has one "data_offsets" key, and a JSON string cannot hold those bytes
    # (its quotes would be escaped): count before parsing builds a million objects.
    if (entries := raw.count(b'"data_offsets"')) > MAX_TENSORS:
        _bad(name, f"{entries:,} tensors, over the limit of {MAX_TENSORS:,}")
    header = _parse_header(name, raw)
    metadata = header.pop("__metadata__", None)
    if metadata is not None and not (
        isinstance(metadata, dict)
        and all(isinstance(k, str) and isinstance(v, str) for k, v in metadata.items())
    ):
        _bad(name, "__metadata__ is not a map of strings to strings")
    if len(header) > MAX_TENSORS:
        _bad(name, f"{len(header):,} tensors, over the limit of {MAX_TENSORS:,}")
    tensors = [_tensor(name, key, entry, data_start) for key, entry in header.items()]
    if (empty := sum(t.start == t.end for t in tensors)) > MAX_EMPTY_TENSORS:
        _bad(name, f"{empty:,} tensors hold no data, over the limit of {MAX_EMPTY_TENSORS:,}")
    tensors.sort(key=lambda t: (t.start, t.end))
    _check_coverage(name, tensors, data_start, size)
    return WeightFile(path, name, size, dict(metadata or {})), tensors


def _parse_header(name: str, raw: bytes) -> dict[str, Any]:
    if not raw.startswith(b"{"):
        _bad(name, "header does not start with '{'")
    body = raw.rstrip(b" ")  # the format allows padding with spaces (0x20) only
    if not body.endswith(b"}"):
        _bad(name, "header has bytes after the JSON object other than space padding")
    try:
        value = loads(body, duplicates=False)
    except DuplicateKey as e:
        _bad(name, f"header has {e}")
    except JsonFault as e:
        _bad(name, f"header is {e}" if str(e).startswith("not ") else f"header: {e}")
    if not isinstance(value, dict):
        _bad(name, "header is not a JSON object")
    return value


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _tensor(name: str, key: str, entry: Any, data_start: int) -> TensorInfo:
    if (fault := name_fault(key)) is not None:
        _bad(name, f"tensor name {shown(key)} {fault}")
    where = f"tensor {key!r}"
    if not isinstance(entry, dict):
        _bad(name, f"{where}: entry is not an object")
    if set(entry) != {"dtype", "shape", "data_offsets"}:
        _bad(name, f"{where}: keys must be dtype, shape and data_offsets, got {sorted(entry)}")
    dtype, shape, offsets = entry["dtype"], entry["shape"], entry["data_offsets"]
    if not isinstance(dtype, str) or dtype not in DTYPE_BITS:
        _bad(name, f"{where}: unknown dtype {dtype!r}")
    if not isinstance(shape, list) or not all(_is_int(d) and d >= 0 for d in shape):
        _bad(name, f"{where}: shape {shape!r} is not a list of non-negative integers")
    if not (isinstance(offsets, list) and len(offsets) == 2 and all(_is_int(o) for o in offsets)):
        _bad(name, f"{where}: data_offsets {offsets!r} is not a pair of integers")
    begin, end = offsets
    if not 0 <= begin <= end:
        _bad(name, f"{where}: data_offsets [{begin}, {end}] do not satisfy 0 <= begin <= end")
    numel = 1
    for d in shape:
        numel *= d
    bits = numel * DTYPE_BITS[dtype]
    if bits % 8:
        _bad(name, f"{where}: {numel} {dtype} elements do not fill a whole number of bytes")
    if bits // 8 != end - begin:
        _bad(
            name,
            f"{where}: {dtype} {shape} needs {bits // 8} bytes but data_offsets span {end - begin}",
        )
    return TensorInfo(key, dtype, tuple(shape), name, data_start + begin, data_start + end)


def _check_coverage(name: str, tensors: list[TensorInfo], data_start: int, size: int) -> None:
    """Tensors, in order of offsets, must cover the data section exactly, from 0 to its end."""
    pos = data_start
    for t in tensors:
        if t.start < pos:
            _bad(name, f"tensor {t.name!r} overlaps the previous tensor")
        if t.start > pos:
            _bad(name, f"gap of {t.start - pos} bytes before tensor {t.name!r}")
        pos = t.end
    data_len, need = size - data_start, pos - data_start
    if need > data_len:
        _bad(name, f"tensors need {need} data bytes but the file has {data_len}: truncated file")
    if need < data_len:
        _bad(name, f"{data_len - need} trailing bytes after the last tensor")


def _bad(name: str, fault: str) -> NoReturn:
    raise HeaderMalformed(f"{name}: {fault}", hint=_HEADER_HINT, detail={"file": name})


def _bad_index(name: str, fault: str) -> NoReturn:
    raise ShardIndexMalformed(f"{name}: {fault}", hint=_INDEX_HINT, detail={"file": name})


def _read_sharded(
    directory: Path, index: Path, max_header_bytes: int
) -> tuple[list[WeightFile], list[TensorInfo]]:
    """The shards an index names, checked against it tensor by tensor."""
    iname = index.name
    if (size := index.stat().st_size) > MAX_INDEX_BYTES:
        _bad_index(iname, f"{size:,} bytes, over the limit of {MAX_INDEX_BYTES:,}")
    try:
        value = loads(index.read_bytes(), duplicates=False)
    except JsonFault as e:
        _bad_index(iname, str(e))
    if not isinstance(value, dict):
        _bad_index(iname, "not a JSON object")
    weight_map = value.get("weight_map")
    if not isinstance(weight_map, dict) or not all(isinstance(v, str) for v in weight_map.values()):
        _bad_index(iname, "weight_map is missing or not a map of tensor names to shard files")
    if not weight_map:
        _bad_index(iname, "weight_map is empty")
    if len(weight_map) > MAX_TENSORS:
        _bad_index(iname, f"{len(weight_map):,} tensors, over the limit of {MAX_TENSORS:,}")
    by_shard: dict[str, set[str]] = {}
    for tensor, shard in weight_map.items():
        if (fault := name_fault(tensor)) is not None:
            _bad_index(iname, f"tensor name {shown(tensor)} {fault}")
        if (fault := name_fault(shard, MAX_PATH_CHARS)) is not None:
            _bad_index(iname, f"shard name {shown(shard)} {fault}")
        by_shard.setdefault(shard, set()).add(tensor)
    paths: dict[str, Path] = {}
    for shard in sorted(by_shard):
        rel = PurePosixPath(shard)
        if not shard or "\\" in shard or rel.is_absolute() or ".." in rel.parts:
            _bad_index(iname, f"shard {shard!r} is not a plain path inside the directory")
        confine(directory, directory / rel, rel.as_posix())
        if not (directory / rel).is_file():
            _bad_index(iname, f"shard {shard!r} does not exist")
        paths[shard] = directory / rel
    listed = {PurePosixPath(s).as_posix() for s in by_shard}
    unlisted = [p.name for p in _safetensors_in(directory) if _SHARD_NAME.search(p.name)]
    if unlisted := sorted(set(unlisted) - listed):
        _bad_index(iname, f"shard {unlisted[0]!r} is in the directory but not in the index")
    files: list[WeightFile] = []
    tensors: list[TensorInfo] = []
    for shard, path in paths.items():
        name = PurePosixPath(shard).as_posix()
        wf, ts = read_file(path, name, max_header_bytes=max_header_bytes)
        present = {t.name for t in ts}
        if missing := sorted(by_shard[shard] - present):
            _bad_index(iname, f"tensor {missing[0]!r} is not in shard {shard!r}")
        if unmapped := sorted(present - by_shard[shard]):
            _bad_index(iname, f"tensor {unmapped[0]!r} of shard {shard!r} is not mapped to it")
        files.append(wf)
        tensors.extend(ts)
    return files, tensors
