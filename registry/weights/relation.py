"""Structural evidence between two derived sketches: which relation, and who is the child.

Quantization grids, exact zeros, layer subsets, narrower matrices, appended vocabulary rows,
precision, permuted residual dimensions, and the rank of changes in raw blocks.
"""

from __future__ import annotations

import math
from typing import Any, Literal

import numpy as np

from registry.weights.sketch import QUANTIZED_BITS, Sketch

Direction = Literal["a_is_child", "b_is_child", "unknown"]
BLOCK_LOW_RANK = 10  # a changed block of at most this rank is a low-rank (adapter) update
REPACKAGED_R = 0.9995
PERMUTED_SIGNATURE = 0.9999  # embeddings equal up to a permutation of residual dimensions


BLOCK_DESCENT = 0.3  # raw-block cosine beyond which a matrix descends (independent: sd 1/16)
# A Gram this close is the same matrix up to a hidden-unit permutation (which moves the rows a
# raw block samples), whatever the raw blocks say; kin stay well below it.
SAME_GRAM_R = 0.97
# a descended matrix (Gram this close) whose raw block holds other rows was rearranged, not
# rewritten: its block says nothing about how values changed
REARRANGED_R = 0.8
CAST_CHANGED = 0.02  # a block with more elements than this off the coarser grid has changed
# mantissa bits of each storage type; sketches keep raw blocks in float16, so 10 at most
_MANTISSA = {"BF16": 7, "F8_E4M3": 3, "F8_E5M2": 2}


def _grid_bits(block: np.ndarray) -> int:
    """Mantissa bits the block's values use: 7 when they all sit on the bf16 grid (a bf16
    model stored as F32 keeps its casting evidence in its values), 10 for float16 and up."""
    bits = block.astype(np.float16).view(np.uint16).astype(np.int64)
    normal = (bits & 0x7C00) != 0
    if normal.sum() < 16:
        return 10
    for kept in (2, 3, 7):
        if np.mean((bits[normal] & ((1 << (10 - kept)) - 1)) == 0) >= 0.95:
            return kept
    return 10


def _changed_fraction(
    fa: np.ndarray, fb: np.ndarray, storages: tuple[str, str], grids: tuple[int, int]
) -> float:
    """Fraction of elements that differ by more than one unit in the last place of the coarser
    of the two storage types (or value grids): 0 for a dtype cast (even with double rounding),
    most elements for any real update of the weights."""
    bits = min(*(_MANTISSA.get(s.upper(), 10) for s in storages), *grids)
    scale = np.maximum(np.abs(fa), np.abs(fb))
    ulp = np.exp2(np.floor(np.log2(np.where(scale > 0, scale, 1.0))) - bits)
    return float(np.mean(np.abs(fa - fb) > np.maximum(ulp, 6e-8)))


def _rows_replaced(fa: np.ndarray, fb: np.ndarray) -> bool:
    """Whether a quarter of the rows or more are other rows altogether (unrelated to their
    counterparts, as after a row permutation), not the same rows updated."""
    norms = np.linalg.norm(fa, axis=1) * np.linalg.norm(fb, axis=1)
    cos = (fa * fb).sum(axis=1) / np.where(norms > 0, norms, 1.0)
    return bool(np.mean(cos < 0.5) >= 0.25)


def block_evidence(
    a: Sketch,
    b: Sketch,
    pairs: list[tuple[int, int, float]],
    by_index: bool,
    same_orientation: np.ndarray,
) -> dict[str, Any]:
    """Un-obfuscated evidence from raw blocks: cosine, how many matrices descend (a raw-block
    cosine beyond BLOCK_DESCENT, or a Gram beyond SAME_GRAM_R), unchanged matrices (equal up to
    a dtype cast), rank of changes."""
    if not by_index:
        return {}
    cosines, unchanged, descending, moved = [], 0, 0, 0
    changed: list[np.ndarray] = []
    for ra, rb, r in pairs:
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
        na, nb = math.sqrt(float((fa * fa).sum())), math.sqrt(float((fb * fb).sum()))
        if na == 0 or nb == 0:
            continue
        cosines.append(float((fa * fb).sum() / (na * nb)))
        descending += cosines[-1] >= BLOCK_DESCENT or r >= SAME_GRAM_R
        storages = (a.records[ra].storage, b.records[rb].storage)
        if _changed_fraction(fa, fb, storages, (_grid_bits(xa), _grid_bits(xb))) <= CAST_CHANGED:
            unchanged += 1
        elif r >= REARRANGED_R and _rows_replaced(fa, fb):
            moved += 1  # other rows sampled, same Gram: rows rearranged (llama.cpp's q/k)
        else:
            changed.append(fa - fb)
    if not cosines:
        return {}
    ranks = _ranks(changed)
    return {
        "block_cosine": round(float(np.mean(cosines)), 6),
        "descending_matrices": descending,
        "unchanged_matrices": unchanged,
        "rearranged_matrices": moved,
        "changed_matrices": len(ranks),
        "delta_ranks": sorted(set(ranks)),
        "compared_matrices": len(cosines),
    }


def _ranks(deltas: list[np.ndarray]) -> list[int]:
    """Numerical rank of each changed block (singular values above a tenth of the largest),
    with one batched SVD per block shape."""
    by_shape: dict[tuple[int, ...], list[np.ndarray]] = {}
    for d in deltas:
        by_shape.setdefault(d.shape, []).append(d)
    ranks: list[int] = []
    for group in by_shape.values():
        s = np.linalg.svd(np.stack(group), compute_uv=False)
        ranks.extend(int(n) for n in (s > 0.1 * s[:, :1]).sum(axis=1))
    return ranks


def _mean(values: list[float]) -> float:
    return float(np.mean(values)) if values else 0.0


