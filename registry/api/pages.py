"""The explorer: static pages served at ``/`` and ``/ui/``, built only on the public ``/v1`` API.

The files are package data (``registry/api/static``), so an installed provreg serves them; they
need no network (no CDN, no build step). Every page answer carries a strict Content-Security-
Policy: scripts and styles only from this server, no inline code, no frames.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

from fastapi import FastAPI, Request, Response
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

STATIC_DIR = Path(__file__).parent / "static"
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
PAGE_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}


def _is_page(path: str) -> bool:
    return path == "/" or path.startswith("/ui/")


def install_pages(app: FastAPI) -> None:
    """Serve the explorer at ``/`` (the page) and ``/ui/`` (its scripts and styles)."""
    app.mount("/ui", StaticFiles(directory=STATIC_DIR), name="ui")

    @app.api_route("/", methods=["GET", "HEAD"], include_in_schema=False)
    def index() -> FileResponse:
        return FileResponse(STATIC_DIR / "index.html", headers={"Cache-Control": "no-cache"})

    @app.middleware("http")
    async def _page_headers(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        response = await call_next(request)
        if _is_page(request.url.path):
            response.headers.update(PAGE_HEADERS)
        return response
