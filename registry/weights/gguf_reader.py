"""The GGUF reader: a strict walk of the header, then the ``gguf`` package for its values.

The walk bounds every length and count by the file's size before the ``gguf`` package (which
trusts them) sees the file, so a damaged or hostile header becomes one :class:`HeaderMalformed`
line instead of a hang or a traceback. Tensors map to their stored bytes (quantized blocks as
is); :mod:`registry.weights.gguf_arrays` dequantizes only the rows and blocks sketching asks for.
"""

from __future__ import annotations

import mmap
import re
import struct
from pathlib import Path
from typing import Any, NoReturn

from registry.errors import HeaderMalformed, UnsupportedFormat, WeightsError
from registry.weights.reader import (
    ModelSource,
    TensorInfo,
    WeightFile,
    WeightReader,
    release_files,
)
from registry.weights.validation import (
    MAX_NAME_CHARS,
    MAX_TENSORS,
    config_fault,
    name_fault,
    shown,
)

MAGIC = b"GGUF"
SUFFIX = ".gguf"
VERSIONS = (2, 3)
MAX_DIMS = 4
_HINT = "the file is damaged or was not written by a GGUF writer; re-download it"
#: most metadata keys in one file (real files have about 40)
MAX_KEYS = 4_096
#: most strings in all of a file's metadata arrays (vocabularies and merges: ~1M at most)
MAX_STRINGS = 2_097_152
#: most ``{architecture}.*`` keys copied into the stored config; string values longer than
#: MAX_NAME_CHARS are not copied (the file's SHA-256 still covers them)
MAX_CONFIG_KEYS = 256
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
    if n_kv > MAX_KEYS:
        _bad(name, f"{n_kv:,} metadata keys, over the limit of {MAX_KEYS:,}")
    if n_tensors > MAX_TENSORS:
        _bad(name, f"{n_tensors:,} tensors, over the limit of {MAX_TENSORS:,}")
    import gguf  # here, not at the top: it pulls in numpy, which reading safetensors never needs

    alignment = gguf.GGUF_DEFAULT_ALIGNMENT
    metadata: dict[str, Any] = {}
    strings = [MAX_STRINGS]  # how many more array strings may follow
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
            _skip_value(name, cur, vtype, key, top=True, strings=strings)
            metadata[key] = _ArrayLength(int.from_bytes(cur.buf[start + 4 : start + 12], "little"))
    tensors = []
    seen: set[str] = set()
    for _ in range(n_tensors):
        tname = cur.text("a tensor name")
        if (fault := name_fault(tname)) is not None:
            _bad(name, f"tensor name {shown(tname)} {fault}")
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


def _skip_value(
    name: str, cur: _Cursor, vtype: int, key: str, *, top: bool, strings: list[int]
) -> None:
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
            strings[0] -= count
            if strings[0] < 0:
                _bad(name, f"key {key!r}: over the limit of {MAX_STRINGS:,} strings in arrays")
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
        if not specs and size > cur.pos and (size - cur.pos >= alignment or any(buf[cur.pos :])):
            # A tensor count patched to 0 would otherwise register the file as an empty model.
            _bad(name, f"{size - cur.pos} unexplained bytes after a header that lists no tensors")
    data_start = -(-cur.pos // alignment) * alignment
    tensors = [
        TensorInfo(t, dtype, tuple(reversed(ne)), name, data_start + off, data_start + off + n)
        for t, ne, dtype, off, n in specs
    ]
    _check_layout(
        name, sorted(tensors, key=lambda t: (t.start, t.end)), data_start, size, alignment
    )
    config = _config(metadata)
    if (fault := config_fault(config)) is not None:
        _bad(name, f"metadata: {fault}")
    return WeightFile(path, name, size), tensors, config


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
    """Architecture and tokenizer metadata; scalars only, no vocabulary arrays, and at most
    MAX_CONFIG_KEYS architecture keys."""

    def scalar(key: str) -> Any:
        value = metadata.get(key)
        if isinstance(value, str) and len(value) > MAX_NAME_CHARS:
            return None
        return None if isinstance(value, _ArrayLength) else value

    arch = scalar("general.architecture")
    config: dict[str, Any] = {}
    for key in ("general.architecture", "general.name", "general.file_type"):
        if (value := scalar(key)) is not None:
            config[key] = value
    if isinstance(arch, str):
        kept = 0
        for key in metadata:
            if kept == MAX_CONFIG_KEYS:
                break
            if (
                key.startswith(arch + ".")
                and len(key) <= MAX_NAME_CHARS
                and (value := scalar(key)) is not None
            ):
                config[key] = value
                kept += 1
    if (model := scalar("tokenizer.ggml.model")) is not None:
        config["tokenizer.ggml.model"] = model
    tokens = metadata.get("tokenizer.ggml.tokens")
    if isinstance(tokens, _ArrayLength):
        config["vocab_size"] = int(tokens)
    return config
