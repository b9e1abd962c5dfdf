"""Render every failure as ``{"error": {"code", "message", "detail"}}`` with a fitting status."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from registry.errors import ProvregError

_HTTP_CODES = {404: "not_found", 405: "method_not_allowed", 401: "token_missing"}


def _envelope(status: int, code: str, message: str, detail: dict | None = None) -> JSONResponse:
    body = {"error": {"code": code, "message": message, "detail": detail or {}}}
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    if status == 429 and detail and "retry_after" in detail:
        headers = {"Retry-After": str(detail["retry_after"])}
    return JSONResponse(status_code=status, content=body, headers=headers)


def error_response(exc: ProvregError) -> JSONResponse:
    """The envelope of a registry error, for code that answers outside a route."""
    body = exc.to_dict()
    return _envelope(exc.status, body["code"], body["message"], body["detail"])


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ProvregError)
    async def _registry_error(_request: Request, exc: ProvregError) -> JSONResponse:
        return error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")}
            for e in exc.errors()
        ]
        first = errors[0] if errors else {"loc": [], "msg": "invalid request"}
        where = ".".join(str(p) for p in first["loc"])
        return _envelope(
            422, "validation_error", f"invalid request: {where}: {first['msg']}", {"errors": errors}
        )

    @app.exception_handler(Exception)
    async def _internal_error(_request: Request, exc: Exception) -> JSONResponse:
        # the last line of defence: an unexpected failure still answers with the envelope
        return _envelope(500, "internal_error", f"internal error: {type(exc).__name__}")

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _HTTP_CODES.get(exc.status_code, "http_error")
        return _envelope(exc.status_code, code, str(exc.detail))
