"""Fingerprint throughput of a worker fleet: 1, 2 and 4 `provreg worker` processes.

What it measures
    A family of ``--repos`` repos (the committed zoo's safetensors models, one per repo) on the
    loopback Hub, which serves each connection at ``--bandwidth`` bytes per second, as a CDN
    edge would serve one client connection. The repos are synced into a SQLite database, one
    fingerprint job per repo is queued on Redis, and N workers (each one process) take them;
    each job sketches its repo remotely (range reads). Reported: repos per second from the
    first job queued to the last one done, for each fleet size, and the speed-up over one
    worker. Workers are started (and given time to connect) before the jobs are queued.

Run: ``python -m benchmarks.worker_fleet [--repos N] [--bandwidth BYTES] [--broker URL]``.
Writes the "Worker fleet" section of BENCHMARKS.md. Needs Redis.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from sqlmodel import select

from benchmarks._report import Figure, command_line, markdown_table, write_section
from registry.config import Settings
from registry.db import make_engine, make_session_factory, upgrade_database
from registry.db.models import HubRepo
from registry.hub.jobs import enqueue_jobs, wait_for_jobs
from registry.hub.reader import HubReader
from registry.hub.sync import sync_root
from registry.hub.worker import send_jobs
from registry.services.safeguards.policy import load_policy
from tests.hub_server import FakeHub, HubRepoSpec, HubServer, zoo_files

TITLE = "Worker fleet"
ZOO = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "zoo"
FLEETS = (1, 2, 4)


def family(repos: int) -> FakeHub:
    models = sorted(p for p in ZOO.iterdir() if p.is_dir() and any(p.glob("*.safetensors")))
    root = HubRepoSpec(id="bench/root", files=zoo_files(models[0]))
    children = [
        HubRepoSpec(
            id=f"bench/child-{i:03d}",
            parents=[("bench/root", "finetune")],
            files=zoo_files(models[(i + 1) % len(models)]),
        )
        for i in range(repos - 1)
    ]
    return FakeHub([root, *children], page_size=1000)


def start_workers(n: int, env: dict[str, str]) -> list[subprocess.Popen[bytes]]:
    code = (
        "from registry.config import Settings\n"
        "from registry.hub.worker import run_worker\n"
        "run_worker(Settings())\n"
    )
    return [
        subprocess.Popen(
            [sys.executable, "-c", code],
            env=env,
            start_new_session=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(n)
    ]


def stop(workers: list[subprocess.Popen[bytes]]) -> None:
    for w in workers:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(w.pid, signal.SIGTERM)
    for w in workers:
        try:
            w.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(w.pid, signal.SIGKILL)


def run_fleet(n: int, repos: int, bandwidth: float, broker: str, workdir: Path) -> float:
    fake = family(repos)
    fake.record_requests = False
    fake.bandwidth = bandwidth
    url = f"sqlite:///{workdir / f'fleet-{n}.db'}"
    engine = make_engine(url=url)
    upgrade_database(engine)
    sessions = make_session_factory(engine)
    queue = f"provreg-bench-{uuid.uuid4().hex[:8]}"
    with HubServer(fake) as server:
        with sessions() as session:
            sync_root(session, HubReader(server.url, None), "bench/root", load_policy())
            ids = enqueue_jobs(session, list(session.exec(select(HubRepo))), server.url)
        env = {
            **os.environ,
            "PROVREG_HOME": str(workdir / "home"),
            "PROVREG_DATABASE_URL": url,
            "PROVREG_BROKER_URL": broker,
            "PROVREG_JOB_QUEUE": queue,
            "HF_ENDPOINT": server.url,
        }
        workers = start_workers(n, env)
        try:
            time.sleep(6)  # let every worker connect before the clock starts
            settings = Settings(broker_url=broker, job_queue=queue, database_url=url)
            started = time.perf_counter()
            send_jobs(settings, ids)
            report = wait_for_jobs(sessions, ids, timeout=900, poll=0.2)
            elapsed = time.perf_counter() - started
        finally:
            stop(workers)
    engine.dispose()
    if report.counts["done"] != len(ids):
        raise RuntimeError(f"{n} workers: {report.counts} ({report.failed})")
    return len(ids) / elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repos", type=int, default=24)
    parser.add_argument("--bandwidth", type=float, default=256_000.0)
    parser.add_argument("--broker", default="redis://127.0.0.1:6379/14")
    args = parser.parse_args()
    rates = {}
    with tempfile.TemporaryDirectory(prefix="provreg-bench-fleet-") as tmp:
        for n in FLEETS:
            rates[n] = run_fleet(n, args.repos, args.bandwidth, args.broker, Path(tmp))
            print(f"{n} workers: {rates[n]:.2f} repos/s", file=sys.stderr)
    base = rates[FLEETS[0]]
    figures = [
        Figure(
            f"speed-up with {n} workers over 1",
            f"{rates[n] / base:.2f}x",
            f"> {FLEETS[i - 1]} workers' ({rates[FLEETS[i - 1]] / base:.2f}x)",
            rates[n] > rates[FLEETS[i - 1]],
        )
        for i, n in enumerate(FLEETS)
        if i > 0
    ]
    details = markdown_table(
        ["workers", "repos/s", "speed-up"],
        [(n, f"{rates[n]:.2f}", f"{rates[n] / base:.2f}x") for n in FLEETS],
    )
    details += (
        f"\n\n{args.repos} repos, each served at {args.bandwidth / 1000:.0f} kB/s per "
        "connection by the loopback Hub; each job sketches its repo remotely (headers and "
        "sampled rows by range reads) and records what it finds. The fleet shares this 2-core "
        "machine with the Hub and the database, so the jobs' waiting on the network, not CPU, "
        "is what more workers overlap; on separate machines the CPU scales too."
    )
    path = write_section(
        TITLE,
        command=command_line("benchmarks.worker_fleet"),
        figures=figures,
        summary="Fingerprint jobs on Redis taken by 1, 2 and 4 workers against a loopback Hub "
        "that limits each connection's bandwidth.",
        details=details,
    )
    print(f"wrote {path}", file=sys.stderr)
    return 0 if all(f.met for f in figures) else 1


if __name__ == "__main__":
    sys.exit(main())
