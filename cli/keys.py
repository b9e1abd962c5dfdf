"""`provreg keys generate | add | list | revoke`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import typer

from cli.options import CursorOption, JsonOption, LimitOption, read_text
from cli.output import Output
from cli.output.tables import KEY_COLUMNS, page_view
from cli.output.views import key_view
from cli.state import CliState
from registry.errors import KeyInvalid
from registry.trust.keys import write_key_pair
from schemas import KeyCreate

keys_app = typer.Typer(help="Signing keys: generate, register, list, revoke.", no_args_is_help=True)


@keys_app.command("generate")
def generate(
    out: Annotated[Path, typer.Option("--out", help="private key file; KEYFILE.pub beside it")],
    as_json: JsonOption = False,
) -> Output:
    """Write a new Ed25519 key pair (private key mode 0600)."""
    private, public, kid = write_key_pair(out)
    doc = {"private_key": str(private), "public_key": str(public), "key_id": kid}
    return Output(
        doc,
        view=lambda d: [
            f"wrote {d['private_key']} (private, mode 0600) and {d['public_key']}",
            f"key id {d['key_id']}",
        ],
        notes=[f"[dim]register it with `provreg keys add NAMESPACE {public}`[/]"],
    )


@keys_app.command("add")
def add(
    ctx: typer.Context,
    namespace: Annotated[str, typer.Argument(help="the namespace the key signs for")],
    public_key: Annotated[Path, typer.Argument(metavar="KEYFILE.pub", help="public key PEM")],
    role: Annotated[
        str, typer.Option("--role", help="publisher (releases, lineage) or evaluator")
    ] = "publisher",
    as_json: JsonOption = False,
) -> Output:
    """Register a public key for a namespace (logged)."""
    state: CliState = ctx.obj
    if role not in ("publisher", "evaluator"):
        raise typer.BadParameter("use publisher or evaluator", param_hint="--role")
    pem = read_text(public_key, error=KeyInvalid, hint="pass the .pub file from `keys generate`")
    chosen: Literal["publisher", "evaluator"] = "publisher" if role == "publisher" else "evaluator"
    request = KeyCreate(namespace=namespace, public_key=pem, role=chosen)
    return Output(state.registry().add_key(request), view=key_view)


@keys_app.command("list")
def list_keys(
    ctx: typer.Context,
    namespace: Annotated[
        str | None, typer.Option("--namespace", metavar="NS", help="only this namespace's keys")
    ] = None,
    limit: LimitOption = 50,
    cursor: CursorOption = None,
    as_json: JsonOption = False,
) -> Output:
    """List registered keys, oldest first, active and revoked."""
    state: CliState = ctx.obj
    page = state.registry().list_keys(namespace=namespace, limit=limit, cursor=cursor)
    return Output(page, view=page_view(KEY_COLUMNS, argv=state.argv, empty="no keys registered"))


@keys_app.command("revoke")
def revoke(
    ctx: typer.Context,
    key_id: Annotated[str, typer.Argument(metavar="KEY_ID", help="hex key id")],
    as_json: JsonOption = False,
) -> Output:
    """Revoke a key: it signs nothing new; what it signed before stays valid (logged)."""
    state: CliState = ctx.obj
    return Output(state.registry().revoke_key(key_id), view=key_view)
