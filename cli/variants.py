"""`provreg register` and `provreg show`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from cli.backend import CliState
from cli.options import JsonOption
from cli.output import emit_json, human_count, human_size, stdout
from cli.signing import load_signing_key, sign_release
from cli.weights_io import read_release
from registry.services import card_markers, declared_parents_from_card, parse_ref
from registry.services.names import validate_name, validate_revision
from schemas import RELATIONS, DeclaredParent, VariantCreate, VariantPublic
from schemas.variants import CARD_CONFIG_KEY

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
    declared = [
        DeclaredParent(name=str(parse_ref(p)), relation=r)
        for p, r in zip(parents, relations, strict=True)
    ]
    if card is not None:
        declared.extend(declared_parents_from_card(card))
    return declared


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
) -> None:
    """Fingerprint a release and register it with its declared parents."""
    state: CliState = ctx.obj
    validate_name(name)
    validate_revision(revision)
    parents = _declared_parents(parent or [], relation or [], card)
    signing_key = load_signing_key(sign) if sign is not None else None
    fingerprint = read_release(path, state.settings, as_json=as_json)
    if card is not None:  # the card's tags and name reach the safeguard markers
        fingerprint.config = {**(fingerprint.config or {}), CARD_CONFIG_KEY: card_markers(card)}
    request = VariantCreate(name=name, revision=revision, fingerprint=fingerprint, parents=parents)
    if signing_key is not None:
        request.signed_statement = sign_release(request, signing_key)
    result = state.backend().register(request)
    if as_json:
        emit_json(result)
        return
    verb = "registered" if result.created else "already registered, unchanged:"
    console = stdout()
    console.print(f"[green]{verb}[/] [bold]{result.name}@{result.revision}[/]")
    _print_variant(result)


def show(
    ctx: typer.Context,
    ref: Annotated[str, typer.Argument(metavar="NAME[@REV]", help="the variant")],
    as_json: JsonOption = False,
) -> None:
    """Show a variant: digests, files and direct lineage."""
    state: CliState = ctx.obj
    result = state.backend().show(parse_ref(ref))
    if as_json:
        emit_json(result)
        return
    stdout().print(f"[bold]{result.name}@{result.revision}[/]")
    _print_variant(result)


def _print_variant(v: VariantPublic) -> None:
    console = stdout()
    if not v.registered:
        console.print(
            "  [yellow]known only by name[/]: declared as a parent, weights not registered"
        )
    else:
        console.print(f"  digest      {v.digest}")
        console.print(
            f"  format      {v.format}   parameters {human_count(v.parameters)}   "
            f"dtypes {', '.join(v.dtypes) or '-'}   tensors {v.tensor_count}"
        )
        if v.architecture:
            console.print(f"  architecture {v.architecture}")
        console.print(f"  sketch      {v.sketch_digest or 'none (exact digests only)'}")
        if v.signature is not None:
            console.print(
                f"  signature   key {v.signature.key_id[:16]}…  log leaf {v.signature.log_index}"
            )
        else:
            console.print("  signature   [yellow]unsigned[/]")
    if v.files:
        table = Table(show_header=True, header_style="bold", box=None, pad_edge=False)
        table.add_column("  file")
        table.add_column("size", justify="right")
        table.add_column("sha256")
        for f in v.files:
            table.add_row(f"  {f.path}", human_size(f.size), f.sha256)
        console.print(table)
    for edge in v.lineage:
        score = f" score {edge.score:.3f}" if edge.score is not None else ""
        console.print(
            f"  parent      {edge.parent}  [{edge.relation}, {edge.source}, {edge.status}{score}]"
        )
    for edge in v.children:
        console.print(
            f"  child       {edge.child}  [{edge.relation}, {edge.source}, {edge.status}]"
        )
