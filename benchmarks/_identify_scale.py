"""Identify latency with 10k..1M stored sketches, on SQLite and PostgreSQL.

Used by ``benchmarks.identify_zoo``. A database freshly migrated to head gets the zoo's
non-leaf models registered through the real service (sketches, bands and declared lineage),
then filler variants bulk-loaded straight into ``variant``, ``variant_sketch`` and
``sketch_band`` (SQLite ``executemany`` in big batches, PostgreSQL ``COPY``) until the table
holds N sketches, then ``ANALYZE`` (``VACUUM ANALYZE`` on PostgreSQL, as autovacuum would).
Filler sketches are real: sketches of distinct random Llama-shaped models (hidden 64-128,
4 layers), drawn from a pool; each filler row carries its own random 256-bit code in
``variant_sketch.code`` and in its 32 ``sketch_band`` rows, so the index sees N distinct codes
even where the pool's bytes repeat. The zoo's leaf derivatives are the queries, through
``registry.services.identify.identify`` end to end.
"""

from __future__ import annotations

import base64
import hashlib
import sqlite3
import statistics
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from sqlalchemy import Engine, make_url
from sqlmodel import Session, select

from benchmarks._postgres import fresh_postgresql, pg_plain
from registry.db import make_engine, upgrade_database
from registry.db.models import Namespace, Variant
from registry.services.identify.compare import identify
from registry.services.identify.sketch_index import BANDS, candidates
from registry.services.variants.register import register_variant
from registry.weights.arrays import ArrayTensor
from registry.weights.sketch import SKETCH_VERSION, Sketch
from registry.weights.sketch_build import build_sketch
from schemas import DeclaredParent, IdentifyQuery, VariantCreate
from scripts.zoo.evaluate import RELATIONS, _topological, zoo_name

from ._identify_accuracy import OUT_OF_SCOPE, Prints

BATCH = 20_000
FILLER_NAMESPACE = "filler"


# --- the filler pool ----------------------------------------------------------------------


