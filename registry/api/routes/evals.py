"""Evaluations, safeguard statuses, advisories and download counts."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, status

from registry.api.deps import EvaluatorToken, PublisherToken, SessionDep
from registry.api.routes.variants import _ERRORS, variant_ref
from registry.names import parse_ref
from registry.services.advisories import add_advisory, affected
from registry.services.downloads import record_downloads
from registry.services.evals import (
    add_results,
    add_signed_results,
    import_results,
    list_results,
)
from registry.services.safeguard_policy import SafeguardPolicy, load_policy
from registry.services.safeguard_query import lacking_safeguards, parse_statuses, safeguard_status
from schemas.evals import (
    AdvisoryAffected,
    AdvisoryCreate,
    AdvisoryPublic,
    DownloadRecord,
    DownloadSnapshotPublic,
    EvalImport,
    EvalImportResult,
    EvalResultCreate,
    EvalResultList,
    EvalResultPublic,
    LackingSafeguardPage,
    SafeguardStatusPublic,
    SignedEvalCreate,
)

router = APIRouter(tags=["evaluations"])


def _policy(request: Request) -> SafeguardPolicy:
    return load_policy(request.app.state.settings)


@router.post(
    "/evals/{namespace}/{name}",
    response_model=list[EvalResultPublic],
    status_code=status.HTTP_201_CREATED,
    responses=_ERRORS,
)
def add(
    namespace: str,
    name: str,
    body: EvalResultCreate,
    request: Request,
    session: SessionDep,
    token: EvaluatorToken,
    revision: str = "main",
) -> list[EvalResultPublic]:
    """Record one result (scope evaluate or admin); it is logged."""
    return add_results(session, variant_ref(namespace, name, revision), [body], _policy(request))


@router.post(
    "/evals/signed",
    response_model=list[EvalResultPublic],
    status_code=status.HTTP_201_CREATED,
    responses=_ERRORS,
)
def add_signed(
    body: SignedEvalCreate, request: Request, session: SessionDep, token: EvaluatorToken
) -> list[EvalResultPublic]:
    """Record results signed by an evaluator key (scope evaluate or admin); they are logged
    with the signer and the envelope's digest."""
    return add_signed_results(session, body, _policy(request))


@router.post(
    "/evals/{namespace}/{name}/import",
    response_model=EvalImportResult,
    status_code=status.HTTP_201_CREATED,
    responses=_ERRORS,
)
def import_(
    namespace: str,
    name: str,
    body: EvalImport,
    request: Request,
    session: SessionDep,
    token: EvaluatorToken,
    revision: str = "main",
) -> EvalImportResult:
    """Import a results file whole (lm-eval, model-index, .eval_results), or nothing."""
    return import_results(session, variant_ref(namespace, name, revision), body, _policy(request))


@router.get("/evals/{namespace}/{name}", response_model=EvalResultList, responses=_ERRORS)
def list_(namespace: str, name: str, session: SessionDep, revision: str = "main") -> EvalResultList:
    """A variant's results, oldest first."""
    return list_results(session, variant_ref(namespace, name, revision))


@router.get("/safeguards/lacking", response_model=LackingSafeguardPage, responses=_ERRORS)
def lacking(
    request: Request,
    session: SessionDep,
    descendant_of: str | None = None,
    status_: Annotated[str | None, Query(alias="status")] = None,
    min_downloads: Annotated[int, Query(ge=0)] = 0,
    since: date | None = None,
    sort: Literal["downloads", "reach"] = "downloads",
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
    cursor: str | None = None,
) -> LackingSafeguardPage:
    """Variants lacking safeguards (default statuses lacking, degraded, suspected), ranked by
    downloads or reach, each with its reasons and path to the nearest safeguarded ancestor."""
    return lacking_safeguards(
        session,
        _policy(request),
        descendant_of=parse_ref(descendant_of) if descendant_of else None,
        statuses=parse_statuses(status_),
        min_downloads=min_downloads,
        since=since,
        sort=sort,
        limit=limit,
        cursor=cursor,
    )


@router.get(
    "/safeguards/{namespace}/{name}", response_model=SafeguardStatusPublic, responses=_ERRORS
)
def show(
    namespace: str, name: str, request: Request, session: SessionDep, revision: str = "main"
) -> SafeguardStatusPublic:
    """A variant's safeguard status with the reasons for it."""
    return safeguard_status(session, variant_ref(namespace, name, revision), _policy(request))


@router.post(
    "/advisories",
    response_model=AdvisoryPublic,
    status_code=status.HTTP_201_CREATED,
    responses=_ERRORS,
)
def advisory_add(
    body: AdvisoryCreate, session: SessionDep, token: EvaluatorToken
) -> AdvisoryPublic:
    """Publish an advisory against a variant (scope evaluate or admin); it is logged."""
    return add_advisory(session, body)


@router.get(
    "/advisories/{advisory_id}/affected", response_model=AdvisoryAffected, responses=_ERRORS
)
def advisory_affected(advisory_id: int, session: SessionDep) -> AdvisoryAffected:
    """The advised variant and every descendant, with downloads and the path to each."""
    return affected(session, advisory_id)


@router.post(
    "/downloads/{namespace}/{name}",
    response_model=DownloadSnapshotPublic,
    status_code=status.HTTP_201_CREATED,
    responses=_ERRORS,
)
def downloads_record(
    namespace: str,
    name: str,
    body: DownloadRecord,
    session: SessionDep,
    token: PublisherToken,
    revision: str = "main",
) -> DownloadSnapshotPublic:
    """Store a download count snapshot (scope admin or publish:<namespace>)."""
    return record_downloads(session, variant_ref(namespace, name, revision), body)
