"""The registry as a whole: its overview, and the table of every variant."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query

from registry.api.deps import ERRORS, PolicyDep, SessionDep
from registry.services.browse import MAX_QUERY_CHARS
from registry.services.catalog import overview, variant_table
from registry.services.safeguards.query import parse_statuses
from schemas.catalog import RegistryOverview, TableSort, VariantTable

router = APIRouter()


@router.get("/overview", response_model=RegistryOverview, responses=ERRORS, tags=["browse"])
def overview_(policy: PolicyDep, session: SessionDep) -> RegistryOverview:
    """Counts, the latest registrations and the most-reached variants lacking safeguards."""
    return overview(session, policy)


@router.get("/variants/table", response_model=VariantTable, responses=ERRORS, tags=["browse"])
def table(
    policy: PolicyDep,
    session: SessionDep,
    q: Annotated[
        str | None,
        Query(max_length=MAX_QUERY_CHARS, description="part of a name, or a digest prefix"),
    ] = None,
    format: Annotated[str | None, Query(max_length=32)] = None,
    status: Annotated[str | None, Query(description="comma-separated statuses")] = None,
    registered: bool | None = None,
    sort: TableSort = "downloads",
    order: Literal["asc", "desc"] = "desc",
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
    cursor: str | None = None,
) -> VariantTable:
    """Every variant with its safeguard status and downloads, sorted and filtered."""
    return variant_table(
        session,
        policy,
        q=q,
        format=format,
        statuses=parse_statuses(status) if status else None,
        registered=registered,
        sort=sort,
        descending=order == "desc",
        limit=limit,
        cursor=cursor,
    )
