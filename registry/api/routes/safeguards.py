"""Safeguard statuses: one variant's, several at once, and the variants lacking them."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Query

from registry.api.deps import ERRORS, PolicyDep, SessionDep, variant_ref
from registry.names import parse_ref
from registry.services.browse import MAX_BATCH, safeguard_summaries
from registry.services.safeguards.query import lacking_safeguards, parse_statuses, safeguard_status
from schemas.browse import SafeguardSummaryList
from schemas.common import INT64_MAX
from schemas.evals import LackingSafeguardPage, SafeguardStatusPublic

router = APIRouter()


@router.get("/safeguards", response_model=SafeguardSummaryList, responses=ERRORS, tags=["browse"])
def statuses(
    policy: PolicyDep,
    session: SessionDep,
    ref: Annotated[list[str], Query(max_length=MAX_BATCH, description="NAME@REV, repeatable")],
) -> SafeguardSummaryList:
    """Status, reasons, downloads and reach of several variants at once."""
    return safeguard_summaries(session, policy, [parse_ref(r) for r in ref])


@router.get(
    "/safeguards/lacking",
    response_model=LackingSafeguardPage,
    responses=ERRORS,
    tags=["evaluations"],
)
def lacking(
    policy: PolicyDep,
    session: SessionDep,
    descendant_of: str | None = None,
    status_: Annotated[str | None, Query(alias="status")] = None,
    min_downloads: Annotated[int, Query(ge=0, le=INT64_MAX)] = 0,
    since: date | None = None,
    sort: Literal["downloads", "reach"] = "downloads",
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
    cursor: str | None = None,
) -> LackingSafeguardPage:
    """Variants lacking safeguards (default statuses lacking, degraded, suspected), ranked by
    downloads or reach, each with its reasons and path to the nearest safeguarded ancestor."""
    return lacking_safeguards(
        session,
        policy,
        descendant_of=parse_ref(descendant_of) if descendant_of else None,
        statuses=parse_statuses(status_),
        min_downloads=min_downloads,
        since=since,
        sort=sort,
        limit=limit,
        cursor=cursor,
    )


@router.get(
    "/safeguards/{namespace}/{name}",
    response_model=SafeguardStatusPublic,
    responses=ERRORS,
    tags=["evaluations"],
)
def show(
    namespace: str, name: str, policy: PolicyDep, session: SessionDep, revision: str | None = None
) -> SafeguardStatusPublic:
    """A variant's safeguard status with the reasons for it."""
    return safeguard_status(session, variant_ref(namespace, name, revision), policy)
