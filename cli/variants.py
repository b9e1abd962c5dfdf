"""`provreg register` and `provreg show`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from cli.options import JsonOption
from cli.output import Output
from cli.output.overview import overview_view
from cli.output.views import registered_view
from cli.refs import resolved_ref
from cli.signing import load_signing_key, sign_release
from cli.state import CliState
from cli.weights_io import adapter_base, is_adapter_release, read_release
from registry.errors import PermissionDenied
from registry.interface import Registry
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


def check_can_publish(registry: Registry, name: str) -> None:
    """Ask the registry whether our token may publish ``name`` before any weights are read: a
    server that is down, or a token missing, invalid, expired, revoked or scoped to another
    namespace would otherwise be learned of only after hashing gigabytes."""
    namespace = name.partition("/")[0]
    token = registry.token_self(namespace)
    if not token.can_publish:
        raise PermissionDenied.to_publish(token.scope, namespace)


def _adapter_base(path: Path) -> list[DeclaredParent]:
    """The base an adapter release's config names, declared as its parent when it is a
    registry name (a local path is not: then --parent says which registered model it is)."""
    base = adapter_base(path)
    if base is None:
        return []
    from registry.errors import InvalidName

    try:
        parsed = parse_ref(base)
    except InvalidName:
        parsed = None
    if parsed is None:
        from cli.output import stderr

        stderr().print(
            f"[yellow]warning:[/] the adapter's base_model_name_or_path {base!r} is not a "
            "registry name; give --parent NAME[@REV] to declare its base"
        )
        return []
    return [DeclaredParent(name=str(parsed), relation="adapter")]


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
        list[str] | None,
        typer.Option("--parent", metavar="NAME[@REV]", help="declared parent, repeatable"),
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
    adapter = is_adapter_release(path)
    if adapter and parent and not relation:  # an adapter's parent is the base it adapts
        relation = ["adapter"] * len(parent)
    parents = _declared_parents(parent or [], relation or [], card)
    if adapter and not parents:
        parents = _adapter_base(path)
    signing_key = load_signing_key(sign) if sign is not None else None
    check_can_publish(state.registry(), name)
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
    """Show a variant on one page: identity, lineage, safeguards, results, advisories, downloads.

    --json prints the variant as before, with the safeguards, evaluations, advisories and
    downloads fields added."""
    state: CliState = ctx.obj
    target = parse_ref(ref)
    overview = state.registry().variant_overview(target.name, target.asked_revision)
    return Output(overview, view=overview_view)
