"""What an export says about a variant, read once from the registry: its files, ancestors,
evaluations, datasets and safeguard status."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlmodel import Session, col, select

from registry.db.lineage_queries import ancestors
from registry.db.models import HubRepo, LineageEdge, Variant
from registry.names import VariantRef
from registry.services.evals.results import list_results
from registry.services.safeguards.compute import MAX_DEPTH
from registry.services.safeguards.policy import SafeguardPolicy
from registry.services.safeguards.query import safeguard_status
from registry.services.variants.register import get_variant, show_variant
from schemas import EvalResultPublic, SafeguardStatusPublic, VariantPublic

DATASET_TAG = "dataset:"


@dataclass(frozen=True)
class Ancestor:
    """An ancestor reached through ``child`` by one edge of the lineage graph."""

    name: str
    revision: str
    digest: str | None
    child: str
    relation: str
    source: str
    status: str
    depth: int

    @property
    def ref(self) -> str:
        return f"{self.name}@{self.revision}"


@dataclass
class ModelFacts:
    """Everything an exporter needs, with no database behind it."""

    variant: VariantPublic
    ancestors: list[Ancestor]
    evaluations: list[EvalResultPublic]
    safeguards: SafeguardStatusPublic
    datasets: list[str]
    license: str | None
    created: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def ref(self) -> str:
        return f"{self.variant.name}@{self.variant.revision}"


def _ancestors(session: Session, variant: Variant) -> list[Ancestor]:
    assert variant.id is not None
    out: list[Ancestor] = []
    seen: set[tuple[int, int]] = set()
    for row in sorted(ancestors(session, variant.id, MAX_DEPTH), key=lambda r: (r.depth, r.id)):
        if (row.id, row.via) in seen:
            continue
        seen.add((row.id, row.via))
        edge = session.exec(
            select(LineageEdge).where(
                LineageEdge.child_id == row.via, LineageEdge.parent_id == row.id
            )
        ).first()
        parent, child = session.get(Variant, row.id), session.get(Variant, row.via)
        if edge is None or parent is None or child is None:
            continue
        out.append(
            Ancestor(
                name=parent.name,
                revision=parent.revision,
                digest=parent.digest,
                child=child.ref,
                relation=edge.relation,
                source=edge.source,
                status=edge.status,
                depth=row.depth,
            )
        )
    return out


def _hub_card(session: Session, variant: Variant) -> tuple[list[str], str | None]:
    """Datasets named by the card's ``dataset:`` tags (stored markers and the Hub's tags) and
    the Hub's licence, when known."""
    tags = list((variant.card_markers or {}).get("tags") or [])
    hub = session.exec(select(HubRepo).where(col(HubRepo.variant_id) == variant.id)).first()
    if hub is not None:
        tags += list(hub.tags)
    datasets = [t[len(DATASET_TAG) :] for t in tags if t.startswith(DATASET_TAG)]
    return sorted({d for d in datasets if d}), hub.license if hub is not None else None


def gather_facts(session: Session, ref: VariantRef, policy: SafeguardPolicy) -> ModelFacts:
    """The facts of ``ref``; raises :class:`VariantNotFound`."""
    variant = get_variant(session, ref)
    datasets, licence = _hub_card(session, variant)
    return ModelFacts(
        variant=show_variant(session, ref),
        ancestors=_ancestors(session, variant),
        evaluations=list_results(session, ref).results,
        safeguards=safeguard_status(session, ref, policy),
        datasets=datasets,
        license=licence,
    )
