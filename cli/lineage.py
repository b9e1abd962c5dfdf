"""`provreg lineage NAME[@REV]`: ancestors and descendants as a tree, JSON, Graphviz dot or
Mermaid; `provreg lineage declare | retract`: corrections of a variant's declared parents.

`lineage` is a group whose first word, when it is not `declare` or `retract`, is the variant
(or an option of the graph), so `provreg lineage acme/chat --up` works as it always has.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from cli.options import JsonOption, NameOrCommandGroup, Ref
from cli.output import Output
from cli.output.corrections import lineage_correction_view
from cli.output.graphs import GRAPH_FORMS, tree_view
from cli.refs import resolved_ref, split_ref
from cli.state import CliState
from registry.errors import VariantNotFound
from registry.interface import Registry
from registry.names import VariantRef, parse_ref
from schemas import Relation
from schemas.corrections import LineageCorrectionPublic, LineageDeclare, LineageRetract

# the service's bounds, repeated here so the CLI does not import the services to start
DEFAULT_DEPTH, MAX_DEPTH, DEFAULT_PAGE = 10, 64, 200


class LineageFormat(StrEnum):
    tree = "tree"
    json = "json"
    dot = "dot"
    mermaid = "mermaid"


class _LineageGroup(NameOrCommandGroup):
    default = "graph"
    options_first = True


lineage_app = typer.Typer(
    cls=_LineageGroup,
    help="Lineage: `provreg lineage NAME[@REV] [--up|--down]` shows where a variant comes from "
    "and what descends from it; `declare` and `retract` correct its declared parents.",
    no_args_is_help=True,
)


@lineage_app.command("graph", hidden=True)
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
        target.asked_revision,
        direction="up" if up else "down" if down else "both",
        depth=depth,
        limit=limit,
        cursor=cursor,
    )
    form = "text" if fmt is LineageFormat.tree else fmt.value
    return Output(graph, view=tree_view, form=form, forms=GRAPH_FORMS)


SignOption = Annotated[
    Path | None,
    typer.Option("--sign", metavar="KEYFILE", help="sign the correction with a publisher key"),
]


def _signed(
    registry: Registry, child: str, parent: str, keyfile: Path, action: str, **fields: str
) -> tuple[VariantRef, str, str]:
    """``(child, parent, envelope)``: the correction signed over the resolved names."""
    from cli.signing import load_signing_key
    from registry.trust.statements import sign_statement
    from schemas.statements import LineageCorrectionPredicate, LineageCorrectionStatement, Subject

    key = load_signing_key(keyfile)
    child_ref = resolved_ref(registry, child)[0]
    digest = registry.show(child_ref.name, child_ref.revision).digest
    if digest is None:
        raise VariantNotFound(f"{child_ref} has no registered weights", hint="register it first")
    parent_ref = str(resolved_ref(registry, parent)[0])
    statement = LineageCorrectionStatement(
        subject=[Subject(name=str(child_ref), digest={"sha256": digest.removeprefix("sha256:")})],
        predicate=LineageCorrectionPredicate(
            action=action,
            child=str(child_ref),
            child_digest=digest,
            parent=parent_ref,
            issued_at=datetime.now(UTC),
            **fields,
        ),
    )
    return child_ref, parent_ref, sign_statement(statement, key)


def _correction_output(result: LineageCorrectionPublic) -> Output:
    notes = [f"[yellow]warning:[/] {escape(w)}" for w in result.warnings]
    return Output(result, view=lineage_correction_view, notes=notes)


@lineage_app.command("declare")
def declare(
    ctx: typer.Context,
    child: Ref,
    parent: Annotated[str, typer.Option("--parent", metavar="NAME[@REV]", help="the parent")],
    relation: Annotated[Relation, typer.Option("--relation", help="how the child descends")],
    sign: SignOption = None,
    as_json: JsonOption = False,
) -> Output:
    """Declare a parent of a registered variant (a logged correction; again after a retraction
    makes the edge active again)."""
    state: CliState = ctx.obj
    registry = state.registry()
    envelope = None
    name, revision = split_ref(child)
    if sign is not None:
        target, parent, envelope = _signed(
            registry, child, parent, sign, "declare", relation=relation
        )
        name, revision = target.name, target.revision
    body = LineageDeclare(parent=parent, relation=relation, envelope=envelope)
    return _correction_output(registry.declare_parent(name, revision, body))


@lineage_app.command("retract")
def retract(
    ctx: typer.Context,
    child: Ref,
    parent: Annotated[str, typer.Option("--parent", metavar="NAME[@REV]", help="the parent")],
    reason: Annotated[str, typer.Option("--reason", help="why the declaration was wrong")],
    sign: SignOption = None,
    as_json: JsonOption = False,
) -> Output:
    """Retract a declared parent: the edge stays listed as retracted, with the reason, and
    counts for neither safeguards nor reach (a logged correction)."""
    state: CliState = ctx.obj
    registry = state.registry()
    envelope = None
    name, revision = split_ref(child)
    if sign is not None:
        target, parent, envelope = _signed(registry, child, parent, sign, "retract", reason=reason)
        name, revision = target.name, target.revision
    body = LineageRetract(parent=parent, reason=reason, envelope=envelope)
    return _correction_output(registry.retract_parent(name, revision, body))
