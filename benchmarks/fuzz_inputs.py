"""The full hostile-input corpus (``tests/fuzz/corpus.py``), each input registered in a process
of its own on a SQLite database: time and peak memory per input, and the corpus's rules (no
internal error, nothing stored by a failed registration, no file read outside the directory).

    python -m benchmarks.fuzz_inputs [--scale full|ci] [--limit N] [--postgres URL]

With ``--postgres`` (a database of its own: its schema is emptied first) every input is also
registered on PostgreSQL and the two answers are compared.

Each input is built by one child process, then registered by another forked from a parent that
holds the libraries already imported, so an input's figures are its own: wall time of
open + fingerprint + sketch + register, and the peak RSS of the registering process (which
includes the ~250 MiB the interpreter and libraries take before any input is read).
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import resource
import shutil
import statistics
import sys
import tempfile
import time
from collections import Counter
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from sqlmodel import Session

from benchmarks._postgres import fresh_postgresql
from benchmarks._report import Figure, command_line, markdown_table, write_section
from registry.db import make_engine, upgrade_database
from tests.fuzz.corpus import Case, corpus
from tests.fuzz.harness import register_built

TITLE = "Hostile inputs: the fuzz corpus"
MAX_SECONDS, MAX_MIB = 10.0, 1024.0


def _build(case: Case, work: Path, conn: Connection) -> None:
    conn.send(str(case.build(work)))


def _register(case: Case, path: str, work: Path, db: str, index: int, conn: Connection) -> None:
    engine = make_engine(url=db)
    with Session(engine) as session:
        start = time.perf_counter()
        outcome = register_built(case.name, Path(path), work, session, index)
        seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    conn.send((outcome.answer, outcome.faults(case), seconds, peak))


def _in_child(target: Any, *args: Any) -> Any:
    ctx = mp.get_context("fork")
    receive, send = ctx.Pipe(duplex=False)
    child = ctx.Process(target=target, args=(*args, send))
    child.start()
    send.close()
    try:
        result = receive.recv()
    except EOFError:
        result = None
    child.join()
    if result is None:
        raise RuntimeError(f"child exited with {child.exitcode} and no result")
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", choices=["full", "ci"], default="full")
    parser.add_argument("--limit", type=int, default=0, help="only the first N inputs")
    parser.add_argument("--postgres", metavar="URL", help="also register every input there")
    args = parser.parse_args()
    cases = corpus(args.scale)
    if args.limit:
        cases = cases[: args.limit]
    scratch = Path(tempfile.mkdtemp(prefix="provreg-fuzz-"))
    db = f"sqlite:///{scratch / 'fuzz.db'}"
    upgrade_database(make_engine(url=db))
    if args.postgres:
        fresh_postgresql(args.postgres)
        upgrade_database(make_engine(url=args.postgres))
    rows: list[tuple[Case, str, list[str], float, float]] = []
    differ: list[str] = []
    started = time.perf_counter()
    try:
        for i, case in enumerate(cases):
            work = scratch / f"case-{i}"
            work.mkdir()
            path = _in_child(_build, case, work)
            answer, faults, seconds, peak = _in_child(_register, case, path, work, db, i)
            rows.append((case, answer, faults, seconds, peak))
            if args.postgres:
                other, pg_faults, *_ = _in_child(_register, case, path, work, args.postgres, i)
                if (other, pg_faults) != (answer, faults):
                    differ.append(f"{case.name}: {answer} / {other}")
            if faults:
                print(f"{case.name}: {faults}", file=sys.stderr)
            shutil.rmtree(work, ignore_errors=True)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    total = time.perf_counter() - started

    def count(word: str) -> int:
        return sum(any(word in f for f in faults) for _, _, faults, _, _ in rows)

    slowest = max(rows, key=lambda r: r[3])
    largest = max(rows, key=lambda r: r[4])
    broken = sum(bool(r[2]) for r in rows)
    internal, stored, outside = count("internal error"), count("stored"), count("read outside")
    slow_ok, big_ok = slowest[3] <= MAX_SECONDS, largest[4] <= MAX_MIB
    median_ms = statistics.median(r[3] for r in rows) * 1000
    slow_name, big_name = (
        f"max time per input ({slowest[0].name})",
        f"max peak RSS ({largest[0].name})",
    )
    figures = [
        Figure("inputs", f"{len(rows):,}", ">= 300", len(rows) >= 300),
        Figure("internal errors", str(internal), "0", internal == 0),
        Figure("records stored by a failed registration", str(stored), "0", stored == 0),
        Figure("files read outside the model directory", str(outside), "0", outside == 0),
        Figure("inputs breaking any rule of the corpus", str(broken), "0", broken == 0),
        *(
            [Figure("answers differing on PostgreSQL", str(len(differ)), "0", not differ)]
            if args.postgres
            else []
        ),
        Figure(slow_name, f"{slowest[3]:.2f} s", f"<= {MAX_SECONDS:.0f} s", slow_ok),
        Figure("median time per input", f"{median_ms:.0f} ms"),
        Figure(big_name, f"{largest[4]:.0f} MiB", f"<= {MAX_MIB:.0f} MiB", big_ok),
    ]  # fmt: skip
    by_kind: dict[str, Counter[str]] = {}
    for case, answer, *_ in rows:
        by_kind.setdefault(case.kind, Counter())[answer.split(":", 1)[0]] += 1
    slow_rows = [
        (r[0].name, r[1].split(":", 1)[0], f"{r[3]:.2f} s", f"{r[4]:.0f} MiB")
        for r in rows
        if r[0].kind == "slow"
    ]
    details = (
        "Answers by kind of input:\n\n"
        + markdown_table(
            ["kind", "inputs", "answers"],
            [
                (kind, sum(c.values()), ", ".join(f"{a} {n}" for a, n in sorted(c.items())))
                for kind, c in sorted(by_kind.items())
            ],
        )
        + "\n\nThe slow inputs, one process each:\n\n"
        + markdown_table(["input", "answer", "time", "peak RSS"], slow_rows)
        + f"\n\nWhole run: {total:.0f} s"
        + (" (each input registered on SQLite, then on PostgreSQL)." if args.postgres else ".")
        + (f" Differing: {'; '.join(differ[:5])}." if differ else "")
    )
    path = write_section(
        TITLE,
        command=command_line("benchmarks.fuzz_inputs"),
        figures=figures,
        summary="Hostile JSON (depth, lone surrogates, NUL, huge integers, NaN), over-long "
        "names, links out of the model directory, silent partial reads, slow inputs and seeded "
        "byte and JSON-token mutations of valid safetensors, sharded, GGUF and ONNX models, each "
        "fingerprinted, sketched and registered the way `provreg register` does.",
        details=details,
    )
    print(f"wrote {path}", file=sys.stderr)
    return 0 if all(f.met is not False for f in figures) else 1


if __name__ == "__main__":
    sys.exit(main())