def _random_llama(rng: np.random.Generator, hidden: int, layers: int, vocab: int) -> list:
    inter = hidden * 8 // 3
    t = [ArrayTensor.of("model.embed_tokens.weight", rng.standard_normal((vocab, hidden)))]
    for i in range(layers):
        p = f"model.layers.{i}."
        for name, shape in (
            ("self_attn.q_proj", (hidden, hidden)),
            ("self_attn.k_proj", (hidden // 2, hidden)),
            ("self_attn.v_proj", (hidden // 2, hidden)),
            ("self_attn.o_proj", (hidden, hidden)),
            ("mlp.gate_proj", (inter, hidden)),
            ("mlp.up_proj", (inter, hidden)),
            ("mlp.down_proj", (hidden, inter)),
        ):
            w = (rng.standard_normal(shape) * 0.02).astype(np.float32)
            t.append(ArrayTensor.of(p + name + ".weight", w))
    return t


# vocabularies whose anchor ids are those of the zoo's sketches, so comparisons with filler do
# the full work (residual alignment, record correlations) instead of stopping at the anchors
POOL_VOCABS = (600, 704, 1024, 1500)


def sketch_pool(
    count: int,
    seed: int = 1234,
    *,
    layers: int = 4,
    vocabs: tuple[int, ...] = POOL_VOCABS,
    hiddens: tuple[int, ...] = (64, 96, 128),
) -> list[tuple[bytes, int, int]]:
    """``count`` sketches of distinct random models: (bytes, residual, vocab)."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(count):
        hidden = int(rng.choice(hiddens))
        vocab = int(rng.choice(vocabs))
        s = build_sketch(_random_llama(rng, hidden, layers, vocab))
        out.append((s.to_bytes(), s.residual, s.vocab))
    return out


# --- the zoo part -------------------------------------------------------------------------


def leaf_queries(manifest: list[dict]) -> list[dict]:
    """Zoo derivatives nobody derives from, whose parents are all derivation parents."""
    parents_of_someone = {p["id"] for e in manifest for p in e["parents"]}
    out = []
    for e in manifest:
        parents = [p for p in e["parents"] if p["relation"] in RELATIONS]
        if e["id"] in parents_of_someone or not parents or e["transformation"] in OUT_OF_SCOPE:
            continue
        out.append(e)
    return out


def register_non_leaves(session: Session, manifest: list[dict], prints: Prints) -> int:
    """Register every zoo model that is not a query, parents first; returns how many."""
    leaves = {e["id"] for e in leaf_queries(manifest)}
    count = 0
    for e in _topological(manifest):
        if e["id"] in leaves:
            continue
        parents = [
            DeclaredParent(name=zoo_name(p["id"]), relation=p["relation"])
            for p in e["parents"]
            if p["relation"] in RELATIONS
        ]
        fp = prints[e["id"]][0]
        register_variant(
            session, VariantCreate(name=zoo_name(e["id"]), fingerprint=fp, parents=parents)
        )
        count += 1
    session.commit()
    return count


# --- bulk filler --------------------------------------------------------------------------


def _filler_rows(
    start_id: int, count: int, pool: list[tuple[bytes, int, int]], seed: int
) -> Iterator[tuple[list[tuple], list[tuple], list[tuple]]]:
    """Batches of (variant rows, variant_sketch rows, sketch_band rows) without timestamps."""
    rng = np.random.default_rng(seed)
    pool_digest = ["sha256:" + hashlib.sha256(b).hexdigest() for b, _, _ in pool]
    for lo in range(0, count, BATCH):
        n = min(BATCH, count - lo)
        codes = rng.integers(0, 256, size=(n, 32), dtype=np.uint8)
        picks = rng.integers(0, len(pool), size=n)
        digests = rng.bytes(32 * n).hex()
        variants, sketches, bands = [], [], []
        for k in range(n):
            vid = start_id + lo + k
            blob, residual, vocab = pool[int(picks[k])]
            variants.append((vid, f"m{vid:08d}", "sha256:" + digests[64 * k : 64 * k + 64]))
            code = codes[k]
            sketches.append(
                (vid, SKETCH_VERSION, pool_digest[int(picks[k])], code.tobytes().hex(),
                 residual, vocab, blob)
            )  # fmt: skip
            bands.extend((b, int(code[b]), vid) for b in range(BANDS))
        bands.sort()
        yield variants, sketches, bands


def load_filler_sqlite(
    url: str, start_id: int, count: int, namespace_id: int, pool: list, seed: int
) -> float:
    path = make_url(url).database
    assert path
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    conn = sqlite3.connect(path, isolation_level=None)
    t0 = time.perf_counter()
    conn.execute("PRAGMA synchronous=OFF")
    conn.execute("PRAGMA cache_size=-1048576")
    conn.execute("BEGIN")
    for variants, sketches, bands in _filler_rows(start_id, count, pool, seed):
        conn.executemany(
            "INSERT INTO variant (id, namespace_id, name, revision, digest, format, created_at,"
            " updated_at) VALUES (?, ?, ?, 'main', ?, 'safetensors', ?, ?)",
            [(v, namespace_id, f"{FILLER_NAMESPACE}/{n}", d, stamp, stamp) for v, n, d in variants],
        )
        conn.executemany(
            "INSERT INTO variant_sketch (variant_id, version, digest, code, residual, vocab, data,"
            " created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [(*s, stamp) for s in sketches],
        )
        conn.executemany("INSERT INTO sketch_band (band, value, variant_id) VALUES (?,?,?)", bands)
    conn.execute("COMMIT")
    conn.execute("ANALYZE")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    return time.perf_counter() - t0


def load_filler_postgresql(
    url: str, start_id: int, count: int, namespace_id: int, pool: list, seed: int
) -> float:
    import psycopg

    stamp = datetime.now(UTC)
    t0 = time.perf_counter()
    with psycopg.connect(pg_plain(url)) as conn:
        with conn.cursor() as cur:
            for variants, sketches, bands in _filler_rows(start_id, count, pool, seed):
                with cur.copy(
                    "COPY variant (id, namespace_id, name, revision, digest, format, created_at,"
                    " updated_at) FROM STDIN"
                ) as cp:
                    for v, n, d in variants:
                        cp.write_row(
                            (v, namespace_id, f"{FILLER_NAMESPACE}/{n}", "main", d,
                             "safetensors", stamp, stamp)
                        )  # fmt: skip
                with cur.copy(
                    "COPY variant_sketch (variant_id, version, digest, code, residual, vocab,"
                    " data, created_at) FROM STDIN"
                ) as cp:
                    for s in sketches:
                        cp.write_row((*s, stamp))
                with cur.copy("COPY sketch_band (band, value, variant_id) FROM STDIN") as cp:
                    for b in bands:
                        cp.write_row(b)
            cur.execute(
                "SELECT setval(pg_get_serial_sequence('variant', 'id'),"
                " (SELECT max(id) FROM variant))"
            )
        conn.commit()
        conn.autocommit = True
        # what autovacuum does after a bulk load; it also sets the visibility map, so the
        # band lookups are index-only scans
        conn.execute("VACUUM ANALYZE")
    return time.perf_counter() - t0


def db_size(engine: Engine) -> int:
    url = engine.url
    if url.get_backend_name() == "sqlite":
        p = Path(url.database or "")
        return sum(f.stat().st_size for f in p.parent.glob(p.name + "*"))
    with engine.connect() as conn:
        from sqlalchemy import text

        return int(conn.execute(text("SELECT pg_database_size(current_database())")).scalar_one())


# --- measuring ----------------------------------------------------------------------------


@dataclass
class ScalePoint:
    backend: str
    stored: int
    load_s: float
    size_bytes: int
    samples_ms: list[float] = field(default_factory=list)
    compared: list[int] = field(default_factory=list)
    queries: int = 0
    parents: int = 0
    parents_found: int = 0
    missed: list[str] = field(default_factory=list)
    index_ms: list[float] = field(default_factory=list)  # sketch_index.candidates() alone

    def pct(self, q: float, series: str = "samples_ms") -> float:
        return float(np.percentile(getattr(self, series), q))


def measure(
    engine: Engine,
    queries: list[dict],
    prints: Prints,
    point: ScalePoint,
    repeats: int,
    budget_s: float = 240.0,
) -> None:
    """Time ``identify`` for every query ``repeats`` times after one untimed pass."""
    wire = {
        e["id"]: IdentifyQuery(
            digest=prints[e["id"]][0].digest,
            format=prints[e["id"]][0].format,
            sketch=base64.b64encode(prints[e["id"]][1].to_bytes()).decode(),
            top=100,
        )
        for e in queries
    }
    started = time.perf_counter()
    for rep in range(repeats + 1):
        if rep > 1 and time.perf_counter() - started > budget_s:
            break  # at least one timed pass; more only while the budget lasts
        for e in queries:
            t0 = time.perf_counter()
            with Session(engine) as session:
                result = identify(session, wire[e["id"]])
            ms = (time.perf_counter() - t0) * 1000
            if rep == 0:  # warm-up pass, also the correctness check
                got = {m.name: m.verdict for m in result.matches}
                point.queries += 1
                for p in e["parents"]:
                    if p["relation"] not in RELATIONS:
                        continue
                    point.parents += 1
                    if got.get(zoo_name(p["id"])) in ("derived", "identical"):
                        point.parents_found += 1
                    else:
                        point.missed.append(f"{e['id']} -> {p['id']}")
                continue
            point.samples_ms.append(ms)
            point.compared.append(result.candidates_compared)
            t0 = time.perf_counter()
            with Session(engine) as session:
                candidates(session, prints[e["id"]][1].code)
            point.index_ms.append((time.perf_counter() - t0) * 1000)


def run_backend(
    backend: str,
    url: str,
    sizes: list[int],
    manifest: list[dict],
    prints: Prints,
    pool: list,
    repeats: int,
    log=print,
    compact_pool: list | None = None,
    full_until: int = 100_000,
) -> list[ScalePoint]:
    """Grow one database through ``sizes`` stored sketches, measuring at each."""
    if backend == "postgresql":
        fresh_postgresql(url)
    engine = make_engine(url=url)
    upgrade_database(engine)
    queries = leaf_queries(manifest)
    points: list[ScalePoint] = []
    try:
        with Session(engine) as session:
            t0 = time.perf_counter()
            zoo_count = register_non_leaves(session, manifest, prints)
            ns = Namespace(name=FILLER_NAMESPACE)
            session.add(ns)
            session.commit()
            ns_id = ns.id
            max_id = max(v.id or 0 for v in session.exec(select(Variant)))
            zoo_s = time.perf_counter() - t0
        assert ns_id is not None
        log(f"[{backend}] zoo: {zoo_count} registered in {zoo_s:.1f} s, {len(queries)} queries")
        loader = load_filler_sqlite if backend == "sqlite" else load_filler_postgresql
        stored, next_id = zoo_count, max_id + 1
        for n in sizes:
            add = max(0, n - stored)
            engine.dispose()
            load_s = 0.0
            full = min(add, max(0, full_until - stored)) if compact_pool else add
            if full:
                load_s += loader(url, next_id, full, ns_id, pool, seed=n)
            if add - full:
                assert compact_pool is not None
                load_s += loader(url, next_id + full, add - full, ns_id, compact_pool, seed=n + 1)
            stored += add
            next_id += add
            point = ScalePoint(backend, stored, load_s, db_size(engine))
            log(f"[{backend}] {stored:,} sketches: loaded {add:,} in {load_s:.1f} s, "
                f"{point.size_bytes / 2**20:,.0f} MiB; measuring ...")  # fmt: skip
            measure(engine, queries, prints, point, repeats)
            log(f"[{backend}] {stored:,}: p50 {point.pct(50):.1f} ms p95 {point.pct(95):.1f} ms, "
                f"compared {statistics.mean(point.compared):.1f}, parents found "
                f"{point.parents_found}/{point.parents}")  # fmt: skip
            points.append(point)
    finally:
        engine.dispose()
    return points


def sketch_bytes_stats(pool: list) -> tuple[int, int, int]:
    sizes = [len(b) for b, _, _ in pool]
    return min(sizes), int(statistics.median(sizes)), max(sizes)


def decode_check(pool: list) -> None:
    """Every pool blob parses as a sketch (so filler rows are loadable by identify)."""
    for b, _, _ in pool[:5]:
        Sketch.from_bytes(b)
