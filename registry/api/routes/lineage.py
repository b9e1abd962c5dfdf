"""Lineage graphs around a variant."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query

from registry.api.deps import ERRORS, PublisherToken, SessionDep, variant_ref
from registry.services import lineage_graph
from registry.services.lineage.corrections import declare_parent, retract_parent
from registry.services.lineage.graph import DEFAULT_DEPTH, DEFAULT_PAGE, MAX_DEPTH
from schemas import LineageGraph
from schemas.corrections import LineageCorrectionPublic, LineageDeclare, LineageRetract

router = APIRouter(prefix="/lineage", tags=["lineage"])


@router.get("/{namespace}/{name}", response_model=LineageGraph, responses=ERRORS)
def lineage(
    namespace: str,
    name: str,
    session: SessionDep,
    revision: str | None = None,
    direction: Literal["up", "down", "both"] = "both",
    depth: Annotated[int, Query(ge=1, le=MAX_DEPTH)] = DEFAULT_DEPTH,
    limit: Annotated[int, Query(ge=1, le=1000)] = DEFAULT_PAGE,
    cursor: str | None = None,
) -> LineageGraph:
    """Ancestors (whole) and descendants (breadth first, paginated) of a variant."""
    return lineage_graph(
        session,
        variant_ref(namespace, name, revision),
        direction=direction,
        depth=depth,
        limit=limit,
        cursor=cursor,
    )


@router.post(
    "/{namespace}/{name}/parents", response_model=LineageCorrectionPublic, responses=ERRORS
)
def declare(
    namespace: str,
    name: str,
    body: LineageDeclare,
    session: SessionDep,
    token: PublisherToken,
    revision: str | None = None,
) -> LineageCorrectionPublic:
    """Declare a parent of a registered variant (publish:<namespace>); logged. Declaring an
    edge that is declared already changes nothing; a retracted one becomes active again."""
    return declare_parent(session, f"{namespace}/{name}", revision, body, token.token_id)


@router.post(
    "/{namespace}/{name}/retractions", response_model=LineageCorrectionPublic, responses=ERRORS
)
def retract(
    namespace: str,
    name: str,
    body: LineageRetract,
    session: SessionDep,
    token: PublisherToken,
    revision: str | None = None,
) -> LineageCorrectionPublic:
    """Retract a declared parent (publish:<namespace>), with a reason; logged. The edge stays
    listed as retracted and counts for neither safeguards nor reach."""
    return retract_parent(session, f"{namespace}/{name}", revision, body, token.token_id)
