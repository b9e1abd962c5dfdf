"""The transparency log: checkpoints, proofs, entries and the audit."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request

from registry.api.deps import ERRORS, AdminToken, SessionDep
from registry.services.safeguards.policy import load_policy
from registry.services.trust import translog
from registry.services.trust.audit import audit_log
from schemas import (
    AuditReport,
    CheckpointPublic,
    ConsistencyProof,
    InclusionProof,
    LogEntryPublic,
    LogKey,
)
from schemas.common import INT64_MAX

router = APIRouter(prefix="/log", tags=["log"])


@router.get("/key", response_model=LogKey, responses=ERRORS)
def key(request: Request) -> LogKey:
    """The log's origin and the Ed25519 public key that signs its checkpoints."""
    return translog.log_key(request.app.state.settings)


@router.get("/checkpoint", response_model=CheckpointPublic, responses=ERRORS)
def checkpoint(request: Request, session: SessionDep) -> CheckpointPublic:
    """A fresh checkpoint signed as a C2SP signed note."""
    return translog.checkpoint(session, request.app.state.settings)


@router.get("/proof/inclusion", response_model=InclusionProof, responses=ERRORS)
def inclusion(
    session: SessionDep,
    index: Annotated[int, Query(ge=0, le=INT64_MAX)],
    tree_size: Annotated[int | None, Query(ge=1, le=INT64_MAX)] = None,
) -> InclusionProof:
    """The audit path of leaf ``index`` in the tree of ``tree_size`` leaves (default: now)."""
    return translog.inclusion_proof(session, index, tree_size)


@router.get("/proof/consistency", response_model=ConsistencyProof, responses=ERRORS)
def consistency(
    session: SessionDep,
    first: Annotated[int, Query(ge=1, le=INT64_MAX)],
    second: Annotated[int | None, Query(ge=1, le=INT64_MAX)] = None,
) -> ConsistencyProof:
    """The proof that the tree of ``second`` leaves (default: now) extends the first ``first``."""
    return translog.consistency_proof(session, first, second)


@router.get("/entries/{index}", response_model=LogEntryPublic, responses=ERRORS)
def entry(index: Annotated[int, Path(ge=0, le=INT64_MAX)], session: SessionDep) -> LogEntryPublic:
    """One leaf's data (canonical JSON of the event) and hash."""
    return translog.get_entry(session, index)


@router.get("/audit", response_model=AuditReport, responses=ERRORS)
def audit(request: Request, session: SessionDep, token: AdminToken) -> AuditReport:
    """Re-derive every leaf from the stored records and recompute the tree (admin: it reads
    everything)."""
    return audit_log(session, load_policy(request.app.state.settings))
