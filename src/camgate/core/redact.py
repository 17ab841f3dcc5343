"""Keep credentials out of logs, status texts and API answers."""

from __future__ import annotations

from urllib.parse import SplitResult, quote, urlsplit, urlunsplit


def strip_credentials(url: str) -> tuple[str, str | None, str | None]:
    """Split ``rtsp://user:pw@host/path`` into the bare URL and its credentials."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url, None, None
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{host}:{parts.port}" if parts.port is not None else host
    bare = urlunsplit(SplitResult(parts.scheme, netloc, parts.path, parts.query, parts.fragment))
    return bare, parts.username, parts.password


def with_credentials(url: str, username: str | None, password: str | None) -> str:
    """The URL a demuxer needs: never log or show what this returns."""
    if not username:
        return url
    parts = urlsplit(url)
    userinfo = quote(username, safe="")
    if password:
        userinfo += ":" + quote(password, safe="")
    return urlunsplit(
        SplitResult(
            parts.scheme, f"{userinfo}@{parts.netloc}", parts.path, parts.query, parts.fragment
        )
    )


def redact_url(url: str) -> str:
    """The URL with any user:password replaced, safe for logs."""
    bare, user, password = strip_credentials(url)
    if user is None and password is None:
        return url
    parts = urlsplit(bare)
    return urlunsplit(
        SplitResult(
            parts.scheme, f"***:***@{parts.netloc}", parts.path, parts.query, parts.fragment
        )
    )
