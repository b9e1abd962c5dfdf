"""API tokens: creation, authentication of a bearer secret, and scope checks.

A token reads ``provreg_<id>_<secret>``: the prefix lets secret scanners recognise it, the id
finds the row, and only a SHA-256 of the whole token is stored.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from datetime import UTC, datetime, timedelta

from sqlmodel import Session, col, select

from registry.db.models import ApiToken
from registry.errors import (
    InvalidInput,
    PermissionDenied,
    TokenInvalid,
    TokenMissing,
    TokenNotFound,
)
from registry.names import NAME_PART
from registry.services.pagination import id_page
from schemas import TokenInfo, TokenPage, TokenSelf

TOKEN_PREFIX = "provreg_"
_TOKEN = re.compile(r"^provreg_([0-9a-f]{12})_([A-Za-z0-9_-]{20,})$")
SIMPLE_SCOPES = ("admin", "evaluate")
NAMESPACED_SCOPES = ("publish", "evaluate")


def normalise_scope(scope: str, namespace: str | None) -> str:
    """``publish`` + namespace becomes ``publish:<namespace>``, ``evaluate`` + namespace
    ``evaluate:<namespace>`` (an evaluator bound to the namespace whose evaluator keys it may
    manage); raises on unknown scopes."""
    if scope == "publish":
        if not namespace:
            raise InvalidInput(
                "scope publish needs a namespace", hint="add --namespace NS (or use publish:NS)"
            )
        scope = f"publish:{namespace}"
    elif scope == "evaluate" and namespace:
        scope = f"evaluate:{namespace}"
    elif namespace and scope in SIMPLE_SCOPES:
        raise InvalidInput(f"scope {scope} takes no namespace", hint="drop --namespace")
    kind, _, ns = scope.partition(":")
    if scope in SIMPLE_SCOPES or (kind in NAMESPACED_SCOPES and NAME_PART.match(ns)):
        return scope
    raise InvalidInput(
        f"unknown scope {scope!r}",
        hint="use admin, evaluate, or publish/evaluate with --namespace NS",
    )


def _sha256(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(
    session: Session, scope: str, *, namespace: str | None = None, expires_days: int | None = None
) -> tuple[str, ApiToken]:
    """Store a new token and return ``(secret, row)``; the secret is not kept anywhere."""
    token_id = secrets.token_hex(6)
    secret = f"{TOKEN_PREFIX}{token_id}_{secrets.token_urlsafe(32)}"
    expires_at = datetime.now(UTC) + timedelta(days=expires_days) if expires_days else None
    row = ApiToken(
        token_id=token_id,
        secret_sha256=_sha256(secret),
        scope=normalise_scope(scope, namespace),
        expires_at=expires_at,
    )
    session.add(row)
    session.commit()
    session.refresh(row)
    return secret, row


def token_missing() -> TokenMissing:
    """The refusal of a write sent without a token."""
    return TokenMissing(
        "this request needs a bearer token",
        hint="create one with `provreg token create` and set PROVREG_TOKEN",
    )


def authenticate(session: Session, bearer: str | None) -> ApiToken:
    """The stored token for a bearer secret; raises TokenMissing or TokenInvalid."""
    if not bearer:
        raise token_missing()
    match = _TOKEN.match(bearer.strip())
    row = (
        session.exec(select(ApiToken).where(ApiToken.token_id == match.group(1))).first()
        if match
        else None
    )
    if row is None or not hmac.compare_digest(row.secret_sha256, _sha256(bearer.strip())):
        raise TokenInvalid("the bearer token is not valid", hint="check PROVREG_TOKEN")
    now = datetime.now(UTC)
    if row.revoked_at is not None:
        raise TokenInvalid("the bearer token was revoked", hint="ask an admin for a new token")
    expires = row.expires_at
    if expires is not None and (expires if expires.tzinfo else expires.replace(tzinfo=UTC)) < now:
        raise TokenInvalid("the bearer token has expired", hint="ask an admin for a new token")
    return row


def can_publish(token: ApiToken, namespace: str) -> bool:
    """Whether ``token`` may register variants in ``namespace`` (admin or publish:<ns>)."""
    return token.scope == "admin" or token.scope == f"publish:{namespace}"


def require_publish(token: ApiToken, namespace: str) -> None:
    """Allow admin and ``publish:<namespace>``; raise :class:`PermissionDenied` otherwise."""
    if can_publish(token, namespace):
        return
    raise PermissionDenied.to_publish(token.scope, namespace)


def token_self(token: ApiToken, namespace: str | None = None) -> TokenSelf:
    """What ``token`` may do; with ``namespace``, whether it may publish there."""
    return TokenSelf(
        token_id=token.token_id,
        scope=token.scope,
        expires_at=token.expires_at,
        namespace=namespace,
        can_publish=can_publish(token, namespace) if namespace is not None else None,
    )


def revoke_token(session: Session, token_id: str) -> ApiToken:
    """Revoke a token by its id (the 12 hex digits after ``provreg_``); revoking twice changes
    nothing. Raises :class:`TokenNotFound`."""
    token_id = token_id.removeprefix(TOKEN_PREFIX).split("_", 1)[0]
    row = session.exec(select(ApiToken).where(ApiToken.token_id == token_id)).first()
    if row is None:
        raise TokenNotFound(f"no token {token_id}", hint="pass the token_id printed at creation")
    if row.revoked_at is None:
        row.revoked_at = datetime.now(UTC)
        session.add(row)
        session.commit()
        session.refresh(row)
    return row


def token_info(row: ApiToken) -> TokenInfo:
    """A stored token without its secret."""
    expires = row.expires_at
    expired = expires is not None and (
        expires if expires.tzinfo else expires.replace(tzinfo=UTC)
    ) < datetime.now(UTC)
    return TokenInfo(
        token_id=row.token_id,
        scope=row.scope,
        created_at=row.created_at,
        expires_at=row.expires_at,
        revoked_at=row.revoked_at,
        active=row.revoked_at is None and not expired,
    )


def list_tokens(session: Session, *, limit: int = 50, cursor: str | None = None) -> TokenPage:
    """Tokens, oldest first, revoked and expired ones too; never their secrets."""
    rows, next_cursor = id_page(
        session, select(ApiToken), col(ApiToken.id), limit=limit, cursor=cursor
    )
    return TokenPage(items=[token_info(r) for r in rows], next_cursor=next_cursor)
