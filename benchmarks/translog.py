"""The transparency log: appends per second with proofs, and proofs at 1,000,000 leaves.

What it measures
    1. Appends per second on SQLite and PostgreSQL: each append is a real event
       (``registry.services.keys.add_key``: a key row, its log leaf and the subtree hashes it
       closes, committed in one transaction), followed by an inclusion proof of the new leaf
       read from the database and verified, as a client would right after writing.
    2. At 1,000,000 leaves (SQLite; the subtree hashes are bulk-loaded, as ``translog.append``
       would have written them): inclusion and consistency proof sizes, the time to build each
       from the database (one batched read of O(log n) hashes), and the time to verify each.

Run: ``python -m benchmarks.translog [--appends N] [--leaves N] [--backends sqlite,postgresql]``.
Writes the "Transparency log" section of BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import ed25519
from sqlalchemy import Engine, insert

from benchmarks._postgres import fresh_postgresql
from benchmarks._report import Figure, command_line, markdown_table, write_section
from registry.db import make_engine, make_session_factory, upgrade_database
from registry.db.models import LogLeaf, LogNode
from registry.services.trust import keys as keys_service
from registry.services.trust import translog
from registry.trust import merkle
from registry.trust.keys import public_key_pem

TITLE = "Transparency log"
DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/provreg_bench_translog"


def _pg_engine(url: str) -> Engine:
    fresh_postgresql(url)
    return make_engine(url=url)


def appends(engine: Engine, n: int) -> dict[str, float]:
    """Append ``n`` real events, each followed by a verified inclusion proof."""
    upgrade_database(engine)
    sessions = make_session_factory(engine)
    pems = [public_key_pem(ed25519.Ed25519PrivateKey.generate().public_key()) for _ in range(n)]
    append_s: list[float] = []
    proof_s: list[float] = []
    sizes: list[int] = []
    start = time.perf_counter()
    for i, pem in enumerate(pems):
        t0 = time.perf_counter()
        with sessions() as s:
            keys_service.add_key(s, f"ns{i % 50}", pem)
        t1 = time.perf_counter()
        with sessions() as s:
            size = translog.tree_size(s)
            proof = translog.inclusion_proof(s, size - 1, size)
            root = translog.root_at(s, size)
        merkle.verify_inclusion(
            size - 1,
            size,
            bytes.fromhex(proof.leaf_hash),
            [bytes.fromhex(h) for h in proof.hashes],
            root,
        )
        t2 = time.perf_counter()
        append_s.append(t1 - t0)
        proof_s.append(t2 - t1)
        sizes.append(len(proof.hashes))
    total = time.perf_counter() - start
    return {
        "appends_per_s": n / sum(append_s),
        "with_proofs_per_s": n / total,
        "append_p50_ms": statistics.median(append_s) * 1e3,
        "proof_p50_ms": statistics.median(proof_s) * 1e3,
    }


def bulk_tree(engine: Engine, n: int) -> float:
    """Load ``n`` leaves and every complete subtree hash; returns seconds."""
    upgrade_database(engine)
    t0 = time.perf_counter()
    level_hashes = [merkle.leaf_hash(b"leaf %d" % i) for i in range(n)]
    with engine.begin() as conn:
        batch = 50_000
        for i in range(0, n, batch):
            conn.execute(
                insert(LogLeaf),
                [
                    {
                        "leaf_index": j,
                        "kind": "bench",
                        "record_id": j,
                        "data": b"leaf %d" % j,
                        "leaf_hash": level_hashes[j],
                    }
                    for j in range(i, min(n, i + batch))
                ],
            )
        level = 0
        while level_hashes:
            rows = [
                {"level": level, "node_index": i, "hash": h} for i, h in enumerate(level_hashes)
            ]
            for i in range(0, len(rows), batch):
                conn.execute(insert(LogNode), rows[i : i + batch])
            level_hashes = [
                merkle.node_hash(level_hashes[i], level_hashes[i + 1])
                for i in range(0, len(level_hashes) - 1, 2)
            ]
            level += 1
    return time.perf_counter() - t0


def _timed(fn: Callable[[], object], repeat: int) -> tuple[object, float]:
    times, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return out, statistics.median(times)


def proofs_at(engine: Engine, n: int, samples: int = 200) -> dict[str, float]:
    sessions = make_session_factory(engine)
    rng = random.Random(7)
    with sessions() as s:
        assert translog.tree_size(s) == n
        root, root_s = _timed(lambda: translog.root_at(s, n), 5)
        assert isinstance(root, bytes)
        build, verify, sizes = [], [], []
        for _ in range(samples):
            index = rng.randrange(n)
            t0 = time.perf_counter()
            proof = translog.inclusion_proof(s, index, n)
            t1 = time.perf_counter()
            merkle.verify_inclusion(
                index,
                n,
                merkle.leaf_hash(b"leaf %d" % index),
                [bytes.fromhex(h) for h in proof.hashes],
                root,
            )
            t2 = time.perf_counter()
            build.append(t1 - t0)
            verify.append(t2 - t1)
            sizes.append(len(proof.hashes))
        cbuild, cverify, csizes = [], [], []
        for _ in range(samples):
            first = rng.randrange(1, n)
            t0 = time.perf_counter()
            proof_c = translog.consistency_proof(s, first, n)
            old_root = translog.root_at(s, first)
            t1 = time.perf_counter()
            merkle.verify_consistency(
                first, n, [bytes.fromhex(h) for h in proof_c.hashes], old_root, root
            )
            t2 = time.perf_counter()
            cbuild.append(t1 - t0)
            cverify.append(t2 - t1)
            csizes.append(len(proof_c.hashes))
    return {
        "root_ms": root_s * 1e3,
        "incl_hashes_max": max(sizes),
        "incl_build_p50_ms": statistics.median(build) * 1e3,
        "incl_verify_p50_us": statistics.median(verify) * 1e6,
        "cons_hashes_max": max(csizes),
        "cons_build_p50_ms": statistics.median(cbuild) * 1e3,
        "cons_verify_p50_us": statistics.median(cverify) * 1e6,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--appends", type=int, default=1000)
    parser.add_argument("--leaves", type=int, default=1_000_000)
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--postgres-url", default=DEFAULT_PG_URL)
    args = parser.parse_args(argv)
    backends = [b for b in args.backends.split(",") if b]
    rows, figures = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for backend in backends:
            engine = (
                make_engine(url=f"sqlite:///{Path(tmp) / 'appends.db'}")
                if backend == "sqlite"
                else _pg_engine(args.postgres_url)
            )
            r = appends(engine, args.appends)
            engine.dispose()
            print(backend, r, file=sys.stderr)
            rows.append(
                [
                    backend,
                    args.appends,
                    f"{r['appends_per_s']:.0f}",
                    f"{r['with_proofs_per_s']:.0f}",
                    f"{r['append_p50_ms']:.2f}",
                    f"{r['proof_p50_ms']:.2f}",
                ]
            )
            figures.append(
                Figure(
                    f"appends/s with a verified proof each ({backend})",
                    f"{r['with_proofs_per_s']:.0f}",
                )
            )
        engine = make_engine(url=f"sqlite:///{Path(tmp) / 'million.db'}")
        load_s = bulk_tree(engine, args.leaves)
        p = proofs_at(engine, args.leaves)
        engine.dispose()
        print(p, file=sys.stderr)
    n = f"{args.leaves:,}"
    figures += [
        Figure(
            f"inclusion proof at {n} leaves",
            f"{p['incl_hashes_max']:.0f} hashes ({p['incl_hashes_max'] * 32:.0f} B)",
            "O(log n)",
            p["incl_hashes_max"] <= 20,
        ),
        Figure(f"inclusion proof build from the DB, p50 ({n})", f"{p['incl_build_p50_ms']:.2f} ms"),
        Figure(f"inclusion proof verify, p50 ({n})", f"{p['incl_verify_p50_us']:.0f} µs"),
        Figure(
            f"consistency proof at {n} leaves (max)",
            f"{p['cons_hashes_max']:.0f} hashes",
            "O(log n)",
            p["cons_hashes_max"] <= 40,
        ),
        Figure(f"consistency proof build, p50 ({n})", f"{p['cons_build_p50_ms']:.2f} ms"),
        Figure(f"consistency proof verify, p50 ({n})", f"{p['cons_verify_p50_us']:.0f} µs"),
    ]
    details = (
        "Appends (each a real `keys add` event committed in its own transaction, then an "
        "inclusion proof of the new leaf read back and verified):\n\n"
        + markdown_table(
            ["backend", "events", "appends/s", "appends+proof/s", "append p50 ms", "proof p50 ms"],
            rows,
        )
        + f"\n\nAt {n} leaves (SQLite, {load_s:.0f} s to bulk-load the leaves and "
        f"{2 * args.leaves - 1:,} subtree hashes): root from stored subtrees "
        f"{p['root_ms']:.2f} ms; 200 random inclusion and 200 random consistency proofs."
    )
    path = write_section(
        TITLE,
        command=command_line("benchmarks.translog"),
        figures=figures,
        summary="RFC 9162 log kept as complete-subtree hashes: every proof is one batched read "
        "of O(log n) hashes.",
        details=details,
    )
    print(f"wrote {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
