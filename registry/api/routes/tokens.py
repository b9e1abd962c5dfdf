"""Tokens: an admin mints scoped tokens over HTTP (the first one comes from the CLI)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status

from registry.api.deps import ERRORS, AdminToken, SessionDep, TokenDep
from registry.services import create_token
from registry.services.trust.tokens import list_tokens, revoke_token, token_info
from schemas import TokenCreate, TokenInfo, TokenPage, TokenPublic, TokenRevoked

router = APIRouter(prefix="/tokens", tags=["tokens"])


@router.get("", response_model=TokenPage, responses=ERRORS)
def list_(
    session: SessionDep,
    token: AdminToken,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
    cursor: str | None = None,
) -> TokenPage:
    """Tokens, oldest first, without their secrets (admin only)."""
    return list_tokens(session, limit=limit, cursor=cursor)


@router.get("/current", response_model=TokenInfo, responses=ERRORS)
def current(token: TokenDep) -> TokenInfo:
    """The token this request carries: its scope and expiry (how `login` checks a token)."""
    return token_info(token)


@router.post("", response_model=TokenPublic, status_code=status.HTTP_201_CREATED, responses=ERRORS)
def mint(body: TokenCreate, session: SessionDep, token: AdminToken) -> TokenPublic:
    """Create a token (admin only); the secret appears in this response and nowhere else."""
    secret, row = create_token(
        session, body.scope, namespace=body.namespace, expires_days=body.expires_days
    )
    return TokenPublic(
        token=secret, token_id=row.token_id, scope=row.scope, expires_at=row.expires_at
    )


@router.post("/{token_id}/revoke", response_model=TokenRevoked, responses=ERRORS)
def revoke(token_id: str, session: SessionDep, token: AdminToken) -> TokenRevoked:
    """Revoke a token (admin only); it is refused from then on."""
    row = revoke_token(session, token_id)
    return TokenRevoked(token_id=row.token_id, revoked_at=row.revoked_at)
