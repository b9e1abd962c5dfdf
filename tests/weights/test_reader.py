"""Format detection and refusals: missing paths, pickles (never loaded), unknown formats,
directories and sharded indexes."""

from __future__ import annotations

import json
import pickle
import zipfile
from pathlib import Path

import numpy as np
import pytest

from registry.errors import (
    PickleRefused,
    ShardIndexMalformed,
    UnsupportedFormat,
    WeightsError,
    WeightsNotFound,
)
from registry.weights import fingerprint_path, open_model
from tests.weights.conftest import Tensors, write_safetensors, write_sharded


class _Trap:
    """Unpickling this creates ``marker``: proof that something loaded the pickle."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str, str]]:
        return (open, (str(self.marker), "w"))


def _trap_bytes(marker: Path) -> bytes:
    return pickle.dumps({"weight": _Trap(marker)}, protocol=4)


def test_missing_path(tmp_path: Path) -> None:
    with pytest.raises(WeightsNotFound, match="no such file") as info:
        open_model(tmp_path / "nope.safetensors")
    assert "safetensors" in (info.value.hint or "")


def test_empty_directory(tmp_path: Path) -> None:
    (tmp_path / "README.md").write_text("hi")
    with pytest.raises(WeightsNotFound, match="no supported weight files") as info:
        open_model(tmp_path)
    assert "model.safetensors.index.json" in (info.value.hint or "")


@pytest.mark.parametrize("name", ["pytorch_model.bin", "model.pt", "w.pth", "w.pkl", "x.ckpt"])
def test_pickle_file_refused_unopened(tmp_path: Path, name: str) -> None:
    marker = tmp_path / "PWNED"
    path = tmp_path / name
    path.write_bytes(_trap_bytes(marker))
    with pytest.raises(PickleRefused) as info:
        fingerprint_path(path)
    assert name in str(info.value)
    assert "weights_only=True" in (info.value.hint or "")
    assert "save_file" in (info.value.hint or "")
    assert not marker.exists()


@pytest.mark.parametrize("name", ["innocent.safetensors", "weights.dat"])
def test_pickle_magic_refused_whatever_the_name(tmp_path: Path, name: str) -> None:
    marker = tmp_path / "PWNED"
    path = tmp_path / name
    path.write_bytes(_trap_bytes(marker))
    with pytest.raises(PickleRefused):
        open_model(path)
    assert not marker.exists()


def test_torch_zip_of_pickle_refused(tmp_path: Path) -> None:
    marker = tmp_path / "PWNED"
    path = tmp_path / "checkpoint.weights"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("archive/data.pkl", _trap_bytes(marker))
        z.writestr("archive/data/0", b"\0" * 16)
    with pytest.raises(PickleRefused):
        open_model(path)
    assert not marker.exists()


def test_directory_of_only_pickles_refused(tmp_path: Path) -> None:
    marker = tmp_path / "PWNED"
    (tmp_path / "pytorch_model.bin").write_bytes(_trap_bytes(marker))
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(PickleRefused, match=r"pytorch_model\.bin"):
        fingerprint_path(tmp_path)
    assert not marker.exists()


def test_directory_with_safetensors_ignores_bin(tmp_path: Path, base_tensors: Tensors) -> None:
    marker = tmp_path / "PWNED"
    (tmp_path / "pytorch_model.bin").write_bytes(_trap_bytes(marker))
    write_safetensors(tmp_path / "model.safetensors", base_tensors)
    fp = fingerprint_path(tmp_path)
    assert [f.path for f in fp.files] == ["model.safetensors"]
    assert not marker.exists()


# GGUF and ONNX are supported now; their malformed files are tested in test_gguf/test_onnx.
@pytest.mark.parametrize(("name", "content"), [("notes.txt", b"hi"), ("weights.dat", b"\x00" * 16)])
def test_unknown_format(tmp_path: Path, name: str, content: bytes) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(UnsupportedFormat, match=name.replace(".", r"\.")) as info:
        open_model(path)
    assert "safetensors" in (info.value.hint or "")


def test_directory_of_several_files(tmp_path: Path, base_tensors: Tensors) -> None:
    items = list(base_tensors.items())
    write_safetensors(tmp_path / "a.safetensors", dict(items[:3]))
    write_safetensors(tmp_path / "b.safetensors", dict(items[3:]))
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "tiny"}))
    source = open_model(tmp_path)
    assert [f.name for f in source.files] == ["a.safetensors", "b.safetensors"]
    assert [f.name for f in source.extra_files] == ["config.json"]
    assert {t.name for t in source.tensors} == set(base_tensors)
    assert source.config == {"model_type": "tiny"}


def test_invalid_config_json(tmp_path: Path, base_tensors: Tensors) -> None:
    write_safetensors(tmp_path / "model.safetensors", base_tensors)
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(WeightsError, match=r"config\.json"):
        open_model(tmp_path)
    (tmp_path / "config.json").write_text("[1, 2]")
    with pytest.raises(WeightsError, match=r"config\.json: not a JSON object"):
        open_model(tmp_path)


def _shards() -> list[Tensors]:
    return [
        {"a": np.zeros(4, np.float32), "b": np.ones(2, np.float32)},
        {"c": np.arange(3, dtype=np.int32)},
    ]


def _edit_index(directory: Path, edit: object) -> None:
    path = directory / "model.safetensors.index.json"
    index = json.loads(path.read_text())
    edit(index)  # type: ignore[operator]
    path.write_text(json.dumps(index))


def test_sharded_model_opens(tmp_path: Path) -> None:
    directory = write_sharded(tmp_path / "m", _shards())
    source = open_model(directory)
    assert [f.name for f in source.files] == [
        "model-00001-of-00002.safetensors",
        "model-00002-of-00002.safetensors",
    ]
    assert [f.name for f in source.extra_files] == ["model.safetensors.index.json"]
    assert sorted(t.name for t in source.tensors) == ["a", "b", "c"]


@pytest.mark.parametrize(
    ("edit", "fault"),
    [
        (lambda i: i.pop("weight_map"), "weight_map is missing"),
        (lambda i: i.update(weight_map=[1]), "weight_map is missing"),
        (lambda i: i.update(weight_map={"a": 3}), "weight_map is missing"),
        (lambda i: i.update(weight_map={}), "weight_map is empty"),
        (lambda i: i["weight_map"].update(c="missing.safetensors"), "does not exist"),
        (lambda i: i["weight_map"].update(c="../outside.safetensors"), "not a plain path"),
        (lambda i: i["weight_map"].update(c="/etc/passwd"), "not a plain path"),
        (lambda i: i["weight_map"].update(z="model-00002-of-00002.safetensors"), "'z' is not in"),
        (lambda i: i["weight_map"].pop("b"), "'b' of shard"),
        (
            lambda i: i["weight_map"].update(
                c="model-00001-of-00002.safetensors", b="model-00002-of-00002.safetensors"
            ),
            "'c' is not in",
        ),
    ],
    ids=[
        "no-map",
        "map-list",
        "map-values",
        "empty",
        "missing-shard",
        "dotdot",
        "absolute",
        "unknown-tensor",
        "unmapped-tensor",
        "wrong-shard",
    ],
)
def test_sharded_index_errors(tmp_path: Path, edit: object, fault: str) -> None:
    directory = write_sharded(tmp_path / "m", _shards())
    write_safetensors(tmp_path / "outside.safetensors", {"c": np.arange(3, dtype=np.int32)})
    _edit_index(directory, edit)
    with pytest.raises(ShardIndexMalformed, match=fault) as info:
        open_model(directory)
    assert str(info.value).startswith("model.safetensors.index.json: ")


@pytest.mark.parametrize(
    "content", [b"{not json", b"[1]", b"\xff\xfe", b'{"weight_map": {}, "weight_map": {}}']
)
def test_index_not_a_json_object(tmp_path: Path, content: bytes) -> None:
    directory = write_sharded(tmp_path / "m", _shards())
    (directory / "model.safetensors.index.json").write_bytes(content)
    with pytest.raises(ShardIndexMalformed, match=r"model\.safetensors\.index\.json"):
        open_model(directory)


def test_index_may_have_another_name(tmp_path: Path) -> None:
    directory = write_sharded(
        tmp_path / "m", _shards(), index_name="diffusion_pytorch_model.safetensors.index.json"
    )
    assert len(open_model(directory).files) == 2


def test_reading_safetensors_imports_no_onnx_or_scipy(tmp_path: Path) -> None:
    """Heavy packages load only where they are used (a command that reads no ONNX never pays)."""
    import subprocess
    import sys

    from registry.weights.onnx_reader import OnnxReader
    from registry.weights.reader import _OnnxOnDemand

    assert (_OnnxOnDemand.format, _OnnxOnDemand.suffixes) == (
        OnnxReader.format,
        OnnxReader.suffixes,
    )
    path = write_safetensors(tmp_path / "m" / "model.safetensors", {"w": np.ones(4, np.float32)})
    code = (
        "import sys\n"
        "from registry.weights import fingerprint_path\n"
        f"fingerprint_path({str(path)!r})\n"
        "print(sorted(m for m in ('onnx', 'scipy', 'ml_dtypes') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
