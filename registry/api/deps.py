"""Request dependencies: a database session per request and the caller's token."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlmodel import Session

from registry.db.models import ApiToken
from registry.services.safeguard_policy import SafeguardPolicy, load_policy
from registry.services.tokens import authenticate

_bearer = HTTPBearer(auto_error=False, description="a token from `provreg token create`")


def get_session(request: Request) -> Iterator[Session]:
    session: Session = request.app.state.session_factory()
    try:
        yield session
    finally:
        session.close()


SessionDep = Annotated[Session, Depends(get_session)]


def require_token(
    request: Request,
    session: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> ApiToken:
    """The authenticated token; raises TokenMissing or TokenInvalid (401), and RateLimited
    (429) when a write exceeds the token's rate."""
    token = authenticate(session, credentials.credentials if credentials else None)
    limiter = getattr(request.app.state, "rate_limiter", None)
    if limiter is not None and request.method not in ("GET", "HEAD"):
        limiter.take(token.token_id)
    return token


TokenDep = Annotated[ApiToken, Depends(require_token)]


def safeguard_policy(request: Request) -> SafeguardPolicy:
    """The safeguard policy the server's settings select."""
    return load_policy(request.app.state.settings)
