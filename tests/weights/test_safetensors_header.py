"""Header validation: every malformed case is refused with the file and the fault named."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest

from registry.errors import HeaderMalformed
from registry.weights import open_model
from tests.weights.conftest import write_raw, write_safetensors

F32x2 = {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}


def _entry(dtype: str, shape: list[int], begin: int, end: int) -> dict[str, object]:
    return {"dtype": dtype, "shape": shape, "data_offsets": [begin, end]}


# (id, header, data, expected fault text)
CASES: list[tuple[str, bytes | dict[str, object], bytes, str]] = [
    ("not-brace", b' {"a": 1}', b"", "does not start with '{'"),
    ("top-level-array", b"[1, 2]", b"", "does not start with '{'"),
    (
        "junk-after-json",
        b'{"a": ' + b'{"dtype": "F32", "shape": [0], "data_offsets": [0, 0]}}\n',
        b"",
        "other than space padding",
    ),
    ("invalid-utf8", b'{"\xff\xfe": {}}', b"", "not valid UTF-8"),
    ("invalid-json", b'{"a": }', b"", "not valid JSON"),
    ("nan", b'{"__metadata__": {"a": NaN}}', b"", "NaN is not a JSON number"),
    (
        "duplicate-key",
        b'{"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}, '
        b'"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}',
        b"\0" * 8,
        "duplicate key 'a'",
    ),
    (
        "duplicate-inner-key",
        b'{"a": {"dtype": "F32", "dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}',
        b"\0" * 8,
        "duplicate key 'dtype'",
    ),
    ("metadata-not-str", {"__metadata__": {"k": 1}, "a": F32x2}, b"\0" * 8, "__metadata__"),
    ("metadata-not-dict", {"__metadata__": ["k"], "a": F32x2}, b"\0" * 8, "__metadata__"),
    ("entry-not-object", {"a": 3}, b"", "entry is not an object"),
    ("unknown-key", {"a": {**F32x2, "extra": 1}}, b"\0" * 8, "keys must be"),
    ("missing-key", {"a": {"dtype": "F32", "shape": [2]}}, b"\0" * 8, "keys must be"),
    ("unknown-dtype", {"a": _entry("F12", [2], 0, 8)}, b"\0" * 8, "unknown dtype 'F12'"),
    ("negative-dim", {"a": _entry("F32", [-2], 0, 8)}, b"\0" * 8, "shape"),
    ("float-dim", {"a": _entry("F32", [2.0], 0, 8)}, b"\0" * 8, "shape"),  # type: ignore[list-item]
    ("bool-dim", {"a": _entry("F32", [True], 0, 4)}, b"\0" * 4, "shape"),
    (
        "shape-not-list",
        {"a": {"dtype": "F32", "shape": 2, "data_offsets": [0, 8]}},
        b"\0" * 8,
        "shape",
    ),
    (
        "offsets-one",
        {"a": {"dtype": "F32", "shape": [2], "data_offsets": [8]}},
        b"\0" * 8,
        "data_offsets",
    ),
    (
        "offsets-str",
        {"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, "8"]}},
        b"\0" * 8,
        "data_offsets",
    ),
    ("begin-after-end", {"a": _entry("F32", [0], 8, 4)}, b"\0" * 8, "0 <= begin <= end"),
    ("length-mismatch", {"a": _entry("F32", [3], 0, 8)}, b"\0" * 8, "needs 12 bytes"),
    ("sub-byte-misaligned", {"a": _entry("F4", [3], 0, 2)}, b"\0" * 2, "whole number of bytes"),
    (
        "overlap",
        {"a": _entry("F32", [2], 0, 8), "b": _entry("F32", [2], 4, 12)},
        b"\0" * 12,
        "overlaps",
    ),
    (
        "gap",
        {"a": _entry("F32", [1], 0, 4), "b": _entry("F32", [1], 8, 12)},
        b"\0" * 12,
        "gap of 4 bytes before tensor 'b'",
    ),
    ("not-from-zero", {"a": _entry("F32", [1], 4, 8)}, b"\0" * 8, "gap of 4 bytes"),
    ("trailing-bytes", {"a": F32x2}, b"\0" * 11, "3 trailing bytes"),
    ("truncated", {"a": F32x2}, b"\0" * 5, "truncated"),
]


@pytest.mark.parametrize(
    ("header", "data", "fault"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_malformed_header_is_refused(
    tmp_path: Path, header: bytes | dict[str, object], data: bytes, fault: str
) -> None:
    path = write_raw(tmp_path / "bad-model.safetensors", header, data)
    with pytest.raises(HeaderMalformed) as info:
        open_model(path)
    message = str(info.value)
    assert fault in message
    assert message.startswith("bad-model.safetensors: ")
    assert info.value.code == "header_malformed"
    assert info.value.hint


def test_file_shorter_than_length_prefix(tmp_path: Path) -> None:
    path = tmp_path / "tiny.safetensors"
    path.write_bytes(b"\x02\x00\x00")
    with pytest.raises(HeaderMalformed, match=r"tiny\.safetensors: file is 3 bytes, shorter"):
        open_model(path)


def test_header_length_beyond_file(tmp_path: Path) -> None:
    path = tmp_path / "short.safetensors"
    path.write_bytes(struct.pack("<Q", 1000) + b"{}")
    with pytest.raises(HeaderMalformed, match="header length 1000 is larger than the file"):
        open_model(path)


def test_header_length_beyond_cap(tmp_path: Path) -> None:
    path = write_safetensors(tmp_path / "ok.safetensors", {"a": np.zeros(3, np.float32)})
    open_model(path)
    with pytest.raises(HeaderMalformed, match="exceeds the cap of 16 bytes"):
        open_model(path, max_header_bytes=16)


def test_space_padding_after_json_is_allowed(tmp_path: Path) -> None:
    header = b'{"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}' + b" " * 5
    source = open_model(write_raw(tmp_path / "padded.safetensors", header, b"\0" * 8))
    (tensor,) = source.tensors
    assert (tensor.name, tensor.dtype, tensor.shape) == ("a", "F32", (2,))
    assert (tensor.start, tensor.end) == (8 + len(header), 8 + len(header) + 8)


@pytest.mark.parametrize(
    ("dtype", "shape", "nbytes"),
    [
        ("BF16", [3], 6),
        ("F8_E4M3", [2, 2], 4),
        ("F8_E5M2", [5], 5),
        ("BOOL", [3], 3),
        ("F4", [4], 2),
        ("F6_E2M3", [4], 3),
        ("C64", [1], 8),
        ("U64", [], 8),
    ],
)
def test_every_dtype_is_read(tmp_path: Path, dtype: str, shape: list[int], nbytes: int) -> None:
    header = {"__metadata__": {"format": "pt"}, "t": _entry(dtype, shape, 0, nbytes)}
    source = open_model(write_raw(tmp_path / "d.safetensors", header, b"\x01" * nbytes))
    assert source.tensors[0].dtype == dtype
    assert source.tensors[0].nbytes == nbytes
    assert source.files[0].metadata == {"format": "pt"}


def test_tensors_listed_with_absolute_offsets(model_file: Path) -> None:
    source = open_model(model_file)
    raw = model_file.read_bytes()
    names = {t.name for t in source.tensors}
    assert "embed.weight" in names and "empty" in names
    for t in source.tensors:
        if t.name == "position_ids":
            assert raw[t.start : t.end] == np.arange(12, dtype="<i8").tobytes()
    assert source.format == "safetensors"
    assert source.root == model_file.parent
    assert [f.name for f in source.files] == ["model.safetensors"]
