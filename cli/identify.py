"""`provreg identify`: registered variants a file is identical to, derived from or related to."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cli.options import JsonOption
from cli.output import Output
from cli.output.views import identify_view
from cli.state import CliState
from cli.weights_io import read_release
from schemas import IdentifyQuery


def identify(
    ctx: typer.Context,
    path: Annotated[Path, typer.Argument(help="model file or directory (safetensors, GGUF, ONNX)")],
    top: Annotated[int, typer.Option("--top", min=1, max=100, help="matches to show")] = 5,
    show_all: Annotated[bool, typer.Option("--all", help="also list unrelated candidates")] = False,
    as_json: JsonOption = False,
) -> Output:
    """Identify weights: only digests and a sketch are compared, never uploaded weights."""
    state: CliState = ctx.obj
    fingerprint = read_release(path, state.settings, quiet=state.as_json)
    query = IdentifyQuery(
        digest=fingerprint.digest,
        format=fingerprint.format,
        parameters=fingerprint.parameters,
        sketch=fingerprint.sketch,
        top=top,
        include_unrelated=show_all,
    )
    result = state.registry().identify(query)
    return Output(result, view=lambda r: identify_view(r, path))
