"""Views through the anchor embeddings: what an orthogonal rotation of the residual stream keeps.

QuaRot and SpinQuant fold each RMSNorm's gain into the matrices that read the norm's output,
then rotate the residual stream by an orthogonal Q (random, or a Hadamard matrix):
``E <- E Q``, a reading matrix ``W <- W diag(g) Q``, a writing matrix ``W <- Q^T W``. Every
residual dimension is then a mixture of all of them, so anchor signatures, residual Grams and
raw blocks all change. Products through the embedding do not: ``E' W'^T = E Q Q^T diag(g) W^T
= E diag(g) W^T``. A sketch keeps, for each matrix that reads the residual stream (by name: not
the ones that write it), the view ``E[anchors] diag(g) W[rows]^T`` on VIEW_ANCHORS anchor rows
and the first VIEW_ROWS rows (whole heads), the gain ``g`` being the norm in front of it (1
when none is found, as after folding). Two models whose views agree on most matrices are one
model up to a rotation; quantization after the rotation only adds noise.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import numpy as np

from registry.weights.sketch import MatrixRecord, Sketch

VIEW_ANCHORS = 32
VIEW_ROWS = 128  # whole heads (head sizes divide 128): a within-head row order is matched
ROTATED_R = 0.9  # a view pair this correlated is the same matrix; independent models: < 0.2,
# kin sharing the embedding table: up to 0.65 (see BENCHMARKS.md)
ROTATED_COVERAGE = 0.75  # of the viewed matrices, this share must agree for "derived"
RELATED_COVERAGE = 0.15
UNCHANGED_R = 0.995  # views this close: the same weights rotated, not trained further
# matrices that write the residual stream (their rows are residual dimensions, rotated by Q^T)
_WRITES = re.compile(
    r"(o_proj|out_proj|down_proj|attn_output|ffn_down|c_proj|fc2|\.w2\b|dense_4h_to_h|"
    r"attention\.output\.dense|output\.dense|wo\b)",
    re.I,
)
# which norm feeds a reading matrix: (the matrix's block, the norm's name)
_NORMS = (
    (re.compile(r"(self_attn|attention|attn_(q|k|v|qkv)|\.attn\.)", re.I),
     re.compile(r"(input_layernorm|attn_norm|ln_1|attention_norm|ln_attn)", re.I)),
    (re.compile(r"(mlp|ffn|feed_forward)", re.I),
     re.compile(r"(post_attention_layernorm|ffn_norm|ln_2|ln_mlp)", re.I)),
)  # fmt: skip
_LAYER = re.compile(r"(?:layers?|blk|blocks?|h)[._/](\d+)[._/]", re.I)


def reads_residual(name: str) -> bool:
    return not _WRITES.search(name)


def norm_gains(tensors: Sequence[Any], residual: int) -> dict[tuple[str, int], np.ndarray]:
    """The residual-wide norm gains, by (role, layer): role 0 before attention, 1 before the
    MLP."""
    gains: dict[tuple[str, int], np.ndarray] = {}
    for t in tensors:
        if len(t.shape) != 1 or t.shape[0] != residual:
            continue
        layer = _LAYER.search(t.name)
        for role, (_, norm) in enumerate(_NORMS):
            if norm.search(t.name) and layer:
                gains[str(role), int(layer.group(1))] = np.asarray(t.read_rows(), np.float64)
    return gains


def gain_for(name: str, gains: dict[tuple[str, int], np.ndarray]) -> np.ndarray | None:
    layer = _LAYER.search(name)
    if layer is None:
        return None
    for role, (block, _) in enumerate(_NORMS):
        if block.search(name):
            return gains.get((str(role), int(layer.group(1))))
    return None


def anchor_view(anchor_rows: np.ndarray, gain: np.ndarray | None, rows: np.ndarray) -> np.ndarray:
    """``E[anchors] diag(g) W[rows]^T`` as int8, scaled to its largest magnitude."""
    e = anchor_rows.astype(np.float64)
    if gain is not None:
        e = e * gain[None, :]
    view = e @ rows.astype(np.float64).T
    peak = float(np.abs(view).max())
    return np.round(view / (peak if peak > 0 else 1.0) * 127).astype(np.int8)


def view_anchor_rows(anchor_rows: np.ndarray) -> np.ndarray:
    """The VIEW_ANCHORS anchor rows views are taken through (evenly spread over the anchors)."""
    step = max(1, anchor_rows.shape[0] // VIEW_ANCHORS)
    return anchor_rows[::step][:VIEW_ANCHORS]


def _centred(v: np.ndarray) -> np.ndarray:
    """The view with each anchor's row and each matrix row's column at unit norm (per-row
    quantization scales of the embeddings scale whole rows; of the matrix, and paired
    rescalings, whole columns), centred."""
    f = v.astype(np.float64)
    f = f / np.maximum(np.linalg.norm(f, axis=1, keepdims=True), 1e-30)
    f = f / np.maximum(np.linalg.norm(f, axis=0, keepdims=True), 1e-30)
    return f - f.mean()


def _direct_r(va: np.ndarray, vb: np.ndarray) -> float:
    if va.shape != vb.shape:
        return 0.0
    fa, fb = _centred(va), _centred(vb)
    return float((fa * fb).sum() / max(np.linalg.norm(fa) * np.linalg.norm(fb), 1e-30))


def _matched_r(va: np.ndarray, vb: np.ndarray) -> float:
    """Correlation of two views, their rows (the matrix's rows) matched first by assignment:
    llama.cpp reorders q/k rows within each head."""
    if va.shape != vb.shape:
        return 0.0
    from scipy.optimize import linear_sum_assignment

    fa, fb = _centred(va), _centred(vb)
    na, nb = np.linalg.norm(fa, axis=0), np.linalg.norm(fb, axis=0)

    cos = (fa.T @ fb) / np.maximum(np.outer(na, nb), 1e-30)
    rows, cols = linear_sum_assignment(-cos)
    matched = fb[:, cols[np.argsort(rows)]]
    return float((fa * matched).sum() / max(np.linalg.norm(fa) * np.linalg.norm(fb), 1e-30))


def _viewed(records: list[MatrixRecord]) -> list[MatrixRecord]:
    return [r for r in records if r.view is not None]


def rotation_evidence(a: Sketch, b: Sketch) -> dict[str, Any] | None:
    """How many viewed matrices agree, pairing them in order (equal counts and widths), or
    None when the two sketches cannot be compared that way."""
    va, vb = _viewed(a.records), _viewed(b.records)
    if not va or len(va) != len(vb) or any(x.other != y.other for x, y in zip(va, vb, strict=True)):
        return None
    pairs = list(zip(va, vb, strict=True))
    rs = [_direct_r(x.view, y.view) for x, y in pairs]  # type: ignore[arg-type]
    low = [i for i, r in enumerate(rs) if r < ROTATED_R]
    # rows reordered within heads agree once matched; try that on a few first, and on all only
    # when it makes them agree (an assignment per matrix costs milliseconds)
    trial = {i: _matched_r(pairs[i][0].view, pairs[i][1].view) for i in low[:4]}  # type: ignore[arg-type]
    if sum(r >= ROTATED_R for r in trial.values()) >= min(2, len(trial)) and trial:
        for i in low:
            rs[i] = trial.get(i) or _matched_r(pairs[i][0].view, pairs[i][1].view)  # type: ignore[arg-type]
    agree = [r for r in rs if r >= ROTATED_R]
    return {
        "viewed_matrices": len(rs),
        "agreeing_views": len(agree),
        "view_coverage": round(len(agree) / len(rs), 4),
        "mean_view_r": round(float(np.mean(rs)), 6),
        "min_view_r": round(float(np.min(rs)), 6),
    }
