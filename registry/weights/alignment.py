"""Aligning two sketches: residual dimensions by their anchor signatures, records by Gram
correlation, and layers by an order-keeping one-to-one alignment that tolerates dropped,
repeated and unnamed layers.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import numpy as np

from registry.weights.sketch import MatrixRecord, Sketch


def _linear_assignment(cost: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Linear assignment minimising ``cost``; scipy loads here, on the first comparison only
    (importing it costs a command that compares nothing a second)."""
    from scipy.optimize import linear_sum_assignment

    rows, cols = linear_sum_assignment(cost)
    return rows, cols


SIGNATURE_MATCH = 0.6  # anchor signatures this close identify a residual dimension...
# ...if no other dimension comes this close to it: an output head's columns can all share one
# direction (the tokens' frequencies), which makes every pairing look alike
SIGNATURE_MARGIN = 0.1
ROW_KEY_DISTANCE = 4  # of 64 bits: the same row, up to rounding or a light fine-tune
ROWS_MATCHED = 16  # anchor rows found again by content before dimensions are compared
CHAIN_THRESHOLD = 0.3  # a record pair adds to a layer alignment only beyond this correlation


def _unit(x: np.ndarray) -> np.ndarray:
    x = x.astype(np.float32)
    n = np.linalg.norm(x, axis=-1, keepdims=True)
    return x / np.where(n > 0, n, 1.0)


def _deflate(signatures: np.ndarray) -> np.ndarray:
    """Unit signatures without the direction over anchors they all share (a mean offset, or the
    tokens' frequencies in an output head), which would make every dimension look alike.
    Sign flips and permutations of residual dimensions leave that direction unchanged."""
    x = _unit(signatures)
    if x.shape[0] < 2:
        return x
    top = np.linalg.svd(x, full_matrices=False)[2][0]
    return _unit(x - np.outer(x @ top, top))


def matched_rows(a: Sketch, b: Sketch) -> tuple[int, int, np.ndarray, np.ndarray] | None:
    """Anchor rows of ``a`` found again in ``b`` by content, when the token ids differ (a
    trimmed, renumbered vocabulary): ``(matrix of a, matrix of b, rows of a, rows of b)`` for
    the pairing of vocabulary matrices that finds the most, or None under ROWS_MATCHED."""
    best: tuple[int, int, np.ndarray, np.ndarray] | None = None
    for i, ka in enumerate(a.row_keys):
        for j, kb in enumerate(b.row_keys):
            bits = np.unpackbits(ka[:, None, :] ^ kb[None, :, :], axis=2).sum(axis=2)
            near, back = bits.argmin(axis=1), bits.argmin(axis=0)
            ra = np.flatnonzero(
                (bits.min(axis=1) <= ROW_KEY_DISTANCE) & (back[near] == np.arange(len(ka)))
            )
            if len(ra) >= ROWS_MATCHED and (best is None or len(ra) > len(best[2])):
                best = (i, j, ra, near[ra])
    return best


def _by_content(a: Sketch, b: Sketch) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Residual dims kept by both (same indices: rows matched by raw content are not permuted),
    checked on the matched rows' signatures."""
    empty = np.zeros(0, dtype=np.int64)
    found = matched_rows(a, b)
    if found is None or a.residual != b.residual:
        return empty, empty, np.zeros(0), np.zeros(0)
    i, j, ra, rb = found
    _, ia, ib = np.intersect1d(a.dims, b.dims, return_indices=True)
    sa = _unit(a.all_signatures()[i][ia][:, ra])
    sb = _unit(b.all_signatures()[j][ib][:, rb])
    c = (sa * sb).sum(axis=1)
    keep = c >= SIGNATURE_MATCH
    return ia[keep], ib[keep], np.ones(int(keep.sum())), c[keep]


def align_residual(a: Sketch, b: Sketch) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Matched residual dims ``(ia, ib)``, relative signs and signature cosines (kept pairs)."""
    if a.anchors.shape != b.anchors.shape or not np.array_equal(a.anchors, b.anchors):
        return _by_content(a, b)
    best: tuple[float, np.ndarray, np.ndarray, np.ndarray] | None = None
    # each vocabulary matrix of one model against each of the other's: which one a name (or
    # storage order) made the embedding must not matter
    for sa in map(_deflate, a.all_signatures()):
        for sb in map(_deflate, b.all_signatures()):
            cos = sa @ sb.T
            ia, ib = _linear_assignment(-np.abs(cos))
            c = cos[ia, ib]
            runner_up = (
                np.sort(np.abs(cos), axis=1)[:, -2] if cos.shape[1] > 1 else np.zeros(len(cos))
            )
            keep = (np.abs(c) >= SIGNATURE_MATCH) & (np.abs(c) - runner_up[ia] >= SIGNATURE_MARGIN)
            total = float(np.abs(c[keep]).sum())
            if best is None or total > best[0]:
                best = (total, ia[keep], ib[keep], c[keep])
    assert best is not None
    _, ia, ib, c = best
    return ia, ib, np.sign(c), c


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


def _group_by(keys: list[Any]) -> list[list[int]]:
    by_key: dict[Any, list[int]] = defaultdict(list)
    order: list[Any] = []
    for i, key in enumerate(keys):
        key = key if key is not None else ("solo", i)
        if key not in by_key:
            order.append(key)
        by_key[key].append(i)
    return [by_key[k] for k in order]


def named(records: list[MatrixRecord]) -> bool:
    """Whether most records carry a layer number in their tensor name."""
    return sum(r.layer is not None for r in records) >= len(records) / 2


def groups(records: list[MatrixRecord]) -> list[list[int]]:
    """Records grouped into layers by the layer number in their names (one group each without)."""
    return _group_by([r.layer for r in records])


def _group_match(r: np.ndarray, ga: list[int], gb: list[int]) -> list[tuple[int, int, float]]:
    sub = r[ga][:, gb]
    if not sub.any():  # nothing correlated: any assignment scores 0
        return []

    rows, cols = _linear_assignment(-sub)
    return [(ga[x], gb[y], float(sub[x, y])) for x, y in zip(rows, cols, strict=True)]


def align_depth(r: np.ndarray, a: Sketch, b: Sketch) -> list[tuple[int, int, float]]:
    """Record pairs along the best alignment of layers, or of records by content.

    When both models name their layers, local alignment (Smith-Waterman without gap costs) over
    layer groups: a layer pair adds each matched record's similarity beyond CHAIN_THRESHOLD, so
    dropped or repeated layers become gaps and layers that merely resemble each other (a
    model's layers share its residual structure) never beat the true diagonal. When either
    side's names carry no layer (``onnx::MatMul_387``, ``w0012``), storage order means
    nothing (exporters, optimizers and safetensors' sorted keys reorder tensors), so records
    are matched one to one by assignment on their correlations alone.
    """
    if not named(a.records) or not named(b.records):
        return _assign(r)
    return _aligngroups(r, groups(a.records), groups(b.records))[1]


def _assign(r: np.ndarray) -> list[tuple[int, int, float]]:
    if not r.size or not r.any():
        return []
    rows, cols = _linear_assignment(-r)
    return [
        (int(x), int(y), float(r[x, y])) for x, y in zip(rows, cols, strict=True) if r[x, y] > 0
    ]


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
