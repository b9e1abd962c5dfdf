"""The FastAPI app factory. Nothing is created at import time."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import APIRouter, FastAPI
from sqlmodel import Session

import registry
from registry.api.docs import install_docs
from registry.api.errors import install_error_handlers
from registry.api.guard import RequestGuard
from registry.api.pages import install_pages
from registry.api.ratelimit import TokenBucket
from registry.api.routes import (
    advisories,
    catalog,
    downloads,
    evals,
    exports,
    identify,
    keys,
    lineage,
    log,
    safeguards,
    signatures,
    tokens,
    variants,
    webhooks,
)
from registry.config import Settings
from registry.db import make_engine, make_session_factory
from registry.services.webhooks import Dispatcher

DESCRIPTION = """
provreg tracks where AI model weights come from and where they went: exact fingerprints,
declared and detected lineage, over a public read API. Writes need
`Authorization: Bearer <token>` (`provreg token create`). Errors are
`{"error": {"code", "message", "detail"}}`; lists are paginated with `limit` and `cursor`.
"""


def create_app(
    settings: Settings | None = None,
    *,
    session_factory: Callable[[], Session] | None = None,
    trusted_local: bool = False,
) -> FastAPI:
    """Build the app for ``settings``; tests pass their own ``session_factory``.

    ``trusted_local`` is for the CLI's local mode only (the app in the caller's own process,
    see :mod:`registry.api.local`): a request without a token acts as a local administrator.
    """
    settings = settings or Settings()
    if session_factory is None:
        session_factory = make_session_factory(make_engine(settings))
    app = FastAPI(
        title="provreg",
        version=registry.__version__,
        description=DESCRIPTION,
        openapi_url="/openapi.json",
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.session_factory = session_factory
    app.state.trusted_local = trusted_local
    app.state.rate_limiter = TokenBucket(settings.write_rate, settings.write_burst)
    app.state.webhooks = Dispatcher(
        session_factory,
        attempts=settings.webhook_attempts,
        backoff=settings.webhook_backoff,
        timeout=settings.webhook_timeout,
        background=settings.webhook_delivery == "background" and not trusted_local,
    )
    install_error_handlers(app)

    v1 = APIRouter(prefix="/v1")

    @v1.get("/health", tags=["meta"])
    def health() -> dict[str, str]:
        return {"status": "ok", "version": registry.__version__}

    for module in (
        variants, lineage, identify, tokens, keys, signatures, log, evals, safeguards,
        advisories, downloads, exports, webhooks, catalog,
    ):  # fmt: skip
        v1.include_router(module.router)
    app.include_router(v1)
    install_pages(app)
    install_docs(app)
    app.add_middleware(RequestGuard, fastapi_app=app)
    return app
