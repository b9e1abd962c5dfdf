"""Aligning two sketches: residual dimensions by their anchor signatures, records by Gram
correlation, and layers by an order-keeping one-to-one alignment that tolerates dropped,
repeated and unnamed layers.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import numpy as np

from registry.weights.sketch import MatrixRecord, Sketch

SIGNATURE_MATCH = 0.6  # anchor signatures this close identify a residual dimension
CHAIN_THRESHOLD = 0.3  # a record pair adds to a layer alignment only beyond this correlation


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
    from scipy.optimize import linear_sum_assignment  # imported where used

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
    grams = [g for rec in sketch.records for g in rec.grams]
    owner = [n for n, rec in enumerate(sketch.records) for _ in rec.grams]
    if not grams:
        return np.zeros((0, entries.size), np.float32), owner
    v = np.stack(grams)[:, entries].astype(np.float32) / 127.0
    if flip is not None:
        v *= flip
    v -= v.mean(axis=1, keepdims=True)
    sd = v.std(axis=1, keepdims=True)
    return v / np.where(sd > 0, sd, 1.0), owner


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
    # Each record has one or two readings; lay the readings out as (reading of a, reading of
    # b) planes over record pairs and take the best plane, the first one on ties.
    planes = np.full((2, 2, *shape), -np.inf, dtype=np.float32)
    owner_a, reading_a = np.asarray(oa), _reading_numbers(oa)
    owner_b, reading_b = np.asarray(ob), _reading_numbers(ob)
    planes[reading_a[:, None], reading_b[None, :], owner_a[:, None], owner_b[None, :]] = views
    flat = planes.reshape(4, *shape)
    best = flat.argmax(axis=0)
    top = np.take_along_axis(flat, best[None], axis=0)[0]
    positive = top > 0
    r[positive] = top[positive]
    same[positive] = (best[positive] == 0) | (best[positive] == 3)
    return r, same, n


def _reading_numbers(owners: list[int]) -> np.ndarray:
    """0 for a record's first reading, 1 for its second (owners come grouped, in order)."""
    out = np.zeros(len(owners), dtype=np.int64)
    for i in range(1, len(owners)):
        if owners[i] == owners[i - 1]:
            out[i] = out[i - 1] + 1
    return out


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


def groups(records: list[MatrixRecord]) -> list[list[int]]:
    return _groupings(records)[0]


def _group_match(r: np.ndarray, ga: list[int], gb: list[int]) -> list[tuple[int, int, float]]:
    sub = r[ga][:, gb]
    if not sub.any():  # nothing correlated: any assignment scores 0
        return []
    from scipy.optimize import linear_sum_assignment  # imported where used

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
            total, pairs = _aligngroups(r, ga, gb)
            if total > best[0]:
                best = (total, pairs)
    return best[1]


def _aligngroups(
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
