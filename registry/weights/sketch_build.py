"""Building a sketch from a model's tensors: pick the vocabulary matrices, read anchor rows and
a slice of every residual-wide matrix, and summarise them (see :mod:`registry.weights.sketch`
for what a sketch holds)."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from typing import Protocol

import numpy as np

from registry.weights.blas import one_blas_thread
from registry.weights.experts import expand_experts, expert_of
from registry.weights.rotation import (
    MAX_VIEWS,
    VIEW_ROWS,
    anchor_view,
    gain_for,
    norm_gains,
    reads_residual,
    view_anchor_rows,
)
from registry.weights.sketch import (
    ANCHOR_POOL_CAP,
    BLOCK,
    GROUP,
    MAX_ANCHORS,
    MAX_BLOCKS,
    MAX_VOCAB_MATRICES,
    RESIDUAL_SUBSET,
    SKETCH_SEED,
    SKETCH_VERSION,
    MatrixRecord,
    Sketch,
    row_keys,
    simhash,
    unit_rows,
    upper,
)

# A Gram over the rows of a matrix whose residual axis is its (contiguous) columns reads every
# row, hence every page. Above GRAM_ROWS rows it is estimated from GRAM_ROWS of them instead:
# runs of GRAM_RUN consecutive rows at GRAM_RUN-aligned starts, spread evenly. Runs cover whole
# attention heads (head sizes divide 128), so a within-head row permutation (llama.cpp's
# rotary layout) sums the same rows; correlations from 1,024 rows err by about 0.03. A matrix
# of fewer than 4 * GRAM_ROWS rows gives a quarter of its rows, but never fewer than
# GRAM_MIN_ROWS (about 0.045): 1,024 rows of a 2,048-row square projection were half of its
# bytes, which a remote sketch fetches.
GRAM_ROWS = 1024
GRAM_MIN_ROWS = 512
GRAM_RUN = 128
_VOCAB_HINT = re.compile(r"(embed|wte|word_embeddings|token_embd|tok_embeddings|shared)", re.I)
_NOT_VOCAB = re.compile(r"(position|token_type|segment|pos_emb|wpe)", re.I)
_HEAD_HINT = re.compile(r"(lm_head|^output\.weight|classifier|decoder\.weight)", re.I)
# A block number after a block-ish prefix (HF, GGUF, GPT-2, T5, BERT, ONNX node paths). Auto-made
# names such as ``onnx::MatMul_1234`` carry no layer; such records are aligned by content.
_LAYER_NUMBER = re.compile(
    r"(?:^|[._/])(?:layers?|blk|blocks?|h|layer_|decoder_layers|encoder_layers)[._/]?(\d+)(?:[._/]|$)",
    re.IGNORECASE,
)


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
    rng = np.random.default_rng(SKETCH_SEED)
    k = min(MAX_ANCHORS, pool)
    return np.sort(rng.choice(pool, size=k, replace=False)).astype(np.int32)


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
    budget = max(GRAM_MIN_ROWS, min(GRAM_ROWS, rows // 4 // GRAM_RUN * GRAM_RUN))
    runs = rows // GRAM_RUN
    starts = np.unique(np.round(np.linspace(0, runs - 1, budget // GRAM_RUN)).astype(np.int64))
    return (starts[:, None] * GRAM_RUN + np.arange(GRAM_RUN)[None, :]).reshape(-1)


def block_columns(residual: int) -> np.ndarray:
    """The residual indices a raw block samples (the same in every sketch of that width)."""
    rng = np.random.default_rng(SKETCH_SEED + 1)
    return np.sort(rng.choice(residual, size=min(BLOCK, residual), replace=False))


def block_rows(other: int) -> np.ndarray:
    """The indices a raw block samples on a matrix's non-residual axis of width ``other``."""
    rng = np.random.default_rng(SKETCH_SEED + other)
    return np.sort(rng.choice(other, size=min(BLOCK, other), replace=False))


