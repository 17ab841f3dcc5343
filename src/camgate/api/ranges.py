"""HTTP range requests (RFC 9110 §14) over something of known size: one range per request."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ByteRange:
    start: int
    #: Exclusive.
    end: int

    @property
    def length(self) -> int:
        return self.end - self.start

    def content_range(self, size: int) -> str:
        return f"bytes {self.start}-{self.end - 1}/{size}"


class RangeNotSatisfiable(Exception):
    """Answered with 416 and ``Content-Range: bytes */size``."""


def parse_range(header: str | None, size: int) -> ByteRange | None:
    """The range a ``Range`` header asks for; None for the whole thing.

    Several ranges (``bytes=0-1,5-9``) and other units are answered with the whole
    representation, as RFC 9110 allows; players ask for one range.
    """
    if not header:
        return None
    unit, _, spec = header.partition("=")
    if unit.strip().lower() != "bytes" or "," in spec:
        return None
    first, dash, last = spec.strip().partition("-")
    if not dash:
        return None
    try:
        if not first:  # a suffix: the last N bytes
            length = int(last)
            if length <= 0:
                raise RangeNotSatisfiable
            return ByteRange(max(0, size - length), size)
        start = int(first)
        end = size if not last else min(size, int(last) + 1)
    except ValueError:
        return None
    if start >= size or end <= start:
        raise RangeNotSatisfiable
    return ByteRange(start, end)
