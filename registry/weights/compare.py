"""Compare two sketches: per-component evidence, a verdict, a relation guess and a direction.

1. **Residual alignment.** Residual dimensions are matched by assignment on their anchor
   signatures (absolute cosine, so sign flips are fine); matched pairs carry a relative sign.
2. **Records.** Each record's Gram, read on the aligned dimensions, is correlated with every
   record of the other model in one matrix product.
3. **Depth.** Layers (records grouped by the layer number in their name, or one group each when
   names carry none) are aligned by a monotone chain that may skip or repeat layers, so dropped,
   repeated and renamed layers all align.
4. **Statistics.** Each matched record gives a one-sided p-value under a null calibrated on
   independently trained models, Bonferroni-corrected for the records it was chosen from;
   Fisher's method combines them. The caller multiplies by the number of candidates compared.

:func:`compare_sketches` returns a :class:`Comparison` with everything as plain numbers.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from scipy.optimize import linear_sum_assignment
from scipy.stats import chi2, norm

from registry.weights.sketch import QUANTIZED_BITS, MatrixRecord, Sketch

Verdict = Literal["identical", "derived", "related", "unrelated"]
Direction = Literal["a_is_child", "b_is_child", "unknown"]

# Null calibration: under independence a record correlation r on n Gram entries behaves like
# N(0, (NULL_SCALE / sqrt(n))^2). Measured on independently trained models (see BENCHMARKS.md).
NULL_SCALE = 3.0
MATCH_R = 0.5  # a record pair this correlated counts as shared
SIGNATURE_MATCH = 0.6  # anchor signatures this close identify a residual dimension
DERIVED_COVERAGE = 0.6
RELATED_COVERAGE = 0.15
STRONG_LOG10_P = -6.0
LOG10_P_FLOOR = -300.0  # smaller p-values are reported as 1e-300 (floats and JSON end there)
CHAIN_THRESHOLD = 0.3


@dataclass
class Comparison:
    """The outcome of comparing sketch ``a`` with sketch ``b``."""

    verdict: Verdict
    relation: str | None
    direction: Direction
    score: float
    log10_p: float  # combined p-value for "not independent", before candidate correction
    evidence: dict[str, Any] = field(default_factory=dict)

    def false_positive_rate(self, candidates: int = 1) -> float:
        """P-value corrected for ``candidates`` comparisons (Bonferroni), as a rate."""
        return float(min(1.0, 10 ** min(0.0, self.log10_p) * max(1, candidates)))


def _unit(x: np.ndarray) -> np.ndarray:
    x = x.astype(np.float32)
    n = np.linalg.norm(x, axis=-1, keepdims=True)
    return x / np.where(n > 0, n, 1.0)


def align_residual(a: Sketch, b: Sketch) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Matched residual dims ``(ia, ib)``, relative signs and signature cosines (kept pairs)."""
    if a.anchors.shape != b.anchors.shape or not np.array_equal(a.anchors, b.anchors):
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, np.zeros(0), np.zeros(0)
    cos = _unit(a.signatures) @ _unit(b.signatures).T
    ia, ib = linear_sum_assignment(-np.abs(cos))
    c = cos[ia, ib]
    keep = np.abs(c) >= SIGNATURE_MATCH
    return ia[keep], ib[keep], np.sign(c[keep]), c[keep]


def _pair_entries(k: int, ia: np.ndarray) -> np.ndarray:
    """Positions in a k-dim upper triangle of the pairs (ia[s], ia[t]) for s < t."""
    pos = np.full((k, k), -1, dtype=np.int64)
    iu, ju = np.triu_indices(k, 1)
    pos[iu, ju] = np.arange(iu.size)
    pos[ju, iu] = pos[iu, ju]
    s, t = np.triu_indices(ia.size, 1)
    return pos[ia[s], ia[t]]


