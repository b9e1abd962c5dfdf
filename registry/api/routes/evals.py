"""Evaluation results: add one, add signed ones, import a file, list a variant's."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, status

from registry.api.deps import ERRORS, EvaluatorToken, PolicyDep, SessionDep, variant_ref
from registry.services.evals.corrections import retract_result, supersede_result
from registry.services.evals.results import (
    add_results,
    add_signed_results,
    import_results,
    list_all_results,
    list_results,
)
from schemas.common import INT64_MAX
from schemas.corrections import EvalCorrectionPublic, EvalRetract, EvalSupersede
from schemas.evals import (
    EvalImport,
    EvalImportResult,
    EvalResultEntry,
    EvalResultList,
    EvalResultPublic,
    SignedEvalCreate,
)
from schemas.lists import EvalResultPage

router = APIRouter(tags=["evaluations"])
ResultId = Annotated[int, Path(ge=0, le=INT64_MAX)]


@router.get("/evals", response_model=EvalResultPage, responses=ERRORS)
def list_all(
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
    cursor: str | None = None,
) -> EvalResultPage:
    """Every variant's results, newest first."""
    return list_all_results(session, limit=limit, cursor=cursor)


@router.post(
    "/evals/{namespace}/{name}",
    response_model=list[EvalResultPublic],
    status_code=status.HTTP_201_CREATED,
    responses=ERRORS,
)
def add(
    namespace: str,
    name: str,
    body: EvalResultEntry,
    policy: PolicyDep,
    session: SessionDep,
    token: EvaluatorToken,
    revision: str | None = None,
) -> list[EvalResultPublic]:
    """Record one result (scope evaluate or admin); it is logged."""
    return add_results(session, variant_ref(namespace, name, revision), [body], policy)


@router.post(
    "/evals/signed",
    response_model=list[EvalResultPublic],
    status_code=status.HTTP_201_CREATED,
    responses=ERRORS,
)
def add_signed(
    body: SignedEvalCreate, policy: PolicyDep, session: SessionDep, token: EvaluatorToken
) -> list[EvalResultPublic]:
    """Record results signed by an evaluator key (scope evaluate or admin); they are logged
    with the signer and the envelope's digest."""
    return add_signed_results(session, body, policy)


@router.post(
    "/evals/{namespace}/{name}/import",
    response_model=EvalImportResult,
    status_code=status.HTTP_201_CREATED,
    responses=ERRORS,
)
def import_(
    namespace: str,
    name: str,
    body: EvalImport,
    policy: PolicyDep,
    session: SessionDep,
    token: EvaluatorToken,
    revision: str | None = None,
) -> EvalImportResult:
    """Import a results file whole (lm-eval, model-index, .eval_results), or nothing."""
    return import_results(session, variant_ref(namespace, name, revision), body, policy)


@router.get("/evals/{namespace}/{name}", response_model=EvalResultList, responses=ERRORS)
def list_(
    namespace: str, name: str, session: SessionDep, revision: str | None = None
) -> EvalResultList:
    """A variant's results, oldest first."""
    return list_results(session, variant_ref(namespace, name, revision))


@router.post(
    "/evals/results/{result_id}/retract", response_model=EvalCorrectionPublic, responses=ERRORS
)
def retract(
    result_id: ResultId,
    body: EvalRetract,
    policy: PolicyDep,
    session: SessionDep,
    token: EvaluatorToken,
) -> EvalCorrectionPublic:
    """Retract a result (admin, evaluate, or evaluate:<its evaluator>); it stays listed as
    retracted and counts for nothing. Logged."""
    return retract_result(session, result_id, body, token, policy)


@router.post(
    "/evals/results/{result_id}/supersede", response_model=EvalCorrectionPublic, responses=ERRORS
)
def supersede(
    result_id: ResultId,
    body: EvalSupersede,
    policy: PolicyDep,
    session: SessionDep,
    token: EvaluatorToken,
) -> EvalCorrectionPublic:
    """Replace a result's value with a new result (scopes as retract); the old one stays listed
    as superseded, pointing at its replacement. Logged."""
    return supersede_result(session, result_id, body, token, policy)
