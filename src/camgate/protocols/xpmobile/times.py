"""The protocol's times: milliseconds since the Unix epoch, UTC, in decimal, both ways (the web
client library sends ``Date.getTime()`` and reads answers with ``new Date(parseInt(value))``).
Pure."""

from __future__ import annotations

import math

from camgate.protocols.xpmobile.errors import CommandError, ErrorCode

#: 9999-12-31T23:59:59.999Z: later than anything recorded; beyond it a value is nonsense.
LATEST_MS = 253_402_300_799_999


def parse_time(text: str, name: str) -> float:
    """Seconds since the epoch of the time parameter ``name`` (14 when it is no time)."""
    try:
        millis = float(text.strip())
    except ValueError:
        millis = math.nan
    if not 0 <= millis <= LATEST_MS:  # also refuses NaN
        raise CommandError(
            ErrorCode.WRONG_INPUT_PARAMETER, f"{name} must be milliseconds since 1970 (UTC)"
        )
    return millis / 1000


def render_time(seconds: float) -> str:
    """A time for an answer, cut (not rounded) to the millisecond: asked for again, it finds
    the same frame, not the next one."""
    return str(math.floor(seconds * 1000))
