"""K-quant columns decoded element by element equal gguf's own block dequantization."""

from __future__ import annotations

import gguf
import numpy as np
import pytest

from registry.weights.kquants import KQUANT_COLUMNS, QK_K

# where each type keeps its f16 super-scales, so random blocks get finite ones
_F16_AT = {"Q2_K": (80, 82), "Q3_K": (108,), "Q4_K": (0, 2), "Q5_K": (0, 2), "Q6_K": (208,)}


def _random_rows(qtype: str, rows: int, blocks: int, seed: int) -> np.ndarray:
    kind = gguf.GGMLQuantizationType[qtype]
    _, type_size = gguf.GGML_QUANT_SIZES[kind]
    rng = np.random.default_rng(seed)
    raw = rng.integers(0, 256, size=(rows, blocks, type_size), dtype=np.uint8)
    for at in _F16_AT[qtype]:
        scales = rng.uniform(-0.05, 0.05, size=(rows, blocks)).astype(np.float16)
        raw[:, :, at : at + 2] = scales.view(np.uint8).reshape(rows, blocks, 2)
    return raw.reshape(rows, blocks * type_size)


@pytest.mark.parametrize("qtype", sorted(KQUANT_COLUMNS))
def test_every_element_matches_gguf(qtype: str) -> None:
    rows, blocks = 7, 3
    raw = _random_rows(qtype, rows, blocks, seed=len(qtype))
    kind = gguf.GGMLQuantizationType[qtype]
    _, type_size = gguf.GGML_QUANT_SIZES[kind]
    full = np.asarray(gguf.quants.dequantize(raw, kind), dtype=np.float32)
    assert full.shape == (rows, blocks * QK_K)
    every = np.arange(blocks * QK_K)
    np.testing.assert_array_equal(KQUANT_COLUMNS[qtype](raw, every, type_size), full)
    picked = np.array([5, 0, 767, 300, 255, 256, 511])  # any order, across blocks
    np.testing.assert_array_equal(KQUANT_COLUMNS[qtype](raw, picked, type_size), full[:, picked])
