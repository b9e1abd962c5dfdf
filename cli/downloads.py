"""`provreg downloads NAME[@REV]` (series, reach, growth), `downloads record` and
`downloads ingest FILE`.

`downloads` is a group whose subcommands (`record`, `ingest`) live beside a default: a first
word that is not a subcommand is the variant, so `provreg downloads acme/chat` shows it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import typer

from cli.options import JsonOption, NameOrCommandGroup, Ref, iso_datetime, read_text
from cli.output import Output
from cli.output.views import downloads_view, ingest_view, snapshot_view
from cli.state import CliState
from registry.errors import DownloadLogInvalid
from registry.names import parse_ref
from schemas import DownloadIngest, DownloadRecord

SHOW = NameOrCommandGroup.default


downloads_app = typer.Typer(
    cls=NameOrCommandGroup,
    help="Download counts: `provreg downloads NAME[@REV]` shows a variant's series and reach.",
    no_args_is_help=True,
)


@downloads_app.command(SHOW, hidden=True)
def show(
    ctx: typer.Context,
    ref: Ref,
    window: Annotated[str, typer.Option("--window", help="growth over e.g. 30d, 4w, 48h")] = "30d",
    as_json: JsonOption = False,
) -> Output:
    """A variant's download snapshots, its reach (own and subtree) and growth over --window."""
    state: CliState = ctx.obj
    target = parse_ref(ref)
    report = state.registry().downloads(target.name, target.asked_revision, window=window)
    return Output(report, view=downloads_view)


@downloads_app.command("record")
def record(
    ctx: typer.Context,
    ref: Ref,
    count: Annotated[int, typer.Option("--count", min=0)],
    window: Annotated[Literal["30d", "all"], typer.Option("--window")] = "30d",
    at: Annotated[str | None, typer.Option("--at", metavar="ISO-DATE")] = None,
    as_json: JsonOption = False,
) -> Output:
    """Store a download count snapshot by hand."""
    state: CliState = ctx.obj
    target = parse_ref(ref)
    observed = iso_datetime("--at", at) if at else None
    body = DownloadRecord(count=count, window=window, observed_at=observed)
    result = state.registry().record_downloads(target.name, target.asked_revision, body)
    return Output(result, view=snapshot_view)


@downloads_app.command("ingest")
def ingest(
    ctx: typer.Context,
    path: Annotated[Path, typer.Argument(metavar="FILE", help="CSV: timestamp,repo,user,...")],
    as_json: JsonOption = False,
) -> Output:
    """Ingest a publisher's download log; ingesting it again adds nothing."""
    state: CliState = ctx.obj
    content = read_text(path, error=DownloadLogInvalid, hint="give a UTF-8 CSV file")
    body = DownloadIngest(content=content, filename=path.name)
    return Output(state.registry().ingest_downloads(body), view=ingest_view)
