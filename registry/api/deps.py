"""What routes share: a database session per request, the caller's token and its scopes, the
safeguard policy, a variant's address from the path, and the error responses to document."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlmodel import Session

from registry.db.models import ApiToken
from registry.errors import PermissionDenied
from registry.names import VariantRef, validate_name, validate_revision
from registry.services.safeguards.policy import SafeguardPolicy, load_policy
from registry.services.trust.tokens import authenticate
from schemas import ErrorEnvelope

# the error envelopes every route may answer with, for the OpenAPI document
ERRORS: dict[int | str, dict] = {
    code: {"model": ErrorEnvelope} for code in (400, 401, 403, 404, 409, 422)
}


def variant_ref(namespace: str, name: str, revision: str | None) -> VariantRef:
    """The variant a route's ``{namespace}/{name}`` and ``revision`` address (no revision:
    ``main`` when registered, else the latest registered); raises :class:`InvalidName`."""
    name = validate_name(f"{namespace}/{name}")
    if revision is None:
        return VariantRef(name, explicit=False)
    return VariantRef(name, validate_revision(revision))


# The identity of the CLI's local mode: never stored, never matched by a bearer secret.
LOCAL_ADMIN = ApiToken(token_id="local", secret_sha256="", scope="admin")

_bearer = HTTPBearer(auto_error=False, description="a token from `provreg token create`")


def get_session(request: Request) -> Iterator[Session]:
    """A session for the request; webhook deliveries its writes queued go out after it."""
    session: Session = request.app.state.session_factory()
    try:
        yield session
    finally:
        session.close()
        request.app.state.webhooks.after_write(session)


SessionDep = Annotated[Session, Depends(get_session)]


def require_token(
    request: Request,
    session: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> ApiToken:
    """The authenticated token; raises TokenMissing or TokenInvalid (401), and RateLimited
    (429) when a write exceeds the token's rate. In the CLI's local mode a request without a
    token acts as :data:`LOCAL_ADMIN` (whoever opens the database already owns it)."""
    if credentials is None and request.app.state.trusted_local:
        return LOCAL_ADMIN
    token = authenticate(session, credentials.credentials if credentials else None)
    limiter = getattr(request.app.state, "rate_limiter", None)
    if limiter is not None and request.method not in ("GET", "HEAD"):
        limiter.take(token.token_id)
    return token


TokenDep = Annotated[ApiToken, Depends(require_token)]


def safeguard_policy(request: Request) -> SafeguardPolicy:
    """The safeguard policy the server's settings select."""
    return load_policy(request.app.state.settings)


PolicyDep = Annotated[SafeguardPolicy, Depends(safeguard_policy)]


class ScopeRequirement:
    """A write route's declared scopes, checked as a dependency before the body is read.

    Each entry is ``admin``, ``evaluate`` (also met by a namespace-bound ``evaluate:<ns>``),
    ``publish:{namespace}`` or ``evaluate:{namespace}``. ``{namespace}`` is the route's
    ``namespace`` path parameter when it has one; otherwise (the namespace is in the body) only
    the scope's kind is checked here and the service checks the namespace. The route walk in
    ``tests/api/test_trust_api.py`` finds the requirement in each route's dependant tree, so a
    write route without one fails the suite.
    """

    def __init__(self, *scopes: str) -> None:
        self.scopes = scopes

    def allows(self, scope: str, namespace: str | None) -> bool:
        """Whether a token of ``scope`` may call the route for ``namespace`` (None: unknown
        here, so only the scope's kind is checked)."""
        kind, _, bound = scope.partition(":")
        for wanted in self.scopes:
            want_kind, _, want_ns = wanted.partition(":")
            if want_kind != kind:
                continue
            if not want_ns:  # admin exactly; evaluate, bound to a namespace or not
                return wanted == "evaluate" or scope == wanted
            if bound and namespace in (None, bound):
                return True
        return False

    def __call__(self, request: Request, token: TokenDep) -> ApiToken:
        namespace = request.path_params.get("namespace")
        if not self.allows(token.scope, namespace):
            need = " or ".join(s.replace("{namespace}", namespace or "<ns>") for s in self.scopes)
            where = f" in namespace {namespace!r}" if namespace else ""
            raise PermissionDenied(
                f"token scope {token.scope!r} cannot {request.method} {request.url.path}{where}",
                hint=f"use a token with scope {need}",
            )
        return token


# What each write route declares (the route then checks anything finer, e.g. a body's namespace).
AdminToken = Annotated[ApiToken, Depends(ScopeRequirement("admin"))]
EvaluatorToken = Annotated[ApiToken, Depends(ScopeRequirement("admin", "evaluate"))]
PublisherToken = Annotated[ApiToken, Depends(ScopeRequirement("admin", "publish:{namespace}"))]
KeyManagerToken = Annotated[
    ApiToken,
    Depends(ScopeRequirement("admin", "publish:{namespace}", "evaluate:{namespace}")),
]
