"""One small error hierarchy, mapped to HTTP (problem+json) once, at the adapter."""

from __future__ import annotations

from enum import StrEnum


class ErrorKind(StrEnum):
    NOT_FOUND = "not_found"
    UNAUTHORIZED = "unauthorized"
    FORBIDDEN = "forbidden"
    INVALID = "invalid"
    CONFLICT = "conflict"
    UNAVAILABLE = "unavailable"
    RATE_LIMITED = "rate_limited"


class CamgateError(Exception):
    """An error a client may see: its ``kind`` decides the status, ``detail`` the words."""

    def __init__(
        self,
        kind: ErrorKind,
        detail: str,
        *,
        retry_after: float | None = None,
        extra: dict[str, str | int] | None = None,
    ) -> None:
        super().__init__(detail)
        self.kind = kind
        self.detail = detail
        self.retry_after = retry_after
        #: Members added to the problem document, for clients that act on them (RFC 9457).
        self.extra = extra or {}


def not_found(what: str) -> CamgateError:
    return CamgateError(ErrorKind.NOT_FOUND, f"{what} not found")


def forbidden(detail: str = "not allowed") -> CamgateError:
    return CamgateError(ErrorKind.FORBIDDEN, detail)


def invalid(detail: str) -> CamgateError:
    return CamgateError(ErrorKind.INVALID, detail)


def unauthorized(detail: str = "authentication required") -> CamgateError:
    return CamgateError(ErrorKind.UNAUTHORIZED, detail)
