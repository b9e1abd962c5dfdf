"""`provreg advisory add | list | affected`: advisories against variants and all they reach."""

from __future__ import annotations

from typing import Annotated, Literal

import typer

from cli.options import CursorOption, JsonOption, LimitOption, Ref
from cli.output import Output
from cli.output.tables import ADVISORY_COLUMNS, page_view
from cli.output.views import advisory_view, affected_view
from cli.state import CliState
from registry.names import parse_ref
from schemas import AdvisoryCreate

advisory_app = typer.Typer(help="Advisories against variants.", no_args_is_help=True)

Severity = Literal["low", "medium", "high", "critical"]


@advisory_app.command("add")
def advisory_add(
    ctx: typer.Context,
    ref: Ref,
    severity: Annotated[Severity, typer.Option("--severity")],
    summary: Annotated[str, typer.Option("--summary")],
    reference: Annotated[
        list[str] | None, typer.Option("--reference", metavar="URL", help="repeatable")
    ] = None,
    as_json: JsonOption = False,
) -> Output:
    """Publish an advisory against a variant; it reaches every descendant."""
    state: CliState = ctx.obj
    body = AdvisoryCreate(
        name=str(parse_ref(ref)), severity=severity, summary=summary, references=reference or []
    )
    return Output(state.registry().add_advisory(body), view=advisory_view)


@advisory_app.command("list")
def advisory_list(
    ctx: typer.Context,
    limit: LimitOption = 50,
    cursor: CursorOption = None,
    as_json: JsonOption = False,
) -> Output:
    """List every advisory, newest first."""
    state: CliState = ctx.obj
    page = state.registry().list_advisories(limit=limit, cursor=cursor)
    view = page_view(ADVISORY_COLUMNS, argv=state.argv, empty="no advisories published")
    return Output(page, view=view)


@advisory_app.command("affected")
def advisory_affected(
    ctx: typer.Context,
    advisory_id: Annotated[int, typer.Argument(metavar="ID")],
    as_json: JsonOption = False,
) -> Output:
    """Every variant an advisory reaches, with downloads and the path to it."""
    state: CliState = ctx.obj
    return Output(state.registry().advisory_affected(advisory_id), view=affected_view)
