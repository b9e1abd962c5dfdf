"""Wide matrices are sketched from a sample of their rows, and the sample still recognises them.

A matrix whose residual axis is its contiguous one must be read row by row; above GRAM_ROWS rows
the sketch reads runs of whole heads instead of every row. The models here have structured
weights (rows drawn from a shared low-rank basis, as trained layers are), so residual dimensions
correlate the same way whichever rows are summed.
"""

from __future__ import annotations

import numpy as np

from registry.weights.arrays import ArrayTensor
from registry.weights.compare import compare_sketches
from registry.weights.sketch import MAX_BLOCKS
from registry.weights.sketch_build import (
    GRAM_MIN_ROWS,
    GRAM_ROWS,
    GRAM_RUN,
    build_sketch,
    gram_rows,
)

VOCAB, HIDDEN, WIDE, LAYERS = 512, 64, 4 * GRAM_ROWS, 2


def _structured(rng: np.random.Generator, rows: int, basis: np.ndarray) -> np.ndarray:
    """Rows that mix a few shared directions, plus noise."""
    mix = rng.standard_normal((rows, basis.shape[0])).astype(np.float32)
    return mix @ basis + 0.3 * rng.standard_normal((rows, basis.shape[1])).astype(np.float32)


def _model(seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    out = {"model.embed_tokens.weight": rng.standard_normal((VOCAB, HIDDEN)).astype(np.float32)}
    for i in range(LAYERS):
        basis = rng.standard_normal((8, HIDDEN)).astype(np.float32)
        p = f"model.layers.{i}."
        out[p + "self_attn.q_proj.weight"] = _structured(rng, HIDDEN, basis)
        out[p + "mlp.up_proj.weight"] = _structured(rng, WIDE, basis)
        out[p + "mlp.down_proj.weight"] = _structured(rng, WIDE, basis).T.copy()
    return out


class _Recorded(ArrayTensor):
    """Remembers every row it was asked for."""

    touched: set[int]

    def read_columns(self, index: np.ndarray, rows: np.ndarray | None = None) -> np.ndarray:
        self.touched.update(range(self.shape[0]) if rows is None else (int(r) for r in rows))
        return super().read_columns(index, rows)


def _tensors(model: dict[str, np.ndarray]) -> list[ArrayTensor]:
    out = []
    for name, array in model.items():
        t = _Recorded(name, tuple(array.shape), "F32", lambda a=array: a)
        t.touched = set()
        out.append(t)
    return out


def test_gram_rows_are_whole_aligned_runs_spread_over_the_matrix() -> None:
    assert gram_rows(GRAM_ROWS) is None
    rows = gram_rows(11008)
    assert rows is not None and rows.size == GRAM_ROWS and np.all(np.diff(rows) > 0)
    starts = rows[::GRAM_RUN]
    assert np.all(starts % GRAM_RUN == 0) and starts[0] == 0
    assert starts[-1] + GRAM_RUN <= 11008 and starts[-1] >= 11008 - 2 * GRAM_RUN
    assert np.array_equal(
        rows.reshape(-1, GRAM_RUN) - starts[:, None], np.tile(np.arange(128), (8, 1))
    )


def test_matrices_under_four_budgets_give_a_quarter_of_their_rows_but_never_too_few() -> None:
    """A 2,048-row square projection gives 512 rows, not half of itself."""
    sizes = {n: gram_rows(n) for n in (GRAM_ROWS + 1, 2048, 3000, 4 * GRAM_ROWS, 5632)}
    counts = {n: (rows.size if rows is not None else n) for n, rows in sizes.items()}
    assert counts == {GRAM_ROWS + 1: GRAM_MIN_ROWS, 2048: 512, 3000: 640, 4096: 1024, 5632: 1024}
    for n, rows in sizes.items():
        assert rows is not None and rows.size % GRAM_RUN == 0 and rows[-1] < n


def test_wide_matrices_are_read_in_part_and_still_recognised_after_permutation() -> None:
    parent = _model(seed=1)
    tensors = _tensors(parent)
    sketch = build_sketch(tensors)
    up = next(t for t in tensors if t.name.endswith("up_proj.weight"))
    assert len(up.touched) == GRAM_ROWS  # a quarter of its rows

    # the hidden units of every MLP shuffled: other rows land in the sample
    rng = np.random.default_rng(5)
    child = dict(parent)
    for i in range(LAYERS):
        p = f"model.layers.{i}.mlp."
        order = rng.permutation(WIDE)
        child[p + "up_proj.weight"] = parent[p + "up_proj.weight"][order]
        child[p + "down_proj.weight"] = parent[p + "down_proj.weight"][:, order]
    permuted = compare_sketches(build_sketch(_tensors(child)), sketch)
    assert permuted.verdict == "derived", permuted.evidence
    assert permuted.evidence["matched_records"] == len(sketch.records)  # the sampled ones too
    independent = compare_sketches(build_sketch(_tensors(_model(seed=2))), sketch)
    assert independent.verdict == "unrelated", independent.evidence


def test_deep_models_keep_raw_blocks_on_a_bounded_spread_of_records() -> None:
    """Past MAX_BLOCKS records only that many keep a raw block, and they still tell a rank-1
    edit (abliteration-like) from other changes."""
    rng = np.random.default_rng(3)
    parent = {"model.embed_tokens.weight": rng.standard_normal((VOCAB, HIDDEN)).astype(np.float32)}
    for i in range(60):  # 3 records a layer: 180 records
        basis = rng.standard_normal((8, HIDDEN)).astype(np.float32)
        p = f"model.layers.{i}."
        parent[p + "self_attn.q_proj.weight"] = _structured(rng, 2 * HIDDEN, basis)
        parent[p + "mlp.up_proj.weight"] = _structured(rng, 3 * HIDDEN, basis)
        parent[p + "mlp.down_proj.weight"] = _structured(rng, 3 * HIDDEN, basis).T.copy()
    sketch = build_sketch(_tensors(parent))
    assert len(sketch.records) == 180
    assert sum(r.block is not None for r in sketch.records) == MAX_BLOCKS
    assert sketch.records[0].block is not None and sketch.records[-1].block is not None

    direction = rng.standard_normal(HIDDEN).astype(np.float32)
    direction /= np.linalg.norm(direction)
    edited = {}
    for name, w in parent.items():
        if name.endswith("down_proj.weight"):  # writes to the residual stream: project it out
            w = w - np.outer(direction, direction @ w)
        edited[name] = w
    result = compare_sketches(build_sketch(_tensors(edited)), sketch)
    assert (result.verdict, result.relation) == ("derived", "finetune"), result.evidence
    assert "rank-1" in " ".join(result.evidence["reasons"])
    assert result.evidence["compared_matrices"] <= MAX_BLOCKS
