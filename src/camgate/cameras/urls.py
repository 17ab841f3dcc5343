"""Pure rules for the stream URLs an administrator gives."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from camgate.core.errors import invalid
from camgate.core.redact import strip_credentials
from camgate.media.source import SourceKind
from camgate.media.synthetic import PROFILES, SyntheticProfile

SYNTHETIC_PREFIX = "synthetic:"


def synthetic_profile(url: str) -> SyntheticProfile:
    """``synthetic:720p`` names one of the built-in test streams."""
    wanted = url.removeprefix(SYNTHETIC_PREFIX)
    for profile in PROFILES:
        if wanted == f"{profile.height}p":
            return profile
    names = ", ".join(f"{SYNTHETIC_PREFIX}{p.height}p" for p in PROFILES)
    raise invalid(f"unknown synthetic stream {wanted!r}; use one of {names}")


def parse_stream_url(url: str) -> tuple[SourceKind, str, str | None, str | None]:
    """The kind, the URL without credentials, and any credentials it held."""
    url = url.strip()
    if url.startswith(SYNTHETIC_PREFIX):
        synthetic_profile(url)
        return SourceKind.SYNTHETIC, url, None, None
    parts = urlsplit(url)
    if parts.scheme in ("rtsp", "rtsps"):
        if not parts.hostname:
            raise invalid(f"an RTSP URL needs a host: {parts.scheme}://HOST[:PORT]/PATH")
        try:
            _ = parts.port
        except ValueError as error:
            raise invalid("the RTSP URL has an invalid port") from error
        bare, username, password = strip_credentials(url)
        return SourceKind.RTSP, bare, username, password
    if parts.scheme in ("", "file"):
        path = Path(parts.path if parts.scheme == "file" else url).expanduser()
        if not path.is_file():
            raise invalid(f"no such video file: {path}")
        return SourceKind.FILE, str(path.resolve()), None, None
    raise invalid(
        f"unsupported stream URL scheme {parts.scheme!r}: use rtsp://, a file or synthetic:"
    )
