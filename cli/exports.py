"""`provreg export`: a variant as a CycloneDX ML-BOM or an SPDX 3.0.1 AI package."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Annotated, Any, Literal

import typer

from cli.options import JsonOption, Ref
from cli.output import Line, Output
from cli.state import CliState
from registry.errors import InvalidInput
from registry.names import parse_ref


def _written_view(doc: dict[str, Any]) -> Iterable[Line]:
    yield f"wrote the {doc['format']} export of {doc['name']}@{doc['revision']} to {doc['path']}"


def export(
    ctx: typer.Context,
    ref: Ref,
    fmt: Annotated[
        Literal["cyclonedx", "spdx"],
        typer.Option("--format", help="cyclonedx (1.6 ML-BOM) or spdx (3.0.1 AI profile)"),
    ] = "cyclonedx",
    out: Annotated[
        Path | None, typer.Option("--out", metavar="FILE", help="write the document here")
    ] = None,
    as_json: JsonOption = False,
) -> Output:
    """Export a variant's files, lineage, evaluations and safeguards as a bill of materials."""
    state: CliState = ctx.obj
    target = parse_ref(ref)
    document = state.registry().export(target.name, target.revision, format=fmt)
    if out is None:
        return Output(document)
    try:
        out.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    except OSError as exc:
        raise InvalidInput(
            f"cannot write {out}: {exc.strerror}", hint="pick a writable --out"
        ) from None
    written = {"name": target.name, "revision": target.revision, "format": fmt, "path": str(out)}
    return Output(written, view=_written_view)
