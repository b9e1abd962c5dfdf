"""Accuracy of identification over a zoo, and the null distribution over independent pairs.

Used by ``benchmarks.identify_zoo``: registers a zoo in a fresh SQLite database with
``scripts.zoo.evaluate.register_zoo``, identifies every model with ``identify_zoo`` and scores
it per transformation and per derivative->parent pair; then compares every ordered pair of
models the manifest calls unrelated with ``compare_sketches`` to count false positives and
record the evidence those independent pairs produce.
"""

from __future__ import annotations

import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from sqlmodel import Session

from registry.db import make_engine, upgrade_database
from registry.weights.compare import (
    MATCH_R,
    NULL_SCALE,
    STRONG_LOG10_P,
    align_residual,
    compare_sketches,
    record_correlations,
)
from registry.weights.sketch import Sketch
from schemas import WeightsFingerprint
from scripts.zoo.evaluate import QueryOutcome, identify_zoo, register_zoo, summarize
from scripts.zoo.truth import expected_verdict, load_manifest

# transformations outside what the sketch claims to survive (a dense rotation of the residual
# stream is recognised since the sketch keeps views through the anchor embeddings)
OUT_OF_SCOPE: frozenset[str] = frozenset()

Prints = dict[str, tuple[WeightsFingerprint, Sketch]]


@dataclass
class PairStats:
    """Derivative->parent pairs, each parent scored on its own."""

    pairs: int = 0
    found: int = 0
    missed: list[str] = field(default_factory=list)


@dataclass
class NullStats:
    """Every ordered pair of models from independently trained families, compared."""

    pairs: int = 0
    same_architecture: int = 0
    false_positives: list[str] = field(default_factory=list)
    signature_cosine: list[float] = field(default_factory=list)
    log10_p: list[float] = field(default_factory=list)
    log10_p_layers: list[float] = field(default_factory=list)
    log10_p_embeddings: list[float] = field(default_factory=list)
    coverage: list[float] = field(default_factory=list)
    same_arch_flags: list[bool] = field(default_factory=list)
    aligned_dims: list[int] = field(default_factory=list)
    # every record pair's correlation scaled as the null model does: r * sqrt(n)
    record_z: list[np.ndarray] = field(default_factory=list)
    record_r_max: list[float] = field(default_factory=list)
    seconds: float = 0.0


@dataclass
class ZooAccuracy:
    name: str
    models: int
    outcomes: list[QueryOutcome]
    summary: dict[str, Any]
    pairs_in_scope: PairStats
    pairs_all: PairStats
    null: NullStats
    prints: Prints
    register_s: float
    identify_s: float


def _pair_stats(outcomes: list[QueryOutcome], *, in_scope_only: bool) -> PairStats:
    stats = PairStats()
    for o in outcomes:
        if in_scope_only and o.transformation in OUT_OF_SCOPE:
            continue
        by_name = {m["name"]: m for m in o.matches}
        for p in o.parents:
            stats.pairs += 1
            if by_name.get(p["id"], {}).get("verdict") in ("derived", "identical"):
                stats.found += 1
            else:
                got = by_name.get(p["id"], {}).get("verdict", "not returned")
                stats.missed.append(f"{o.id} -> {p['id']} ({got})")
    return stats


def null_pairs(manifest: list[dict], prints: Prints) -> NullStats:
    """Compare every ordered pair the manifest calls unrelated, in both directions."""
    stats = NullStats()
    arch = {e["id"]: e.get("architecture") for e in manifest}
    ids = [e["id"] for e in manifest]
    t0 = time.perf_counter()
    for a in ids:
        for b in ids:
            if a == b or expected_verdict(manifest, a, b)[0] != "unrelated":
                continue
            c = compare_sketches(prints[a][1], prints[b][1])
            stats.pairs += 1
            stats.same_architecture += int(arch[a] == arch[b])
            if c.verdict != "unrelated":
                stats.false_positives.append(f"{a} vs {b}: {c.verdict}")
            ev = c.evidence
            stats.signature_cosine.append(float(ev.get("signature_cosine", 0.0)))
            stats.log10_p.append(float(c.log10_p))
            stats.log10_p_layers.append(float(ev.get("log10_p_layers", 0.0)))
            stats.log10_p_embeddings.append(float(ev.get("log10_p_embeddings", 0.0)))
            stats.coverage.append(float(ev.get("coverage", 0.0)))
            stats.same_arch_flags.append(arch[a] == arch[b])
            sa, sb = prints[a][1], prints[b][1]
            ia, ib, signs, _ = align_residual(sa, sb)
            stats.aligned_dims.append(int(ia.size))
            if ia.size >= 8:
                r, _, n = record_correlations(sa, sb, ia, ib, signs)
                if n >= 3 and r.size:
                    stats.record_z.append(r.ravel() * np.sqrt(n))
                    stats.record_r_max.append(float(r.max()))
    stats.seconds = time.perf_counter() - t0
    return stats


