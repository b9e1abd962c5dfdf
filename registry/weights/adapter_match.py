"""An adapter against models: does it fit a base, and is a model that base with it merged in?

* :func:`base_mismatches` checks an adapter's target modules against a base's tensor names and
  shapes (``q_proj`` with lora_A r x 64 and lora_B 32 x r needs a 32 x 64 matrix of that name).
* :func:`merged_fit` tells whether ``query = base + scale * B @ A``: the change from the base's
  raw blocks to the query's, on every compared matrix, against the adapter's delta at the same
  indices. Matrices the adapter does not touch must not have changed either, so a fine-tune
  of the base, or the base merged with another adapter, leaves a large residual.
"""

from __future__ import annotations

import math
import re
from typing import Any

import numpy as np

from registry.weights.adapter import AdapterSketch, AdapterTarget
from registry.weights.sketch import Sketch

# the query's change left unexplained once the adapter's delta is taken off, relative to that
# delta; the same adapter measures 0.01-0.05 (float16 rounding of the raw blocks), another
# adapter on the same base 0.8 and more (see BENCHMARKS.md)
MERGED_FIT = 0.3
MERGED_COSINE = 0.95  # the change and the delta point the same way
MERGED_PLACED = 0.8  # of the adapter's targets, this share lands on compared matrices
_PREFIXES = re.compile(r"^(?:base_model\.model\.|model\.|transformer\.|language_model\.)+")


def _key(name: str) -> str:
    name = name.removesuffix(".weight")
    return _PREFIXES.sub("", name)


def base_mismatches(adapter: AdapterSketch, tensors: dict[str, tuple[int, ...]]) -> list[str]:
    """Why the adapter cannot apply to a base with these tensors (name -> shape); empty when
    every target module is a matrix of the base with the adapter's shape. A base whose names
    share nothing with the adapter's (GGUF names) is checked on shapes alone."""
    by_key = {_key(n): tuple(s) for n, s in tensors.items() if len(s) == 2}
    found = [t for t in adapter.targets if _key(t.module) in by_key]
    problems: list[str] = []
    if not found:
        shapes = set(by_key.values()) | {s[::-1] for s in by_key.values()}
        missing = sorted(
            {f"{t.rows}x{t.cols}" for t in adapter.targets} - {f"{r}x{c}" for r, c in shapes}
        )
        if missing:
            names = sorted({t.module.rsplit(".", 1)[-1] for t in adapter.targets})
            problems.append(
                f"none of the adapter's target modules ({', '.join(names)}) is a matrix of the "
                f"base, and it has no matrix of shape {', '.join(missing)}"
            )
        return problems
    for t in adapter.targets:
        shape = by_key.get(_key(t.module))
        if shape is None:
            problems.append(f"{t.module}: no such matrix in the base")
        elif shape != (t.rows, t.cols):
            problems.append(
                f"{t.module}: the adapter's delta is {t.rows}x{t.cols} (rank {t.rank}), the "
                f"base's matrix is {shape[0]}x{shape[1]}"
            )
    return problems


def _reading(t: AdapterTarget, residual: int) -> tuple[np.ndarray, int] | None:
    """The target's delta block as a model sketch with this residual width records it, and the
    width of the matrix's other axis; None when neither axis is the residual stream."""
    if t.cols == residual and t.by_cols is not None:
        return t.by_cols, t.rows
    if t.rows == residual and t.by_rows is not None:
        return t.by_rows, t.cols
    return None


def _assign(gain: np.ndarray) -> list[tuple[int, int]]:
    from scipy.optimize import linear_sum_assignment

    rows, cols = linear_sum_assignment(-gain)
    return [(int(r), int(c)) for r, c in zip(rows, cols, strict=True) if gain[r, c] > -np.inf]


def merged_fit(adapter: AdapterSketch, base: Sketch, query: Sketch) -> dict[str, Any] | None:
    """Evidence that ``query`` is ``base`` with the adapter merged in, or None when the sketches
    cannot be compared that way (other layouts, DoRA, no target on a compared matrix). The
    evidence's ``fits`` says whether it is."""
    if adapter.dora or len(base.records) != len(query.records) or base.residual != query.residual:
        return None
    deltas: dict[int, np.ndarray] = {}
    for j, (rb, rq) in enumerate(zip(base.records, query.records, strict=True)):
        if rb.other != rq.other or rb.layer != rq.layer:
            return None
        if rb.block is not None and rq.block is not None and rb.block.shape == rq.block.shape:
            deltas[j] = rq.block.astype(np.float32) - rb.block.astype(np.float32)
    readings = [_reading(t, base.residual) for t in adapter.targets]
    by_layer: dict[int | None, tuple[list[int], list[int]]] = {}
    for i, (t, reading) in enumerate(zip(adapter.targets, readings, strict=True)):
        if reading is not None:
            by_layer.setdefault(t.layer, ([], []))[0].append(i)
    for j in deltas:
        by_layer.setdefault(base.records[j].layer, ([], []))[1].append(j)
    placed: dict[int, np.ndarray] = {}
    for targets, records in by_layer.values():
        if not targets or not records:
            continue
        gain = np.full((len(targets), len(records)), -np.inf)
        for x, i in enumerate(targets):
            block, other = readings[i]  # type: ignore[misc]
            for y, j in enumerate(records):
                d = deltas[j]
                if base.records[j].other == other and d.shape == block.shape:
                    gain[x, y] = float((d * d).sum() - ((d - block) ** 2).sum())
        for x, y in _assign(gain):
            placed[records[y]] = readings[targets[x]][0]  # type: ignore[index]
    if not placed or len(placed) < MERGED_PLACED * len(adapter.targets):
        return None
    change = np.concatenate([deltas[j].ravel() for j in sorted(deltas)])
    expected = np.concatenate(
        [placed.get(j, np.zeros_like(deltas[j])).ravel() for j in sorted(deltas)]
    )
    signal = float(np.linalg.norm(expected))
    if signal == 0:
        return None
    residual = float(np.linalg.norm(change - expected)) / signal
    norm = float(np.linalg.norm(change))
    cosine = float(change @ expected) / (signal * norm) if norm > 0 else 0.0
    fits = residual <= MERGED_FIT and cosine >= MERGED_COSINE
    return {
        "fits": fits,
        "residual": round(residual, 4) if math.isfinite(residual) else None,
        "cosine": round(cosine, 4),
        "matrices": len(placed),
        "targets": len(adapter.targets),
    }
