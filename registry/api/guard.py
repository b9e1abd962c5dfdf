"""What the app refuses before it reads a request's body: a body over the size cap (413), and a
write without a token (401), so a large body is neither read nor parsed for nothing. And a
request whose transaction lost a race to another (deadlock, lock wait) runs again."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import anyio
from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from sqlalchemy.exc import OperationalError
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from registry.api.deps import require_token
from registry.api.errors import error_response
from registry.errors import BodyTooLarge
from registry.services.trust.tokens import token_missing

#: how often a request whose transaction lost a race is run again
RETRIES = 3
# PostgreSQL: deadlock_detected, serialization_failure; SQLite: a lock wait that ran out
_TRANSIENT_STATES = {"40P01", "40001"}


def _transient(exc: OperationalError) -> bool:
    if getattr(exc.orig, "sqlstate", None) in _TRANSIENT_STATES:
        return True
    return "database is locked" in str(exc.orig)


def _depends_on(dependant: Dependant, target: Callable[..., object]) -> bool:
    return any(d.call is target or _depends_on(d, target) for d in dependant.dependencies)


def api_routes(app: FastAPI) -> list[Any]:
    """Every API route as served, prefix included: FastAPI from 0.165 keeps an included
    router as one entry of ``app.routes`` and lists its routes through ``iter_route_contexts``;
    older versions copy them into ``app.routes``."""
    try:
        from fastapi.routing import iter_route_contexts
    except ImportError:
        return [r for r in app.routes if isinstance(r, APIRoute)]
    return [c for c in iter_route_contexts(app.routes) if isinstance(c.original_route, APIRoute)]


class RequestGuard:
    """ASGI middleware: the checks above, before any route or body parsing runs."""

    def __init__(self, app: ASGIApp, fastapi_app: FastAPI) -> None:
        # the cap (settings.max_body_bytes, 64 MiB): a registration at every input cap of
        # registry.weights.validation stays under it
        self.app, self.fastapi_app = app, fastapi_app
        self.max_body: int = fastapi_app.state.settings.max_body_bytes
        self._token_routes: list[Any] = []
        self._routes_seen = -1  # routes may be added after the first request (lazy_routes)

    def _needs_token(self, scope: Scope) -> bool:
        if self._routes_seen != len(self.fastapi_app.router.routes):
            self._routes_seen = len(self.fastapi_app.router.routes)
            self._token_routes = [
                r for r in api_routes(self.fastapi_app) if _depends_on(r.dependant, require_token)
            ]
        return any(r.matches(scope)[0] is Match.FULL for r in self._token_routes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        length = headers.get(b"content-length", b"")
        if length.isdigit() and int(length) > self.max_body:
            await self._too_large(scope, receive, send)
            return
        if (
            scope["method"] not in ("GET", "HEAD", "OPTIONS")
            and b"authorization" not in headers
            and not self.fastapi_app.state.trusted_local
            and self._needs_token(scope)
        ):
            await error_response(token_missing())(scope, receive, send)
            return
        # read the body here (a GET's is empty), counting, as a chunked body has no length to
        # check first, so it can be replayed to the app; FastAPI reads whole bodies anyway
        chunks: list[bytes] = []
        received, more = 0, True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away
            chunks.append(message.get("body", b""))
            received += len(chunks[-1])
            if received > self.max_body:
                await self._too_large(scope, receive, send)
                return
            more = message.get("more_body", False)
        await self._retrying(scope, b"".join(chunks), receive, send)

    async def _retrying(self, scope: Scope, body: bytes, receive: Receive, send: Send) -> None:
        """Run the request; when its transaction lost a race the database resolves by failing
        one side (a PostgreSQL deadlock or serialisation failure, SQLite's lock wait running
        out), nothing of it was committed, so it runs again, up to :data:`RETRIES` times."""
        for attempt in range(RETRIES + 1):
            started = False
            replayed = False

            async def replay() -> Message:
                nonlocal replayed
                if replayed:
                    return await receive()
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}

            async def tracked(message: Message) -> None:
                nonlocal started
                started = True
                await send(message)

            try:
                await self.app(scope, replay, tracked)
                return
            except OperationalError as exc:
                if started or attempt == RETRIES or not _transient(exc):
                    raise
                await anyio.sleep(0.05 * (attempt + 1))

    async def _too_large(self, scope: Scope, receive: Receive, send: Send) -> None:
        error = BodyTooLarge(
            f"the request body is over {self.max_body // (1024 * 1024)} MiB",
            hint="send a smaller request",
            detail={"max_bytes": self.max_body},
        )
        await error_response(error)(scope, receive, send)