def _grid(sample: np.ndarray) -> float:
    """Median fraction of distinct values per GROUP-long run: ~1 for trained floats."""
    flat = sample.reshape(-1)
    groups = flat[: (flat.size // GROUP) * GROUP].reshape(-1, GROUP)[:64]
    if groups.size == 0:
        return 1.0
    ordered = np.sort(groups, axis=1)
    distinct = 1 + np.count_nonzero(np.diff(ordered, axis=1), axis=1)
    return float(np.median(distinct / GROUP))


def layer_of(name: str) -> int | None:
    """The block number a tensor's name carries, if any."""
    numbers = _LAYER_NUMBER.findall(name)
    return int(numbers[0]) if numbers else None


def _pick_vocab(matrices: Sequence[SketchTensor]) -> list[SketchTensor]:
    """The vocabulary matrices (token embeddings, then output heads).

    By name when a name says so (position and token-type tables excluded). Without names, the
    vocabulary is the size found in the fewest matrices (at most two: embeddings and head),
    the widest on ties, beside the residual width, which nearly every matrix has: an MLP can
    be wider than a small vocabulary, but its width recurs in every layer.
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
        # the fewest matrices first (embeddings and a head; a two-layer model's fused QKV also
        # occurs twice), then the widest
        vocab = min(rare, key=lambda size: (sizes[size], -size))
    found = [t for t in matrices if max(t.shape) == vocab and min(t.shape) == residual]
    heads = [t for t in found if _HEAD_HINT.search(t.name)]
    embeddings = [t for t in found if t not in heads]
    embeddings.sort(key=lambda t: not _VOCAB_HINT.search(t.name))
    return embeddings + heads


def _anchor_rows(t: SketchTensor, anchors: np.ndarray, vocab: int) -> np.ndarray:
    x = t.read_rows(anchors) if t.shape[0] == vocab else t.read_columns(anchors).T
    return np.asarray(x, dtype=np.float32)


def _viewed_matrices(matrices: Sequence[SketchTensor], skip: set[int], residual: int) -> set[int]:
    """The matrices that get rotation views (ids): those reading the residual stream as their
    columns, at most MAX_VIEWS spread over depth, chosen before anything is read."""
    eligible = [
        (layer_of(t.name) if layer_of(t.name) is not None else -1, order, id(t))
        for order, t in enumerate(matrices)
        if id(t) not in skip and t.shape[1] == residual and reads_residual(t.name)
    ]
    eligible.sort()
    if len(eligible) > MAX_VIEWS:
        spread = np.round(np.linspace(0, len(eligible) - 1, MAX_VIEWS)).astype(int)
        eligible = [eligible[i] for i in spread]
    return {e[2] for e in eligible}


def build_sketch(tensors: Sequence[SketchTensor], *, parameters: int = 0) -> Sketch:
    """Sketch a model from its tensors; raises :class:`SketchError` if it has no vocabulary."""
    with one_blas_thread():
        return _build_sketch(tensors, parameters)


def _build_sketch(tensors: Sequence[SketchTensor], parameters: int) -> Sketch:
    tensors = expand_experts(tensors)  # stacked experts: one matrix each
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
    signatures = [unit_rows(x[:, dims].T).astype(np.float16) for x in xs]
    gram = np.mean([upper(unit_rows(x) @ unit_rows(x).T) for x in xs], axis=0)
    block_cols = block_columns(residual)

    records: list[MatrixRecord] = []
    skip = {id(t) for t in vocab_tensors}
    gains = norm_gains(tensors, residual)
    view_rows = [view_anchor_rows(x) for x in xs[:2]]  # names may not say which is which
    viewed = _viewed_matrices(matrices, skip, residual)
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
        row_pick = block_rows(other)
        if cols == residual:
            sample_rows = t.read_rows(row_pick)
            block = sample_rows[:, block_cols]
        else:
            # residual axis as rows: sample whole stored rows (the block's residual rows), not
            # columns, which would touch every row of the matrix (every page, or every byte of
            # a remote file); the block holds the same values either way
            sample_rows = t.read_rows(block_cols)
            block = sample_rows[:, row_pick].T
        view = None
        if id(t) in viewed:
            head = t.read_rows(np.arange(min(rows, VIEW_ROWS)))
            gain = gain_for(t.name, gains)
            view = np.stack([anchor_view(e, gain, head) for e in view_rows])
        records.append(
            MatrixRecord(
                view=view,
                expert=expert_of(t.name),
                order=order,
                layer=layer_of(t.name),
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
        unit_norms=bool(gains) and all(np.all(g == 1.0) for g in gains.values()),
    )
