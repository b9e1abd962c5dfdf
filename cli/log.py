"""`provreg log checkpoint | prove INDEX | consistency --from SIZE` and `provreg audit`."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from cli.options import JsonOption
from cli.output import Output, Raw
from cli.state import CliState
from registry.errors import AuditFailed, ConsistencyFailed, ProofInvalid
from registry.trust.logview import check_consistency, fresh_view, remember
from registry.trust.merkle import leaf_hash, verify_consistency, verify_inclusion
from schemas import AuditReport, LogEntryPublic
from schemas.trust import AuditProblem

log_app = typer.Typer(help="The transparency log: checkpoints and proofs.", no_args_is_help=True)


@log_app.command("checkpoint")
def checkpoint(ctx: typer.Context, as_json: JsonOption = False) -> Output:
    """Fetch and verify a signed checkpoint, consistent with the last one this client saw."""
    state: CliState = ctx.obj
    registry, home = state.registry(), state.settings.home
    view = fresh_view(registry, home)
    consistency = check_consistency(registry, view)
    remember(home, view)
    doc = {
        **view.published.model_dump(mode="json"),
        "consistency": consistency,
        "trust_on_first_use": view.first_use,
    }
    return Output(doc, view=lambda d: [Raw(d["note"])], notes=[f"[green]ok[/] {consistency}"])


def _proved_view(doc: dict[str, Any], entry: LogEntryPublic) -> list[Any]:
    return [
        f"[green]included[/] leaf {doc['index']} ({entry.kind}) in the tree of "
        f"{doc['tree_size']} leaves, {len(doc['hashes'])} hashes",
        Raw(entry.data + "\n"),
    ]


@log_app.command("prove")
def prove(
    ctx: typer.Context,
    index: Annotated[int, typer.Argument(min=0, help="leaf index")],
    as_json: JsonOption = False,
) -> Output:
    """Prove leaf INDEX is in the log: its data, its inclusion proof, a verified checkpoint."""
    state: CliState = ctx.obj
    registry, home = state.registry(), state.settings.home
    view = fresh_view(registry, home)
    consistency = check_consistency(registry, view)
    entry = registry.log_entry(index)
    digest = leaf_hash(entry.data.encode("utf-8"))
    if digest.hex() != entry.leaf_hash:
        raise ProofInvalid(f"entry {index}'s data does not hash to its leaf hash")
    cp = view.checkpoint
    proof = registry.inclusion_proof(index, cp.tree_size)
    hashes = [bytes.fromhex(h) for h in proof.hashes]
    verify_inclusion(index, cp.tree_size, digest, hashes, cp.root_hash)
    remember(home, view)
    doc = {
        "index": index,
        "tree_size": cp.tree_size,
        "root_hash": cp.root_hash.hex(),
        "leaf_hash": entry.leaf_hash,
        "hashes": proof.hashes,
        "entry": json.loads(entry.data),
        "verified": True,
        "consistency": consistency,
    }
    return Output(doc, view=lambda d: _proved_view(d, entry))


@log_app.command("consistency")
def consistency(
    ctx: typer.Context,
    first: Annotated[int, typer.Option("--from", min=1, help="the older tree size")],
    as_json: JsonOption = False,
) -> Output:
    """Prove the log now extends its first SIZE leaves (roots from this log's own checkpoints).

    The old root is recomputed from the current log, so this shows the proof; the guarantee
    against rewriting comes from the checkpoint this client pinned (`log checkpoint`)."""
    state: CliState = ctx.obj
    registry, home = state.registry(), state.settings.home
    view = fresh_view(registry, home)
    pinned = check_consistency(registry, view)
    cp = view.checkpoint
    proof = registry.consistency_proof(first, cp.tree_size)
    old_root = None
    if view.seen is not None and view.seen.tree_size == first:
        old_root = bytes.fromhex(view.seen.root_hash)
    if old_root is not None:
        hashes = [bytes.fromhex(h) for h in proof.hashes]
        verify_consistency(first, cp.tree_size, hashes, old_root, cp.root_hash)
    remember(home, view)
    doc = {
        "first": first,
        "second": cp.tree_size,
        "hashes": proof.hashes,
        "verified_against_seen_root": old_root is not None,
        "consistency": pinned,
    }
    return Output(
        doc,
        view=lambda d: [
            f"consistency {first} -> {d['second']}: {len(d['hashes'])} hashes",
            *(f"  {h}" for h in d["hashes"]),
        ],
        notes=[f"[green]ok[/] {pinned}"],
    )


def audit(ctx: typer.Context, as_json: JsonOption = False) -> Output:
    """Re-derive the log from the stored records; exit 1 naming every mismatch."""
    state: CliState = ctx.obj
    registry, home = state.registry(), state.settings.home
    report = registry.audit()
    view = fresh_view(registry, home)
    if view.checkpoint.tree_size == report.tree_size and (
        view.checkpoint.root_hash.hex() != report.root_hash
    ):
        report.problems.append(
            AuditProblem(kind="root_changed", message="the signed root is not the recomputed root")
        )
    try:
        consistent = check_consistency(registry, view)
    except ConsistencyFailed as exc:
        report.problems.append(AuditProblem(kind="root_changed", message=exc.message))
        consistent = ""
    report.ok = not report.problems
    if not report.ok:
        listed = "; ".join(p.message for p in report.problems[:20])
        more = f" (and {len(report.problems) - 20} more)" if len(report.problems) > 20 else ""
        raise AuditFailed(
            f"audit found {len(report.problems)} problems: {listed}{more}",
            hint="the log or the records were changed after they were logged",
            detail={"report": report.model_dump(mode="json")},
        )
    remember(home, view)
    return Output(report, view=_audit_view, notes=[f"[dim]{consistent}[/]"])


def _audit_view(report: AuditReport) -> list[str]:
    return [
        f"[green]audit ok[/]: {report.leaves_checked} leaves re-derived, "
        f"{report.nodes_checked} subtree hashes recomputed, root {report.root_hash}"
    ]