def _record_views(
    sketch: Sketch, idx: np.ndarray, signs: np.ndarray | None
) -> tuple[np.ndarray, list[int]]:
    """Standardised Gram vectors on the aligned dims, one row per (record, reading)."""
    k = sketch.dims.size
    entries = _pair_entries(k, idx)
    s, t = np.triu_indices(idx.size, 1)
    flip = (signs[s] * signs[t]).astype(np.float32) if signs is not None else None
    rows, owner = [], []
    for n, rec in enumerate(sketch.records):
        for g in rec.grams:
            v = g.astype(np.float32)[entries] / 127.0
            if flip is not None:
                v = v * flip
            v = v - v.mean()
            sd = v.std()
            rows.append(v / sd if sd > 0 else v)
            owner.append(n)
    if not rows:
        return np.zeros((0, entries.size), np.float32), owner
    return np.vstack(rows), owner


def record_correlations(
    a: Sketch, b: Sketch, ia: np.ndarray, ib: np.ndarray, signs: np.ndarray
) -> tuple[np.ndarray, np.ndarray, int]:
    """Correlation of every record of ``a`` with every record of ``b`` at their best reading.

    Returns ``(r, same_orientation, n)``: ``same_orientation`` is false where the best reading
    pairs a matrix with the transpose of the other (square matrices only).
    """
    va, oa = _record_views(a, ia, None)
    vb, ob = _record_views(b, ib, signs)
    n = va.shape[1]
    shape = (len(a.records), len(b.records))
    r = np.zeros(shape, dtype=np.float32)
    same = np.ones(shape, dtype=bool)
    if n < 3 or not len(oa) or not len(ob):
        return r, same, n
    views = (va @ vb.T) / n
    reading_a = [oa[:x].count(oa[x]) for x in range(len(oa))]
    reading_b = [ob[:y].count(ob[y]) for y in range(len(ob))]
    for x, ra in enumerate(oa):
        for y, rb in enumerate(ob):
            if views[x, y] > r[ra, rb]:
                r[ra, rb] = views[x, y]
                same[ra, rb] = reading_a[x] == reading_b[y]
    return r, same, n


