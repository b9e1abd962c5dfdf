"""Identify: the client sends a sketch and digests, never weights."""

from __future__ import annotations

from fastapi import APIRouter

from registry.api.deps import ERRORS, SessionDep
from registry.services.identify.compare import identify
from schemas import IdentifyQuery, IdentifyResult

router = APIRouter(tags=["identify"])


@router.post("/identify", response_model=IdentifyResult, responses=ERRORS)
def identify_route(body: IdentifyQuery, session: SessionDep) -> IdentifyResult:
    """Registered variants the query is identical to, derived from or related to, best first."""
    return identify(session, body)
