"""``show``'s one page: a variant with its safeguard status, latest evaluation results, the
advisories that reach it and its downloads, read in one request."""

from __future__ import annotations

from sqlmodel import Session

from registry.names import VariantRef
from registry.services.browse import variant_advisories
from registry.services.downloads.report import downloads_report
from registry.services.evals.results import list_results
from registry.services.safeguards.policy import SafeguardPolicy
from registry.services.safeguards.query import safeguard_status
from registry.services.variants.register import show_variant
from schemas import EvalResultPublic, VariantOverview


def variant_overview(session: Session, ref: VariantRef, policy: SafeguardPolicy) -> VariantOverview:
    """Everything a person asks about one variant; raises :class:`VariantNotFound`."""
    variant = show_variant(session, ref)  # a name without @REV: main, else the latest
    ref = VariantRef(variant.name, variant.revision)
    overview = VariantOverview(**variant.model_dump())
    overview.advisories = variant_advisories(session, ref).advisories
    overview.downloads = downloads_report(session, ref).reach
    if variant.registered:
        overview.safeguards = safeguard_status(session, ref, policy)
        overview.evaluations = latest_results(list_results(session, ref).results)
    return overview


def latest_results(results: list[EvalResultPublic]) -> list[EvalResultPublic]:
    """The newest result of each benchmark and metric, in the order they were first recorded."""
    latest: dict[tuple[str, str | None, str], EvalResultPublic] = {}
    for r in results:  # oldest first: later ones replace earlier ones
        latest[(r.benchmark, r.task, r.metric)] = r
    return list(latest.values())