def _period(records: list[MatrixRecord]) -> int | None:
    """The shortest repeating pattern of record shapes: records per layer for unnamed tensors."""
    shapes = [(r.other, len(r.grams)) for r in records]
    n = len(shapes)
    for p in range(1, n // 2 + 1):
        if n % p == 0 and all(shapes[i] == shapes[i + p] for i in range(n - p)):
            return p
    return None


def _group_by(keys: list[Any]) -> list[list[int]]:
    by_key: dict[Any, list[int]] = defaultdict(list)
    order: list[Any] = []
    for i, key in enumerate(keys):
        key = key if key is not None else ("solo", i)
        if key not in by_key:
            order.append(key)
        by_key[key].append(i)
    return [by_key[k] for k in order]


def _groupings(records: list[MatrixRecord]) -> list[list[list[int]]]:
    """Candidate groupings of records into layers.

    Records named with a layer number group by it. When most are not (exported graphs name
    biases and norms but not MatMul weights), try the layer of the nearest named tensor before,
    after, and the period of the shape pattern; the comparison keeps whichever aligns best.
    """
    own = [r.layer for r in records]
    if sum(x is not None for x in own) >= len(records) / 2:
        return [_group_by(own)]
    out = [
        _group_by([r.layer if r.layer is not None else r.layer_before for r in records]),
        _group_by([r.layer if r.layer is not None else r.layer_after for r in records]),
    ]
    period = _period(records) or 1
    out.append(
        [list(range(i, min(i + period, len(records)))) for i in range(0, len(records), period)]
    )
    unique: list[list[list[int]]] = []
    for g in out:
        if g not in unique:
            unique.append(g)
    return unique


def _groups(records: list[MatrixRecord]) -> list[list[int]]:
    return _groupings(records)[0]


def _group_match(r: np.ndarray, ga: list[int], gb: list[int]) -> list[tuple[int, int, float]]:
    sub = r[np.ix_(ga, gb)]
    rows, cols = linear_sum_assignment(-sub)
    return [(ga[x], gb[y], float(sub[x, y])) for x, y in zip(rows, cols, strict=True)]


def align_depth(r: np.ndarray, a: Sketch, b: Sketch) -> list[tuple[int, int, float]]:
    """Record pairs along the best one-to-one, order-keeping alignment of layers.

    Local alignment (Smith-Waterman without gap costs) over layer groups: a layer pair adds
    each matched record's similarity beyond CHAIN_THRESHOLD, so dropped or repeated layers
    become gaps and layers
    that merely resemble each other (a model's layers share its residual structure) never beat
    the true diagonal. Every candidate grouping of either side is tried; the best alignment wins.
    """
    best: tuple[float, list[tuple[int, int, float]]] = (0.0, [])
    for ga in _groupings(a.records):
        for gb in _groupings(b.records):
            total, pairs = _align_groups(r, ga, gb)
            if total > best[0]:
                best = (total, pairs)
    return best[1]


def _align_groups(
    r: np.ndarray, ga: list[list[int]], gb: list[list[int]]
) -> tuple[float, list[tuple[int, int, float]]]:
    if not ga or not gb:
        return 0.0, []
    na, nb = len(ga), len(gb)
    sim = np.zeros((na, nb))
    matches: dict[tuple[int, int], list[tuple[int, int, float]]] = {}
    for x, g1 in enumerate(ga):
        for y, g2 in enumerate(gb):
            m = _group_match(r, g1, g2)
            matches[x, y] = m
            sim[x, y] = sum(max(0.0, v - CHAIN_THRESHOLD) for _, _, v in m)
    gain = sim  # summed over records, so a grouping that matches more records scores more
    score = np.zeros((na + 1, nb + 1))
    for x in range(na):
        for y in range(nb):
            score[x + 1, y + 1] = max(
                score[x, y + 1], score[x + 1, y], score[x, y] + max(0.0, gain[x, y])
            )
    pairs: list[tuple[int, int, float]] = []
    x, y = na, nb
    while x > 0 and y > 0:
        if score[x, y] == score[x - 1, y]:
            x -= 1
        elif score[x, y] == score[x, y - 1]:
            y -= 1
        else:
            if gain[x - 1, y - 1] > 0:
                pairs.extend(matches[x - 1, y - 1])
            x, y = x - 1, y - 1
    pairs.reverse()
    return float(score[na, nb]), pairs


def _log10_pvalue(pairs: list[tuple[int, int, float]], n: int, choices: int) -> float:
    if not pairs or n < 3:
        return 0.0
    sigma = NULL_SCALE / math.sqrt(n)
    log_ps = []
    for _, _, r in pairs:
        lp = float(norm.logsf(r / sigma)) + math.log(max(1, choices))
        log_ps.append(min(0.0, lp))
    stat = -2.0 * sum(log_ps)
    return max(LOG10_P_FLOOR, float(chi2.logsf(stat, 2 * len(log_ps)) / math.log(10)))


def _signature_log10_p(cosines: np.ndarray, k: int, choices: int) -> float:
    """Independent anchor signatures have |cos| about N(0, 1/k); combine the matched ones."""
    if cosines.size == 0:
        return 0.0
    z = np.abs(cosines) * math.sqrt(k) / NULL_SCALE
    lp = np.minimum(0.0, norm.logsf(z) + math.log(2 * max(1, choices)))
    return max(LOG10_P_FLOOR, float(chi2.logsf(-2.0 * lp.sum(), 2 * lp.size) / math.log(10)))


def _block_evidence(
    a: Sketch,
    b: Sketch,
    pairs: list[tuple[int, int, float]],
    by_index: bool,
    same_orientation: np.ndarray,
) -> dict[str, Any]:
    """Un-obfuscated evidence from raw blocks: cosine, unchanged matrices, rank of changes."""
    if not by_index:
        return {}
    cosines, unchanged, ranks = [], 0, []
    for ra, rb, _ in pairs:
        if not same_orientation[ra, rb]:
            continue
        xa, xb = a.records[ra].block, b.records[rb].block
        if (
            xa is None
            or xb is None
            or xa.shape != xb.shape
            or a.records[ra].other != b.records[rb].other
        ):
            continue
        fa, fb = xa.astype(np.float32), xb.astype(np.float32)
        na, nb = np.linalg.norm(fa), np.linalg.norm(fb)
        if na == 0 or nb == 0:
            continue
        cosines.append(float((fa * fb).sum() / (na * nb)))
        delta = fa - fb
        low = min(QUANTIZED_BITS.get(r.storage.upper(), 32) for r in (a.records[ra], b.records[rb]))
        tolerance = 1e-3 if low >= 32 else 5e-3  # a 16-bit copy rounds every value a little
        if np.linalg.norm(delta) <= tolerance * max(na, nb):
            unchanged += 1
            continue
        s = np.linalg.svd(delta, compute_uv=False)
        ranks.append(int((s > 0.1 * s[0]).sum()))
    if not cosines:
        return {}
    return {
        "block_cosine": round(float(np.mean(cosines)), 6),
        "unchanged_matrices": unchanged,
        "changed_matrices": len(ranks),
        "delta_ranks": sorted(set(ranks)),
        "compared_matrices": len(cosines),
    }


def _mean(values: list[float]) -> float:
    return float(np.mean(values)) if values else 0.0


def _relation(
    a: Sketch,
    b: Sketch,
    pairs: list[tuple[int, int, float]],
    blocks: dict[str, Any],
    mean_r: float,
    permuted: bool,
) -> tuple[str, Direction, list[str]]:
    """Guess the relation and who is the child from structural evidence."""
    reasons: list[str] = []
    bits_a, bits_b = a.bits, b.bits
    grid_a = _mean([r.grid for r in a.records])
    grid_b = _mean([r.grid for r in b.records])
    zeros_a = _mean([r.zero_fraction for r in a.records])
    zeros_b = _mean([r.zero_fraction for r in b.records])
    quant_a = bits_a <= 8 or grid_a < 0.35
    quant_b = bits_b <= 8 or grid_b < 0.35
    if quant_a != quant_b or (quant_a and bits_a != bits_b):
        child: Direction = "a_is_child" if (bits_a, grid_a) < (bits_b, grid_b) else "b_is_child"
        reasons.append(f"quantization grid: {min(bits_a, bits_b)}-bit storage on the child side")
        return "quantized", child, reasons
    if max(zeros_a, zeros_b) >= 0.3 and abs(zeros_a - zeros_b) >= 0.15:
        child = "a_is_child" if zeros_a > zeros_b else "b_is_child"
        hi, lo = max(zeros_a, zeros_b), min(zeros_a, zeros_b)
        reasons.append(f"exact zeros: {hi:.0%} of sampled weights vs {lo:.0%}")
        return "pruned", child, reasons
    la, lb = len(a.records), len(b.records)
    if la != lb and len(pairs) >= 0.9 * min(la, lb):
        child = "a_is_child" if la < lb else "b_is_child"
        ga, gb = len(_groups(a.records)), len(_groups(b.records))
        reasons.append(
            f"layer subset: {min(la, lb)} of {max(la, lb)} matrices ({ga} vs {gb} layers)"
        )
        return "pruned", child, reasons
    widths_a = sorted(r.other for r in a.records)
    widths_b = sorted(r.other for r in b.records)
    if len(widths_a) == len(widths_b) and widths_a != widths_b:
        if all(p <= q for p, q in zip(widths_a, widths_b, strict=True)):
            reasons.append("narrower matrices on the child side")
            return "pruned", "a_is_child", reasons
        if all(q <= p for p, q in zip(widths_a, widths_b, strict=True)):
            reasons.append("narrower matrices on the child side")
            return "pruned", "b_is_child", reasons
    if a.vocab != b.vocab:
        child = "a_is_child" if a.vocab > b.vocab else "b_is_child"
        reasons.append(
            f"appended vocabulary rows: {min(a.vocab, b.vocab)} -> {max(a.vocab, b.vocab)}"
        )
        return "finetune", child, reasons
    bits_differ = QUANTIZED_BITS.get(a.vocab_storage.upper(), 32) != QUANTIZED_BITS.get(
        b.vocab_storage.upper(), 32
    )
    # raw values at the same indices decide "unchanged"; without them only the Grams speak
    same_values = blocks["changed_matrices"] == 0 if blocks else mean_r >= REPACKAGED_R
    if same_values:
        if bits_a != bits_b or bits_differ:
            child = "a_is_child" if bits_a < bits_b else "b_is_child"
            reasons.append("same weights at lower precision")
            return "repackaged", child, reasons
        reasons.append("same weights, rearranged or re-encoded")
        return "repackaged", "unknown", reasons
    if permuted:
        reasons.append("residual dimensions permuted, embeddings otherwise unchanged (obfuscation)")
        return "repackaged", "unknown", reasons
    ranks = blocks.get("delta_ranks")
    if ranks and max(ranks) <= 1:
        reasons.append("rank-1 edit of the weights (abliteration-like)")
        return "finetune", "unknown", reasons
    if ranks and max(ranks) <= BLOCK_LOW_RANK:
        reasons.append(
            f"low-rank delta (rank <= {max(ranks)}) in {blocks['changed_matrices']} matrices"
        )
        return "adapter", "unknown", reasons
    return "finetune", "unknown", reasons


BLOCK_LOW_RANK = 10
REPACKAGED_R = 0.9995
PERMUTED_SIGNATURE = 0.9999  # embeddings equal up to a permutation of residual dimensions


def compare_sketches(a: Sketch, b: Sketch) -> Comparison:
    """Compare sketch ``a`` with sketch ``b``; see the module docstring."""
    ia, ib, signs, sig_cos = align_residual(a, b)
    evidence: dict[str, Any] = {
        "aligned_residual_dims": int(ia.size),
        "residual_dims": int(min(a.dims.size, b.dims.size)),
        "signature_cosine": round(float(np.mean(np.abs(sig_cos))) if sig_cos.size else 0.0, 6),
    }
    if a.anchor_gram.shape == b.anchor_gram.shape and a.anchor_gram.size > 2:
        evidence["anchor_gram_r"] = round(
            float(
                np.corrcoef(a.anchor_gram.astype(np.float32), b.anchor_gram.astype(np.float32))[
                    0, 1
                ]
            ),
            6,
        )
    sig_log_p = _signature_log10_p(sig_cos, a.anchors.size, a.dims.size)
    r = np.zeros((len(a.records), len(b.records)), np.float32)
    same = np.ones_like(r, dtype=bool)
    n = 0
    if ia.size >= 8:
        r, same, n = record_correlations(a, b, ia, ib, signs)
    pairs = align_depth(r, a, b) if n else []
    strong = [p for p in pairs if p[2] >= MATCH_R]
    smaller = max(1, min(len(a.records), len(b.records)))
    coverage = (
        len({p[0] for p in strong}) / smaller
        if len(a.records) <= len(b.records)
        else len({p[1] for p in strong}) / smaller
    )
    layer_log_p = _log10_pvalue(strong, n, len(b.records))
    mean_r = _mean([p[2] for p in strong])
    by_index = (
        ia.size > 0 and float(np.mean(a.dims[ia] == b.dims[ib])) >= 0.9 and a.residual == b.residual
    )
    blocks = _block_evidence(a, b, strong, by_index, same)
    evidence.update(
        {
            "matched_records": len(strong),
            "records": [len(a.records), len(b.records)],
            "coverage": round(coverage, 4),
            "mean_record_r": round(mean_r, 6),
            "gram_entries": n,
            "log10_p_layers": round(layer_log_p, 2),
            "log10_p_embeddings": round(sig_log_p, 2),
            "aligned_by_index": bool(by_index),
            **blocks,
        }
    )
    if coverage >= DERIVED_COVERAGE and layer_log_p <= STRONG_LOG10_P:
        permuted = not by_index and evidence["signature_cosine"] >= PERMUTED_SIGNATURE
        relation, direction, reasons = _relation(a, b, strong, blocks, mean_r, permuted)
        evidence["reasons"] = reasons
        score = min(1.0, coverage) * max(0.0, mean_r)
        return Comparison("derived", relation, direction, round(score, 4), layer_log_p, evidence)
    shared_embeddings = evidence["signature_cosine"] >= 0.8 and sig_log_p <= STRONG_LOG10_P
    if shared_embeddings or (coverage >= RELATED_COVERAGE and layer_log_p <= STRONG_LOG10_P):
        evidence["reasons"] = (["embeddings shared"] if shared_embeddings else []) + (
            [f"{len(strong)} of {smaller} matrices shared"] if strong else []
        )
        log_p = min(sig_log_p, layer_log_p)
        score = max(coverage * mean_r, 0.5 * evidence["signature_cosine"])
        return Comparison("related", None, "unknown", round(score, 4), log_p, evidence)
    return Comparison(
        "unrelated",
        None,
        "unknown",
        round(max(0.0, coverage * mean_r), 4),
        min(0.0, min(sig_log_p, layer_log_p)),
        evidence,
    )
