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

VIEW_ANCHORS = 16
MAX_VIEWS = 48  # records with views, spread over depth (a 7B model: 160 reading matrices)
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


def _viewed(records: list[MatrixRecord], through: int) -> list[np.ndarray]:
    return [r.view[through] for r in records if r.view is not None and r.view.shape[0] > through]


def _through(s: Sketch) -> int:
    """How many vocabulary matrices the views are taken through (embeddings, untied head)."""
    return max((r.view.shape[0] for r in s.records if r.view is not None), default=0)


def rotation_evidence(a: Sketch, b: Sketch) -> dict[str, Any] | None:
    """The best agreement of views through any pairing of the two models' vocabulary matrices
    (names do not always say which one is the embedding); None without views."""
    found = [
        f
        for i in range(_through(a))
        for j in range(_through(b))
        if (f := _evidence(_viewed(a.records, i), _viewed(b.records, j))) is not None
    ]
    return max(found, key=lambda f: (f["agreeing_views"], f["mean_view_r"])) if found else None


def _unit_vectors(views: list[np.ndarray], of: Any) -> np.ndarray:
    rows = [of(v).ravel() for v in views]
    x = np.stack(rows) if rows else np.zeros((0, 1))
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-30)


def _row_gram(v: np.ndarray) -> np.ndarray:
    """The view's anchor-by-anchor Gram: blind to the order of the matrix's rows."""
    f = _centred(v)
    g = f @ f.T
    i, j = np.triu_indices(g.shape[0], 1)
    return g[i, j] - g[i, j].mean()


def _similarity(va: list[np.ndarray], vb: list[np.ndarray], of: Any) -> np.ndarray:
    """Cosine of every view of ``a`` with every view of ``b`` (-1 where shapes differ)."""
    sim = np.full((len(va), len(vb)), -1.0)
    for shape in {v.shape for v in va} & {v.shape for v in vb}:
        ia = [i for i, v in enumerate(va) if v.shape == shape]
        ib = [j for j, v in enumerate(vb) if v.shape == shape]
        ua = _unit_vectors([va[i] for i in ia], of)
        ub = _unit_vectors([vb[j] for j in ib], of)
        sim[np.ix_(ia, ib)] = ua @ ub.T
    return sim


def _evidence(va: list[np.ndarray], vb: list[np.ndarray]) -> dict[str, Any] | None:
    """How many viewed matrices agree, matched one to one by content (names, storage order and
    which matrices a name let be viewed may differ), or None without views on both sides."""
    from scipy.optimize import linear_sum_assignment

    if not va or not vb:
        return None
    direct = _similarity(va, vb, _centred)
    rows, cols = linear_sum_assignment(-direct)
    rs = {int(i): float(direct[i, j]) for i, j in zip(rows, cols, strict=True)}
    # rows reordered within heads (llama.cpp's q/k) agree once matched: the row-order-blind
    # Gram proposes a partner for each view left over, an assignment of rows checks it; tried
    # on a few first, and on all only when that makes them agree (milliseconds per matrix)
    used = {int(j) for i, j in zip(rows, cols, strict=True) if direct[i, j] >= ROTATED_R}
    left = [i for i in range(len(va)) if rs.get(i, -1.0) < ROTATED_R]
    if left and len(used) < len(vb):
        grams = _similarity(va, vb, _row_gram)
        grams[:, sorted(used)] = -np.inf
        tried = 0
        for n, i in enumerate(left):
            if n == 4 and tried < 2:
                break
            j = int(np.argmax(grams[i]))
            if grams[i, j] < ROTATED_R:  # no view with the same rows in another order
                continue
            r = _matched_r(va[i], vb[j])
            if r >= ROTATED_R:
                rs[i], tried = r, tried + 1
                grams[:, j] = -np.inf
    values = np.array([rs.get(i, 0.0) for i in range(len(va))])
    best = np.sort(values)[::-1][: min(len(va), len(vb))]
    agree = int((best >= ROTATED_R).sum())
    return {
        "viewed_matrices": int(best.size),
        "agreeing_views": agree,
        "view_coverage": round(agree / best.size, 4),
        "mean_view_r": round(float(best.mean()), 6),
        "min_view_r": round(float(best.min()), 6),
    }
