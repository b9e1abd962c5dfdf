"""GGUF tensors as lazily dequantized float32 arrays: only the rows and blocks that sketching
asks for are decoded, straight from the memory-mapped file."""

from __future__ import annotations

import gguf
import numpy as np

from registry.errors import WeightsError
from registry.weights.arrays import ArrayTensor, rows_fetcher
from registry.weights.kquants import KQUANT_COLUMNS, f16_at
from registry.weights.reader import ModelSource, TensorInfo

# ggml types whose elements numpy reads directly (no blocks).
_PLAIN = {"F32": "<f4", "F16": "<f2", "F64": "<f8", "I8": "i1", "I16": "<i2", "I32": "<i4"}
_PLAIN |= {"I64": "<i8"}


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


def _q8_0_columns(raw: np.ndarray, index: np.ndarray, type_size: int) -> np.ndarray:
    """Q8_0 blocks: an f16 scale, then 32 int8 quants."""
    start, within = _block_parts(index, type_size)
    quants = raw[:, start + 2 + within].view(np.int8).astype(np.float32)
    return quants * f16_at(raw, start)


def _nibbles(raw: np.ndarray, at: np.ndarray, within: np.ndarray) -> np.ndarray:
    """4-bit quants: byte ``within % 16`` of the block, low nibble first, then high."""
    byte = raw[:, at + within % 16]
    return np.where(within < 16, byte & 0x0F, byte >> 4).astype(np.float32)


def _q4_0_columns(raw: np.ndarray, index: np.ndarray, type_size: int) -> np.ndarray:
    """Q4_0 blocks: an f16 scale, then 16 bytes of 4-bit quants offset by 8."""
    start, within = _block_parts(index, type_size)
    return (_nibbles(raw, start + 2, within) - 8.0) * f16_at(raw, start)


def _q4_1_columns(raw: np.ndarray, index: np.ndarray, type_size: int) -> np.ndarray:
    """Q4_1 blocks: an f16 scale and an f16 minimum, then 16 bytes of 4-bit quants."""
    start, within = _block_parts(index, type_size)
    return _nibbles(raw, start + 4, within) * f16_at(raw, start) + f16_at(raw, start + 2)


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
