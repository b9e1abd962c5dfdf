"""Tensors as float32 arrays for sketching: in memory, or memory-mapped from safetensors.

Sketching reads a few rows or columns of each matrix; these adapters give it exactly that
without loading whole files. Formats whose values need decoding (GGUF blocks, ONNX int8) decode
per tensor on demand.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np


@dataclass
class ArrayTensor:
    """A 2-D (or other) tensor whose float32 values come from ``load`` when first needed."""

    name: str
    shape: tuple[int, ...]
    storage: str
    load: Callable[[], np.ndarray]
    _cache: np.ndarray | None = field(default=None, repr=False)

    @classmethod
    def of(cls, name: str, array: np.ndarray, storage: str = "F32") -> ArrayTensor:
        return cls(name, tuple(array.shape), storage, lambda: array)

    def values(self) -> np.ndarray:
        if self._cache is None:
            self._cache = self.load()
        return self._cache

    def read_rows(self, index: np.ndarray | None = None) -> np.ndarray:
        v = self.values()
        return np.asarray(v if index is None else v[index], dtype=np.float32)

    def read_columns(self, index: np.ndarray) -> np.ndarray:
        return np.asarray(self.values()[:, index], dtype=np.float32)
