"""`provreg keys generate | add | revoke`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import typer

from cli.backend import CliState
from cli.options import JsonOption
from cli.output import emit_json, stderr, stdout
from cli.trust_backend import trust_backend
from registry.errors import KeyInvalid
from registry.trust.keys import write_key_pair
from schemas import KeyCreate, KeyPublic

keys_app = typer.Typer(help="Signing keys: generate, register, revoke.", no_args_is_help=True)


@keys_app.command("generate")
def generate(
    out: Annotated[Path, typer.Option("--out", help="private key file; KEYFILE.pub beside it")],
    as_json: JsonOption = False,
) -> None:
    """Write a new Ed25519 key pair (private key mode 0600)."""
    private, public, kid = write_key_pair(out)
    doc = {"private_key": str(private), "public_key": str(public), "key_id": kid}
    if as_json:
        emit_json(doc)
        return
    stdout().print(f"wrote {private} (private, mode 0600) and {public}")
    stdout().print(f"key id {kid}")
    stderr().print(f"[dim]register it with `provreg keys add NAMESPACE {public}`[/]")


def _print_key(key: KeyPublic) -> None:
    state = "active" if key.active else f"revoked at log index {key.revoked_log_index}"
    stdout().print(f"key {key.key_id}  {key.namespace}  {key.role}  {state}")


@keys_app.command("add")
def add(
    ctx: typer.Context,
    namespace: Annotated[str, typer.Argument(help="the namespace the key signs for")],
    public_key: Annotated[Path, typer.Argument(metavar="KEYFILE.pub", help="public key PEM")],
    role: Annotated[
        str, typer.Option("--role", help="publisher (releases, lineage) or evaluator")
    ] = "publisher",
    as_json: JsonOption = False,
) -> None:
    """Register a public key for a namespace (logged)."""
    state: CliState = ctx.obj
    if role not in ("publisher", "evaluator"):
        raise typer.BadParameter("use publisher or evaluator", param_hint="--role")
    try:
        pem = public_key.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise KeyInvalid(
            f"cannot read {public_key}: {exc}", hint="pass the .pub file from `keys generate`"
        ) from None
    chosen: Literal["publisher", "evaluator"] = "publisher" if role == "publisher" else "evaluator"
    key = trust_backend(state).add_key(KeyCreate(namespace=namespace, public_key=pem, role=chosen))
    emit_json(key) if as_json else _print_key(key)


@keys_app.command("revoke")
def revoke(
    ctx: typer.Context,
    key_id: Annotated[str, typer.Argument(metavar="KEY_ID", help="hex key id")],
    as_json: JsonOption = False,
) -> None:
    """Revoke a key: it signs nothing new; what it signed before stays valid (logged)."""
    state: CliState = ctx.obj
    key = trust_backend(state).revoke_key(key_id)
    emit_json(key) if as_json else _print_key(key)
