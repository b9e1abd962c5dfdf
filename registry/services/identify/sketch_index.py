"""Storing sketches and finding candidates for a query sketch through banded LSH in SQL.

A sketch's 256-bit code is cut into 32 bands of 8 bits; each (band, value) is a row. Variants
sharing many bands with the query are fetched, ranked by Hamming distance on the whole code, and
only the closest few are compared in full. The index lives in the database, so every process
and both backends see the same one.

The code is a digest of the anchor rows *at fixed token ids*: a vocabulary trimmed and
renumbered puts other rows there, and the code of a trimmed model is as far from its parent's as
an unrelated model's. So the anchor rows are also indexed by content: each row's key (a SimHash
of the row, ``Sketch.row_keys``) is cut into ``ROW_KEY_CHUNKS`` chunks of 16 bits, stored as band
rows numbered from ``BANDS``. Variants sharing ``ROW_HITS`` chunks or more with the query (the
same rows under other ids) are candidates whatever their codes' distance.
"""

from __future__ import annotations

import base64
import binascii

import numpy as np
from sqlalchemy import func, insert, union_all
from sqlmodel import Session, col, select

from registry.db.models import SketchBand, VariantSketch
from registry.errors import SketchInvalid
from registry.weights.sketch import Sketch, hamming
from registry.weights.validation import nonfinite_part

BANDS = 32
CANDIDATE_POOL = 200  # band-matched variants ranked by Hamming distance
COMPARE_LIMIT = 12  # of those, compared in full
MAX_HAMMING = 110  # of 256 bits; independent models sit near 128
ROW_KEY_CHUNKS = 4  # 16-bit chunks of a 64-bit row key
# anchor-row key chunks shared with the query: a trimmed vocabulary shares dozens of rows (4
# chunks each) with its parent; unrelated rows collide on a 16-bit chunk once in 65,536 pairs
ROW_HITS = 16


def decode_sketch(encoded: str) -> tuple[Sketch, bytes]:
    """Parse a base64 sketch from the wire; raises :class:`SketchInvalid`."""
    try:
        blob = base64.b64decode(encoded, validate=True)
        sketch = Sketch.from_bytes(blob)
        if (part := nonfinite_part(sketch)) is not None:
            raise ValueError(f"{part} holds NaN or infinite values")
        return sketch, blob
    except (binascii.Error, ValueError) as exc:
        raise SketchInvalid(
            f"the sketch is not valid: {exc}",
            hint="compute it with this provreg version (`provreg register` or `identify`)",
        ) from None


def encode_sketch(sketch: Sketch) -> str:
    return base64.b64encode(sketch.to_bytes()).decode()


def bands_of(code: bytes) -> list[tuple[int, int]]:
    return [(i, int(b)) for i, b in enumerate(code[:BANDS])]


def row_bands(sketch: Sketch) -> list[tuple[int, int]]:
    """The anchor rows' key chunks as ``(BANDS + chunk, value)``, each once."""
    out: set[tuple[int, int]] = set()
    for keys in sketch.row_keys:
        chunks = keys.reshape(len(keys), -1)[:, : 2 * ROW_KEY_CHUNKS].astype(np.int64)
        for c in range(chunks.shape[1] // 2):
            values = (chunks[:, 2 * c] << 8) | chunks[:, 2 * c + 1]
            out.update((BANDS + c, int(v)) for v in values)
    return sorted(out)


def index_rows(sketch: Sketch) -> list[tuple[int, int]]:
    """Every ``(band, value)`` row a stored sketch has: its code's bands and its row keys'."""
    return bands_of(sketch.code) + row_bands(sketch)


def store_sketch(session: Session, variant_id: int, sketch: Sketch, blob: bytes) -> None:
    """Add the sketch and its band rows (the caller commits)."""
    session.add(
        VariantSketch(
            variant_id=variant_id,
            version=sketch.version,
            digest=sketch.digest(),
            code=sketch.code.hex(),
            residual=sketch.residual,
            vocab=sketch.vocab,
            data=blob,
        )
    )
    session.execute(
        insert(SketchBand),
        [{"band": b, "value": v, "variant_id": variant_id} for b, v in index_rows(sketch)],
    )


def load_sketch(session: Session, variant_id: int) -> Sketch | None:
    row = session.get(VariantSketch, variant_id)
    return Sketch.from_bytes(row.data) if row is not None else None


def load_sketches(session: Session, variant_ids: list[int]) -> dict[int, Sketch]:
    """The stored sketches of ``variant_ids`` in one query (ids without one are left out)."""
    if not variant_ids:
        return {}
    rows = session.exec(
        select(VariantSketch.variant_id, VariantSketch.data).where(
            col(VariantSketch.variant_id).in_(variant_ids)
        )
    ).all()
    return {vid: Sketch.from_bytes(data) for vid, data in rows}


def candidates(
    session: Session, code: bytes, *, exclude: set[int] | None = None, limit: int = COMPARE_LIMIT
) -> list[tuple[int, int]]:
    """``(variant_id, hamming)`` of the closest stored sketches, closest first."""
    # One index lookup per band, unioned: SQLite scans the whole table for a row-value IN list.
    matched = union_all(
        *(
            select(SketchBand.variant_id).where(SketchBand.band == b, SketchBand.value == v)
            for b, v in bands_of(code)
        )
    ).subquery()
    hits = func.count().label("hits")
    rows = session.execute(
        select(matched.c.variant_id, hits)
        .group_by(matched.c.variant_id)
        .order_by(hits.desc(), matched.c.variant_id)
        .limit(CANDIDATE_POOL)
    ).all()
    ids = [r[0] for r in rows if not exclude or r[0] not in exclude]
    if not ids:
        return []
    codes = session.exec(
        select(VariantSketch.variant_id, VariantSketch.code).where(
            col(VariantSketch.variant_id).in_(ids)
        )
    ).all()
    ranked = sorted(
        ((vid, hamming(code, bytes.fromhex(c))) for vid, c in codes), key=lambda t: (t[1], t[0])
    )
    return [(vid, d) for vid, d in ranked if d <= MAX_HAMMING][:limit]


def row_candidates(
    session: Session, sketch: Sketch, *, exclude: set[int] | None = None, limit: int = COMPARE_LIMIT
) -> list[int]:
    """Variants sharing ``ROW_HITS`` anchor-row key chunks or more with the query, most first:
    the same rows under other token ids (a trimmed, renumbered vocabulary)."""
    by_band: dict[int, list[int]] = {}
    for band, value in row_bands(sketch):
        by_band.setdefault(band, []).append(value)
    if not by_band:
        return []
    matched = union_all(
        *(
            select(SketchBand.variant_id).where(
                SketchBand.band == band, col(SketchBand.value).in_(values)
            )
            for band, values in sorted(by_band.items())
        )
    ).subquery()
    hits = func.count().label("hits")
    rows = session.execute(
        select(matched.c.variant_id, hits)
        .group_by(matched.c.variant_id)
        .having(func.count() >= ROW_HITS)
        .order_by(hits.desc(), matched.c.variant_id)
        .limit(CANDIDATE_POOL)
    ).all()
    return [int(r[0]) for r in rows if not exclude or r[0] not in exclude][:limit]
