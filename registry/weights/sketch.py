"""Similarity sketches: a compact summary of a model that survives what derivatives do to it.

A sketch never depends on tensor names, orientation, dtype, quantization or sharding, and it
survives permutation of hidden units, heads and residual dimensions with paired rescaling,
dropped or repeated layers and appended vocabulary rows. It holds:

* **anchor signatures**: the vocabulary matrix's rows at fixed token ids (token ids are
  canonical, so they mean the same thing in every model of a tokenizer). Column ``i`` of those
  rows identifies residual dimension ``i`` wherever a permutation moved it. Their Gram matrix
  (token by token) is invariant outright and feeds a SimHash code for candidate retrieval.
* **matrix records**: for every other matrix with an axis as wide as the residual stream, the
  correlation Gram over its other axis, restricted to a subset of residual dimensions. Summing
  over hidden units makes it blind to their order and scale; correlation makes it blind to
  per-dimension scaling (folded norm gains). A small raw block at fixed indices adds evidence for
  the un-obfuscated case: cosine, low-rank deltas, exact zeros.

Only the anchor rows and a slice of each matrix are read, so sketching touches a fraction of
the bytes. :func:`registry.weights.sketch_build.build_sketch` makes a sketch;
:meth:`Sketch.to_bytes` and :meth:`Sketch.from_bytes` give a deterministic, versioned binary form.
"""

from __future__ import annotations

import hashlib
import json
import math
import zlib
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np

SKETCH_VERSION = 1
MAX_ANCHORS = 128
MAX_VOCAB_MATRICES = 3  # token embeddings, output head (T5: shared, encoder, decoder, head)
ANCHOR_POOL_CAP = 4096
RESIDUAL_SUBSET = 40
BLOCK = 16
# Raw blocks are evidence of how values changed (cosine, rank, unchanged matrices); a few dozen
# say as much as hundreds, so deep models keep them on this many records, spread over depth.
# Sketches with the same record count keep them on the same records.
MAX_BLOCKS = 128
CODE_BITS = 256
ROW_KEY_BITS = 64
GROUP = 128  # elements per group when looking for a quantization grid
SKETCH_SEED = 0x5EED_C0DE  # every random choice a sketch makes derives from it, so sketches agree
QUANTIZED_BITS = {
    "F64": 64, "F32": 32, "F16": 16, "BF16": 16, "F8_E4M3": 8, "F8_E5M2": 8,
    "I8": 8, "U8": 8, "INT8": 8, "UINT8": 8, "Q8_0": 8, "Q8_1": 8, "Q8_K": 8,
    "Q6_K": 6, "Q5_0": 5, "Q5_1": 5, "Q5_K": 5, "Q4_0": 4, "Q4_1": 4, "Q4_K": 4,
    "IQ4_NL": 4, "IQ4_XS": 4, "Q3_K": 3, "IQ3_S": 3, "IQ3_XXS": 3, "Q2_K": 2, "IQ2_XXS": 2,
    "IQ2_XS": 2, "IQ2_S": 2, "IQ1_S": 1, "IQ1_M": 1, "TQ1_0": 2, "TQ2_0": 2, "MXFP4": 4,
}  # fmt: skip


@dataclass
class MatrixRecord:
    """One matrix with a residual-wide axis, summarised."""

    order: int
    layer: int | None
    other: int  # width of the non-residual axis
    storage: str
    grams: list[np.ndarray]  # int8 upper triangles, one per residual-axis reading (1 or 2)
    block: np.ndarray | None  # BLOCK x BLOCK float16 at fixed indices, residual as columns
    zero_fraction: float
    grid: float  # median distinct fraction in groups of GROUP values; low = a quantization grid
    # int8 views (one per vocabulary matrix, anchors x rows) through the anchor embeddings of a
    # matrix that reads the residual stream, which an orthogonal rotation of that stream leaves
    # unchanged (registry.weights.rotation)
    view: np.ndarray | None = None
    expert: int | None = None  # the expert number of a mixture-of-experts matrix


