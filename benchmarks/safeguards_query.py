"""The lacking-safeguards query over a Hub-sized registry, on SQLite and PostgreSQL.

What it measures
    The first page (``limit=50``) of ``registry.services.safeguard_query.lacking_safeguards``
    (the real service function, one session per call, as the API and CLI use it) over
    ``--variants`` variants (default 1,000,000) and five results each (5,000,000), ranked
    (a) by downloads, (b) by reach, and (c, d) both restricted to the descendants of the
    biggest root (``--descendant-of``); p50/p95 in milliseconds after warm-up.
    Target: p50 and p95 <= 500 ms.

The data
    The forest of ``benchmarks.lineage_forest`` (heavy-tailed trees, 2% merges, depth <= 8).
    Each variant gets five results: HarmBench ASR (about 30% safe at 0.05, 8% failing at 0.6,
    4% at 0.15, i.e. degraded below a safe parent) or, for the other 58%, a capability result in
    its place, plus MMLU, ARC, GSM8K and XSTest. Downloads are Pareto-distributed. The statuses
    are bulk-loaded as the write-time refresh would leave them (``safeguard_status``, rules of
    ``registry.services.safeguards.status`` applied in Python over the first-parent tree plus merge
    parents for suspicion; reach summed over the first-parent tree), since the benchmark measures
    the read path, not a million refreshes. Bulk load: ``executemany`` on SQLite, ``COPY`` on
    PostgreSQL.

Run: ``python -m benchmarks.safeguards_query [--variants N] [--backends sqlite,postgresql]``.
Writes the "Lacking-safeguards query" section of BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from sqlalchemy import Engine
from sqlmodel import Session

from benchmarks._postgres import pg_admin, pg_plain
from benchmarks._report import REPORT_PATH, Figure, command_line, markdown_table, write_section
from benchmarks.lineage_forest import (
    DEFAULT_PG_URL,
    REVISION,
    Forest,
    _batches,
    build_forest,
    load_postgresql,
    load_sqlite,
)
from registry.names import VariantRef
from registry.services.downloads.report import record_downloads
from registry.services.evals.results import add_results
from registry.services.safeguards.policy import load_policy
from registry.services.safeguards.query import lacking_safeguards
from schemas import DownloadRecord, EvalResultCreate

SECTION = "Lacking-safeguards query"
TARGET_MS = 500.0
PAGE = 50
_STATUS_CODES = ("safeguarded", "lacking", "degraded", "unverified", "suspected")


class Synthetic:
    """Per-variant classes, downloads, statuses and reach, all as numpy arrays."""

    def __init__(self, forest: Forest, seed: int = 5) -> None:
        rng = np.random.default_rng(seed)
        n = forest.n
        u = rng.random(n)
        # 0 safe result, 1 failing result, 2 passing but worse than a safe parent, 3 no result
        self.kind = np.where(u < 0.30, 0, np.where(u < 0.38, 1, np.where(u < 0.42, 2, 3)))
        self.downloads = (rng.pareto(1.1, n) * 100).astype(np.int64)
        first_parent = np.full(n, -1, dtype=np.int64)
        extra: dict[int, list[int]] = {}
        seen = np.zeros(n, dtype=bool)
        for c, p in zip(forest.child.tolist(), forest.parent.tolist(), strict=True):
            if not seen[c]:
                first_parent[c], seen[c] = p, True
            else:
                extra.setdefault(c, []).append(p)
        status = np.zeros(n, dtype=np.int8)
        order = np.argsort(forest.depth, kind="stable")
        for i in order.tolist():
            k = int(self.kind[i])
            parents = [int(first_parent[i])] if first_parent[i] >= 0 else []
            parents += extra.get(i, [])
            if k == 0:
                status[i] = 0
            elif k == 1:
                status[i] = 1
            elif k == 2:
                status[i] = 2 if any(status[p] == 0 for p in parents) else 0
            else:
                status[i] = 4 if any(status[p] in (1, 2, 4) for p in parents) else 3
        self.status = status
        reach = self.downloads.copy()
        for i in order[::-1].tolist():
            if first_parent[i] >= 0:
                reach[first_parent[i]] += reach[i]
        self.reach = reach


def _result_rows(forest: Forest, syn: Synthetic, stamp: object) -> Iterator[tuple[object, ...]]:
    asr = {0: 0.05, 1: 0.6, 2: 0.15}
    rid = 0
    for i in range(forest.n):
        k = int(syn.kind[i])
        v = i + 1
        rows: list[tuple[str, str, float, float | None, bool, str]] = [
            ("mmlu", "acc", 0.6, 0.004, True, "capability"),
            ("arc_challenge", "acc", 0.5, 0.014, True, "capability"),
            ("gsm8k", "exact_match", 0.4, 0.013, True, "capability"),
            ("xstest", "over_refusal_rate", 0.1, 0.02, False, "over-refusal"),
        ]
        if k in asr:
            rows.append(("harmbench", "asr", asr[k], 0.01, False, "safety-refusal"))
        else:
            rows.append(("hellaswag", "acc_norm", 0.7, 0.005, True, "capability"))
        for bench, metric, value, stderr, hib, category in rows:
            rid += 1
            yield (rid, v, bench, metric, value, stderr, 400, hib, category, "lm-eval", stamp)


def _snapshot_rows(forest: Forest, syn: Synthetic, stamp: object) -> Iterator[tuple[object, ...]]:
    for i in range(forest.n):
        yield (i + 1, i + 1, "30d", int(syn.downloads[i]), stamp, "hub")


def _status_rows(
    forest: Forest, syn: Synthetic, digest: str, stamp: object
) -> Iterator[tuple[object, ...]]:
    reasons = {
        0: json.dumps(["passes harmbench asr"]),
        1: json.dumps(["fails harmbench asr: 0.6, policy wants ≤ 0.2"]),
        2: json.dumps(["worse than its parent on harmbench asr"]),
        3: json.dumps(["no qualifying safeguard result"]),
        4: json.dumps(["descends from a lacking variant", "no qualifying safeguard result"]),
    }
    for i in range(forest.n):
        s = int(syn.status[i])
        yield (
            i + 1,
            _STATUS_CODES[s],
            reasons[s],
            int(syn.downloads[i]),
            int(syn.reach[i]),
            digest,
            stamp,
        )


_RESULT_COLS = (
    "id, variant_id, benchmark, metric, value, stderr, samples, higher_is_better, category, "
    "source, created_at"
)
_SNAPSHOT_COLS = 'id, variant_id, "window", count, observed_at, source'
_STATUS_COLS = "variant_id, status, reasons, downloads, reach, policy_digest, updated_at"


def load_extra_sqlite(forest: Forest, syn: Synthetic, path: Path, digest: str) -> float:
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA synchronous=OFF")
    conn.execute("PRAGMA cache_size=-1048576")
    t = time.perf_counter()
    conn.execute("BEGIN")
    for sql, rows in (
        (f"INSERT INTO eval_result ({_RESULT_COLS}) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
         _result_rows(forest, syn, stamp)),
        (f"INSERT INTO download_snapshot ({_SNAPSHOT_COLS}) VALUES (?,?,?,?,?,?)",
         _snapshot_rows(forest, syn, stamp)),
        (f"INSERT INTO safeguard_status ({_STATUS_COLS}) VALUES (?,?,?,?,?,?,?)",
         _status_rows(forest, syn, digest, stamp)),
    ):  # fmt: skip
        for batch in _batches(rows):
            conn.executemany(sql, batch)
    conn.execute("DELETE FROM safeguard_dirty")
    conn.execute("COMMIT")
    conn.execute("ANALYZE")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    return time.perf_counter() - t


def load_extra_postgresql(forest: Forest, syn: Synthetic, url: str, digest: str) -> float:
    import psycopg

    stamp = datetime.now(UTC)
    t = time.perf_counter()
    with psycopg.connect(pg_plain(url)) as conn:
        with conn.cursor() as cur:
            for table, cols, rows in (
                ("eval_result", _RESULT_COLS, _result_rows(forest, syn, stamp)),
                ("download_snapshot", _SNAPSHOT_COLS, _snapshot_rows(forest, syn, stamp)),
                ("safeguard_status", _STATUS_COLS, _status_rows(forest, syn, digest, stamp)),
            ):
                with cur.copy(f"COPY {table} ({cols}) FROM STDIN") as cp:
                    for row in rows:
                        cp.write_row(row)
            for table in ("eval_result", "download_snapshot"):
                cur.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"(SELECT max(id) FROM {table}))"
                )
            cur.execute("DELETE FROM safeguard_dirty")
        conn.commit()
        conn.autocommit = True
        conn.execute("VACUUM ANALYZE")
    return time.perf_counter() - t


def _queries(forest: Forest) -> list[tuple[str, dict[str, object]]]:
    big = max(forest.big_roots, key=lambda r: int(forest.children_count[r]))
    root = VariantRef(forest.name(big), REVISION)
    sub = "descendants of the biggest root"
    return [
        ("by downloads", {"sort": "downloads"}),
        ("by reach", {"sort": "reach"}),
        (f"{sub}, by downloads", {"sort": "downloads", "descendant_of": root}),
        (f"{sub}, by reach", {"sort": "reach", "descendant_of": root}),
        (
            "by downloads, --min-downloads 1000, status lacking",
            {"sort": "downloads", "min_downloads": 1000, "statuses": ["lacking"]},
        ),
    ]


def measure(
    engine: Engine, forest: Forest, samples: int, warmup: int
) -> list[tuple[str, list[float], int]]:
    policy = load_policy()
    out = []
    for label, kwargs in _queries(forest):
        times: list[float] = []
        rows = 0
        for k in range(warmup + samples):
            t = time.perf_counter()
            with Session(engine) as session:
                page = lacking_safeguards(
                    session,
                    policy,
                    limit=PAGE,
                    **kwargs,  # type: ignore[arg-type]
                )
            ms = (time.perf_counter() - t) * 1000.0
            rows = len(page.results)
            if k >= warmup:
                times.append(ms)
        out.append((label, times, rows))
        p50, p95 = np.percentile(times, 50), np.percentile(times, 95)
        print(f"  {label}: p50 {p50:.1f} ms, p95 {p95:.1f} ms, rows {rows}", flush=True)
    return out


def measure_writes(
    engine: Engine, forest: Forest, samples: int
) -> list[tuple[str, list[float], int]]:
    """The write-time cost of keeping statuses current (no target: informational)."""
    policy = load_policy()
    big = max(forest.big_roots, key=lambda r: int(forest.children_count[r]))
    root = VariantRef(forest.name(big), REVISION)
    rng = np.random.default_rng(11)
    deep = np.flatnonzero(forest.depth >= max(3, int(forest.depth.max()) - 2))
    capability = EvalResultCreate(benchmark="mmlu", metric="acc", value=0.6, samples=14042)

    def add_eval(_k: int) -> None:
        with Session(engine) as session:
            add_results(session, root, [capability], policy)

    def record(k: int) -> None:
        ref = VariantRef(forest.name(int(rng.choice(deep))), REVISION)
        with Session(engine) as session:
            record_downloads(session, ref, DownloadRecord(count=1000 + k, source="manual"))

    out = []
    for label, call in (
        ("eval add (capability result) on the biggest root", add_eval),
        ("downloads record on a deep variant (reach up to the root)", record),
    ):
        times: list[float] = []
        for k in range(samples):
            t = time.perf_counter()
            call(k)
            times.append((time.perf_counter() - t) * 1000.0)
        p50, p95 = np.percentile(times, 50), np.percentile(times, 95)
        print(f"  {label}: p50 {p50:.1f} ms, p95 {p95:.1f} ms", flush=True)
        out.append((label, times, 0))
    return out


def run(
    variants: int, backends: list[str], samples: int, warmup: int, pg_url: str, output: Path
) -> int:
    t = time.perf_counter()
    forest = build_forest(variants)
    syn = Synthetic(forest)
    digest = load_policy().digest
    print(f"data: {forest.n:,} variants, {len(forest.child):,} edges, {5 * forest.n:,} results "
          f"in {time.perf_counter() - t:.1f} s", flush=True)  # fmt: skip
    figures: list[Figure] = []
    rows: list[list[object]] = []
    load_rows: list[list[object]] = []
    write_rows: list[list[object]] = []
    ok = True
    loaders: dict[str, Callable[[Path], tuple[Engine, float]]] = {}

    def sqlite_loader(tmp: Path) -> tuple[Engine, float]:
        engine, lt = load_sqlite(forest, tmp / "bench.db")
        extra = load_extra_sqlite(forest, syn, tmp / "bench.db", digest)
        return engine, lt.variants_s + lt.edges_s + lt.analyze_s + extra

    def pg_loader(_tmp: Path) -> tuple[Engine, float]:
        engine, lt = load_postgresql(forest, pg_url)
        extra = load_extra_postgresql(forest, syn, pg_url, digest)
        return engine, lt.variants_s + lt.edges_s + lt.analyze_s + extra

    loaders = {"sqlite": sqlite_loader, "postgresql": pg_loader}
    with tempfile.TemporaryDirectory(prefix="provreg-bench-") as tmpdir:
        for backend in backends:
            print(f"[{backend}] loading ...", flush=True)
            engine, load_s = loaders[backend](Path(tmpdir))
            print(f"[{backend}] loaded in {load_s:.0f} s", flush=True)
            load_rows.append([backend, f"{load_s:.0f}", f"{6 * forest.n / load_s:,.0f}"])
            try:
                for label, times, count in measure(engine, forest, samples, warmup):
                    p50, p95 = float(np.percentile(times, 50)), float(np.percentile(times, 95))
                    met = p50 <= TARGET_MS and p95 <= TARGET_MS
                    ok &= met
                    figures.append(
                        Figure(
                            f"{backend}: {label}, p50",
                            f"{p50:.1f} ms",
                            f"<= {TARGET_MS:.0f} ms",
                            p50 <= TARGET_MS,
                        )
                    )
                    figures.append(
                        Figure(
                            f"{backend}: {label}, p95",
                            f"{p95:.1f} ms",
                            f"<= {TARGET_MS:.0f} ms",
                            p95 <= TARGET_MS,
                        )
                    )
                    rows.append(
                        [
                            backend,
                            label,
                            len(times),
                            f"{p50:.1f}",
                            f"{p95:.1f}",
                            f"{max(times):.1f}",
                            count,
                        ]
                    )
                for label, times, _ in measure_writes(engine, forest, max(5, samples // 4)):
                    p50, p95 = float(np.percentile(times, 50)), float(np.percentile(times, 95))
                    write_rows.append([backend, label, len(times), f"{p50:.1f}", f"{p95:.1f}"])
            finally:
                engine.dispose()
    statuses = np.bincount(syn.status, minlength=5)
    biggest = max(int(forest.children_count[r]) for r in forest.big_roots)
    details = "\n\n".join([
        markdown_table(["Data", ""], [
            ("variants", f"{forest.n:,}"),
            ("edges", f"{len(forest.child):,}"),
            ("results", f"{5 * forest.n:,}"),
            ("statuses", ", ".join(f"{_STATUS_CODES[i]} {int(c):,}"
                                   for i, c in enumerate(statuses))),
            ("direct children of the biggest root", f"{biggest:,}"),
        ]),
        markdown_table(["Backend", "load s (all tables, ANALYZE)", "rows/s"], load_rows),
        markdown_table(["Backend", "Query", "samples", "p50 ms", "p95 ms", "max ms", "rows"], rows),
        "Write-time upkeep of the materialised statuses (informational, no target):",
        markdown_table(["Backend", "Write", "samples", "p50 ms", "p95 ms"], write_rows),
        f"Each sample is one `lacking_safeguards(session, policy, limit={PAGE}, ...)` call in a "
        f"fresh session, timed end to end including the queue check, the paths back to the "
        f"nearest safeguarded ancestor of each row and the response model; {warmup} warm-up "
        "calls per query were not counted.",
    ])  # fmt: skip
    path = write_section(
        SECTION,
        command=command_line("benchmarks.safeguards_query"),
        figures=figures,
        summary=(
            "First page of the lacking-safeguards query (default statuses lacking, degraded, "
            "suspected) over a Hub-shaped registry with five results per variant, through "
            "`registry.services.safeguard_query.lacking_safeguards`."
        ),
        details=details,
        pg_admin_url=pg_admin(pg_url),
        path=output,
    )
    print(f"wrote {path}")
    return 0 if ok else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--variants", type=int, default=1_000_000)
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--samples", type=int, default=40, help="timed calls per query")
    parser.add_argument("--warmup", type=int, default=5, help="untimed calls per query")
    parser.add_argument(
        "--pg-url", default=DEFAULT_PG_URL.replace("provreg_bench", "provreg_bench_safeguards")
    )
    parser.add_argument("--output", type=Path, default=REPORT_PATH)
    args = parser.parse_args(argv)
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    return run(args.variants, backends, args.samples, args.warmup, args.pg_url, args.output)


if __name__ == "__main__":
    raise SystemExit(main())
