"""Keys: namespaces register and revoke the keys their statements are checked against."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status

from registry.api.deps import ERRORS, KeyManagerToken, SessionDep
from registry.services.trust import keys as keys_service
from schemas import KeyCreate, KeyPage, KeyPublic

router = APIRouter(prefix="/keys", tags=["keys"])


@router.get("", response_model=list[KeyPublic], responses=ERRORS)
def list_(session: SessionDep, namespace: str | None = None) -> list[KeyPublic]:
    """Registered keys, oldest first, active and revoked; filter by namespace."""
    return keys_service.list_keys(session, namespace)


@router.get("/page", response_model=KeyPage, responses=ERRORS)
def page(
    session: SessionDep,
    namespace: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
    cursor: str | None = None,
) -> KeyPage:
    """A page of registered keys, oldest first (``GET /v1/keys`` with a cursor)."""
    return keys_service.key_page(session, namespace, limit=limit, cursor=cursor)


@router.get("/{key_id}", response_model=KeyPublic, responses=ERRORS)
def show(key_id: str, session: SessionDep) -> KeyPublic:
    """One key with the log indexes of its addition and revocation."""
    return keys_service.key_public(session, keys_service.find_key(session, key_id))


@router.post("", response_model=KeyPublic, status_code=status.HTTP_201_CREATED, responses=ERRORS)
def add(body: KeyCreate, session: SessionDep, token: KeyManagerToken) -> KeyPublic:
    """Register a public key (publish:<namespace> for publisher keys, evaluate:<namespace> for
    evaluator keys, or admin)."""
    keys_service.require_key_scope(token.scope, body.namespace, body.role)
    return keys_service.add_key(session, body.namespace, body.public_key, body.role)


@router.post("/{key_id}/revoke", response_model=KeyPublic, responses=ERRORS)
def revoke(key_id: str, session: SessionDep, token: KeyManagerToken) -> KeyPublic:
    """Revoke a key: it signs nothing new; what it signed before stays valid."""
    namespace, role = keys_service.namespace_of_key(session, key_id)
    keys_service.require_key_scope(token.scope, namespace, role)
    return keys_service.revoke_key(session, key_id)
