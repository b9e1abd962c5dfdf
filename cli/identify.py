"""`provreg identify`: registered variants a file is identical to, derived from or related to."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from cli.backend import CliState
from cli.options import JsonOption
from cli.output import emit_json, stdout
from cli.weights_io import read_release
from schemas import IdentifyQuery

_STYLE = {"identical": "bold green", "derived": "green", "related": "yellow", "unrelated": "dim"}


def identify(
    ctx: typer.Context,
    path: Annotated[Path, typer.Argument(help="model file or directory (safetensors, GGUF, ONNX)")],
    top: Annotated[int, typer.Option("--top", min=1, max=100, help="matches to show")] = 5,
    show_all: Annotated[bool, typer.Option("--all", help="also list unrelated candidates")] = False,
    as_json: JsonOption = False,
) -> None:
    """Identify weights: only digests and a sketch are compared, never uploaded weights."""
    state: CliState = ctx.obj
    fingerprint = read_release(path, state.settings, as_json=as_json)
    query = IdentifyQuery(
        digest=fingerprint.digest,
        format=fingerprint.format,
        parameters=fingerprint.parameters,
        sketch=fingerprint.sketch,
        top=top,
        include_unrelated=show_all,
    )
    result = state.backend().identify(query)
    if as_json:
        emit_json(result)
        return
    console = stdout()
    if not result.matches:
        console.print(
            f"no registered variant matches {path} "
            f"({result.candidates_compared} candidates compared)"
        )
        return
    table = Table(box=None, header_style="bold")
    for column in ("variant", "verdict", "relation", "direction", "score", "false positives"):
        table.add_column(column)
    for m in result.matches:
        relation: str = m.relation or "-"
        if m.parents:
            relation += " of " + " + ".join(m.parents)
        table.add_row(
            f"{m.name}@{m.revision}",
            f"[{_STYLE[m.verdict]}]{m.verdict}[/]",
            relation,
            m.direction.replace("_", " "),
            f"{m.score:.3f}",
            f"{m.false_positive_rate:.1e}",
        )
    console.print(table)
