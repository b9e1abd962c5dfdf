"""Local mode: the same :class:`RegistryClient`, over a transport that calls the app in this
process instead of a socket, so the CLI's local and HTTP modes share every line but the wire.

The in-process app trusts its caller as a local administrator (whoever can open the database
file already owns it): no token is needed, nothing is rate-limited. Everything else (routes,
services, errors rendered as envelopes and rebuilt by the client) is the server's own code.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote, urlsplit

import requests
from requests.structures import CaseInsensitiveDict
from sqlmodel import Session

from registry.client import RegistryClient
from registry.config import Settings

LOCAL_URL = "http://provreg.local"


class InProcessAdapter(requests.adapters.BaseAdapter):
    """A requests transport adapter that hands each request to an ASGI app, in this process.

    An exception the app does not turn into a response (a bug) is raised here, as it would be
    without HTTP in between, so the CLI reports it and ``--debug`` shows its traceback.
    """

    def __init__(self, app: Callable[..., Any], route: Callable[[str], None] | None = None) -> None:
        super().__init__()
        self.app = app
        self.route = route  # called with each request's path before the app sees it

    def send(self, request: requests.PreparedRequest, **_kwargs: Any) -> requests.Response:  # type: ignore[override]
        url = urlsplit(request.url or "/")
        path = unquote(url.path)
        body = request.body or b""
        if isinstance(body, str):
            body = body.encode("utf-8")
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": request.method or "GET",
            "scheme": url.scheme or "http",
            "path": path,
            "raw_path": url.path.encode("latin-1"),
            "query_string": url.query.encode("latin-1"),
            "root_path": "",
            "headers": [
                (k.lower().encode("latin-1"), str(v).encode("latin-1"))
                for k, v in request.headers.items()
            ],
            "client": ("127.0.0.1", 0),
            "server": (url.hostname or "provreg.local", url.port or 80),
        }
        if self.route is not None:
            self.route(path)
        start: dict[str, Any] = {}
        chunks: list[bytes] = []
        sent = False

        async def receive() -> dict[str, Any]:
            nonlocal sent
            if sent:  # the app asks again only to learn of a disconnect
                return {"type": "http.disconnect"}
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        asyncio.run(self.app(scope, receive, send))
        response = requests.Response()
        response.status_code = int(start.get("status", 500))
        response._content = b"".join(chunks)
        response.headers = CaseInsensitiveDict(
            {k.decode("latin-1"): v.decode("latin-1") for k, v in start.get("headers", [])}
        )
        response.url = request.url or ""
        response.request = request
        response.encoding = "utf-8"
        return response

    def close(self) -> None:
        pass


def local_client(settings: Settings, session_factory: Callable[[], Session]) -> RegistryClient:
    """A :class:`RegistryClient` on the database behind ``session_factory``, with the app in
    this process acting for a trusted local administrator.

    The app's routes load as requests need them: a command that shows a variant builds the
    variants routes and their services, not the other dozen modules and their imports.
    """
    from registry.api.app import create_app, route_path  # fastapi: only in local mode

    app = create_app(
        settings, session_factory=session_factory, trusted_local=True, lazy_routes=True
    )
    transport = requests.Session()
    transport.mount(LOCAL_URL, InProcessAdapter(app, route=lambda path: route_path(app, path)))
    return RegistryClient(LOCAL_URL, http=transport)
