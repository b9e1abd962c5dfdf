"""Text views of the wire models: what a person sees without ``--json``."""

from __future__ import annotations

import json
from collections.abc import Iterable

from rich.markup import escape
from rich.table import Table

from cli.output import Line, Raw, human_count, human_size
from schemas import (
    AdvisoryAffected,
    AdvisoryPublic,
    AttachedSignaturePublic,
    AttachedSignatureSummary,
    DownloadIngestResult,
    DownloadSnapshotPublic,
    DownloadsPublic,
    EvalImportResult,
    EvalResultList,
    EvalResultPublic,
    HubSyncResult,
    IdentifyResult,
    KeyPublic,
    LineageEdgePublic,
    SafeguardStatusPublic,
    TokenPublic,
    TokenRevoked,
    VariantPublic,
)


def registered_view(v: VariantPublic) -> Iterable[Line]:
    """What `register` did, then the variant."""
    verb = "registered" if v.created else "already registered, unchanged:"
    yield f"[green]{verb}[/] [bold]{v.name}@{v.revision}[/]"
    yield from _variant_body(v)


def _variant_body(v: VariantPublic) -> Iterable[Line]:
    if not v.registered:
        yield "  [yellow]known only by name[/]: declared as a parent, weights not registered"
    else:
        yield f"  digest      {v.digest}"
        yield (
            f"  format      {v.format}   parameters {human_count(v.parameters)}   "
            f"dtypes {', '.join(v.dtypes) or '-'}   tensors {v.tensor_count}"
        )
        if v.architecture:
            yield f"  architecture {v.architecture}"
        if v.adapter_digest:
            yield f"  adapter     {v.adapter_digest} (LoRA adapter sketch)"
        else:
            yield f"  sketch      {v.sketch_digest or 'none (exact digests only)'}"
        if v.signature is not None:
            yield f"  signature   key {v.signature.key_id[:16]}…  log leaf {v.signature.log_index}"
        else:
            yield "  signature   [yellow]unsigned[/]"
        yield from attached_lines(v.attached_signatures)
    if v.files:
        table = Table(show_header=True, header_style="bold", box=None, pad_edge=False)
        table.add_column("  file")
        table.add_column("size", justify="right")
        table.add_column("sha256")
        for f in v.files:
            table.add_row(f"  {f.path}", human_size(f.size), f.sha256)
        yield table
    for edge in v.lineage:
        score = f" score {edge.score:.3f}" if edge.score is not None else ""
        facts = escape(f"[{edge.relation}, {edge.source}, {edge.status}{score}]")
        yield f"  parent      {escape(edge.parent)}  {facts}{reason_suffix(edge)}"
    for edge in v.children:
        facts = escape(f"[{edge.relation}, {edge.source}, {edge.status}]")
        yield f"  child       {escape(edge.child)}  {facts}{reason_suffix(edge)}"


def reason_suffix(edge: LineageEdgePublic) -> str:
    """A retracted edge's reason, as shown after its facts."""
    return f" [dim]reason: {escape(edge.reason)}[/]" if edge.reason else ""


_VERDICT_STYLE = {
    "identical": "bold green",
    "derived": "green",
    "related": "yellow",
    "unrelated": "dim",
}


def identify_view(result: IdentifyResult, path: object) -> Iterable[Line]:
    """The matches as a table, best first; ``path`` names the query when nothing matched."""
    if not result.matches:
        yield (
            f"no registered variant matches {path} "
            f"({result.candidates_compared} candidates compared)"
        )
        return
    table = Table(box=None, header_style="bold")
    for column in ("variant", "verdict", "relation", "direction", "score", "false positives"):
        table.add_column(column)
    for m in result.matches:
        relation: str = m.relation or "-"
        if m.parents:
            relation += " of " + " + ".join(m.parents)
        table.add_row(
            f"{m.name}@{m.revision}",
            f"[{_VERDICT_STYLE[m.verdict]}]{m.verdict}[/]",
            relation,
            m.direction.replace("_", " "),
            f"{m.score:.3f}",
            f"{m.false_positive_rate:.1e}",
        )
    yield table


def token_view(token: TokenPublic) -> Iterable[Line]:
    """Only the secret, as JSON, so scripts can read it either way."""
    yield Raw(json.dumps({"token": token.token}, indent=2) + "\n")


def token_revoked_view(doc: TokenRevoked) -> Iterable[Line]:
    yield f"token {doc.token_id} revoked at {doc.revoked_at}"


def key_view(key: KeyPublic) -> Iterable[Line]:
    state = "active" if key.active else f"revoked at log index {key.revoked_log_index}"
    yield f"key {key.key_id}  {key.namespace}  {key.role}  {state}"


def attached_lines(attached: list[AttachedSignatureSummary]) -> Iterable[Line]:
    """One line per attached bundle: its signer (keyless) or its key."""
    for a in attached:
        if a.signer is not None:
            who = f"{escape(a.signer.identity)} ({escape(a.signer.issuer)}), Sigstore"
        else:
            who = f"key {a.key_id[:16]}…" + ("" if a.key_registered else " (not registered)")
        yield f"  bundle      {who}  log leaf {a.log_index}"


