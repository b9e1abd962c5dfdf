"""Fingerprints: exact file hashes, tensor and variant digests, streaming, threads, progress."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from blake3 import blake3

from registry.errors import WeightsError
from registry.weights import (
    NullProgress,
    fingerprint_path,
    fingerprint_source,
    open_model,
    variant_digest,
)
from registry.weights import digests as digests_module
from registry.weights.digests import hash_file, tensor_digest
from tests.weights.conftest import Tensors, write_raw, write_safetensors, write_sharded

_DTYPES = {"float32": "F32", "float16": "F16", "float64": "F64", "int64": "I64", "int32": "I32"}


def _expected_variant_digest(tensors: Tensors) -> str:
    """The public format, computed independently from the arrays themselves."""
    digests = []
    for a in tensors.values():
        prefix = f"{_DTYPES[a.dtype.name]}|{','.join(map(str, a.shape))}|".encode()
        digests.append(
            "blake3:" + blake3(prefix + a.astype(a.dtype.newbyteorder("<")).tobytes()).hexdigest()
        )
    joined = "\n".join(sorted(digests)).encode()
    return "sha256:" + hashlib.sha256(joined).hexdigest()


def test_fingerprint_of_one_file(model_file: Path, base_tensors: Tensors) -> None:
    fp = fingerprint_path(model_file)
    assert fp.format == "safetensors"
    assert fp.digest == _expected_variant_digest(base_tensors)
    assert fp.parameters == sum(a.size for a in base_tensors.values())
    assert fp.dtypes == ["F16", "F32", "F64", "I64"]
    assert [t.name for t in fp.tensors] == sorted(base_tensors)
    (file,) = fp.files
    assert (file.path, file.size) == ("model.safetensors", model_file.stat().st_size)
    assert fp.architecture is None and fp.config is None


def test_file_sha256_equals_hashlib_and_sha256sum(model_file: Path) -> None:
    (file,) = fingerprint_path(model_file).files
    assert file.sha256 == hashlib.sha256(model_file.read_bytes()).hexdigest()
    if shutil.which("sha256sum"):
        out = subprocess.run(["sha256sum", str(model_file)], capture_output=True, text=True)
        assert file.sha256 == out.stdout.split()[0]


def test_tensor_digest_format(model_file: Path, base_tensors: Tensors) -> None:
    fp = fingerprint_path(model_file)
    by_name = {t.name: t for t in fp.tensors}
    ids = base_tensors["position_ids"]
    expected = "blake3:" + blake3(b"I64|12|" + ids.tobytes()).hexdigest()
    assert by_name["position_ids"].digest == expected == tensor_digest("I64", [12], ids.tobytes())
    assert by_name["scale"].digest == tensor_digest("F64", [], base_tensors["scale"].tobytes())
    assert by_name["empty"].digest == "blake3:" + blake3(b"F32|0,4|").hexdigest()
    assert (by_name["empty"].dtype, by_name["empty"].shape) == ("F32", [0, 4])


def test_renamed_and_resharded_keep_the_digest(
    tmp_path: Path, model_file: Path, base_tensors: Tensors
) -> None:
    base = fingerprint_path(model_file).digest
    renamed = {f"model.{i}.w": a for i, a in enumerate(reversed(base_tensors.values()))}
    assert fingerprint_path(write_safetensors(tmp_path / "r.safetensors", renamed)).digest == base

    items = list(base_tensors.items())[::-1]
    shards = [dict(items[:2]), dict(items[2:5]), dict(items[5:])]
    sharded = write_sharded(tmp_path / "sharded", shards)
    fp = fingerprint_path(sharded)
    assert fp.digest == base
    assert [f.path for f in fp.files] == [
        "model-00001-of-00003.safetensors",
        "model-00002-of-00003.safetensors",
        "model-00003-of-00003.safetensors",
        "model.safetensors.index.json",
    ]


def test_changed_value_dtype_or_shape_changes_the_digest(
    tmp_path: Path, model_file: Path, base_tensors: Tensors
) -> None:
    base = fingerprint_path(model_file).digest
    w = base_tensors["layers.0.attn.weight"]

    changed = dict(base_tensors)
    changed["layers.0.attn.weight"] = w.copy()
    changed["layers.0.attn.weight"][3, 4] += 1e-3
    reinterpreted = dict(base_tensors, **{"layers.0.attn.weight": w.view(np.int32)})
    reshaped = dict(base_tensors, **{"layers.0.attn.weight": w.reshape(4, 16)})
    digests = {
        name: fingerprint_path(write_safetensors(tmp_path / f"{name}.safetensors", t)).digest
        for name, t in [("value", changed), ("dtype", reinterpreted), ("shape", reshaped)]
    }
    assert base not in digests.values()
    assert len(set(digests.values())) == 3


def test_variant_digest_is_a_multiset_digest() -> None:
    assert variant_digest(["blake3:b", "blake3:a"]) == variant_digest(["blake3:a", "blake3:b"])
    assert variant_digest(["blake3:a"]) != variant_digest(["blake3:a", "blake3:a"])
    assert variant_digest([]) == "sha256:" + hashlib.sha256(b"").hexdigest()


@pytest.mark.parametrize("chunk_size", [1, 7, 64, 1000, 1 << 20])
@pytest.mark.parametrize("threaded", [False, True])
def test_streaming_across_chunks_equals_one_shot(
    tmp_path: Path, chunk_size: int, threaded: bool
) -> None:
    rng = np.random.default_rng(1)
    tensors = {
        "big": rng.standard_normal((40, 50), dtype=np.float32),  # spans many chunks
        "small": np.arange(3, dtype=np.int32),
        "empty": np.zeros(0, np.float16),
        "mid": rng.standard_normal(33).astype(np.float16),
    }
    path = write_safetensors(tmp_path / "s.safetensors", tensors)
    source = open_model(path)
    raw = path.read_bytes()
    with ThreadPoolExecutor(1) as helper:
        sha, digests = hash_file(
            path,
            source.tensors,
            size=len(raw),
            chunk_size=chunk_size,
            helper=helper if threaded else None,
        )
    assert sha == hashlib.sha256(raw).hexdigest()
    assert digests == [
        tensor_digest(t.dtype, t.shape, raw[t.start : t.end]) for t in source.tensors
    ]


def test_small_module_chunk_size_gives_the_same_fingerprint(
    monkeypatch: pytest.MonkeyPatch, model_file: Path
) -> None:
    default = fingerprint_path(model_file, workers=2)
    monkeypatch.setattr(digests_module, "CHUNK_SIZE", 13)
    assert fingerprint_path(model_file, workers=2) == default
    assert fingerprint_path(model_file, workers=1) == default


def test_null_progress_is_the_default(model_file: Path) -> None:
    assert fingerprint_path(model_file, progress=NullProgress()) == fingerprint_path(model_file)


def test_parallel_equals_serial(tmp_path: Path, base_tensors: Tensors) -> None:
    items = list(base_tensors.items())
    directory = write_sharded(tmp_path / "m", [dict(items[i : i + 2]) for i in range(0, 7, 2)])
    (directory / "config.json").write_text(json.dumps({"architectures": ["TinyForCausalLM"]}))
    (directory / "tokenizer.json").write_text("{}")
    serial = fingerprint_path(directory, workers=1)
    assert fingerprint_path(directory, workers=4) == serial
    assert fingerprint_path(directory, workers=0) == serial
    assert serial.architecture == "TinyForCausalLM"
    assert serial.config == {"architectures": ["TinyForCausalLM"]}
    assert {"config.json", "tokenizer.json"} <= {f.path for f in serial.files}


def test_architecture_falls_back_to_model_type(tmp_path: Path, base_tensors: Tensors) -> None:
    write_safetensors(tmp_path / "model.safetensors", base_tensors)
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "gpt2"}))
    assert fingerprint_path(tmp_path).architecture == "gpt2"


class _Recorder:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.total: int | None = None
        self.advanced = 0
        self.calls = 0
        self.finished = False

    def start(self, total_bytes: int) -> None:
        self.total = total_bytes

    def advance(self, nbytes: int) -> None:
        with self.lock:
            self.advanced += nbytes
            self.calls += 1

    def finish(self) -> None:
        self.finished = True


@pytest.mark.parametrize("workers", [1, 4])
def test_progress_hears_every_byte(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, base_tensors: Tensors, workers: int
) -> None:
    monkeypatch.setattr(digests_module, "CHUNK_SIZE", 100)
    items = list(base_tensors.items())
    directory = write_sharded(tmp_path / "m", [dict(items[:4]), dict(items[4:])])
    (directory / "README.md").write_text("# tiny\n")
    recorder = _Recorder()
    fp = fingerprint_path(directory, workers=workers, progress=recorder)
    total = sum(f.size for f in fp.files)
    assert recorder.total == total == recorder.advanced
    assert recorder.calls > len(fp.files)
    assert recorder.finished


def test_progress_finishes_on_error(tmp_path: Path) -> None:
    header = {"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}
    path = write_raw(tmp_path / "m.safetensors", header, b"\0" * 8)
    source = open_model(path)
    path.write_bytes(path.read_bytes()[:-4])  # truncated after it was opened
    recorder = _Recorder()
    with pytest.raises(WeightsError, match="changed while it was read"):
        fingerprint_source(source, progress=recorder)
    assert recorder.finished
