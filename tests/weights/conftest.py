"""Small safetensors models written on the fly: with the safetensors library, and by hand."""

from __future__ import annotations

import json
import struct
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from safetensors.numpy import save_file

Tensors = dict[str, np.ndarray]


def tensors_of_base() -> Tensors:
    rng = np.random.default_rng(7)
    return {
        "embed.weight": rng.standard_normal((32, 8), dtype=np.float32),
        "layers.0.attn.weight": rng.standard_normal((8, 8), dtype=np.float32),
        "layers.0.mlp.weight": rng.standard_normal((16, 8)).astype(np.float16),
        "layers.0.norm.weight": np.ones(8, dtype=np.float32),
        "position_ids": np.arange(12, dtype=np.int64),
        "scale": np.array(0.5, dtype=np.float64),
        "empty": np.zeros((0, 4), dtype=np.float32),
    }


def write_safetensors(path: Path, tensors: Tensors, metadata: dict[str, str] | None = None) -> Path:
    """A safetensors file written by the safetensors library."""
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(path), metadata=metadata)
    return path


def write_raw(path: Path, header: bytes | dict[str, Any], data: bytes = b"") -> Path:
    """A file with the given header (bytes as is, or a dict as JSON) and data section."""
    raw = header if isinstance(header, bytes) else json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + data)
    return path


def write_sharded(directory: Path, shards: list[Tensors], index_name: str | None = None) -> Path:
    """A sharded model: ``model-0000i-of-0000n.safetensors`` files and their index."""
    directory.mkdir(parents=True, exist_ok=True)
    weight_map: dict[str, str] = {}
    for i, shard in enumerate(shards, start=1):
        name = f"model-{i:05d}-of-{len(shards):05d}.safetensors"
        write_safetensors(directory / name, shard)
        weight_map.update(dict.fromkeys(shard, name))
    index = {"metadata": {"total_size": 0}, "weight_map": weight_map}
    (directory / (index_name or "model.safetensors.index.json")).write_text(json.dumps(index))
    return directory


@pytest.fixture
def base_tensors() -> Tensors:
    return tensors_of_base()


@pytest.fixture
def model_file(tmp_path: Path, base_tensors: Tensors) -> Path:
    return write_safetensors(tmp_path / "base" / "model.safetensors", base_tensors)


@pytest.fixture
def make_sharded(tmp_path: Path) -> Callable[[str, list[Tensors]], Path]:
    def make(name: str, shards: list[Tensors]) -> Path:
        return write_sharded(tmp_path / name, shards)

    return make
