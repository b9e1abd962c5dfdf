"""Lineage graphs around a variant."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query

from registry.api.deps import ERRORS, SessionDep, variant_ref
from registry.services import lineage_graph
from registry.services.lineage.graph import DEFAULT_DEPTH, DEFAULT_PAGE, MAX_DEPTH
from schemas import LineageGraph

router = APIRouter(prefix="/lineage", tags=["lineage"])


@router.get("/{namespace}/{name}", response_model=LineageGraph, responses=ERRORS)
def lineage(
    namespace: str,
    name: str,
    session: SessionDep,
    revision: str = "main",
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
