"""The units that flow from a source to every output of a stream."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Codec = Literal["h264", "hevc"]

#: Every packet timestamp in camgate is in this clock (the RTP/MPEG-TS video clock).
TIMESCALE = 90_000


@dataclass(frozen=True, slots=True)
class StreamConfig:
    """What a decoder needs to start: changes only when the camera is reconfigured."""

    codec: Codec
    width: int
    height: int
    #: The decoder configuration record: avcC for H.264, hvcC for H.265.
    extradata: bytes


@dataclass(frozen=True, slots=True)
class MediaPacket:
    """One access unit (a whole frame) of a stream."""

    #: NAL units, each prefixed by its 4-byte big-endian length (the MP4 sample form),
    #: without parameter sets or access unit delimiters (those live in ``config``).
    data: bytes
    pts: int
    dts: int
    duration: int
    is_keyframe: bool
    #: When the frame was captured, seconds since the epoch.
    wallclock: float
    config: StreamConfig
