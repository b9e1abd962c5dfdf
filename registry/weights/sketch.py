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
the bytes. :func:`build_sketch` makes a sketch; :meth:`Sketch.to_bytes` and
:meth:`Sketch.from_bytes` give a deterministic, versioned binary form.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import zlib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Protocol

import numpy as np

from registry.weights.blas import one_blas_thread

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
# A Gram over the rows of a matrix whose residual axis is its (contiguous) columns reads every
# row, hence every page. Above GRAM_ROWS rows it is estimated from GRAM_ROWS of them instead:
# runs of GRAM_RUN consecutive rows at GRAM_RUN-aligned starts, spread evenly. Runs cover whole
# attention heads (head sizes divide 128), so a within-head row permutation (llama.cpp's
# rotary layout) sums the same rows; correlations from 1,024 rows err by about 0.03.
GRAM_ROWS = 1024
GRAM_RUN = 128
_SEED = 0x5EED_C0DE
_VOCAB_HINT = re.compile(r"(embed|wte|word_embeddings|token_embd|tok_embeddings|shared)", re.I)
_NOT_VOCAB = re.compile(r"(position|token_type|segment|pos_emb|wpe)", re.I)
_HEAD_HINT = re.compile(r"(lm_head|^output\.weight|classifier|decoder\.weight)", re.I)
# A block number after a block-ish prefix (HF, GGUF, GPT-2, T5, BERT, ONNX node paths). Auto-made
# names such as ``onnx::MatMul_1234`` carry no layer; such records are aligned by content.
_LAYER_NUMBER = re.compile(
    r"(?:^|[._/])(?:layers?|blk|blocks?|h|layer_|decoder_layers|encoder_layers)[._/]?(\d+)(?:[._/]|$)",
    re.IGNORECASE,
)
QUANTIZED_BITS = {
    "F64": 64, "F32": 32, "F16": 16, "BF16": 16, "F8_E4M3": 8, "F8_E5M2": 8,
    "I8": 8, "U8": 8, "INT8": 8, "UINT8": 8, "Q8_0": 8, "Q8_1": 8, "Q8_K": 8,
    "Q6_K": 6, "Q5_0": 5, "Q5_1": 5, "Q5_K": 5, "Q4_0": 4, "Q4_1": 4, "Q4_K": 4,
    "IQ4_NL": 4, "IQ4_XS": 4, "Q3_K": 3, "IQ3_S": 3, "IQ3_XXS": 3, "Q2_K": 2, "IQ2_XXS": 2,
    "IQ2_XS": 2, "IQ2_S": 2, "IQ1_S": 1, "IQ1_M": 1, "TQ1_0": 2, "TQ2_0": 2, "MXFP4": 4,
}  # fmt: skip


