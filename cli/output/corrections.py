"""Text views of corrections: what a lineage declaration or retraction, or an evaluation
retraction or supersession, did."""

from __future__ import annotations

from collections.abc import Iterable

from rich.markup import escape

from cli.output import Line
from cli.output.views import reason_suffix
from schemas.corrections import EvalCorrectionPublic, LineageCorrectionPublic


def _logged(index: int | None) -> str:
    return f"  [dim](log entry {index})[/]" if index is not None else ""


def lineage_correction_view(result: LineageCorrectionPublic) -> Iterable[Line]:
    e = result.edge
    facts = escape(f"[{e.relation}, {e.source}, {e.status}]")
    yield (
        f"{result.outcome}: {escape(e.child)} -> {escape(e.parent)}  {facts}"
        f"{reason_suffix(e)}{_logged(result.log_index)}"
    )


def eval_correction_view(result: EvalCorrectionPublic) -> Iterable[Line]:
    old = result.result
    yield (
        f"{result.action}: result {old.id} ({escape(old.benchmark)} {escape(old.metric)} = "
        f"{old.value:g}) of {escape(old.name)}@{escape(old.revision)}{_logged(result.log_index)}"
    )
    if result.replacement is not None:
        new = result.replacement
        yield f"  replaced by result {new.id}: {new.value:g}"
    yield f"  reason: {escape(result.reason)}"
