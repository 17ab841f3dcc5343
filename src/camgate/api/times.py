"""Times in the REST API: ISO 8601 with a time zone (naive times are refused by the models)."""

from __future__ import annotations

from datetime import UTC, datetime


def iso(timestamp: float) -> str:
    """Seconds since the epoch as UTC ISO 8601 to the millisecond, e.g. ``…T10:00:00.123Z``."""
    text = datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="milliseconds")
    return text.removesuffix("+00:00") + "Z"
