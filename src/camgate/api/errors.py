"""Errors to HTTP, exactly once: ``application/problem+json`` (RFC 9457)."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from camgate.core.errors import CamgateError, ErrorKind

STATUS = {
    ErrorKind.NOT_FOUND: 404,
    ErrorKind.UNAUTHORIZED: 401,
    ErrorKind.FORBIDDEN: 403,
    ErrorKind.INVALID: 422,
    ErrorKind.CONFLICT: 409,
    ErrorKind.UNAVAILABLE: 503,
    ErrorKind.RATE_LIMITED: 429,
}


def problem(
    status: int,
    title: str,
    detail: str,
    headers: dict[str, str] | None = None,
    extra: dict[str, str | int] | None = None,
) -> JSONResponse:
    return JSONResponse(
        {
            **(extra or {}),
            "type": "about:blank",
            "title": title,
            "status": status,
            "detail": detail,
        },
        status_code=status,
        media_type="application/problem+json",
        headers=headers,
    )


async def _camgate_error(_request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, CamgateError)
    status = STATUS[error.kind]
    headers: dict[str, str] = {}
    if error.retry_after is not None:
        headers["Retry-After"] = str(max(1, round(error.retry_after)))
    if status == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="camgate"'
    return problem(status, error.kind.value, error.detail, headers, error.extra)


async def _validation_error(_request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    reasons = "; ".join(
        f"{'.'.join(str(p) for p in e['loc'] if p != 'body')}: {e['msg']}" for e in error.errors()
    )
    return problem(422, "invalid", reasons or "invalid request")


def install(app: FastAPI) -> None:
    app.add_exception_handler(CamgateError, _camgate_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
