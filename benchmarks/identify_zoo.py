"""Identification over the model zoo: accuracy, sketch cost, and identify latency at scale.

What it measures (issue 3, item 7)
    1. Accuracy. The tiny zoo (``tests/fixtures/zoo``) and the small zoo are each registered in
       a fresh SQLite database and every model identified against the rest
       (``scripts.zoo.evaluate``): recall, relation and direction accuracy and false positives
       per transformation, and recall over derivative->parent pairs (``obfuscated-rotated``, a
       dense rotation of the residual stream, included). Then every ordered pair of models
       from independently trained families (``expected_verdict == "unrelated"``) is compared
       with ``compare_sketches``: false positives, and the evidence those pairs produce (the
       null the false-positive rate is calibrated on).
    2. Sketch cost. ``sketch_source(open_model(path))`` against plain SHA-256 of the same
       files, for every model file of the small zoo and a generated ~1 GiB bf16 Llama-shaped
       safetensors model, in one process with the page cache warm, alternating order, best of
       ``--rounds``; sketch bytes, and bytes as layers and width grow (virtual layouts up to a
       7B- and a 70B-like shape).
    3. Identify latency. ``registry.services.identify.identify`` end to end with 10k, 100k and
       1M stored sketches (see ``benchmarks._identify_scale`` for how the filler is made),
       queries being the small zoo's leaf derivatives: p50/p95, candidates compared, parents
       still found.

Run: ``python -m benchmarks.identify_zoo [--zoo DIR] [--parts accuracy,cost,latency]``.
Without ``--zoo`` the small zoo is built into ``.bench/zoo-small`` (about 20 minutes, needs
the ``zoo`` extra). Writes the three "Identify: ..." sections of BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks._identify_accuracy import (
    OUT_OF_SCOPE,
    ZooAccuracy,
    evaluate_zoo,
    fmt_ratio,
    null_summary,
    per_transformation_rows,
    ratio,
    totals,
)
from benchmarks._identify_cost import (
    Timing,
    gguf_copy,
    per_format,
    time_model,
    virtual_sketch_size,
)
from benchmarks._identify_scale import (
    ScalePoint,
    run_backend,
    sketch_bytes_stats,
    sketch_pool,
)
from benchmarks._report import REPORT_PATH, Figure, command_line, markdown_table, write_section
from scripts.zoo.evaluate import fingerprint_with_sketch
from scripts.zoo.truth import load_manifest

ROOT = Path(__file__).resolve().parents[1]
BENCH_DIR = ROOT / ".bench"
TINY_ZOO = ROOT / "tests" / "fixtures" / "zoo"
DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/provreg_bench_identify"
MODULE = "benchmarks.identify_zoo"

MIN_INDEPENDENT_PAIRS = 200
TARGET_RECALL = 0.98
TARGET_RELATION = 0.9
TARGET_DIRECTION = 0.9
TARGET_SPEEDUP = 3.0
TARGET_SKETCH_KIB = 512  # "a few hundred KiB at most"
TARGET_LATENCY_MS = 200.0
TARGET_AT = 100_000

SECTION_ACCURACY = "Identify: accuracy over the zoo"
SECTION_COST = "Identify: sketch cost"
SECTION_LATENCY = "Identify: latency at scale"


def log(msg: str) -> None:
    print(msg, flush=True)


def ensure_small_zoo(zoo: Path | None) -> Path:
    """The given zoo, or the small zoo built (once) into ``.bench/zoo-small``."""
    if zoo is not None:
        return zoo
    out = BENCH_DIR / "zoo-small"
    if not (out / "manifest.json").exists():
        log(f"building the small zoo into {out} (about 20 minutes) ...")
        cmd = [sys.executable, "-m", "scripts.zoo", "--out", str(out), "--size", "small"]
        subprocess.run([*cmd, "--independent", "2"], check=True, cwd=ROOT)
    return out


# --- 1. accuracy --------------------------------------------------------------------------


def report_accuracy(results: list[ZooAccuracy], output: Path) -> bool:
    scope = totals(results, in_scope_only=True)
    every = totals(results, in_scope_only=False)
    pairs_in = sum(r.pairs_in_scope.pairs for r in results)
    found_in = sum(r.pairs_in_scope.found for r in results)
    pairs_all = sum(r.pairs_all.pairs for r in results)
    found_all = sum(r.pairs_all.found for r in results)
    null_pairs = sum(r.null.pairs for r in results)
    null_fp = sum(len(r.null.false_positives) for r in results)
    query_fp = every["false_positives"]
    ns_all = null_summary([r.null for r in results])
    ns_same = null_summary([r.null for r in results], same_architecture=True)
    recall = ratio(found_in, pairs_in) or 0.0
    relation = ratio(scope["relation_ok"], scope["relation_checked"]) or 0.0
    direction = ratio(scope["direction_ok"], scope["direction_checked"]) or 0.0
    figures = [
        Figure("independent ordered pairs compared (both directions)", f"{null_pairs:,}",
               f">= {MIN_INDEPENDENT_PAIRS}", null_pairs >= MIN_INDEPENDENT_PAIRS),
        Figure("false identical/derived/related over independent pairs", str(null_fp), "0",
               null_fp == 0),
        Figure("false positives in registry identification (all queries)", str(query_fp), "0",
               query_fp == 0),
        Figure("recall over derivative->parent pairs (excl. obfuscated-rotated)",
               fmt_ratio(found_in, pairs_in), f">= {TARGET_RECALL}", recall >= TARGET_RECALL),
        Figure("recall over derivative->parent pairs (all, incl. obfuscated-rotated)",
               fmt_ratio(found_all, pairs_all)),
        Figure("relation accuracy (excl. obfuscated-rotated)",
               fmt_ratio(scope["relation_ok"], scope["relation_checked"]),
               f">= {TARGET_RELATION}", relation >= TARGET_RELATION),
        Figure("direction accuracy where structural evidence exists (excl. obfuscated-rotated)",
               fmt_ratio(scope["direction_ok"], scope["direction_checked"]),
               f">= {TARGET_DIRECTION}", direction >= TARGET_DIRECTION),
    ]  # fmt: skip
    for r in results:
        rec = ratio(r.pairs_in_scope.found, r.pairs_in_scope.pairs) or 0.0
        figures.append(
            Figure(f"{r.name} zoo: recall (excl. obfuscated-rotated)",
                   fmt_ratio(r.pairs_in_scope.found, r.pairs_in_scope.pairs),
                   f">= {TARGET_RECALL}", rec >= TARGET_RECALL)
        )  # fmt: skip
    zoo_rows = [
        [r.name, r.models, f"{r.register_s:.1f}", f"{r.identify_s:.1f}", f"{r.null.pairs:,}",
         f"{r.null.same_architecture:,}", len(r.null.false_positives),
         fmt_ratio(r.pairs_in_scope.found, r.pairs_in_scope.pairs),
         fmt_ratio(r.pairs_all.found, r.pairs_all.pairs)]
        for r in results
    ]  # fmt: skip
    null_rows = []
    for label, ns in (("all independent pairs", ns_all), ("same architecture only", ns_same)):
        null_rows.append([
            label, f"{ns['pairs']:,}", f"{ns['cos_median']:.3f}", f"{ns['cos_p99']:.3f}",
            f"{ns['cos_max']:.3f}", ns["aligned_dims_max"], ns["pairs_with_8_aligned_dims"],
            f"{ns['record_r_max']:.3f}", f"{ns['record_z_sd']:.2f}", f"{ns['record_z_max']:.2f}",
            f"{ns['log10_p_min_over_pairs']:.2f}", f"{ns['log10_p_max']:.2f}",
        ])  # fmt: skip
    missed = [m for r in results for m in r.pairs_all.missed]
    fps = [f for r in results for f in r.null.false_positives]
    details = "\n\n".join(
        [
            "Per transformation, both zoos together (recall = queries whose every parent came "
            "back `derived`/`identical`; relation and direction scored on found queries; "
            "direction only where the manifest records structural evidence):",
            markdown_table(
                ["Transformation", "queries", "recall", "relation acc.", "direction acc.",
                 "false pos."],
                per_transformation_rows(results),
            ),
            markdown_table(
                ["Zoo", "models", "register s", "identify s", "independent pairs",
                 "same-arch pairs", "false pos.", "pair recall (in scope)", "pair recall (all)"],
                zoo_rows,
            ),
            "Null distribution over independent pairs (`compare_sketches` evidence). "
            "`signature_cosine` is the mean |cosine| of aligned anchor signatures; record "
            "r is the best record-pair correlation; record z = r * sqrt(n) over every record "
            f"pair with >= 8 aligned dims, whose sd the p-values assume is NULL_SCALE = "
            f"{ns_all['null_scale']}; log10 p as returned (min = strongest evidence seen under "
            f"the null; STRONG_LOG10_P = {ns_all['threshold']}); records count as shared from "
            f"r >= MATCH_R = {ns_all['match_r']}.",
            markdown_table(
                ["Pairs", "n", "sig. cos median", "sig. cos p99", "sig. cos max",
                 "max aligned dims", "pairs >= 8 aligned dims", "max record r",
                 "record z sd", "record z max", "min log10 p", "max log10 p"],
                null_rows,
            ),
            "Missed derivative->parent pairs: "
            + (", ".join(f"`{m}`" for m in missed) if missed else "none"),
            "False positives over independent pairs: "
            + (", ".join(f"`{f}`" for f in fps) if fps else "none"),
            f"Out of scope (reported in its own row): {', '.join(sorted(OUT_OF_SCOPE))}.",
        ]
    )  # fmt: skip
    write_section(
        SECTION_ACCURACY,
        command=command_line(MODULE),
        figures=figures,
        summary="Registry-level identification of every zoo model against the rest of its "
        "zoo (`scripts/zoo/evaluate.py`, fresh SQLite database per zoo), and "
        "`compare_sketches` over every ordered pair of independently trained models.",
        details=details,
        path=output,
    )
    return all(f.met is not False for f in figures)


# --- 2. sketch cost -----------------------------------------------------------------------


def big_model(gib: float) -> Path:
    """A random bf16 Llama-shaped safetensors model of about ``gib`` GiB (built once)."""
    from benchmarks.fingerprint_vs_model_signing import GiB, write_model

    out = BENCH_DIR / f"identify-llama-{gib:g}gib"
    if not (out / "config.json").exists():
        log(f"writing a {gib:g} GiB model into {out} ...")
        write_model(out, int(gib * GiB), shards=2, seed=7)
    return out


def report_cost(
    timings: list[Timing], bigs: list[Timing], sizes: list[list[object]], output: Path
) -> bool:
    fmt = per_format(timings)
    figures: list[Figure] = []
    for big in bigs:
        r = big.sha_best / big.sketch_best
        figures.append(
            Figure(f"{big.label} ({big.nbytes / 2**20:,.0f} MiB): SHA-256 time / sketch time",
                   f"{r:.2f}x", f">= {TARGET_SPEEDUP:g}x", r >= TARGET_SPEEDUP)
        )  # fmt: skip
    for name, a in sorted(fmt.items()):
        figures.append(
            Figure(f"small zoo {name} ({int(a['files'])} models, {a['bytes'] / 2**20:,.0f} MiB):"
                   " SHA-256 time / sketch time (fixed costs dominate files of a few MiB)",
                   f"{a['ratio']:.2f}x")
        )  # fmt: skip
    all_sizes = [t.sketch_bytes for t in timings] + [b.sketch_bytes for b in bigs]
    figures.append(
        Figure("largest measured sketch (files above)", f"{max(all_sizes) / 1024:.0f} KiB",
               f"<= {TARGET_SKETCH_KIB} KiB", max(all_sizes) <= TARGET_SKETCH_KIB * 1024)
    )  # fmt: skip
    for row in sizes:
        if str(row[0]).startswith(("7B", "70B")):
            kib = int(row[4]) / 1024
            figures.append(
                Figure(f"sketch of a {row[0]} layout (virtual tensors)", f"{kib:.0f} KiB",
                       f"<= {TARGET_SKETCH_KIB} KiB", kib <= TARGET_SKETCH_KIB)
            )  # fmt: skip
    rows = [
        [t.label, t.format, f"{t.nbytes / 2**20:,.1f}", f"{t.sha_best * 1000:.1f}",
         f"{t.sketch_best * 1000:.1f}", f"{t.sha_median * 1000:.1f}",
         f"{t.sketch_median * 1000:.1f}", f"{t.sha_best / t.sketch_best:.2f}",
         f"{t.sketch_bytes / 1024:.0f}", t.records]
        for t in [*timings, *bigs]
    ]  # fmt: skip
    details = "\n\n".join(
        [
            markdown_table(
                ["Model", "format", "MiB", "SHA best ms", "sketch best ms", "SHA median ms",
                 "sketch median ms", "ratio (best)", "sketch KiB", "records"],
                rows,
            ),
            "Sketch size against layout (random bf16 values from virtual tensors that produce "
            "only the rows and columns sketching reads; Llama layout with q, k, v, o, gate, "
            "up, down per layer, so 7 records per layer):",
            markdown_table(["Layout", "hidden", "layers", "records", "sketch bytes",
                            "bytes per record beyond the base", "build s"], sizes),
            "From `registry/weights/sketch.py`: a sketch holds 128 anchor ids, 40 x 128 float16 "
            "signatures and the 8,128-entry float16 anchor Gram (about 28 KB, independent of "
            "width), plus per matrix with a residual-wide axis one or two 780-byte int8 Grams "
            "(40 kept residual dims) and a 16 x 16 float16 block (512 bytes), zlib-compressed: "
            "size = about 28 KB + records x 1.1-1.7 KB, independent of hidden size and vocabulary; "
            "records = matrices per layer x layers.",
            "Timing: `sketch_source(open_model(path))` vs `hashlib.sha256` over the model's "
            "weight files in 8 MiB reads, same process, page cache warm, alternating which runs "
            "first, best (and median) of the rounds. Per-format ratios are sums of best times.",
        ]
    )  # fmt: skip
    write_section(
        SECTION_COST,
        command=command_line(MODULE),
        figures=figures,
        summary="Time to sketch a model against plain SHA-256 of the same files, and the "
        "sketch's size.",
        details=details,
        path=output,
    )
    return all(f.met is not False for f in figures)


def run_cost(zoo: Path, rounds: int, big_gib: float, output: Path) -> bool:
    manifest = load_manifest(zoo)
    timings = []
    for e in manifest:
        timings.append(time_model(e["id"], zoo / e["path"], rounds))
    log(f"cost: {len(timings)} zoo models timed")
    bigs: list[Timing] = []
    if big_gib > 0:
        model = big_model(big_gib)
        files = [(f"random llama {big_gib:g} GiB, bf16 safetensors", model)]
        for qtype in ("Q8_0", "Q4_0"):
            gguf_file = gguf_copy(model, model.with_name(f"{model.name}-{qtype}.gguf"), qtype)
            files.append((f"the same model as GGUF {qtype}", gguf_file))
        for label, path in files:
            bigs.append(time_model(label, path, rounds))
            log(
                f"cost: {label}: sha {bigs[-1].sha_best:.2f} s, sketch {bigs[-1].sketch_best:.2f} s"
            )
    layouts = [
        ("small-zoo-like", 256, 8, 272, 704, 128),
        ("hidden 1024", 1024, 8, 32000, 2816, 256),
        ("hidden 4096", 4096, 8, 32000, 11008, 4096),
        ("7B-like", 4096, 32, 32000, 11008, 4096),
        ("70B-like", 8192, 80, 32000, 28672, 1024),
    ]
    sizes: list[list[object]] = []
    for label, hidden, layers, vocab, inter, kv in layouts:
        nbytes, records, secs = virtual_sketch_size(hidden, layers, vocab, inter, kv)
        sizes.append([label, hidden, layers, records, nbytes, "", f"{secs:.1f}"])
    one = virtual_sketch_size(4096, 1, 32000, 11008, 4096)
    for row in sizes:
        per = (int(row[4]) - one[0]) / max(1, int(row[3]) - one[1])
        row[5] = f"{per:,.0f}" if int(row[3]) > one[1] else "-"
    return report_cost(timings, bigs, sizes, output)


# --- 3. latency ---------------------------------------------------------------------------


def report_latency(points: list[ScalePoint], notes: str, output: Path) -> bool:
    figures = []
    rows = []
    for p in points:
        p50, p95 = p.pct(50), p.pct(95)
        target = p.stored == TARGET_AT or (TARGET_AT - 1000 <= p.stored <= TARGET_AT + 1000)
        figures.append(
            Figure(f"{p.backend}, {p.stored:,} sketches: identify p95",
                   f"{p95:.1f} ms (p50 {p50:.1f})",
                   f"<= {TARGET_LATENCY_MS:.0f} ms" if target else "-",
                   (p95 <= TARGET_LATENCY_MS) if target else None)
        )  # fmt: skip
        figures.append(
            Figure(
                f"{p.backend}, {p.stored:,} sketches: parents found",
                f"{p.parents_found}/{p.parents}",
            )
        )
        rows.append([
            p.backend, f"{p.stored:,}", f"{p.load_s:.1f}", f"{p.size_bytes / 2**20:,.0f}",
            len(p.samples_ms), f"{p50:.1f}", f"{p95:.1f}", f"{max(p.samples_ms):.1f}",
            f"{p.pct(50, 'index_ms'):.1f}", f"{p.pct(95, 'index_ms'):.1f}",
            f"{statistics.mean(p.compared):.1f}", max(p.compared),
            f"{p.parents_found}/{p.parents}",
            ", ".join(f"`{m}`" for m in p.missed) or "-",
        ])  # fmt: skip
    details = "\n\n".join(
        [
            markdown_table(
                ["Backend", "stored sketches", "load s", "DB MiB", "samples", "p50 ms", "p95 ms",
                 "max ms", "index p50 ms", "index p95 ms", "mean compared", "max compared",
                 "parents found", "missed"],
                rows,
            ),
            notes,
        ]
    )  # fmt: skip
    write_section(
        SECTION_LATENCY,
        command=command_line(MODULE),
        figures=figures,
        summary="`registry.services.identify.identify(session, IdentifyQuery(...))` end to end "
        "(fresh session per call, query sketch precomputed) against a registry holding the "
        "small zoo and bulk-loaded filler variants with real sketches.",
        details=details,
        path=output,
    )
    return all(f.met is not False for f in figures)


def run_latency(
    zoo: Path,
    prints: dict | None,
    backends: dict[str, list[int]],
    pg_url: str,
    repeats: int,
    pool_size: int,
    full_until: int,
    output: Path,
) -> bool:
    manifest = load_manifest(zoo)
    if prints is None:
        prints = {e["id"]: fingerprint_with_sketch(zoo / e["path"]) for e in manifest}
    t0 = time.perf_counter()
    pool = sketch_pool(pool_size)
    compact = sketch_pool(64, seed=99, layers=1, vocabs=(40,), hiddens=(16,))
    log(
        f"latency: pool of {len(pool)} sketches in {time.perf_counter() - t0:.1f} s, bytes "
        f"min/median/max {sketch_bytes_stats(pool)}; compact {sketch_bytes_stats(compact)}"
    )
    points: list[ScalePoint] = []
    with tempfile.TemporaryDirectory(prefix="provreg-identify-", dir=BENCH_DIR) as tmp:
        for backend, sizes in backends.items():
            url = f"sqlite:///{Path(tmp) / 'scale.db'}" if backend == "sqlite" else pg_url
            points += run_backend(
                backend, url, sizes, manifest, prints, pool, repeats, log,
                compact_pool=compact, full_until=full_until,
            )  # fmt: skip
            if backend == "sqlite":
                for f in Path(tmp).glob("scale.db*"):
                    f.unlink()
            else:
                from benchmarks._postgres import fresh_postgresql

                fresh_postgresql(pg_url)  # give the disk back
    lo, med, hi = sketch_bytes_stats(pool)
    clo, _, chi = sketch_bytes_stats(compact)
    run = "; ".join(f"{b}: {', '.join(f'{n:,}' for n in s)}" for b, s in backends.items())
    notes = (
        f"What ran: {run} stored sketches. The small zoo's non-leaf models "
        "are registered through `register_variant` (sketches, bands, declared lineage); its "
        "leaf derivatives (not registered; `obfuscated-rotated` left out) are the queries, each "
        f"timed {repeats} times after one untimed pass that also checks the parents come back "
        "`derived`/`identical` (the `parents found` column; `missed` compares with the "
        "zoo-only baseline row). Filler rows are bulk-loaded (SQLite `executemany` in "
        "20,000-row batches in one transaction, PostgreSQL `COPY`), then `ANALYZE` "
        "(`VACUUM ANALYZE` on PostgreSQL, as autovacuum would after a bulk load). "
        f"Filler sketch bytes are real sketches of {len(pool)} distinct random Llama-shaped "
        f"models (hidden 64-128, 4 layers, vocabularies chosen so their anchor ids equal the "
        f"zoo's, so a compared filler candidate costs a full comparison; {lo:,}-{hi:,} bytes, "
        f"median {med:,}), reused across rows; each filler row has its own random 256-bit "
        "code in `variant_sketch.code` and in its 32 `sketch_band` rows. Beyond "
        f"{full_until:,} stored sketches, filler rows carry compact real sketches "
        f"({clo:,}-{chi:,} bytes: 1-layer, 40-token models whose anchors differ from the "
        "zoo's, so comparing one stops at the anchors) to keep the database within this "
        "machine's disk: the index work at 1M is exact, the full-comparison cost of filler "
        "candidates is not. `index` columns time `sketch_index.candidates()` alone (the "
        "banded SQL lookup plus Hamming ranking)."
    )
    return report_latency(points, notes, output)


# --- main ---------------------------------------------------------------------------------


def _sizes(text: str) -> list[int]:
    return [int(x.replace("_", "")) for x in text.split(",") if x.strip()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--zoo", type=Path, default=None, help="the small zoo (else built)")
    parser.add_argument("--tiny-zoo", type=Path, default=TINY_ZOO)
    parser.add_argument("--parts", default="accuracy,cost,latency")
    parser.add_argument("--rounds", type=int, default=3, help="timing rounds for sketch cost")
    parser.add_argument("--big-gib", type=float, default=1.0, help="generated model size, 0=none")
    parser.add_argument("--sqlite-sizes", default="0,10000,100000,1000000")
    parser.add_argument("--pg-sizes", default="0,10000,100000")
    parser.add_argument(
        "--full-until", type=int, default=100_000,
        help="stored sketches up to which filler rows carry full-size sketches",
    )  # fmt: skip
    parser.add_argument("--pool", type=int, default=300, help="distinct filler sketches")
    parser.add_argument("--repeats", type=int, default=3, help="timed passes over the queries")
    parser.add_argument("--pg-url", default=DEFAULT_PG_URL)
    parser.add_argument("--output", type=Path, default=REPORT_PATH)
    args = parser.parse_args(argv)
    parts = {p.strip() for p in args.parts.split(",") if p.strip()}
    unknown = parts - {"accuracy", "cost", "latency"}
    if unknown:
        parser.error(f"unknown parts: {', '.join(sorted(unknown))}")
    BENCH_DIR.mkdir(exist_ok=True)
    zoo = ensure_small_zoo(args.zoo)
    ok = True
    prints = None
    if "accuracy" in parts:
        results = []
        for name, root in (("tiny", args.tiny_zoo), ("small", zoo)):
            t0 = time.perf_counter()
            res = evaluate_zoo(name, root)
            results.append(res)
            log(
                f"accuracy [{name}]: {res.summary['total']} null pairs {res.null.pairs}, false "
                f"pos {len(res.null.false_positives)} ({time.perf_counter() - t0:.0f} s)"
            )
        prints = results[-1].prints
        ok &= report_accuracy(results, args.output)
    if "cost" in parts:
        ok &= run_cost(zoo, args.rounds, args.big_gib, args.output)
    if "latency" in parts:
        backends = {}
        if _sizes(args.sqlite_sizes):
            backends["sqlite"] = _sizes(args.sqlite_sizes)
        if _sizes(args.pg_sizes):
            backends["postgresql"] = _sizes(args.pg_sizes)
        ok &= run_latency(
            zoo, prints, backends, args.pg_url, args.repeats, args.pool, args.full_until,
            args.output,
        )  # fmt: skip
    log(f"wrote {args.output}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