class SketchTensor(Protocol):
    """What sketching needs from a reader: shape, storage type, and float32 rows or columns."""

    name: str
    shape: tuple[int, ...]
    storage: str

    def read_rows(self, index: np.ndarray | None = None) -> np.ndarray:
        """Rows of the 2-D tensor as float32 (all rows when ``index`` is None)."""
        ...

    def read_columns(self, index: np.ndarray, rows: np.ndarray | None = None) -> np.ndarray:
        """Columns of the 2-D tensor as float32, shape (rows, len(index)); only the rows at
        ``rows`` when given."""
        ...


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

    def all_signatures(self) -> list[np.ndarray]:
        return [self.signatures, *self.more_signatures]

    @property
    def bits(self) -> int:
        """Lowest storage precision among the matrices: evidence of quantization."""
        widths = [QUANTIZED_BITS.get(r.storage.upper(), 32) for r in self.records]
        return min(widths, default=32)

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
                }
            )
            arrays.extend(r.grams)
            if r.block is not None:
                arrays.append(r.block)
        header = {
            "version": self.version,
            "residual": self.residual,
            "vocab": self.vocab,
            "code": self.code.hex(),
            "vocab_storage": self.vocab_storage,
            "parameters": self.parameters,
            "more_signatures": len(self.more_signatures),
            "row_keys": len(self.row_keys),
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
            records.append(
                MatrixRecord(
                    r["order"], r["layer"], r["other"], r["storage"], grams, block,
                    r["zero_fraction"], r["grid"],
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
        )


class SketchError(ValueError):
    """The tensors do not look like a model provreg can sketch (no vocabulary matrix)."""


def anchor_range(vocab: int) -> int:
    """Anchors are drawn from token ids below this: the largest power of two within the
    vocabulary, capped at ANCHOR_POOL_CAP. Vocabulary extension appends rows at the end and
    never moves the low ids, so a derivative with a grown vocabulary keeps the same anchors."""
    if vocab < 16:
        return vocab
    return min(1 << (vocab.bit_length() - 1), ANCHOR_POOL_CAP)


def anchor_ids(vocab: int) -> np.ndarray:
    pool = anchor_range(vocab)
    rng = np.random.default_rng(_SEED)
    k = min(MAX_ANCHORS, pool)
    return np.sort(rng.choice(pool, size=k, replace=False)).astype(np.int32)


@lru_cache(maxsize=4)
def _hyperplanes(length: int) -> np.ndarray:
    rng = np.random.default_rng(_SEED + length)
    return rng.standard_normal((CODE_BITS, length)).astype(np.float32)


def simhash(vector: np.ndarray) -> bytes:
    """CODE_BITS sign bits of random projections of a centred vector."""
    v = vector.astype(np.float32) - float(vector.mean())
    return np.packbits(_hyperplanes(v.size) @ v > 0).tobytes()


def upper(matrix: np.ndarray) -> np.ndarray:
    i, j = np.triu_indices(matrix.shape[0], k=1)
    return matrix[i, j]


def _unit_rows(x: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.where(norms > 0, norms, 1.0)


def _correlation_gram(columns: np.ndarray) -> np.ndarray:
    """int8 upper triangle of the correlation between columns (summed over rows)."""
    c = np.ascontiguousarray(columns, dtype=np.float32)  # (rows, k): one BLAS call
    g = (c.T @ c).astype(np.float64)
    d = np.sqrt(np.clip(np.diag(g), 1e-30, None))
    corr = g / d[:, None] / d[None, :]
    return np.clip(np.round(upper(corr) * 127), -127, 127).astype(np.int8)


def gram_rows(rows: int) -> np.ndarray | None:
    """The rows a column-residual Gram is summed over; None for all of them."""
    if rows <= GRAM_ROWS:
        return None
    runs = rows // GRAM_RUN
    starts = np.unique(np.round(np.linspace(0, runs - 1, GRAM_ROWS // GRAM_RUN)).astype(np.int64))
    return (starts[:, None] * GRAM_RUN + np.arange(GRAM_RUN)[None, :]).reshape(-1)


def _grid(sample: np.ndarray) -> float:
    """Median fraction of distinct values per GROUP-long run: ~1 for trained floats."""
    flat = sample.reshape(-1)
    groups = flat[: (flat.size // GROUP) * GROUP].reshape(-1, GROUP)[:64]
    if groups.size == 0:
        return 1.0
    ordered = np.sort(groups, axis=1)
    distinct = 1 + np.count_nonzero(np.diff(ordered, axis=1), axis=1)
    return float(np.median(distinct / GROUP))


def _layer_of(name: str) -> int | None:
    numbers = _LAYER_NUMBER.findall(name)
    return int(numbers[0]) if numbers else None


def _pick_vocab(matrices: Sequence[SketchTensor]) -> list[SketchTensor]:
    """The vocabulary matrices (token embeddings, then output heads).

    By name when a name says so (position and token-type tables excluded). Without names, the
    vocabulary is the widest size found in at most two matrices (embeddings and head) beside
    the residual width, which nearly every matrix has: an MLP can be wider than a small
    vocabulary, but its width recurs in every layer.
    """
    hinted = [t for t in matrices if _VOCAB_HINT.search(t.name) and not _NOT_VOCAB.search(t.name)]
    if hinted:
        vocab = max(max(t.shape) for t in hinted)
        residual = min(next(t for t in hinted if max(t.shape) == vocab).shape)
    else:
        sizes = Counter(size for t in matrices for size in set(t.shape))
        residual = sizes.most_common(1)[0][0]
        rare = [
            max(t.shape)
            for t in matrices
            if residual in t.shape and max(t.shape) != residual and sizes[max(t.shape)] <= 2
        ]
        if not rare:
            return []
        vocab = max(rare)
    found = [t for t in matrices if max(t.shape) == vocab and min(t.shape) == residual]
    heads = [t for t in found if _HEAD_HINT.search(t.name)]
    embeddings = [t for t in found if t not in heads]
    embeddings.sort(key=lambda t: not _VOCAB_HINT.search(t.name))
    return embeddings + heads


def _anchor_rows(t: SketchTensor, anchors: np.ndarray, vocab: int) -> np.ndarray:
    x = t.read_rows(anchors) if t.shape[0] == vocab else t.read_columns(anchors).T
    return np.asarray(x, dtype=np.float32)


def build_sketch(tensors: Sequence[SketchTensor], *, parameters: int = 0) -> Sketch:
    """Sketch a model from its tensors; raises :class:`SketchError` if it has no vocabulary."""
    with one_blas_thread():
        return _build_sketch(tensors, parameters)


def _build_sketch(tensors: Sequence[SketchTensor], parameters: int) -> Sketch:
    matrices = [t for t in tensors if len(t.shape) == 2 and min(t.shape) > 1]
    if not matrices:
        raise SketchError("no 2-D weight matrices to sketch")
    vocab_tensors = _pick_vocab(matrices)
    if not vocab_tensors:
        raise SketchError("no vocabulary (embedding) matrix found")
    embedding = vocab_tensors[0]
    vocab = max(embedding.shape)
    residual = min(embedding.shape)
    anchors = anchor_ids(vocab)
    # every vocabulary matrix (embedding, untied head) has its say in which residual dimensions
    # are kept and in the anchor Gram, so the sketch does not hang on which one is called the
    # embedding (names may say nothing, and storage order means nothing)
    xs = [_anchor_rows(t, anchors, vocab) for t in vocab_tensors[:MAX_VOCAB_MATRICES]]
    norms = sum(np.linalg.norm(x, axis=0) / max(float(np.linalg.norm(x)), 1e-30) for x in xs)
    keep = min(residual, RESIDUAL_SUBSET)
    dims = np.sort(np.argsort(-np.asarray(norms), kind="stable")[:keep]).astype(np.int32)
    signatures = [_unit_rows(x[:, dims].T).astype(np.float16) for x in xs]
    gram = np.mean([upper(_unit_rows(x) @ _unit_rows(x).T) for x in xs], axis=0)
    rng = np.random.default_rng(_SEED + 1)
    block_cols = np.sort(rng.choice(residual, size=min(BLOCK, residual), replace=False))

    records: list[MatrixRecord] = []
    skip = {id(t) for t in vocab_tensors}
    for order, t in enumerate(matrices):
        if id(t) in skip or residual not in t.shape:
            continue
        rows, cols = t.shape
        grams = []
        if cols == residual:
            grams.append(_correlation_gram(t.read_columns(dims, gram_rows(rows))))
        if rows == residual:
            grams.append(_correlation_gram(t.read_rows(dims).T))
        other = rows if cols == residual else cols
        row_pick = np.sort(
            np.random.default_rng(_SEED + other).choice(
                other, size=min(BLOCK, other), replace=False
            )
        )
        if cols == residual:
            sample_rows = t.read_rows(row_pick)
            block = sample_rows[:, block_cols]
        else:
            sample_rows = t.read_columns(row_pick).T
            block = sample_rows[:, block_cols]
        records.append(
            MatrixRecord(
                order=order,
                layer=_layer_of(t.name),
                other=other,
                storage=t.storage,
                grams=grams,
                block=np.asarray(block, dtype=np.float16),
                zero_fraction=float(np.mean(sample_rows == 0)),
                grid=_grid(sample_rows),
            )
        )
    records.sort(key=lambda r: (r.layer if r.layer is not None else -1, r.order))
    if len(records) > MAX_BLOCKS:
        spread = np.round(np.linspace(0, len(records) - 1, MAX_BLOCKS)).astype(int).tolist()
        with_block = set(spread)
        for i, record in enumerate(records):
            if i not in with_block:
                record.block = None
    return Sketch(
        version=SKETCH_VERSION,
        residual=residual,
        vocab=vocab,
        anchors=anchors,
        dims=dims,
        signatures=signatures[0],
        more_signatures=signatures[1:],
        row_keys=[row_keys(x) for x in xs],
        anchor_gram=gram.astype(np.float16),
        code=simhash(gram),
        records=records,
        vocab_storage=embedding.storage,
        parameters=parameters,
    )


def row_keys(rows: np.ndarray) -> np.ndarray:
    """ROW_KEY_BITS sign bits of random projections of each row, packed: (rows, bits / 8)."""
    planes = np.random.default_rng(_SEED + 2 + rows.shape[1]).standard_normal(
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
