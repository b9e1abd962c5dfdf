"""`provreg list` and `provreg revisions`: browse the registry's variants a page at a time."""

from __future__ import annotations

from typing import Annotated, Literal

import typer

from cli.options import CursorOption, JsonOption, LimitOption
from cli.output import Output
from cli.output.tables import REVISION_COLUMNS, VARIANT_COLUMNS, page_view
from cli.state import CliState
from registry.errors import VariantNotFound
from registry.names import validate_name

Sort = Literal["registered", "downloads", "reach"]


def list_variants(
    ctx: typer.Context,
    namespace: Annotated[
        str | None, typer.Option("--namespace", metavar="NS", help="only this namespace")
    ] = None,
    search: Annotated[
        str | None, typer.Option("--search", metavar="TEXT", help="part of the name, any case")
    ] = None,
    digest: Annotated[
        str | None,
        typer.Option("--digest", metavar="sha256:HEX", help="only variants with these weights"),
    ] = None,
    status: Annotated[
        str | None,
        typer.Option(
            "--status",
            metavar="STATUS[,STATUS]",
            help="safeguard statuses: safeguarded, lacking, degraded, unverified, suspected",
        ),
    ] = None,
    sort: Annotated[
        Sort, typer.Option("--sort", help="registration order, or most downloads or reach first")
    ] = "registered",
    limit: LimitOption = 50,
    cursor: CursorOption = None,
    as_json: JsonOption = False,
) -> Output:
    """List variants, with their safeguard status, downloads and reach."""
    state: CliState = ctx.obj
    page = state.registry().list_variants(
        namespace=namespace,
        search=search,
        digest=digest,
        status=status,
        sort=sort,
        limit=limit,
        cursor=cursor,
    )
    empty = "no variants match" if any((namespace, search, digest, status)) else "no variants yet"
    return Output(page, view=page_view(VARIANT_COLUMNS, argv=state.argv, empty=empty))


def revisions(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(metavar="NAME", help="namespace/name")],
    limit: LimitOption = 50,
    cursor: CursorOption = None,
    as_json: JsonOption = False,
) -> Output:
    """List the revisions of a name, oldest first."""
    state: CliState = ctx.obj
    validate_name(name)
    page = state.registry().list_variants(name=name, limit=limit, cursor=cursor)
    if not page.items and not cursor:
        raise VariantNotFound(
            f"no revision of {name} is in the registry",
            hint=f"find names with `provreg list --search {name.split('/', 1)[1]}`",
        )
    view = page_view(REVISION_COLUMNS, argv=state.argv, empty="no more revisions")
    return Output(page, view=view)