def evaluate_zoo(name: str, root: Path) -> ZooAccuracy:
    """Register, identify and score one zoo on a fresh SQLite database."""
    manifest = load_manifest(root)
    with tempfile.TemporaryDirectory(prefix="provreg-identify-") as tmp:
        engine = make_engine(url=f"sqlite:///{Path(tmp) / 'zoo.db'}")
        upgrade_database(engine)
        try:
            with Session(engine) as session:
                t0 = time.perf_counter()
                prints = register_zoo(session, root)
                session.commit()
                t1 = time.perf_counter()
                outcomes = identify_zoo(session, root, prints)
                t2 = time.perf_counter()
        finally:
            engine.dispose()
    return ZooAccuracy(
        name=name,
        models=len(manifest),
        outcomes=outcomes,
        summary=summarize(outcomes),
        pairs_in_scope=_pair_stats(outcomes, in_scope_only=True),
        pairs_all=_pair_stats(outcomes, in_scope_only=False),
        null=null_pairs(manifest, prints),
        prints=prints,
        register_s=t1 - t0,
        identify_s=t2 - t1,
    )


def ratio(num: int, den: int) -> float | None:
    return num / den if den else None


def fmt_ratio(num: int, den: int) -> str:
    return "-" if not den else f"{num / den:.3f} ({num}/{den})"


def per_transformation_rows(results: list[ZooAccuracy]) -> list[list[object]]:
    """One row per transformation over all zoos, out-of-scope rows flagged."""
    per: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for res in results:
        for t, row in res.summary["per_transformation"].items():
            for k, v in row.items():
                per[t][k] += v
    rows = []
    for t in sorted(per, key=lambda k: (k in OUT_OF_SCOPE, k)):
        r = per[t]
        label = f"{t} (outside the sketch's claim)" if t in OUT_OF_SCOPE else t
        rows.append(
            [
                label,
                r["queries"],
                fmt_ratio(r["found"], r["with_parent"]),
                fmt_ratio(r["relation_ok"], r["relation_checked"]),
                fmt_ratio(r["direction_ok"], r["direction_checked"]),
                r["false_positives"],
            ]
        )
    return rows


def totals(results: list[ZooAccuracy], *, in_scope_only: bool) -> dict[str, int]:
    out: dict[str, int] = defaultdict(int)
    for res in results:
        for t, row in res.summary["per_transformation"].items():
            if in_scope_only and t in OUT_OF_SCOPE:
                continue
            for k, v in row.items():
                out[k] += v
    return out


def null_summary(stats: list[NullStats], *, same_architecture: bool = False) -> dict[str, float]:
    """Extremes of the evidence over independent pairs (optionally same architecture only)."""

    def pick(attr: str) -> np.ndarray:
        parts = []
        for s in stats:
            v = np.asarray(getattr(s, attr), dtype=float)
            keep = np.asarray(s.same_arch_flags, dtype=bool)
            parts.append(v[keep] if same_architecture else v)
        return np.concatenate(parts)

    cos, lp = pick("signature_cosine"), pick("log10_p")
    lpl, lpe = pick("log10_p_layers"), pick("log10_p_embeddings")
    dims = pick("aligned_dims")
    z = (
        np.concatenate([z for s in stats for z in s.record_z])
        if any(s.record_z for s in stats)
        else np.zeros(1)
    )
    rmax = [x for s in stats for x in s.record_r_max]
    return {
        "pairs": int(cos.size),
        "aligned_dims_max": int(dims.max()) if dims.size else 0,
        "pairs_with_8_aligned_dims": int((dims >= 8).sum()),
        "record_pairs": int(z.size if rmax else 0),
        "record_z_sd": float(z.std()) if rmax else 0.0,
        "record_z_max": float(z.max()) if rmax else 0.0,
        "record_r_max": float(max(rmax)) if rmax else 0.0,
        "null_scale": NULL_SCALE,
        "match_r": MATCH_R,
        "log10_p_max": float(lp.max()),
        "cos_max": float(cos.max()),
        "cos_p99": float(np.percentile(cos, 99)),
        "cos_median": float(np.median(cos)),
        "log10_p_min_over_pairs": float(lp.min()),
        "log10_p_p01": float(np.percentile(lp, 1)),
        "log10_p_layers_min": float(lpl.min()),
        "log10_p_embeddings_min": float(lpe.min()),
        "threshold": STRONG_LOG10_P,
    }
