"""K-quant GGUF columns (Q2_K to Q6_K) decoded element by element.

A K-quant super-block holds 256 values: packed 2- to 6-bit quants, sub-block scales (and
minimums) packed in 4 to 8 bits, and f16 super-scales. Sketching reads a few dozen columns of
each matrix, so decoding whole blocks (what ``gguf.quants.dequantize`` does) would touch and
compute 256 values for each one wanted. Here each wanted value is assembled from exactly its own
bits: for every column, the byte offsets and shifts of its quant, its scale and its super-scale
are computed once, then gathered across all rows at once. The layouts follow ggml's
``block_q*_K`` structs (as ``gguf.quants`` reads them); the tests check every element against
``gguf.quants.dequantize``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

QK_K = 256

ColumnDecoder = Callable[[np.ndarray, np.ndarray, int], np.ndarray]


def f16_at(raw: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """The little-endian f16 at each even byte offset of every row, as float32 (every GGUF
    block type keeps its scales at even offsets of rows of even length)."""
    if raw.flags.c_contiguous and raw.shape[1] % 2 == 0 and raw.ctypes.data % 2 == 0:
        return raw.view("<u2")[:, offsets // 2].view("<f2").astype(np.float32)
    pair = np.stack([raw[:, offsets], raw[:, offsets + 1]], axis=-1)
    return np.ascontiguousarray(pair).view("<f2")[..., 0].astype(np.float32)


def _bits(raw: np.ndarray, offsets: np.ndarray, shifts: np.ndarray, mask: int) -> np.ndarray:
    """``(byte >> shift) & mask`` at each offset of every row."""
    return (raw[:, offsets] >> shifts.astype(np.uint8)) & np.uint8(mask)


def _split(index: np.ndarray, type_size: int) -> tuple[np.ndarray, np.ndarray]:
    """Each column's block start (bytes in the row) and its position ``e`` in the block."""
    index = np.asarray(index, dtype=np.int64)
    return (index // QK_K) * type_size, index % QK_K


def _q2_k(raw: np.ndarray, index: np.ndarray, type_size: int) -> np.ndarray:
    """scales[16] (4-bit scale | 4-bit min), qs[64] (2-bit), d, dmin."""
    base, e = _split(index, type_size)
    half, j, lane = e // 128, (e % 128) // 32, e % 32
    q = _bits(raw, base + 16 + half * 32 + lane, 2 * j, 0x3).astype(np.float32)
    sc = raw[:, base + e // 16]
    d, dmin = f16_at(raw, base + 80), f16_at(raw, base + 82)
    return d * (sc & 0xF).astype(np.float32) * q - dmin * (sc >> 4).astype(np.float32)


def _q3_k(raw: np.ndarray, index: np.ndarray, type_size: int) -> np.ndarray:
    """hmask[32], qs[64] (2 low bits), scales[12] (6-bit, offset 32), d."""
    base, e = _split(index, type_size)
    half, j, lane = e // 128, (e % 128) // 32, e % 32
    low = _bits(raw, base + 32 + half * 32 + lane, 2 * j, 0x3).astype(np.int8)
    high = _bits(raw, base + lane, e // 32, 0x1) ^ np.uint8(1)  # a set bit means no offset
    q = (low - (high << 2).astype(np.int8)).astype(np.float32)
    g = e // 16
    lo_scale = _bits(raw, base + 96 + g % 8, 4 * (g // 8), 0xF)
    hi_scale = _bits(raw, base + 104 + g % 4, 2 * (g // 4), 0x3)
    scale = ((lo_scale | (hi_scale << 4)).astype(np.int8) - np.int8(32)).astype(np.float32)
    return f16_at(raw, base + 108) * scale * q


def _scale_min(raw: np.ndarray, base: np.ndarray, s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Q4_K/Q5_K's 6-bit scale and minimum of sub-block ``s`` (0..7), packed in 12 bytes at
    ``base + 4``."""
    at = base + 4
    first = s < 4
    i = np.where(first, s, s - 4)
    d_byte = raw[:, at + i]
    m_byte = raw[:, at + 4 + i]
    md_byte = raw[:, at + 8 + i]
    scale = np.where(first, d_byte & 0x3F, (md_byte & 0x0F) | ((d_byte >> 2) & 0x30))
    minimum = np.where(first, m_byte & 0x3F, (md_byte >> 4) | ((m_byte >> 2) & 0x30))
    return scale.astype(np.float32), minimum.astype(np.float32)


def _q4_k(raw: np.ndarray, index: np.ndarray, type_size: int) -> np.ndarray:
    """d, dmin, scales[12], qs[128] (4-bit: two sub-blocks of 32 per 32 bytes)."""
    base, e = _split(index, type_size)
    s, lane = e // 32, e % 32
    q = _bits(raw, base + 16 + (s // 2) * 32 + lane, 4 * (s % 2), 0xF).astype(np.float32)
    scale, minimum = _scale_min(raw, base, s)
    return f16_at(raw, base) * scale * q - f16_at(raw, base + 2) * minimum


def _q5_k(raw: np.ndarray, index: np.ndarray, type_size: int) -> np.ndarray:
    """d, dmin, scales[12], qh[32] (the fifth bit), qs[128] (4 low bits)."""
    base, e = _split(index, type_size)
    s, lane = e // 32, e % 32
    low = _bits(raw, base + 48 + (s // 2) * 32 + lane, 4 * (s % 2), 0xF)
    high = _bits(raw, base + 16 + lane, s, 0x1)
    q = (low | (high << 4)).astype(np.float32)
    scale, minimum = _scale_min(raw, base, s)
    return f16_at(raw, base) * scale * q - f16_at(raw, base + 2) * minimum


def _q6_k(raw: np.ndarray, index: np.ndarray, type_size: int) -> np.ndarray:
    """ql[128] (4 low bits), qh[64] (2 high bits), scales[16] (int8), d."""
    base, e = _split(index, type_size)
    half, rest = e // 128, e % 128
    low = _bits(raw, base + half * 64 + rest % 64, 4 * (rest // 64), 0xF)
    high = _bits(raw, base + 128 + half * 32 + rest % 32, 2 * (rest // 32), 0x3)
    q = ((low | (high << 4)).astype(np.int8) - np.int8(32)).astype(np.float32)
    scale = raw[:, base + 192 + e // 16].view(np.int8).astype(np.float32)
    return f16_at(raw, base + 208) * scale * q


KQUANT_COLUMNS: dict[str, ColumnDecoder] = {
    "Q2_K": _q2_k,
    "Q3_K": _q3_k,
    "Q4_K": _q4_k,
    "Q5_K": _q5_k,
    "Q6_K": _q6_k,
}
