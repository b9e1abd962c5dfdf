"""`provreg dump` and `provreg restore FILE`: the whole local registry as JSON Lines, and back
into an empty database. Admin work on the database itself, so local mode only."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import IO, Annotated

import typer

from cli.options import JsonOption
from cli.output import Line, Output, stderr
from cli.state import CliState
from registry.errors import InvalidInput, LocalOnly
from schemas.trust import DumpSummary, RestoreReport


def _local_only(state: CliState, command: str) -> None:
    if state.settings.url and state.session_factory_override is None:
        raise LocalOnly(
            f"`provreg {command}` works on a database directly, not through a server "
            f"({state.settings.url})",
            hint="run it where the database is: unset PROVREG_URL and set PROVREG_DATABASE_URL",
        )


def _write(state: CliState, out: IO[str]) -> DumpSummary:
    from registry.services.backup import dump_lines

    rows = 0
    trailer = ""
    with state.local_sessions()() as session, session.begin():
        for line in dump_lines(session, state.settings):
            out.write(line)
            if line.startswith('{"table": '):
                rows += 1
            else:
                trailer = line
    doc = json.loads(trailer)
    counts = {k: v for k, v in doc["counts"].items() if v}
    return DumpSummary(
        path=getattr(out, "name", "-"),
        rows=rows,
        counts=counts,
        tree_size=doc["tree_size"],
        root_hash=doc["root_hash"],
    )


def _dumped_view(s: DumpSummary) -> Iterable[Line]:
    yield f"dumped {s.rows} rows to {s.path}; log size {s.tree_size}, root {s.root_hash[:16]}..."


def dump(
    ctx: typer.Context,
    out: Annotated[
        Path | None,
        typer.Option("--out", metavar="FILE", help="write here (default: JSON Lines on stdout)"),
    ] = None,
    as_json: JsonOption = False,
) -> Output | None:
    """Dump the whole local registry as JSON Lines (streamed), ending with a signed checkpoint."""
    state: CliState = ctx.obj
    _local_only(state, "dump")
    if out is None:
        summary = _write(state, sys.stdout)
        sys.stdout.flush()
        stderr().print(f"dumped {summary.rows} rows; log size {summary.tree_size}")
        return None
    try:
        with out.open("w", encoding="utf-8") as fh:
            summary = _write(state, fh)
    except OSError as exc:
        raise InvalidInput(
            f"cannot write {out}: {exc.strerror}", hint="pick a writable --out"
        ) from None
    return Output(summary, view=_dumped_view)


def _restored_view(r: RestoreReport) -> Iterable[Line]:
    yield (
        f"restored {r.rows} rows; the log re-derives to size {r.tree_size}, root "
        f"{r.root_hash[:16]}... (checkpoint signed by log key {r.log_key_id[:16]})"
    )


def restore(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(metavar="FILE", help="a dump, or - for stdin")],
    as_json: JsonOption = False,
) -> Output:
    """Restore a dump into an empty database; refused, with nothing written, unless its log
    re-derives to its signed checkpoint."""
    state: CliState = ctx.obj
    _local_only(state, "restore")
    from registry.services.backup import restore_lines

    try:
        source = sys.stdin if str(file) == "-" else file.open(encoding="utf-8")
    except OSError as exc:
        raise InvalidInput(f"cannot read {file}: {exc.strerror}", hint="pass a dump file") from None
    with source, state.local_sessions()() as session:
        report = restore_lines(session, source)
    return Output(report, view=_restored_view)