def quantized(s: Sketch) -> bool:
    """Whether the model's values sit on a quantization grid (or in <= 8-bit storage)."""
    return s.bits <= 8 or _mean([r.grid for r in s.records]) < 0.35


def quantized_siblings(a: Sketch, b: Sketch, relation: str) -> bool:
    """Two copies quantized at the same precision whose values differ: each was quantized from
    a float parent (by another tool, or with other scales); neither is the other's parent."""
    return relation != "repackaged" and quantized(a) and quantized(b) and a.bits == b.bits


def vocab_siblings(a: Sketch, b: Sketch, relation: str, direction: Direction) -> bool:
    """A quantized copy against a float model whose vocabulary says the float model is the
    child (a renumbered subset of the copy's rows, or the copy's rows with more appended):
    neither is the other's parent. Quantizing keeps the vocabulary, and a trim or an extension
    of the quantized copy would keep its grid; both derive from the float model with the
    copy's vocabulary."""
    if relation != "quantized" or a.vocab == b.vocab:
        return False
    child, parent = (a, b) if direction == "a_is_child" else (b, a)
    if np.array_equal(a.anchors, b.anchors):
        return child.vocab < parent.vocab  # rows appended to the float model
    return child.vocab > parent.vocab  # the float model's vocabulary trimmed


def guess_relation(
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
    quant_a, quant_b = quantized(a), quantized(b)
    if quant_a != quant_b or (quant_a and bits_a != bits_b):
        child: Direction = "a_is_child" if (bits_a, grid_a) < (bits_b, grid_b) else "b_is_child"
        reasons.append(f"quantization grid: {min(bits_a, bits_b)}-bit storage on the child side")
        return "quantized", child, reasons
    if max(zeros_a, zeros_b) >= 0.3 and abs(zeros_a - zeros_b) >= 0.15:
        child = "a_is_child" if zeros_a > zeros_b else "b_is_child"
        hi, lo = max(zeros_a, zeros_b), min(zeros_a, zeros_b)
        reasons.append(f"exact zeros: {hi:.0%} of sampled weights vs {lo:.0%}")
        return "pruned", child, reasons
    ea, eb = a.experts, b.experts
    if ea != eb and min(ea, eb) == 0:  # one MLP per layer became several experts
        child = "a_is_child" if ea > eb else "b_is_child"
        reasons.append(f"upcycled: each dense MLP became {max(ea, eb)} experts")
        return "finetune", child, reasons
    if ea != eb:
        child = "a_is_child" if ea < eb else "b_is_child"
        reasons.append(f"experts pruned: {max(ea, eb)} -> {min(ea, eb)} per layer")
        return "pruned", child, reasons
    la, lb = len(a.records), len(b.records)
    if la != lb and len(pairs) >= 0.9 * min(la, lb):
        child = "a_is_child" if la < lb else "b_is_child"
        reasons.append(f"layer subset: {min(la, lb)} of {max(la, lb)} matrices")
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
    if a.vocab != b.vocab and not np.array_equal(a.anchors, b.anchors):
        # the same rows under other token ids: a vocabulary trimmed and renumbered
        child = "a_is_child" if a.vocab < b.vocab else "b_is_child"
        reasons.append(
            f"vocabulary trimmed: {max(a.vocab, b.vocab)} -> {min(a.vocab, b.vocab)} rows, "
            "the shared rows found under other token ids"
        )
        return "pruned", child, reasons
    if a.vocab != b.vocab:
        child = "a_is_child" if a.vocab > b.vocab else "b_is_child"
        reasons.append(
            f"appended vocabulary rows: {min(a.vocab, b.vocab)} -> {max(a.vocab, b.vocab)}, "
            "the low token ids unchanged"
        )
        return "finetune", child, reasons
    bits_differ = QUANTIZED_BITS.get(a.vocab_storage.upper(), 32) != QUANTIZED_BITS.get(
        b.vocab_storage.upper(), 32
    )
    # raw values at the same indices decide "unchanged" (equal up to a dtype cast); without
    # them only the Grams speak
    if blocks and (blocks["changed_matrices"] or blocks["unchanged_matrices"]):
        same_values = blocks["changed_matrices"] == 0
    else:  # no block compared, or every one sampled other (rearranged) rows
        same_values = mean_r >= REPACKAGED_R
    if same_values:
        seen = (
            f"{blocks['unchanged_matrices']} compared raw blocks equal up to a dtype cast"
            + (
                f", {blocks['rearranged_matrices']} with rows rearranged (Grams equal)"
                if blocks["rearranged_matrices"]
                else ""
            )
            if blocks and blocks["unchanged_matrices"]
            else f"matrix Grams equal (mean r {mean_r:.4f})"
        )
        if bits_a != bits_b or bits_differ:
            child = "a_is_child" if bits_a < bits_b else "b_is_child"
            reasons.append(f"same weights at lower precision: {seen}")
            return "repackaged", child, reasons
        reasons.append(f"same weights, rearranged or re-encoded: {seen}")
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
    if blocks:
        reasons.append(
            f"weights changed: {blocks['changed_matrices']} of {blocks['compared_matrices']} "
            "compared raw blocks differ beyond a dtype cast"
        )
    if bits_differ:
        # changed weights stored at lower precision: a fine-tune released after a cast down
        # (a fine-tune saved at higher precision than its parent reads reversed)
        low_a = QUANTIZED_BITS.get(a.vocab_storage.upper(), 32) < QUANTIZED_BITS.get(
            b.vocab_storage.upper(), 32
        )
        reasons.append("reduced precision: the child is stored at lower precision")
        return "finetune", "a_is_child" if low_a else "b_is_child", reasons
    return "finetune", "unknown", reasons
