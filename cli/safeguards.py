"""`provreg safeguards NAME[@REV]` and `provreg query lacking-safeguards`."""

from __future__ import annotations

import sys
from datetime import datetime
from typing import Annotated, Literal

import typer

from cli.options import JsonOption, Ref
from cli.output import Output, csv_view, jsonl_view
from cli.output.tables import LACKING_COLUMNS, page_view
from cli.output.views import safeguards_view
from cli.state import CliState
from registry.errors import InvalidInput
from registry.names import parse_ref

query_app = typer.Typer(help="Questions across the registry.", no_args_is_help=True)

_PAGE_FORMS = {
    "jsonl": jsonl_view,
    "csv": csv_view(
        {
            "name": lambda r: r.name,
            "revision": lambda r: r.revision,
            "status": lambda r: r.status,
            "downloads": lambda r: r.downloads,
            "reach": lambda r: r.reach,
            "reasons": lambda r: "; ".join(r.reasons),
            "path": lambda r: " <- ".join(r.path),
        }
    ),
}


def safeguards(ctx: typer.Context, ref: Ref, as_json: JsonOption = False) -> Output:
    """A variant's safeguard status and the reasons for it."""
    state: CliState = ctx.obj
    target = parse_ref(ref)
    return Output(
        state.registry().safeguards(target.name, target.asked_revision), view=safeguards_view
    )


@query_app.command("lacking-safeguards")
def lacking_safeguards(
    ctx: typer.Context,
    descendant_of: Annotated[
        str | None, typer.Option("--descendant-of", metavar="NAME[@REV]")
    ] = None,
    status: Annotated[
        str | None, typer.Option("--status", help="default: lacking,degraded,suspected")
    ] = None,
    min_downloads: Annotated[int, typer.Option("--min-downloads", min=0)] = 0,
    since: Annotated[
        str | None, typer.Option("--since", metavar="DATE", help="registered on or after")
    ] = None,
    sort: Annotated[Literal["downloads", "reach"], typer.Option("--sort")] = "downloads",
    limit: Annotated[int, typer.Option("--limit", min=1, max=1000)] = 50,
    cursor: Annotated[str | None, typer.Option("--cursor")] = None,
    fmt: Annotated[
        Literal["table", "json", "jsonl", "csv"] | None,
        typer.Option("--format", help="default: a table on a terminal, else json"),
    ] = None,
    as_json: JsonOption = False,
) -> Output:
    """Variants that lack safeguards, ranked by downloads or reach."""
    state: CliState = ctx.obj
    if since:
        try:
            datetime.fromisoformat(since)
        except ValueError:
            raise InvalidInput(f"invalid date {since!r}", hint="use YYYY-MM-DD") from None
    page = state.registry().lacking_safeguards(
        descendant_of=descendant_of,
        status=status,
        min_downloads=min_downloads,
        since=since,
        sort=sort,
        limit=limit,
        cursor=cursor,
    )
    if fmt is None:  # scripts that pipe the output keep getting JSON
        fmt = "table" if sys.stdout.isatty() else "json"
    if fmt == "table":
        empty = "no variant lacks safeguards among those asked for"
        view = page_view(LACKING_COLUMNS, argv=state.argv, empty=empty, rows="results")
        return Output(page, view=view)
    notes = [f"next page: --cursor {page.next_cursor}"] if page.next_cursor else []
    return Output(page, form=fmt, forms=_PAGE_FORMS, notes=notes)
