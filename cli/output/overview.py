"""`provreg show`'s one page: identity, lineage, safeguards, latest results, advisories and
downloads of a variant, on one screen. Every value from the registry is escaped, so text such as
``[finetune, declared, verified]`` is shown, never read as markup."""

from __future__ import annotations

from collections.abc import Iterable

from rich.markup import escape

from cli.output import Line, human_count, human_size
from cli.output.tables import SEVERITY_STYLE, STATUS_STYLE
from cli.output.views import attached_lines, reason_suffix
from schemas import LineageEdgePublic, VariantOverview

_MAX_FILES_NAMED = 3


def overview_view(v: VariantOverview) -> Iterable[Line]:
    status = v.safeguards.status if v.safeguards else None
    badge = f"  [{STATUS_STYLE.get(status, '')}]{status}[/]" if status else ""
    yield f"[bold]{escape(v.name)}@{escape(v.revision)}[/]{badge}"
    yield from _identity(v)
    yield from _lineage(v)
    if v.safeguards is not None:
        yield f"[bold]safeguards[/]   {escape(v.safeguards.status)}"
        for reason in v.safeguards.reasons:
            yield f"  - {escape(reason)}"
    yield from _evaluations(v)
    yield from _advisories(v)
    if v.downloads is not None:
        d = v.downloads
        yield (
            f"[bold]downloads[/]    {human_count(d.own)} (30d)   reach {human_count(d.subtree)} "
            f"over {d.descendants} descendant{'s' if d.descendants != 1 else ''}"
        )


def _identity(v: VariantOverview) -> Iterable[Line]:
    if not v.registered:
        yield "  [yellow]known only by name[/]: declared as a parent, weights not registered"
        return
    yield f"  digest       {escape(v.digest or '-')}"
    yield (
        f"  format       {escape(v.format or '-')}   parameters {human_count(v.parameters)}   "
        f"dtypes {escape(', '.join(v.dtypes) or '-')}   tensors {v.tensor_count}"
    )
    if v.architecture:
        yield f"  architecture {escape(v.architecture)}"
    total = sum(f.size for f in v.files)
    named = ", ".join(f.path for f in v.files[:_MAX_FILES_NAMED])
    more = f", +{len(v.files) - _MAX_FILES_NAMED} more" if len(v.files) > _MAX_FILES_NAMED else ""
    yield f"  files        {len(v.files)} ({human_size(total)}): {escape(named + more)}"
    if v.adapter_digest:
        yield f"  adapter      {escape(v.adapter_digest)} (LoRA adapter sketch)"
    if v.signature is not None:
        yield f"  signature    key {v.signature.key_id[:16]}…  log leaf {v.signature.log_index}"
    else:
        yield "  signature    [yellow]unsigned[/]"
    yield from attached_lines(v.attached_signatures)


def _edge_facts(edge: LineageEdgePublic) -> str:
    score = f" score {edge.score:.3f}" if edge.score is not None else ""
    return escape(f"[{edge.relation}, {edge.source}, {edge.status}{score}]")


def _lineage(v: VariantOverview) -> Iterable[Line]:
    if not v.lineage and not v.children:
        yield "[bold]lineage[/]      no parents or children registered"
        return
    yield "[bold]lineage[/]"
    for edge in v.lineage:
        yield f"  parent  {escape(edge.parent)}  {_edge_facts(edge)}{reason_suffix(edge)}"
    for edge in v.children:
        yield f"  child   {escape(edge.child)}  {_edge_facts(edge)}{reason_suffix(edge)}"


def _evaluations(v: VariantOverview) -> Iterable[Line]:
    if not v.registered:
        return
    if not v.evaluations:
        yield "[bold]evaluations[/]  none recorded"
        return
    yield "[bold]evaluations[/]  (latest per benchmark and metric)"
    for r in v.evaluations:
        err = f" ± {r.stderr:g}" if r.stderr is not None else ""
        n = f"  n={r.samples}" if r.samples is not None else ""
        line = f"{r.benchmark:<22} {r.metric:<16} {r.value:g}{err}{n}  [{r.category}]"
        yield f"  {escape(line)}"


def _advisories(v: VariantOverview) -> Iterable[Line]:
    if not v.advisories:
        yield "[bold]advisories[/]   none reach it"
        return
    yield "[bold]advisories[/]"
    for reach in v.advisories:
        a = reach.advisory
        style = SEVERITY_STYLE.get(a.severity, "")
        via = f"  via {' -> '.join(reach.via)}" if len(reach.via) > 1 else ""
        yield (
            f"  #{a.id} [{style}]{a.severity}[/] on {escape(a.name)}@{escape(a.revision)}: "
            f"{escape(a.summary)}{escape(via)}"
        )
