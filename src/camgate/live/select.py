"""Which stream of a camera a viewer gets (pure)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from camgate.core.errors import CamgateError, ErrorKind, not_found


@dataclass(frozen=True, slots=True)
class Candidate:
    stream_id: str
    position: int
    codec: str  # "" while unknown
    width: int
    height: int


def choose_stream(
    candidates: Sequence[Candidate], requested: str | None, codecs: frozenset[str]
) -> Candidate:
    """The requested stream, or else the highest resolution a client decodes.

    Streams not yet connected (codec unknown) count with their configured order: by convention the
    first stream of a camera is its main (highest-resolution) one.
    """
    if requested is not None:
        for candidate in candidates:
            if candidate.stream_id == requested:
                if candidate.codec and candidate.codec not in codecs:
                    raise CamgateError(
                        ErrorKind.INVALID,
                        f"the stream is {candidate.codec}, which this client does not decode",
                    )
                return candidate
        raise not_found("stream")
    usable = [c for c in candidates if not c.codec or c.codec in codecs]
    if not usable:
        raise CamgateError(
            ErrorKind.INVALID, "no stream of this camera is in a codec this client decodes"
        )
    known = [c for c in usable if c.codec]
    if known:
        return max(known, key=lambda c: (c.width * c.height, -c.position))
    return min(usable, key=lambda c: c.position)


def parse_codecs(value: str | None) -> frozenset[str]:
    """``codecs=h264,hevc``: H.264 is always assumed; H.265 only when a client declares it."""
    declared = {part.strip().lower() for part in (value or "").split(",") if part.strip()}
    aliases = {"avc": "h264", "avc1": "h264", "h265": "hevc", "hvc1": "hevc", "hev1": "hevc"}
    return frozenset({"h264"} | {aliases.get(name, name) for name in declared})
