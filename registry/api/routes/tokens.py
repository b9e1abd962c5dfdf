"""Tokens: an admin mints scoped tokens over HTTP (the first one comes from the CLI)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status

from registry.api.deps import ERRORS, AdminToken, SessionDep, TokenDep
from registry.names import NAME_PART
from registry.services import create_token
from registry.services.trust.tokens import list_tokens, revoke_token, token_self
from schemas import TokenCreate, TokenPage, TokenPublic, TokenRevoked, TokenSelf

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


@router.post("", response_model=TokenPublic, status_code=status.HTTP_201_CREATED, responses=ERRORS)
def mint(body: TokenCreate, session: SessionDep, token: AdminToken) -> TokenPublic:
    """Create a token (admin only); the secret appears in this response and nowhere else."""
    secret, row = create_token(
        session, body.scope, namespace=body.namespace, expires_days=body.expires_days
    )
    return TokenPublic(
        token=secret, token_id=row.token_id, scope=row.scope, expires_at=row.expires_at
    )


@router.get("/self", response_model=TokenSelf, responses=ERRORS)
def whoami(
    token: TokenDep,
    namespace: Annotated[
        str | None,
        Query(pattern=NAME_PART.pattern, description="also answer whether it may publish here"),
    ] = None,
) -> TokenSelf:
    """What the bearer token may do (any valid token): its scope and expiry, and with
    ``namespace`` whether it may register variants there. Clients ask this before long work,
    so a missing, invalid, expired, revoked or too narrow token is refused at once."""
    return token_self(token, namespace)


@router.post("/{token_id}/revoke", response_model=TokenRevoked, responses=ERRORS)
def revoke(token_id: str, session: SessionDep, token: AdminToken) -> TokenRevoked:
    """Revoke a token (admin only); it is refused from then on."""
    row = revoke_token(session, token_id)
    return TokenRevoked(token_id=row.token_id, revoked_at=row.revoked_at)
