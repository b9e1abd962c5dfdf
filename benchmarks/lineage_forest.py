"""Lineage walks on a Hub-sized forest, on SQLite and PostgreSQL.

What it measures
    1. Bulk load speed (variants/s, edges/s) of a synthetic forest shaped like the Hugging Face
       Hub into a database freshly migrated with ``registry.db.upgrade_database``: SQLite through
       ``executemany`` in large batches in one transaction, PostgreSQL through ``COPY`` (psycopg).
    2. Latency of ``registry.services.lineage.lineage_graph`` (the real service function, one
       session per call, as the API does) for
       (a) ancestors (``direction="up"``) of random deep nodes,
       (b) the first page (``limit=50``) of descendants (``direction="down"``) of the heaviest
           roots and of random internal nodes,
       after a warm-up, as p50/p95/p99 in milliseconds. Target: p95 <= 20 ms.
    3. The database's size after ``ANALYZE``.

The forest
    ``--variants`` nodes (default 1,000,000). About 60% sit in 20 big trees whose sizes fall off
    as rank^-0.6 (tens of thousands of descendants each at 1M); the rest in many small trees of
    heavy-tailed size. Inside a tree each new node picks an earlier node as parent with
    probability proportional to a Pareto(1.2) "popularity" (the root's is 2% of the total), so
    fan-out is heavy tailed: roots and a few hubs get thousands of direct children, most nodes
    get none or a few. Depth is capped at 8. About 2% of nodes are merges with a second parent,
    an earlier node anywhere in the forest no deeper than the first parent, so there are no
    cycles and the longest path stays <= 8. Ids follow a global registration order, so trees
    interleave on disk as they would in a registry that grew over time.

Run: ``python -m benchmarks.lineage_forest [--variants N] [--backends sqlite,postgresql]``.
Writes the "Lineage walks on a Hub-sized forest" section of BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from sqlalchemy import Engine
from sqlmodel import Session

from benchmarks._postgres import fresh_postgresql, pg_admin, pg_plain
from benchmarks._report import REPORT_PATH, Figure, command_line, markdown_table, write_section
from registry.db import make_engine, upgrade_database
from registry.names import VariantRef
from registry.services.lineage.graph import DEFAULT_DEPTH, lineage_graph

SECTION = "Lineage walks on a Hub-sized forest"
DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/provreg_bench"
TARGET_P95_MS = 20.0
MAX_DEPTH = 8
BIG_ROOTS = 20
BIG_SHARE = 0.6
MERGE_SHARE = 0.02
PAGE = 50
BATCH = 50_000
REVISION = "main"
_RELATIONS = ("finetune", "adapter", "quantized", "pruned", "distilled", "repackaged")
_RELATION_P = (0.6, 0.15, 0.15, 0.04, 0.03, 0.03)


@dataclass
class Forest:
    """Variants ``0..n-1`` (database id = index + 1) and their edges (child, parent)."""

    n: int
    depth: np.ndarray
    namespace: np.ndarray
    namespaces: int
    child: np.ndarray
    parent: np.ndarray
    relation: np.ndarray
    big_roots: list[int]
    children_count: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        self.children_count = np.bincount(self.parent, minlength=self.n)

    def name(self, i: int) -> str:
        return f"org{int(self.namespace[i]):05d}/m{i + 1:07d}"


def _grow_tree(rng: np.random.Generator, size: int, root_share: float) -> np.ndarray:
    """Local parent indices (``-1`` for the root) of one tree grown by weighted attachment."""
    w = rng.pareto(1.2, size) + 1.0
    w[0] = root_share * w[1:].sum() if size > 1 else 1.0
    cum = np.cumsum(w)
    parent = np.full(size, -1, dtype=np.int64)
    if size > 1:
        idx = np.arange(1, size)
        picks = np.searchsorted(cum, rng.random(size - 1) * cum[idx - 1], side="right")
        parent[1:] = np.minimum(picks, idx - 1)
    return parent


def _cap_depth(parent: list[int]) -> list[int]:
    """Depths with parents re-pointed upwards so that no node is deeper than MAX_DEPTH."""
    depth = [0] * len(parent)
    for i in range(1, len(parent)):
        p = parent[i]
        while depth[p] >= MAX_DEPTH:
            p = parent[p]
        parent[i] = p
        depth[i] = depth[p] + 1
    return depth


def build_forest(n: int, seed: int = 20260101) -> Forest:
    """A deterministic Hub-like forest of ``n`` variants (see the module docstring)."""
    rng = np.random.default_rng(seed)
    big_total = int(n * BIG_SHARE) if n >= 10 * BIG_ROOTS else 0
    weights = np.arange(1, BIG_ROOTS + 1, dtype=float) ** -0.6
    sizes = [max(2, int(big_total * w / weights.sum())) for w in weights] if big_total else []
    n_big = len(sizes)
    remaining = n - sum(sizes)
    while remaining > 0:
        s = min(remaining, 1 + int(rng.pareto(1.1) * 2), 5000)
        sizes.append(s)
        remaining -= s

    parents: list[np.ndarray] = []
    depths: list[np.ndarray] = []
    times: list[np.ndarray] = []
    offsets: list[int] = []
    offset = 0
    for k, s in enumerate(sizes):
        local = _grow_tree(rng, s, 0.02 if k < n_big else 0.3)
        plist = local.tolist()
        d = _cap_depth(plist)
        glob = np.asarray(plist, dtype=np.int64)
        glob[1:] += offset
        parents.append(glob)
        depths.append(np.asarray(d, dtype=np.int8))
        # registration times: the big roots come first, every child after its parent
        start = 0.0 if k < n_big else rng.random() * 0.9
        times.append(np.sort(start + rng.random(s) * (1.0 - start)))
        times[-1][0] = start - 1e-9
        offsets.append(offset)
        offset += s

    all_parent = np.concatenate(parents)
    all_depth = np.concatenate(depths)
    order = np.argsort(np.concatenate(times), kind="stable")  # new id -> old index
    new_of_old = np.empty(n, dtype=np.int64)
    new_of_old[order] = np.arange(n)
    parent_new = np.full(n, -1, dtype=np.int64)
    has = all_parent >= 0
    parent_new[new_of_old[has]] = new_of_old[all_parent[has]]
    depth = all_depth[order]
    big_roots = [int(new_of_old[o]) for o in offsets[: max(n_big, 1)]]

    child_ids = np.flatnonzero(parent_new >= 0)
    first_parent = parent_new[child_ids]
    relation = rng.choice(len(_RELATIONS), size=len(child_ids), p=_RELATION_P).astype(np.int8)

    # merges: a second parent, earlier and no deeper than the first, so no cycle can form
    merge_idx = rng.choice(len(child_ids), size=int(len(child_ids) * MERGE_SHARE), replace=False)
    extra_child: list[int] = []
    extra_parent: list[int] = []
    for m in merge_idx.tolist():
        c = int(child_ids[m])
        p1 = int(first_parent[m])
        for _ in range(8):
            p2 = int(rng.integers(0, c))
            if p2 != p1 and depth[p2] <= depth[p1]:
                extra_child.append(c)
                extra_parent.append(p2)
                relation[m] = -1
                break
    merge_rel = np.full(len(extra_child), -1, dtype=np.int8)
    namespaces = max(1, n // 25)
    return Forest(
        n=n,
        depth=depth,
        namespace=rng.integers(0, namespaces, size=n),
        namespaces=namespaces,
        child=np.concatenate([child_ids, np.asarray(extra_child, dtype=np.int64)]),
        parent=np.concatenate([first_parent, np.asarray(extra_parent, dtype=np.int64)]),
        relation=np.concatenate([relation, merge_rel]),
        big_roots=big_roots,
    )


# --- bulk loading -------------------------------------------------------------------------


def _variant_rows(forest: Forest, stamp: object) -> Iterator[tuple[object, ...]]:
    rng = np.random.default_rng(7)
    for lo in range(0, forest.n, BATCH):
        hi = min(forest.n, lo + BATCH)
        digests = rng.bytes(32 * (hi - lo)).hex()
        for i in range(lo, hi):
            j = (i - lo) * 64
            yield (
                i + 1,
                int(forest.namespace[i]) + 1,
                forest.name(i),
                REVISION,
                "sha256:" + digests[j : j + 64],
                "safetensors",
                stamp,
                stamp,
            )


def _edge_rows(forest: Forest, stamp: object) -> Iterator[tuple[object, ...]]:
    child = forest.child.tolist()
    parent = forest.parent.tolist()
    rel = forest.relation.tolist()
    for k in range(len(child)):
        yield (
            k + 1,
            child[k] + 1,
            parent[k] + 1,
            "merge" if rel[k] < 0 else _RELATIONS[rel[k]],
            "declared",
            "unverified",
            stamp,
            stamp,
        )


def _namespace_rows(forest: Forest, stamp: object) -> Iterator[tuple[object, ...]]:
    for k in range(forest.namespaces):
        yield (k + 1, f"org{k:05d}", stamp)


def _batches(rows: Iterator[tuple[object, ...]]) -> Iterator[list[tuple[object, ...]]]:
    batch: list[tuple[object, ...]] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


_VARIANT_COLS = "id, namespace_id, name, revision, digest, format, created_at, updated_at"
_EDGE_COLS = "id, child_id, parent_id, relation, source, status, created_at, updated_at"


@dataclass
class LoadTimes:
    variants_s: float
    edges_s: float
    analyze_s: float
    size_bytes: int


def load_sqlite(forest: Forest, path: Path) -> tuple[Engine, LoadTimes]:
    url = f"sqlite:///{path}"
    engine = make_engine(url=url)
    upgrade_database(engine)
    engine.dispose()
    # SQLAlchemy's own text format for DateTime on SQLite, so the ORM reads the rows back
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA synchronous=OFF")
    conn.execute("PRAGMA cache_size=-1048576")  # 1 GiB while loading
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("BEGIN")
    conn.executemany(
        "INSERT INTO namespace (id, name, created_at) VALUES (?, ?, ?)",
        _namespace_rows(forest, stamp),
    )
    t0 = time.perf_counter()
    for batch in _batches(_variant_rows(forest, stamp)):
        conn.executemany(f"INSERT INTO variant ({_VARIANT_COLS}) VALUES (?,?,?,?,?,?,?,?)", batch)
    t1 = time.perf_counter()
    for batch in _batches(_edge_rows(forest, stamp)):
        conn.executemany(f"INSERT INTO lineage_edge ({_EDGE_COLS}) VALUES (?,?,?,?,?,?,?,?)", batch)
    conn.execute("COMMIT")
    t2 = time.perf_counter()
    conn.execute("ANALYZE")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    t3 = time.perf_counter()
    conn.close()
    size = sum(p.stat().st_size for p in path.parent.glob(path.name + "*"))
    return make_engine(url=url), LoadTimes(t1 - t0, t2 - t1, t3 - t2, size)


def load_postgresql(forest: Forest, url: str) -> tuple[Engine, LoadTimes]:
    import psycopg

    fresh_postgresql(url)
    engine = make_engine(url=url)
    upgrade_database(engine)
    engine.dispose()
    stamp = datetime.now(UTC)
    with psycopg.connect(pg_plain(url)) as conn:
        with conn.cursor() as cur:
            with cur.copy("COPY namespace (id, name, created_at) FROM STDIN") as cp:
                for row in _namespace_rows(forest, stamp):
                    cp.write_row(row)
            t0 = time.perf_counter()
            with cur.copy(f"COPY variant ({_VARIANT_COLS}) FROM STDIN") as cp:
                for row in _variant_rows(forest, stamp):
                    cp.write_row(row)
            t1 = time.perf_counter()
            with cur.copy(f"COPY lineage_edge ({_EDGE_COLS}) FROM STDIN") as cp:
                for row in _edge_rows(forest, stamp):
                    cp.write_row(row)
            for table in ("namespace", "variant", "lineage_edge"):
                cur.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"(SELECT max(id) FROM {table}))"
                )
        conn.commit()
        t2 = time.perf_counter()
        conn.autocommit = True
        conn.execute("VACUUM ANALYZE")
        t3 = time.perf_counter()
        found = conn.execute("SELECT pg_database_size(current_database())").fetchone()
        size = int(found[0]) if found else 0
    return make_engine(url=url), LoadTimes(t1 - t0, t2 - t1, t3 - t2, size)


# --- measuring ----------------------------------------------------------------------------


@dataclass
class Series:
    label: str
    samples_ms: list[float]
    nodes: list[int]

    def pct(self, q: float) -> float:
        return float(np.percentile(self.samples_ms, q))


def _measure(
    engine: Engine,
    forest: Forest,
    label: str,
    ids: Sequence[int],
    direction: str,
    warmup: int,
) -> Series:
    def call(i: int) -> tuple[float, int]:
        ref = VariantRef(forest.name(i), REVISION)
        t = time.perf_counter()
        with Session(engine) as session:
            graph = lineage_graph(
                session,
                ref,
                direction=direction,  # type: ignore[arg-type]
                depth=DEFAULT_DEPTH,
                limit=PAGE,
            )
        return (time.perf_counter() - t) * 1000.0, len(graph.nodes)

    for i in ids[:warmup]:
        call(i)
    samples: list[float] = []
    nodes: list[int] = []
    for i in ids[warmup:]:
        ms, count = call(i)
        samples.append(ms)
        nodes.append(count)
    return Series(label, samples, nodes)


def _pick(rng: np.random.Generator, pool: np.ndarray, count: int) -> list[int]:
    return [int(x) for x in rng.choice(pool, size=count, replace=len(pool) < count)]


def measure_backend(engine: Engine, forest: Forest, samples: int, warmup: int) -> list[Series]:
    rng = np.random.default_rng(99)
    deep_floor = max(3, int(forest.depth.max()) - 2)
    deep = np.flatnonzero(forest.depth >= deep_floor)
    heavy = sorted(forest.big_roots, key=lambda r: -int(forest.children_count[r]))
    internal = np.flatnonzero((forest.children_count > 0) & (forest.depth > 0))
    total = samples + warmup
    roots_cycle = [heavy[k % len(heavy)] for k in rng.permutation(total)]
    return [
        _measure(engine, forest, f"up, deep nodes (depth >= {deep_floor})",
                 _pick(rng, deep, total), "up", warmup),
        _measure(engine, forest, f"down, first page, {len(heavy)} heaviest roots",
                 roots_cycle, "down", warmup),
        _measure(engine, forest, "down, first page, random internal nodes",
                 _pick(rng, internal, total), "down", warmup),
    ]  # fmt: skip


# --- main ---------------------------------------------------------------------------------


def _forest_facts(forest: Forest) -> str:
    depth_hist = np.bincount(forest.depth, minlength=MAX_DEPTH + 1)
    cc = forest.children_count
    merges = int(np.sum(np.bincount(forest.child, minlength=forest.n) > 1))
    heavy = sorted((int(cc[r]) for r in forest.big_roots), reverse=True)
    roots = int(np.sum(forest.depth == 0))
    rows = [
        ("variants", f"{forest.n:,}"),
        ("edges", f"{len(forest.child):,}"),
        ("trees (roots)", f"{roots:,}"),
        ("merges (2 parents)", f"{merges:,} ({100 * merges / forest.n:.1f}%)"),
        ("direct children of the big roots", f"{heavy[0]:,} .. {heavy[-1]:,}" if heavy else "-"),
        ("largest fan-out of a non-root", f"{int(cc[forest.depth > 0].max()):,}"),
        ("nodes with >= 1000 children", f"{int(np.sum(cc >= 1000)):,}"),
        ("median children of internal nodes", f"{statistics.median(cc[cc > 0].tolist()):.0f}"),
        ("depth histogram (0..8)", " / ".join(f"{int(x):,}" for x in depth_hist)),
    ]
    return markdown_table(["Forest", ""], rows)


def run(
    variants: int,
    backends: list[str],
    samples: int,
    warmup: int,
    pg_url: str,
    output: Path = REPORT_PATH,
) -> int:
    t = time.perf_counter()
    forest = build_forest(variants)
    print(f"forest: {forest.n:,} variants, {len(forest.child):,} edges "
          f"in {time.perf_counter() - t:.1f} s", flush=True)  # fmt: skip
    figures: list[Figure] = []
    detail_rows: list[list[object]] = []
    load_rows: list[list[object]] = []
    ok = True
    loaders: dict[str, Callable[[Path], tuple[Engine, LoadTimes]]] = {
        "sqlite": lambda tmp: load_sqlite(forest, tmp / "bench.db"),
        "postgresql": lambda _tmp: load_postgresql(forest, pg_url),
    }
    with tempfile.TemporaryDirectory(prefix="provreg-bench-") as tmpdir:
        for backend in backends:
            print(f"[{backend}] loading ...", flush=True)
            engine, lt = loaders[backend](Path(tmpdir))
            edges = len(forest.child)
            vps, eps = forest.n / lt.variants_s, edges / lt.edges_s
            print(f"[{backend}] variants {vps:,.0f}/s, edges {eps:,.0f}/s, "
                  f"analyze {lt.analyze_s:.1f} s, size {lt.size_bytes / 2**20:,.0f} MiB",
                  flush=True)  # fmt: skip
            load_rows.append([
                backend, f"{vps:,.0f}", f"{eps:,.0f}", f"{lt.variants_s + lt.edges_s:.1f}",
                f"{lt.analyze_s:.1f}", f"{lt.size_bytes / 2**20:,.0f} MiB",
            ])  # fmt: skip
            figures.append(Figure(f"{backend}: bulk load, variants/s", f"{vps:,.0f}"))
            figures.append(Figure(f"{backend}: bulk load, edges/s", f"{eps:,.0f}"))
            figures.append(Figure(f"{backend}: DB size", f"{lt.size_bytes / 2**20:,.0f} MiB"))
            try:
                for s in measure_backend(engine, forest, samples, warmup):
                    p50, p95, p99 = s.pct(50), s.pct(95), s.pct(99)
                    met = p95 <= TARGET_P95_MS
                    ok &= met
                    print(f"[{backend}] {s.label}: p50 {p50:.2f} p95 {p95:.2f} p99 {p99:.2f} ms"
                          f" (n={len(s.samples_ms)}, mean nodes {statistics.mean(s.nodes):.1f})",
                          flush=True)  # fmt: skip
                    figures.append(Figure(
                        f"{backend}: {s.label}, p95", f"{p95:.2f} ms",
                        f"<= {TARGET_P95_MS:.0f} ms", met,
                    ))  # fmt: skip
                    detail_rows.append([
                        backend, s.label, len(s.samples_ms), f"{p50:.2f}", f"{p95:.2f}",
                        f"{p99:.2f}", f"{max(s.samples_ms):.1f}", f"{statistics.mean(s.nodes):.1f}",
                    ])  # fmt: skip
            finally:
                engine.dispose()

    details = "\n\n".join([
        _forest_facts(forest),
        markdown_table(
            ["Backend", "variants/s", "edges/s", "load s", "ANALYZE s", "DB size"], load_rows
        ),
        markdown_table(
            ["Backend", "Query", "samples", "p50 ms", "p95 ms", "p99 ms", "max ms", "mean nodes"],
            detail_rows,
        ),
        f"Each sample is one `lineage_graph(session, ref, direction=..., depth={DEFAULT_DEPTH}, "
        f"limit={PAGE})` call in a fresh session (pooled connection), timed end to end "
        f"including the ORM reads and the response model; {warmup} warm-up calls per query "
        "were not counted. SQLite file in a temp dir (WAL); PostgreSQL on loopback.",
    ])  # fmt: skip
    summary = (
        "Bulk load of a synthetic Hub-shaped forest, then ancestors of deep nodes and the first "
        f"page ({PAGE}) of descendants of the heaviest roots and of random internal nodes, "
        "through `registry.services.lineage.lineage_graph`."
    )
    path = write_section(
        SECTION,
        command=command_line("benchmarks.lineage_forest"),
        figures=figures,
        summary=summary,
        details=details,
        pg_admin_url=pg_admin(pg_url),
        path=output,
    )
    print(f"wrote {path}")
    return 0 if ok else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--variants", type=int, default=1_000_000)
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--samples", type=int, default=400, help="timed calls per query")
    parser.add_argument("--warmup", type=int, default=50, help="untimed calls per query")
    parser.add_argument("--pg-url", default=DEFAULT_PG_URL)
    parser.add_argument("--output", type=Path, default=REPORT_PATH, help="Markdown file to update")
    args = parser.parse_args(argv)
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    unknown = set(backends) - {"sqlite", "postgresql"}
    if unknown:
        parser.error(f"unknown backends: {', '.join(sorted(unknown))}")
    if args.samples < 300:
        print("note: fewer than 300 samples per query", file=sys.stderr)
    return run(args.variants, backends, args.samples, args.warmup, args.pg_url, args.output)


if __name__ == "__main__":
    sys.exit(main())
