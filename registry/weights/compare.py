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
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from registry.weights.alignment import align_depth, align_residual, record_correlations
from registry.weights.blas import one_blas_thread
from registry.weights.relation import (
    PERMUTED_SIGNATURE,
    Direction,
    block_evidence,
    guess_relation,
    quantized,
    quantized_siblings,
    vocab_siblings,
)
from registry.weights.rotation import RELATED_COVERAGE as VIEWS_RELATED
from registry.weights.rotation import (
    ROTATED_COVERAGE,
    ROTATED_R,
    UNCHANGED_R,
    rotation_evidence,
)
from registry.weights.sketch import Sketch

__all__ = [
    "MATCH_R",
    "NULL_SCALE",
    "STRONG_LOG10_P",
    "Comparison",
    "Direction",
    "align_depth",
    "align_residual",
    "compare_sketches",
    "record_correlations",
]

Verdict = Literal["identical", "derived", "related", "unrelated"]

# Null calibration: under independence a record correlation r on n Gram entries behaves like
# N(0, (NULL_SCALE / sqrt(n))^2). Measured on independently trained models (see BENCHMARKS.md).
NULL_SCALE = 3.0
MATCH_R = 0.5  # a record pair this correlated counts as shared
# A record pair this correlated counts as descended. Calibrated on kin, not only on independent
# models: models that share an ancestral embedding table but trained their layers apart have
# Grams correlated 0.6-0.75 in the shared residual basis; derivatives sit above 0.8.
DERIVED_R = 0.8
DERIVED_COVERAGE = 0.75  # two models sharing half their layers (cousins) stay below
DESCENT_SHARE = 0.8  # of the raw blocks compared, this share must descend for "derived"
RELATED_COVERAGE = 0.15
STRONG_LOG10_P = -6.0
LOG10_P_FLOOR = -300.0  # smaller p-values are reported as 1e-300 (floats and JSON end there)


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


def _log10_pvalue(pairs: list[tuple[int, int, float]], n: int, choices: int) -> float:
    if not pairs or n < 3:
        return 0.0
    from scipy.stats import chi2, norm  # 1 s to import: only where a comparison needs it

    sigma = NULL_SCALE / math.sqrt(n)
    r = np.array([p[2] for p in pairs], dtype=np.float64)
    log_ps = np.minimum(0.0, norm.logsf(r / sigma) + math.log(max(1, choices)))
    stat = -2.0 * float(log_ps.sum())
    return max(LOG10_P_FLOOR, float(chi2.logsf(stat, 2 * len(pairs)) / math.log(10)))


def _signature_log10_p(cosines: np.ndarray, k: int, choices: int) -> float:
    """Independent anchor signatures have |cos| about N(0, 1/k); combine the matched ones."""
    if cosines.size == 0:
        return 0.0
    from scipy.stats import chi2, norm  # 1 s to import: only where a comparison needs it

    z = np.abs(cosines) * math.sqrt(k) / NULL_SCALE
    lp = np.minimum(0.0, norm.logsf(z) + math.log(2 * max(1, choices)))
    return max(LOG10_P_FLOOR, float(chi2.logsf(-2.0 * lp.sum(), 2 * lp.size) / math.log(10)))


def _coverage(pairs: list[tuple[int, int, float]], a: Sketch, b: Sketch) -> float:
    """Share of the smaller model's records that ``pairs`` match."""
    smaller = max(1, min(len(a.records), len(b.records)))
    side = 0 if len(a.records) <= len(b.records) else 1
    return len({p[side] for p in pairs}) / smaller


def _layers_descend(descended: float, blocks: dict[str, Any]) -> tuple[bool, str | None]:
    """Whether the layers themselves descend, not only the embedding basis they share: most
    records correlated beyond kin, and, where raw blocks are comparable, most of them close."""
    if descended < DERIVED_COVERAGE:
        return False, (
            f"layers do not descend: only {descended:.0%} of matrices correlate beyond "
            f"{DERIVED_R} (models sharing only an embedding table reach about 0.7)"
        )
    compared = blocks.get("compared_matrices", 0)
    if compared >= 3 and blocks["descending_matrices"] < DESCENT_SHARE * compared:
        return False, (
            f"layers do not descend: {blocks['descending_matrices']} of {compared} raw blocks "
            f"at the same indices agree (mean cosine {blocks['block_cosine']:.2f})"
        )
    return True, None


def compare_sketches(a: Sketch, b: Sketch) -> Comparison:
    """Compare sketch ``a`` with sketch ``b``; see the module docstring."""
    with one_blas_thread():
        return _compare(a, b)


