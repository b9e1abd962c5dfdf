"""`provreg log checkpoint | prove INDEX | consistency --from SIZE`."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from cli.backend import CliState
from cli.log_view import check_consistency, fresh_view, remember
from cli.options import JsonOption
from cli.output import emit_json, stderr, stdout
from cli.trust_backend import trust_backend
from registry.errors import ProofInvalid
from registry.trust.merkle import leaf_hash, verify_consistency, verify_inclusion

log_app = typer.Typer(help="The transparency log: checkpoints and proofs.", no_args_is_help=True)


@log_app.command("checkpoint")
def checkpoint(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """Fetch and verify a signed checkpoint, consistent with the last one this client saw."""
    state: CliState = ctx.obj
    trust = trust_backend(state)
    view = fresh_view(trust, state.settings)
    consistency = check_consistency(trust, view)
    remember(state.settings, view)
    doc = {
        **view.published.model_dump(mode="json"),
        "consistency": consistency,
        "trust_on_first_use": view.first_use,
    }
    if as_json:
        emit_json(doc)
        return
    stdout().print(view.published.note, end="")
    stderr().print(f"[green]ok[/] {consistency}")


@log_app.command("prove")
def prove(
    ctx: typer.Context,
    index: Annotated[int, typer.Argument(min=0, help="leaf index")],
    as_json: JsonOption = False,
) -> None:
    """Prove leaf INDEX is in the log: its data, its inclusion proof, a verified checkpoint."""
    state: CliState = ctx.obj
    trust = trust_backend(state)
    view = fresh_view(trust, state.settings)
    consistency = check_consistency(trust, view)
    entry = trust.log_entry(index)
    digest = leaf_hash(entry.data.encode("utf-8"))
    if digest.hex() != entry.leaf_hash:
        raise ProofInvalid(f"entry {index}'s data does not hash to its leaf hash")
    proof = trust.inclusion_proof(index, view.checkpoint.tree_size)
    verify_inclusion(
        index,
        view.checkpoint.tree_size,
        digest,
        [bytes.fromhex(h) for h in proof.hashes],
        view.checkpoint.root_hash,
    )
    remember(state.settings, view)
    doc = {
        "index": index,
        "tree_size": view.checkpoint.tree_size,
        "root_hash": view.checkpoint.root_hash.hex(),
        "leaf_hash": entry.leaf_hash,
        "hashes": proof.hashes,
        "entry": json.loads(entry.data),
        "verified": True,
        "consistency": consistency,
    }
    if as_json:
        emit_json(doc)
        return
    stdout().print(
        f"[green]included[/] leaf {index} ({entry.kind}) in the tree of "
        f"{view.checkpoint.tree_size} leaves, {len(proof.hashes)} hashes"
    )
    stdout().print(entry.data)


@log_app.command("consistency")
def consistency(
    ctx: typer.Context,
    first: Annotated[int, typer.Option("--from", min=1, help="the older tree size")],
    as_json: JsonOption = False,
) -> None:
    """Prove the log now extends its first SIZE leaves (roots from this log's own checkpoints).

    The old root is recomputed from the current log, so this shows the proof; the guarantee
    against rewriting comes from the checkpoint this client pinned (`log checkpoint`)."""
    state: CliState = ctx.obj
    trust = trust_backend(state)
    view = fresh_view(trust, state.settings)
    pinned = check_consistency(trust, view)
    proof = trust.consistency_proof(first, view.checkpoint.tree_size)
    old_root = None
    if view.seen is not None and view.seen.tree_size == first:
        old_root = bytes.fromhex(view.seen.root_hash)
    if old_root is not None:
        verify_consistency(
            first,
            view.checkpoint.tree_size,
            [bytes.fromhex(h) for h in proof.hashes],
            old_root,
            view.checkpoint.root_hash,
        )
    remember(state.settings, view)
    doc = {
        "first": first,
        "second": view.checkpoint.tree_size,
        "hashes": proof.hashes,
        "verified_against_seen_root": old_root is not None,
        "consistency": pinned,
    }
    if as_json:
        emit_json(doc)
        return
    stdout().print(
        f"consistency {first} -> {view.checkpoint.tree_size}: {len(proof.hashes)} hashes"
    )
    for h in proof.hashes:
        stdout().print(f"  {h}")
    stderr().print(f"[green]ok[/] {pinned}")
