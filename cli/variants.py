"""`provreg register` and `provreg show`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from cli.options import JsonOption
from cli.output import Output
from cli.output.views import registered_view, variant_view
from cli.refs import resolved_ref
from cli.signing import load_signing_key, sign_release
from cli.state import CliState
from cli.weights_io import read_release
from registry.names import declared_parents, parse_ref, validate_name, validate_revision
from schemas import RELATIONS, DeclaredParent, VariantCreate

_RELATION_HELP = "relation to the matching --parent: " + ", ".join(RELATIONS)


def _declared_parents(
    parents: list[str], relations: list[str], card: Path | None
) -> list[DeclaredParent]:
    if len(parents) != len(relations):
        raise typer.BadParameter(
            f"{len(parents)} --parent but {len(relations)} --relation: give one --relation "
            "after each --parent",
            param_hint="--relation",
        )
    for relation in relations:
        if relation not in RELATIONS:
            raise typer.BadParameter(
                f"{relation!r} is not one of {', '.join(RELATIONS)}", param_hint="--relation"
            )
    declared = [DeclaredParent(name=p, relation=r) for p, r in zip(parents, relations, strict=True)]
    if card is not None:
        from registry.services.variants.cards import declared_parents_from_card

        declared.extend(declared_parents_from_card(card))
    declared_parents(declared)  # refuse a bad address or a conflict before hashing anything
    return declared


def _parent_revisions(
    state: CliState, parents: list[DeclaredParent]
) -> tuple[list[DeclaredParent], list[str]]:
    """Parents named without @REV (on the command line or as a card's base_model) at the
    revision that exists: main when registered, else the latest registered; with notes."""
    out, notes = [], []
    for p in parents:
        if "@" in p.name:
            out.append(p)
            continue
        ref, note = resolved_ref(state.registry(), p.name)
        out.append(p.model_copy(update={"name": str(ref)}))
        if note:
            notes.append(f"note: {escape(note)}")
    return out, notes


def register(
    ctx: typer.Context,
    path: Annotated[Path, typer.Argument(help="model file or directory")],
    name: Annotated[str, typer.Option("--name", help="namespace/name, as on the Hub")],
    revision: Annotated[str, typer.Option("--revision", help="branch, tag or commit")] = "main",
    parent: Annotated[
        list[str] | None, typer.Option("--parent", help="declared parent NAME[@REV], repeatable")
    ] = None,
    relation: Annotated[list[str] | None, typer.Option("--relation", help=_RELATION_HELP)] = None,
    card: Annotated[
        Path | None,
        typer.Option(
            "--card",
            help="model card: base_model declares parents; tags and name feed safeguard markers",
        ),
    ] = None,
    sign: Annotated[
        Path | None,
        typer.Option("--sign", metavar="KEYFILE", help="sign a release statement with this key"),
    ] = None,
    as_json: JsonOption = False,
) -> Output:
    """Fingerprint a release and register it with its declared parents."""
    state: CliState = ctx.obj
    validate_name(name)
    validate_revision(revision)
    parents = _declared_parents(parent or [], relation or [], card)
    signing_key = load_signing_key(sign) if sign is not None else None
    parents, notes = _parent_revisions(state, parents)
    fingerprint = read_release(path, state.settings, quiet=state.as_json)
    markers = None
    if card is not None:  # the card's tags and name reach the safeguard markers
        from registry.services.variants.cards import card_markers

        markers = card_markers(card)
    request = VariantCreate(
        name=name, revision=revision, fingerprint=fingerprint, parents=parents, card=markers
    )
    if signing_key is not None:
        request.signed_statement = sign_release(request, signing_key)
    return Output(state.registry().register(request), view=registered_view, notes=notes)


def show(
    ctx: typer.Context,
    ref: Annotated[str, typer.Argument(metavar="NAME[@REV]", help="the variant")],
    as_json: JsonOption = False,
) -> Output:
    """Show a variant: digests, files and direct lineage."""
    state: CliState = ctx.obj
    target = parse_ref(ref)
    return Output(state.registry().show(target.name, target.asked_revision), view=variant_view)
