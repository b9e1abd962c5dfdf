"""Tensors as float32 arrays for sketching: in memory, or memory-mapped from safetensors.

Sketching reads a few rows or columns of each matrix; these adapters give it exactly that
without loading whole files. Formats whose values need decoding (GGUF blocks, ONNX int8) decode
per tensor on demand.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from registry.weights.reader import ModelSource, TensorInfo

# Makes rows of a tensor readable before they are read: given the rows wanted (None: all), it
# fetches their bytes (remote sketches fill a sparse local copy this way); local files need none.
EnsureRows = Callable[[np.ndarray | None], None]


def row_ranges(
    start: int, end: int, row_bytes: int, rows: np.ndarray | None
) -> list[tuple[int, int]]:
    """Byte ranges ``[a, b)`` of the given rows of a row-major tensor stored at
    ``[start, end)``, consecutive rows merged; the whole tensor when ``rows`` is None."""
    if rows is None or row_bytes <= 0:
        return [(start, end)]
    out: list[tuple[int, int]] = []
    for r in np.unique(np.asarray(rows, dtype=np.int64)).tolist():
        a = start + r * row_bytes
        if out and out[-1][1] == a:
            out[-1] = (out[-1][0], a + row_bytes)
        else:
            out.append((a, a + row_bytes))
    return out


def rows_fetcher(source: ModelSource, t: TensorInfo, row_bytes: int) -> EnsureRows | None:
    """An :data:`EnsureRows` for ``t`` when ``source`` fetches its bytes on demand."""
    fetch = source.fetch
    if fetch is None:
        return None
    return lambda rows: fetch(t.file, row_ranges(t.start, t.end, row_bytes, rows))


@dataclass
class ArrayTensor:
    """A 2-D (or other) tensor whose float32 values come from ``load`` when first needed."""

    name: str
    shape: tuple[int, ...]
    storage: str
    load: Callable[[], np.ndarray]
    _cache: np.ndarray | None = field(default=None, repr=False)
    ensure: EnsureRows | None = field(default=None, repr=False)

    @classmethod
    def of(cls, name: str, array: np.ndarray, storage: str = "F32") -> ArrayTensor:
        return cls(name, tuple(array.shape), storage, lambda: array)

    def _ensure(self, rows: np.ndarray | None) -> None:
        if self.ensure is not None:
            self.ensure(rows)

    def _rows_view(self, rows: np.ndarray | None) -> np.ndarray:
        """The values to index: with bytes fetched on demand, fetch just ``rows`` and take a
        fresh view (the load of such a tensor is a memory-map view, not a decode)."""
        if self.ensure is not None and self._cache is None and rows is not None:
            self.ensure(np.asarray(rows))
            return self.load()
        return self.values()

    def values(self) -> np.ndarray:
        if self._cache is None:
            self._ensure(None)
            self._cache = self.load()
        return self._cache

    def read_rows(self, index: np.ndarray | None = None) -> np.ndarray:
        v = self._rows_view(index)
        return np.asarray(v if index is None else v[index], dtype=np.float32)

    def read_columns(self, index: np.ndarray, rows: np.ndarray | None = None) -> np.ndarray:
        v = self._rows_view(rows)
        picked = v[:, index] if rows is None else v[np.ix_(rows, index)]
        return np.asarray(picked, dtype=np.float32)


def _numpy_dtype(dtype: str) -> np.dtype | None:
    """The numpy dtype for a safetensors dtype name; None for ones sketching skips."""
    import ml_dtypes

    table: dict[str, np.dtype] = {
        "F64": np.dtype(np.float64),
        "F32": np.dtype(np.float32),
        "F16": np.dtype(np.float16),
        "BF16": np.dtype(ml_dtypes.bfloat16),
        "F8_E4M3": np.dtype(ml_dtypes.float8_e4m3fn),
        "F8_E5M2": np.dtype(ml_dtypes.float8_e5m2),
        "I8": np.dtype(np.int8),
        "U8": np.dtype(np.uint8),
        "I16": np.dtype(np.int16),
        "I32": np.dtype(np.int32),
    }
    return table.get(dtype)


def safetensors_arrays(source: ModelSource) -> list[ArrayTensor]:
    """Memory-mapped safetensors tensors: only the slices sketching reads get paged in."""
    maps: dict[str, np.memmap] = {}
    out: list[ArrayTensor] = []
    for t in source.tensors:
        dt = _numpy_dtype(t.dtype)
        if dt is None or t.numel == 0:
            continue
        if t.file not in maps:
            maps[t.file] = np.memmap(source.path_of(t), dtype=np.uint8, mode="r")

        def load(t: TensorInfo = t, dt: np.dtype = dt) -> np.ndarray:
            raw = maps[t.file][t.start : t.end]
            return raw.view(dt).reshape(t.shape)

        row_bytes = t.nbytes // t.shape[0] if len(t.shape) >= 2 and t.shape[0] else 0
        ensure = rows_fetcher(source, t, row_bytes)
        out.append(ArrayTensor(t.name, tuple(t.shape), t.dtype, load, ensure=ensure))
    return out
