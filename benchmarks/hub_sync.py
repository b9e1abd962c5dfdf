"""Hub sync: a generated family of 50,000 repos on the loopback Hub, synced into the registry.

What it measures
    The loopback Hub of the tests (``tests/hub_server.py``) runs in a child process serving a
    generated tree (one root, each repo with up to 8 children of random Hub relations, a
    weights file known by its LFS digest, download counters, a model-index result on one in
    ten). The benchmark process syncs it with ``registry.hub.sync.sync_root`` through
    the real ``huggingface_hub`` client: per repo one ``model_info`` with ``blobs`` and, for
    repos with children, one listing per relation. Reported: repos per second for the first
    sync and for a second, incremental one (nothing changed: listings only), and the peak
    resident memory of the syncing process (the server's memory is its own).

Run: ``python -m benchmarks.hub_sync [--repos N] [--backends sqlite,postgresql]
[--postgres-repos N]``. Writes the "Hub sync" section of BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import multiprocessing
import resource
import sys
import tempfile
import time
from multiprocessing.connection import Connection
from pathlib import Path

from sqlalchemy import Engine, func
from sqlmodel import select

from benchmarks._postgres import fresh_postgresql
from benchmarks._report import Figure, command_line, markdown_table, write_section
from registry.db import make_engine, make_session_factory, upgrade_database
from registry.db.models import HubRepo
from registry.hub.reader import HubReader
from registry.hub.sync import sync_root
from registry.services.safeguards.policy import load_policy
from tests.hub_server import FakeHub, HubServer, generated_tree

TITLE = "Hub sync"
ROOT = "base-org/base"
FANOUT = 8
DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/provreg_bench_hub"


def _serve(repos: int, conn: Connection) -> None:
    fake = FakeHub(list(generated_tree(repos, root=ROOT, fanout=FANOUT)), page_size=1000)
    fake.record_requests = False
    with HubServer(fake) as server:
        conn.send(server.url)
        conn.recv()  # until told to stop


def _pg_engine(url: str) -> Engine:
    fresh_postgresql(url)
    return make_engine(url=url)


def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run(engine: Engine, repos: int, *, resync: bool) -> dict[str, float]:
    """Serve ``repos`` repos in a child process and sync them into ``engine`` (``resync``:
    then once more, nothing having changed)."""
    upgrade_database(engine)
    sessions = make_session_factory(engine)
    parent, child = multiprocessing.Pipe()
    server = multiprocessing.get_context("spawn").Process(target=_serve, args=(repos, child))
    server.start()
    try:
        url = parent.recv()
        hub = HubReader(url, None)
        policy = load_policy()
        rss_before = _peak_rss_mib()
        t0 = time.perf_counter()
        with sessions() as session:
            first = sync_root(session, hub, ROOT, policy, depth=64)
        first_s = time.perf_counter() - t0
        peak_first = _peak_rss_mib()
        second_s = float("nan")
        if resync:
            t0 = time.perf_counter()
            with sessions() as session:
                second = sync_root(session, hub, ROOT, policy, depth=64)
            second_s = time.perf_counter() - t0
            assert second.unchanged == repos
        with sessions() as session:
            stored = int(session.exec(select(func.count()).select_from(HubRepo)).one())
    finally:
        parent.send("stop")
        server.join(timeout=30)
    assert first.repos == repos == stored, (first.repos, repos, stored)
    return {
        "repos": repos,
        "first_s": first_s,
        "first_rps": repos / first_s,
        "second_s": second_s,
        "second_rps": repos / second_s,
        "rss_before_mib": rss_before,
        "peak_rss_mib": max(peak_first, _peak_rss_mib()),
        "evaluations": first.evaluations,
        "edges": first.declared_edges,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repos", type=int, default=50_000)
    parser.add_argument("--postgres-repos", type=int, default=None, help="default: --repos")
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--postgres-url", default=DEFAULT_PG_URL)
    parser.add_argument(
        "--resync-max", type=int, default=10_000, help="re-sync only runs up to this many repos"
    )
    args = parser.parse_args(argv)
    rows, figures = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for backend in [b for b in args.backends.split(",") if b]:
            if backend == "sqlite":
                engine, n = make_engine(url=f"sqlite:///{Path(tmp) / 'hub.db'}"), args.repos
            else:
                engine, n = _pg_engine(args.postgres_url), args.postgres_repos or args.repos
            r = run(engine, n, resync=n <= args.resync_max)
            engine.dispose()
            print(backend, r, file=sys.stderr, flush=True)
            rows.append(
                [
                    backend,
                    f"{n:,}",
                    f"{r['first_s']:.0f} s",
                    f"{r['first_rps']:.0f}",
                    f"{r['second_s']:.0f} s" if r["second_s"] == r["second_s"] else "-",
                    f"{r['second_rps']:.0f}" if r["second_s"] == r["second_s"] else "-",
                    f"{r['peak_rss_mib']:.0f} MiB",
                    f"{int(r['edges']):,} / {int(r['evaluations']):,}",
                ]
            )
            figures.append(
                Figure(f"{backend}: first sync of {n:,} repos, repos/s", f"{r['first_rps']:.0f}")
            )
            if r["second_s"] == r["second_s"]:  # not NaN: the re-sync ran
                figures.append(
                    Figure(
                        f"{backend}: incremental re-sync of {n:,} (unchanged), repos/s",
                        f"{r['second_rps']:.0f}",
                    )
                )
            figures.append(
                Figure(
                    f"{backend}: peak RSS of the benchmark process so far",
                    f"{r['peak_rss_mib']:.0f} MiB",
                )
            )
    details = (
        markdown_table(
            [
                "backend",
                "repos",
                "first sync",
                "repos/s",
                "re-sync",
                "repos/s",
                "peak RSS",
                "declared edges / results",
            ],
            rows,
        )  # fmt: skip
        + "\n\nThe Hub runs on loopback in a child process (uvicorn, one worker) on the same "
        "2-core machine, so the figures include its share of the CPU; against the real Hub "
        "the network and its rate limits dominate. Each repo is recorded in its own transaction "
        "(frontier item, variant, `hub_repo`, files, declared edges, two download snapshots, "
        "results), which is what makes a killed sync resumable. Peak RSS is the benchmark "
        "process's high-water mark (``ru_maxrss``), so a later backend's figure includes the "
        "earlier runs; memory does not grow with the tree, as the frontier lives in the "
        "database."
    )
    path = write_section(
        TITLE,
        command=command_line("benchmarks.hub_sync"),
        figures=figures,
        summary="A generated family of repos on the loopback Hub synced through the real "
        "huggingface_hub client: repos per second and peak memory.",
        details=details,
    )
    print(f"wrote {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
