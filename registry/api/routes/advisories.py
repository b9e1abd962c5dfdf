"""Advisories: publish one, list what it reaches, list those reaching a variant."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, status

from registry.api.deps import ERRORS, EvaluatorToken, SessionDep, variant_ref
from registry.services.browse import variant_advisories
from registry.services.safeguards.advisories import add_advisory, affected, list_advisories
from schemas.browse import VariantAdvisories
from schemas.common import INT64_MAX
from schemas.evals import AdvisoryAffected, AdvisoryCreate, AdvisoryPublic
from schemas.lists import AdvisoryPage

router = APIRouter()


@router.post(
    "/advisories",
    response_model=AdvisoryPublic,
    status_code=status.HTTP_201_CREATED,
    responses=ERRORS,
    tags=["evaluations"],
)
def advisory_add(
    body: AdvisoryCreate, session: SessionDep, token: EvaluatorToken
) -> AdvisoryPublic:
    """Publish an advisory against a variant (scope evaluate or admin); it is logged."""
    return add_advisory(session, body)


@router.get("/advisories", response_model=AdvisoryPage, responses=ERRORS, tags=["evaluations"])
def advisory_list(
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
    cursor: str | None = None,
) -> AdvisoryPage:
    """Every advisory, newest first."""
    return list_advisories(session, limit=limit, cursor=cursor)


@router.get(
    "/advisories/{advisory_id}/affected",
    response_model=AdvisoryAffected,
    responses=ERRORS,
    tags=["evaluations"],
)
def advisory_affected(
    advisory_id: Annotated[int, Path(ge=0, le=INT64_MAX)], session: SessionDep
) -> AdvisoryAffected:
    """The advised variant and every descendant, with downloads and the path to each."""
    return affected(session, advisory_id)


@router.get(
    "/variants/{namespace}/{name}/advisories",
    response_model=VariantAdvisories,
    responses=ERRORS,
    tags=["browse"],
)
def advisories(
    namespace: str, name: str, session: SessionDep, revision: str | None = None
) -> VariantAdvisories:
    """Advisories against the variant or an ancestor, newest first, with the path down to it."""
    return variant_advisories(session, variant_ref(namespace, name, revision))