def _compare(a: Sketch, b: Sketch) -> Comparison:
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
    coverage = _coverage(strong, a, b)
    descended = _coverage([p for p in pairs if p[2] >= DERIVED_R], a, b)
    layer_log_p = _log10_pvalue(strong, n, len(b.records))
    mean_r = float(np.mean([p[2] for p in strong])) if strong else 0.0
    by_index = (
        ia.size > 0 and float(np.mean(a.dims[ia] == b.dims[ib])) >= 0.9 and a.residual == b.residual
    )
    blocks = block_evidence(a, b, strong, by_index, same)
    evidence.update(
        {
            "matched_records": len(strong),
            "records": [len(a.records), len(b.records)],
            "coverage": round(coverage, 4),
            "descended_coverage": round(descended, 4),
            "mean_record_r": round(mean_r, 6),
            "gram_entries": n,
            "log10_p_layers": round(layer_log_p, 2),
            "log10_p_embeddings": round(sig_log_p, 2),
            "aligned_by_index": bool(by_index),
            **blocks,
        }
    )
    layers_descend, why_not = _layers_descend(descended, blocks)
    if layers_descend and layer_log_p <= STRONG_LOG10_P:
        permuted = not by_index and evidence["signature_cosine"] >= PERMUTED_SIGNATURE
        relation, direction, reasons = guess_relation(a, b, strong, blocks, mean_r, permuted)
        evidence["reasons"] = reasons
        if vocab_siblings(a, b, relation, direction):
            evidence["reasons"] = [
                "a quantized copy whose vocabulary makes the float model its child (rows "
                "trimmed or appended): both derive from a float model with the copy's "
                "vocabulary, neither from the other"
            ]
            score = min(1.0, coverage) * max(0.0, mean_r)
            return Comparison("related", None, "unknown", round(score, 4), layer_log_p, evidence)
        if quantized_siblings(a, b, relation):
            evidence["reasons"] = [
                f"both quantized to {a.bits}-bit with different values: copies of one float "
                "parent, neither derived from the other"
            ]
            score = min(1.0, coverage) * max(0.0, mean_r)
            return Comparison("related", None, "unknown", round(score, 4), layer_log_p, evidence)
        score = min(1.0, coverage) * max(0.0, mean_r)
        return Comparison("derived", relation, direction, round(score, 4), layer_log_p, evidence)
    rotated = rotated_comparison(a, b, evidence)
    if rotated is not None and (rotated.verdict == "derived" or not strong):
        return rotated
    shared_embeddings = evidence["signature_cosine"] >= 0.8 and sig_log_p <= STRONG_LOG10_P
    if shared_embeddings or (coverage >= RELATED_COVERAGE and layer_log_p <= STRONG_LOG10_P):
        evidence["reasons"] = (
            (["embeddings shared"] if shared_embeddings else [])
            + ([f"{len(strong)} of {smaller} matrices correlated"] if strong else [])
            + ([why_not] if why_not and strong else [])
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


def rotated_comparison(a: Sketch, b: Sketch, evidence: dict[str, Any]) -> Comparison | None:
    """The verdict of the views through the anchor embeddings, which a rotation of the residual
    stream leaves unchanged (see :mod:`registry.weights.rotation`), when they agree on enough
    matrices; None otherwise."""
    rot = rotation_evidence(a, b)
    if rot is None or rot["viewed_matrices"] < 3 or rot["view_coverage"] < VIEWS_RELATED:
        return None
    evidence = {**evidence, **rot}
    agree = rot["agreeing_views"]
    # each agreeing view: correlation >= ROTATED_R on VIEW_ANCHORS x VIEW_ROWS entries, where
    # independent models stay below 0.2 (p well under 1e-6 each)
    log_p = max(LOG10_P_FLOOR, -6.0 * agree)
    score = round(rot["view_coverage"] * max(0.0, rot["mean_view_r"]), 4)
    if rot["view_coverage"] < ROTATED_COVERAGE:
        evidence["reasons"] = [
            f"{agree} of {rot['viewed_matrices']} matrices equal through the anchor embeddings "
            f"(correlation >= {ROTATED_R}): layers shared, the rest trained apart"
        ]
        return Comparison("related", None, "unknown", score, log_p, evidence)
    reasons = [
        f"residual stream rotated: {agree} of {rot['viewed_matrices']} matrices equal through "
        f"the anchor embeddings (mean correlation {rot['mean_view_r']:.4f}), the residual "
        "dimensions themselves not"
    ]
    direction: Direction = "unknown"
    if a.unit_norms != b.unit_norms:
        direction = "a_is_child" if a.unit_norms else "b_is_child"
        reasons.append("norm gains folded into the matrices (all 1) on the child side")
    qa, qb = quantized(a), quantized(b)
    if qa != qb or (qa and a.bits != b.bits):
        relation = "quantized"
        direction = (
            "a_is_child" if (qa and not qb) or (qa and qb and a.bits < b.bits) else ("b_is_child")
        )
        reasons.append(f"quantization grid: {min(a.bits, b.bits)}-bit on the child side")
    elif rot["min_view_r"] >= UNCHANGED_R:
        relation = "repackaged"
    else:
        relation = "finetune"
    evidence["reasons"] = reasons
    return Comparison("derived", relation, direction, score, log_p, evidence)
