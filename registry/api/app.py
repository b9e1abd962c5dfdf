"""The FastAPI app factory. Nothing is created at import time."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable

from fastapi import FastAPI
from sqlmodel import Session

import registry
from registry.api.docs import install_docs
from registry.api.errors import install_error_handlers
from registry.api.guard import RequestGuard
from registry.api.pages import install_pages
from registry.api.ratelimit import TokenBucket
from registry.config import Settings
from registry.db import make_engine, make_session_factory

DESCRIPTION = """
provreg tracks where AI model weights come from and where they went: exact fingerprints,
declared and detected lineage, over a public read API. Writes need
`Authorization: Bearer <token>` (`provreg token create`). Errors are
`{"error": {"code", "message", "detail"}}`; lists are paginated with `limit` and `cursor`.
"""


#: the route modules (``registry.api.routes.<name>``) serving each first path segment under
#: ``/v1``, in the order they are included; a lazily routed app loads only those a request needs
ROUTE_MODULES: dict[str, tuple[str, ...]] = {
    "variants": ("variants", "signatures", "advisories", "exports", "catalog"),
    "overview": ("catalog",),
    "webhooks": ("webhooks",),
    "lineage": ("lineage", "signatures"),
    "identify": ("identify",),
    "tokens": ("tokens",),
    "keys": ("keys",),
    "log": ("log",),
    "evals": ("evals",),
    "safeguards": ("safeguards",),
    "advisories": ("advisories",),
    "downloads": ("downloads",),
}


#: every route module, in the order the full app (and its OpenAPI document) lists them
ALL_ROUTE_MODULES = ("variants", "lineage", "identify", "tokens", "keys", "signatures", "log",
                     "evals", "safeguards", "advisories", "downloads", "exports", "webhooks",
                     "catalog")  # fmt: skip


def include_route_modules(app: FastAPI, modules: Iterable[str]) -> None:
    """Serve the routes of ``modules`` under ``/v1`` (each once, however often asked)."""
    included: set[str] = app.state.route_modules
    for name in modules:
        if name not in included:
            module = importlib.import_module(f"registry.api.routes.{name}")
            app.include_router(module.router, prefix="/v1")
            included.add(name)


#: under ``/v1/variants/{namespace}/{name}/``, the module serving each last segment
VARIANT_TAIL_MODULES = {"statement": "signatures", "signatures": "signatures",
                        "advisories": "advisories", "export": "exports",
                        "overview": "variants"}  # fmt: skip
#: ``/v1/variants/<segment>`` paths served by another module than ``variants``
VARIANT_COLLECTION_MODULES = {"table": "catalog"}


def modules_for(path: str) -> tuple[str, ...]:
    """The route modules that may serve ``path``: those of its segment under ``/v1``, and for
    a variant's own paths only the one module that serves them."""
    parts = path.strip("/").split("/")
    if len(parts) < 2 or parts[0] != "v1":
        return ()
    if parts[1] == "variants":
        if len(parts) == 3:
            return (VARIANT_COLLECTION_MODULES.get(parts[2], "variants"),)
        tail = VARIANT_TAIL_MODULES.get(parts[4]) if len(parts) == 5 else "variants"
        return (tail,) if tail else ()
    return ROUTE_MODULES.get(parts[1], ())


def route_path(app: FastAPI, path: str) -> None:
    """Make sure a lazily routed app serves ``path``: load the route modules it may need."""
    include_route_modules(app, modules_for(path))


def create_app(
    settings: Settings | None = None,
    *,
    session_factory: Callable[[], Session] | None = None,
    trusted_local: bool = False,
    lazy_routes: bool = False,
) -> FastAPI:
    """Build the app for ``settings``; tests pass their own ``session_factory``.

    ``trusted_local`` is for the CLI's local mode only (the app in the caller's own process,
    see :mod:`registry.api.local`): a request without a token acts as a local administrator.
    ``lazy_routes`` builds no route module until :func:`route_path` asks for one, so a process
    that serves one request (the CLI's local mode) loads only that request's routes and
    services.
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
    app.state.route_modules = set()
    from registry.services.webhooks import Dispatcher  # deliveries; loaded with the app only

    app.state.webhooks = Dispatcher(
        session_factory,
        attempts=settings.webhook_attempts,
        backoff=settings.webhook_backoff,
        timeout=settings.webhook_timeout,
        background=settings.webhook_delivery == "background" and not trusted_local,
    )
    install_error_handlers(app)

    @app.get("/v1/health", tags=["meta"])
    def health() -> dict[str, str]:
        return {"status": "ok", "version": registry.__version__}

    if not lazy_routes:
        include_route_modules(app, ALL_ROUTE_MODULES)
    install_pages(app)
    install_docs(app)
    app.add_middleware(RequestGuard, fastapi_app=app)
    return app