@dataclass
class Sketch:
    """A model's similarity sketch; see the module docstring."""

    version: int
    residual: int
    vocab: int
    anchors: np.ndarray  # int32 token ids
    dims: np.ndarray  # int32 residual indices kept
    signatures: np.ndarray  # float16 (len(dims), len(anchors)), unit rows
    anchor_gram: np.ndarray  # float16 upper triangle of the anchors' cosine Gram
    code: bytes  # CODE_BITS SimHash of the centred anchor Gram
    records: list[MatrixRecord] = field(default_factory=list)
    vocab_storage: str = "F32"
    parameters: int = 0
    # anchor signatures of the other vocabulary matrices (an untied output head), on the same
    # residual dimensions: names do not always say which matrix is the embedding
    more_signatures: list[np.ndarray] = field(default_factory=list)
    # per vocabulary matrix, a ROW_KEY_BITS SimHash of each anchor row over the whole residual:
    # finds the same rows again when a trimmed vocabulary renumbered the token ids
    row_keys: list[np.ndarray] = field(default_factory=list)
    # every residual-wide norm gain is exactly 1: folded into the matrices (QuaRot, SpinQuant)
    unit_norms: bool = False

    def all_signatures(self) -> list[np.ndarray]:
        return [self.signatures, *self.more_signatures]

    @property
    def bits(self) -> int:
        """Lowest storage precision among the matrices: evidence of quantization."""
        widths = [QUANTIZED_BITS.get(r.storage.upper(), 32) for r in self.records]
        return min(widths, default=32)

    @property
    def experts(self) -> int:
        """Experts per mixture-of-experts layer (the most any layer has; 0 for a dense model)."""
        per_layer: dict[Any, set[int]] = {}
        for r in self.records:
            if r.expert is not None:
                per_layer.setdefault(r.layer, set()).add(r.expert)
        return max((len(e) for e in per_layer.values()), default=0)

    def digest(self) -> str:
        return "sha256:" + hashlib.sha256(self.to_bytes()).hexdigest()

    def to_bytes(self) -> bytes:
        """Deterministic binary form: a JSON header and raw arrays, zlib-compressed."""
        arrays: list[np.ndarray] = [
            self.anchors, self.dims, self.signatures, self.anchor_gram, *self.more_signatures,
            *self.row_keys,
        ]  # fmt: skip
        recs = []
        for r in self.records:
            recs.append(
                {
                    "order": r.order,
                    "layer": r.layer,
                    "other": r.other,
                    "storage": r.storage,
                    "grams": len(r.grams),
                    "block": r.block is not None,
                    "zero_fraction": round(r.zero_fraction, 6),
                    "grid": round(r.grid, 6),
                    **({"view": True} if r.view is not None else {}),
                    **({"expert": r.expert} if r.expert is not None else {}),
                }
            )
            arrays.extend(r.grams)
            if r.block is not None:
                arrays.append(r.block)
            if r.view is not None:
                arrays.append(r.view)
        header = {
            "version": self.version,
            "residual": self.residual,
            "vocab": self.vocab,
            "code": self.code.hex(),
            "vocab_storage": self.vocab_storage,
            "parameters": self.parameters,
            "more_signatures": len(self.more_signatures),
            "row_keys": len(self.row_keys),
            **({"unit_norms": True} if self.unit_norms else {}),
            "records": recs,
            "arrays": [[a.dtype.str, list(a.shape)] for a in arrays],
        }
        head = json.dumps(header, sort_keys=True, separators=(",", ":")).encode()
        body = b"".join(np.ascontiguousarray(a).tobytes() for a in arrays)
        return zlib.compress(len(head).to_bytes(4, "little") + head + body, 6)

    @classmethod
    def from_bytes(cls, blob: bytes) -> Sketch:
        """Parse :meth:`to_bytes` output; raises ValueError on anything else."""
        try:
            raw = zlib.decompress(blob)
            n = int.from_bytes(raw[:4], "little")
            header = json.loads(raw[4 : 4 + n])
            arrays, offset = [], 4 + n
            for dtype, shape in header["arrays"]:
                dt = np.dtype(dtype)
                count = math.prod(shape)
                arrays.append(np.frombuffer(raw, dt, count, offset).reshape(shape).copy())
                offset += count * dt.itemsize
        except (zlib.error, ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"not a provreg sketch: {exc}") from None
        if header.get("version") != SKETCH_VERSION:
            raise ValueError(f"unsupported sketch version {header.get('version')}")
        it = iter(arrays)
        anchors, dims, signatures, anchor_gram = next(it), next(it), next(it), next(it)
        more = [next(it) for _ in range(header.get("more_signatures", 0))]
        keys = [next(it) for _ in range(header.get("row_keys", 0))]
        records = []
        for r in header["records"]:
            grams = [next(it) for _ in range(r["grams"])]
            block = next(it) if r["block"] else None
            view = next(it) if r.get("view") else None
            records.append(
                MatrixRecord(
                    r["order"], r["layer"], r["other"], r["storage"], grams, block,
                    r["zero_fraction"], r["grid"], view, r.get("expert"),
                )
            )  # fmt: skip
        return cls(
            version=header["version"],
            residual=header["residual"],
            vocab=header["vocab"],
            anchors=anchors,
            dims=dims,
            signatures=signatures,
            anchor_gram=anchor_gram,
            code=bytes.fromhex(header["code"]),
            records=records,
            vocab_storage=header["vocab_storage"],
            parameters=header["parameters"],
            more_signatures=more,
            row_keys=keys,
            unit_norms=bool(header.get("unit_norms", False)),
        )


@lru_cache(maxsize=4)
def _hyperplanes(length: int) -> np.ndarray:
    rng = np.random.default_rng(SKETCH_SEED + length)
    return rng.standard_normal((CODE_BITS, length)).astype(np.float32)


def simhash(vector: np.ndarray) -> bytes:
    """CODE_BITS sign bits of random projections of a centred vector."""
    v = vector.astype(np.float32) - float(vector.mean())
    return np.packbits(_hyperplanes(v.size) @ v > 0).tobytes()


def upper(matrix: np.ndarray) -> np.ndarray:
    i, j = np.triu_indices(matrix.shape[0], k=1)
    return matrix[i, j]


def unit_rows(x: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.where(norms > 0, norms, 1.0)


def row_keys(rows: np.ndarray) -> np.ndarray:
    """ROW_KEY_BITS sign bits of random projections of each row, packed: (rows, bits / 8)."""
    planes = np.random.default_rng(SKETCH_SEED + 2 + rows.shape[1]).standard_normal(
        (rows.shape[1], ROW_KEY_BITS)
    )
    return np.packbits(rows.astype(np.float64) @ planes > 0, axis=1)


def hamming(a: bytes, b: bytes) -> int:
    return int(np.unpackbits(np.frombuffer(a, np.uint8) ^ np.frombuffer(b, np.uint8)).sum())


def describe(sketch: Sketch) -> dict[str, Any]:
    """A short JSON-able description, for evidence and debugging."""
    return {
        "residual": sketch.residual,
        "vocab": sketch.vocab,
        "records": len(sketch.records),
        "bits": sketch.bits,
        "bytes": len(sketch.to_bytes()),
    }
