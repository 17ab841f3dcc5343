"""Transcoded live video: JPEG frames within the limitation level in force.

The stream to decode is picked by adaptive streaming (L5), the output is held within the level
(L4), and viewers asking for the same output share one transcoder (L3). A viewer's output follows
the level: when it changes, the viewer moves to the transcoder of its newly clamped output.
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass

from camgate.core.errors import CamgateError, ErrorKind, not_found
from camgate.live.limiting import Limits
from camgate.live.runtime import LiveRuntime
from camgate.media.adaptive import StreamShape, choose_for_request
from camgate.media.fanout import Closed, Drop, Notice
from camgate.media.hub import LiveHub
from camgate.media.limits import Level, OutputSpec, clamp
from camgate.media.transcode import JpegFrame, Rect, TranscoderRegistry
from camgate.settings import Performance

DEFAULT_QUALITY = 75


@dataclass(frozen=True, slots=True)
class JpegRequest:
    """What a viewer asks for; anything left out follows the stream and the level."""

    width: int | None = None
    height: int | None = None
    fps: float | None = None
    quality: int = DEFAULT_QUALITY
    zoomed: bool = False


@dataclass(frozen=True, slots=True)
class JpegPlan:
    stream_id: str
    hub: LiveHub
    requested: OutputSpec
    masks: tuple[Rect, ...] = ()


def sized(width: int | None, height: int | None, source_w: int, source_h: int) -> tuple[int, int]:
    """The asked size; one side alone keeps the source's aspect ratio, none is the source's."""
    if width and height:
        return width, height
    if width:
        return width, max(2, round(width * source_h / source_w))
    if height:
        return max(2, round(height * source_w / source_h)), height
    return source_w, source_h


def _size(request: JpegRequest, source: StreamShape) -> tuple[int, int]:
    return sized(request.width, request.height, source.width, source.height)


def plan(
    runtime: LiveRuntime,
    camera_id: str,
    request: JpegRequest,
    performance: Performance,
    level: Level,
    stream: str | None,
    masks: Sequence[Rect] = (),
) -> JpegPlan:
    hubs = {camera_stream.id: hub for camera_stream, hub in runtime.camera_hubs(camera_id)}
    shapes = [
        StreamShape(stream_id, hub.config.width, hub.config.height)
        for stream_id, hub in hubs.items()
        if hub.config is not None
    ]
    if not hubs:
        raise CamgateError(ErrorKind.UNAVAILABLE, "the camera is not running")
    if not shapes:
        raise CamgateError(ErrorKind.UNAVAILABLE, "no video from the camera yet")
    if stream is not None:
        chosen = next((shape for shape in shapes if shape.stream_id == stream), None)
        if chosen is None:
            raise not_found("stream")
    else:
        biggest = max(shapes, key=lambda shape: shape.width * shape.height)
        want_w, want_h = _size(request, biggest)
        chosen = choose_for_request(
            shapes,
            want_w,
            want_h,
            performance.streaming_mode,
            adaptive=performance.adaptive_streaming,
            zoomed=request.zoomed,
        )
    width, height = _size(request, chosen)
    fps = request.fps if request.fps is not None else level.max_fps
    requested = OutputSpec(width, height, fps, request.quality)
    return JpegPlan(chosen.stream_id, hubs[chosen.stream_id], requested, tuple(masks))


async def frames(
    registry: TranscoderRegistry, limits: Limits, chosen: JpegPlan
) -> AsyncIterator[tuple[OutputSpec, JpegFrame | Drop | Notice]]:
    """The viewer's JPEGs (and notices), each with the output in force when it was made."""
    while True:
        level = limits.level
        spec = clamp(chosen.requested, level)
        with registry.subscribe(chosen.stream_id, chosen.hub, spec, chosen.masks) as subscription:
            while limits.level is level:
                try:
                    item = await subscription.get()
                except Closed:
                    return
                yield spec, item


def describe(spec: OutputSpec) -> dict[str, float | int]:
    return {
        "width": spec.width,
        "height": spec.height,
        "fps": spec.fps if math.isfinite(spec.fps) else 0,
        "quality": spec.quality,
    }
