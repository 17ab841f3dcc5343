"""When direct streaming falls back to transcoding: the manual's cases, as one pure rule."""

from __future__ import annotations

from enum import StrEnum


class FallbackReason(StrEnum):
    """Why a viewer gets transcoded video instead of the camera's own stream."""

    PRIVACY_MASK = "privacy_mask"
    DIRECT_DISABLED = "direct_disabled"
    CODEC_UNSUPPORTED = "codec_unsupported"
    LOW_FRAME_RATE = "low_frame_rate"
    #: Reported by the client: its video did not start playing within 10 s.
    NOT_STARTED = "not_started"
    #: Reported by the client: its direct connection to the server or the camera was lost.
    CONNECTION_LOST = "connection_lost"
    #: The client asked for JPEG itself (e.g. it has no H.264 decoder).
    REQUESTED = "requested"


#: A camera at about 1 FPS is served transcoded (the manual); a little slack for jittery clocks.
LOW_FPS = 1.5
#: What a client may report when it asks again after a failed direct stream.
CLIENT_REASONS = frozenset(
    {FallbackReason.NOT_STARTED, FallbackReason.CONNECTION_LOST, FallbackReason.REQUESTED}
)


def fallback_reason(
    *,
    direct_enabled: bool,
    has_privacy_masks: bool,
    stream_codec: str,
    client_codecs: frozenset[str],
    stream_fps: float,
    client_reason: FallbackReason | None = None,
) -> FallbackReason | None:
    """None for direct streaming, else the first reason (in the order the manual lists them,
    privacy first: a masked camera must never leave the server unmasked)."""
    if has_privacy_masks:
        return FallbackReason.PRIVACY_MASK
    if not direct_enabled:
        return FallbackReason.DIRECT_DISABLED
    if stream_codec and stream_codec not in client_codecs:
        return FallbackReason.CODEC_UNSUPPORTED
    if 0 < stream_fps <= LOW_FPS:
        return FallbackReason.LOW_FRAME_RATE
    if client_reason in CLIENT_REASONS:
        return client_reason
    return None
