"""`provreg lineage`: ancestors and descendants as a tree, JSON, Graphviz dot or Mermaid."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer

from cli.options import JsonOption
from cli.output import Output
from cli.output.graphs import GRAPH_FORMS, tree_view
from cli.state import CliState
from registry.names import parse_ref

# the service's bounds, repeated here so the CLI does not import the services to start
DEFAULT_DEPTH, MAX_DEPTH, DEFAULT_PAGE = 10, 64, 200


class LineageFormat(StrEnum):
    tree = "tree"
    json = "json"
    dot = "dot"
    mermaid = "mermaid"


def lineage(
    ctx: typer.Context,
    ref: Annotated[str, typer.Argument(metavar="NAME[@REV]", help="the variant")],
    up: Annotated[bool, typer.Option("--up", help="ancestors only")] = False,
    down: Annotated[bool, typer.Option("--down", help="descendants only")] = False,
    depth: Annotated[
        int, typer.Option("--depth", min=1, max=MAX_DEPTH, help="steps to walk")
    ] = DEFAULT_DEPTH,
    fmt: Annotated[
        LineageFormat, typer.Option("--format", help="output form")
    ] = LineageFormat.tree,
    limit: Annotated[
        int, typer.Option("--limit", min=1, max=1000, help="descendant edges per page")
    ] = DEFAULT_PAGE,
    cursor: Annotated[str | None, typer.Option("--cursor", help="next page of descendants")] = None,
    as_json: JsonOption = False,
) -> Output:
    """Show where a variant comes from and what descends from it."""
    if up and down:
        raise typer.BadParameter("give --up or --down, not both (neither shows both)")
    state: CliState = ctx.obj
    target = parse_ref(ref)
    graph = state.registry().lineage(
        target.name,
        target.revision,
        direction="up" if up else "down" if down else "both",
        depth=depth,
        limit=limit,
        cursor=cursor,
    )
    form = "text" if fmt is LineageFormat.tree else fmt.value
    return Output(graph, view=tree_view, form=form, forms=GRAPH_FORMS)