def attached_view(out: AttachedSignaturePublic) -> Iterable[Line]:
    if out.signer is not None:
        yield (
            f"[green]attached[/] keyless model-signing bundle to {out.name}@{out.revision}: "
            f"{out.files_checked} files match, signed by {escape(out.signer.identity)} "
            f"({escape(out.signer.issuer)}), log leaf {out.log_index}"
        )
        return
    trusted = "a registered key" if out.key_registered else "a key not registered in provreg"
    yield (
        f"[green]attached[/] model-signing bundle to {out.name}@{out.revision}: "
        f"{out.files_checked} files match, signed by {trusted} ({out.key_id[:16]}…), "
        f"log leaf {out.log_index}"
    )


def eval_added_view(r: EvalResultPublic) -> Iterable[Line]:
    yield escape(
        f"recorded {r.benchmark} {r.metric} = {r.value:g} for {r.name}@{r.revision} "
        f"[{r.category}] log leaf {r.log_index}"
    )


def eval_import_view(result: EvalImportResult) -> Iterable[Line]:
    yield (
        f"imported {result.imported} results ({result.format}) for {result.name}@{result.revision}"
    )
    yield f"{result.imported} added, {result.already_recorded} already recorded"


def _eval_marks(r: EvalResultPublic) -> str:
    """A listed result's status and provenance, when there is something to say."""
    marks = []
    if r.status == "superseded":
        marks.append(f"superseded by {r.superseded_by}: {r.reason}")
    elif r.status == "retracted":
        marks.append(f"retracted: {r.reason}")
    if r.supersedes is not None:
        marks.append(f"supersedes {r.supersedes}")
    if r.shared_from:
        marks.append(f"from {r.shared_from}, the same weights")
    return f"  [yellow]({escape('; '.join(marks))})[/]" if marks else ""


def eval_list_view(result: EvalResultList) -> Iterable[Line]:
    yield f"[bold]{result.name}@{result.revision}[/]  {len(result.results)} results"
    for r in result.results:
        err = f" ± {r.stderr:g}" if r.stderr is not None else ""
        n = f" n={r.samples}" if r.samples is not None else ""
        line = f"{r.id:>6}  {r.benchmark:<24} {r.metric:<20} {r.value:g}{err}{n}  [{r.category}]"
        yield escape(line) + _eval_marks(r)


def safeguards_view(result: SafeguardStatusPublic) -> Iterable[Line]:
    yield f"[bold]{result.name}@{result.revision}[/]  {result.status}"
    for reason in result.reasons:
        yield f"  - {reason}"


def advisory_view(result: AdvisoryPublic) -> Iterable[Line]:
    yield f"advisory {result.id} ({result.severity}) on {result.name}@{result.revision}"


def affected_view(result: AdvisoryAffected) -> Iterable[Line]:
    for a in result.affected:
        yield f"  {a.name}@{a.revision}  downloads {a.downloads}  via {' -> '.join(a.via)}"


def snapshot_view(result: DownloadSnapshotPublic) -> Iterable[Line]:
    yield f"{result.name}@{result.revision}: {result.downloads} downloads"


def downloads_view(report: DownloadsPublic) -> Iterable[Line]:
    r = report.reach
    yield f"[bold]{report.name}@{report.revision}[/]"
    yield (
        f"downloads: {human_count(r.own)} (30d), {human_count(r.own_all_time)} all time; "
        f"reach: {human_count(r.subtree)} (30d) over {r.descendants} descendants, "
        f"{human_count(r.subtree_all_time)} all time"
    )
    g = report.growth
    if g.change is not None:
        ratio = f" (x{g.ratio:.2f})" if g.ratio is not None else ""
        yield f"growth over {g.window} ({g.counter} counter): {g.change:+,}{ratio}"
    for p in report.series[-20:]:
        yield f"  {p.observed_at:%Y-%m-%d %H:%M}  {p.window:>3}  {p.count:>12,}  {p.source}"


def ingest_view(result: DownloadIngestResult) -> Iterable[Line]:
    yield (
        f"{result.rows} rows: {result.new_events} new events, {result.duplicates} already ingested"
    )
    for v in result.variants:
        yield (
            f"  {v.name}@{v.revision}: {v.events} events, {v.users} users, "
            f"{v.count_30d} in the last 30 days"
        )


def hub_sync_summary(r: HubSyncResult) -> str:
    line = (
        f"{r.root}: {r.repos} repos ({r.new} new, {r.changed} changed, {r.unchanged} unchanged), "
        f"{r.declared_edges} declared edges, {r.exact_copies} exact copies, "
        f"{r.evaluations} results, {r.snapshots} download snapshots"
    )
    if r.fingerprinted:
        line += (
            f"; fingerprinted {r.fingerprinted}: {r.verified_edges} verified, "
            f"{r.disputed_edges} disputed, {r.detected_edges} detected edges"
        )
    if r.resumed:
        line += " (resumed an interrupted sync)"
    return line


def hub_sync_view(r: HubSyncResult) -> Iterable[Line]:
    yield hub_sync_summary(r)
