"""Reads behind the explorer: search, statuses in bulk, downloads, advisories, signatures."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request

from registry.api.deps import SessionDep, safeguard_policy
from registry.api.routes.variants import _ERRORS, variant_ref
from registry.names import parse_ref
from registry.services.browse import (
    MAX_BATCH,
    MAX_SEARCH,
    safeguard_summaries,
    search_variants,
    variant_advisories,
    variant_signatures,
)
from schemas.browse import (
    SafeguardSummaryList,
    VariantAdvisories,
    VariantSearchResult,
    VariantSignatures,
)

router = APIRouter(tags=["browse"])


@router.get("/variants/search", response_model=VariantSearchResult, responses=_ERRORS)
def search(
    session: SessionDep,
    q: Annotated[str, Query(max_length=300, description="part of NAME, or NAME@REV prefix")],
    limit: Annotated[int, Query(ge=1, le=MAX_SEARCH)] = 10,
) -> VariantSearchResult:
    """Variants whose name contains ``q``, best match first: for search suggestions."""
    return search_variants(session, q, limit=limit)


@router.get("/safeguards", response_model=SafeguardSummaryList, responses=_ERRORS)
def statuses(
    request: Request,
    session: SessionDep,
    ref: Annotated[list[str], Query(max_length=MAX_BATCH, description="NAME@REV, repeatable")],
) -> SafeguardSummaryList:
    """Status, reasons, downloads and reach of several variants at once."""
    return safeguard_summaries(session, safeguard_policy(request), [parse_ref(r) for r in ref])


@router.get(
    "/variants/{namespace}/{name}/advisories", response_model=VariantAdvisories, responses=_ERRORS
)
def advisories(
    namespace: str, name: str, session: SessionDep, revision: str = "main"
) -> VariantAdvisories:
    """Advisories against the variant or an ancestor, newest first, with the path down to it."""
    return variant_advisories(session, variant_ref(namespace, name, revision))


@router.get(
    "/variants/{namespace}/{name}/signatures", response_model=VariantSignatures, responses=_ERRORS
)
def signatures(
    namespace: str, name: str, session: SessionDep, revision: str = "main"
) -> VariantSignatures:
    """The release signature, attached bundles and the log leaves that record them."""
    return variant_signatures(session, variant_ref(namespace, name, revision))
