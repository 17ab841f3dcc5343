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
    #: Width and height are a box the picture fits in, keeping its aspect ratio (the XProtect
    #: Mobile clients' DestWidth/DestHeight), rather than the exact size.
    fit: bool = False


@dataclass(frozen=True, slots=True)
class JpegPlan:
    stream_id: str
    hub: LiveHub
    requested: OutputSpec
    masks: tuple[Rect, ...] = ()
    #: The part of the picture shown (digital zoom); None for all of it.
    crop: Rect | None = None


def sized(width: int | None, height: int | None, source_w: int, source_h: int) -> tuple[int, int]:
    """The asked size; one side alone keeps the source's aspect ratio, none is the source's."""
    if width and height:
        return width, height
    if width:
        return width, max(2, round(width * source_h / source_w))
    if height:
        return max(2, round(height * source_w / source_h)), height
    return source_w, source_h


def fitted(width: int, height: int, source_w: int, source_h: int) -> tuple[int, int]:
    """The largest size within ``width`` × ``height`` with the source's aspect ratio."""
    if width * source_h <= height * source_w:
        return sized(width, None, source_w, source_h)
    return sized(None, height, source_w, source_h)


def output_size(
    request: JpegRequest, width: int, height: int, crop: Rect | None
) -> tuple[int, int]:
    """The JPEGs' size for a ``width`` × ``height`` picture, of which ``crop`` is shown (live
    and recorded video alike)."""
    shown_w, shown_h = width, height
    if crop is not None:
        shown_w = max(2, round(width * crop.width))
        shown_h = max(2, round(height * crop.height))
    if request.fit and request.width and request.height:
        return fitted(request.width, request.height, shown_w, shown_h)
    return sized(request.width, request.height, shown_w, shown_h)


def plan(
    runtime: LiveRuntime,
    camera_id: str,
    request: JpegRequest,
    performance: Performance,
    level: Level,
    stream: str | None,
    masks: Sequence[Rect] = (),
    crop: Rect | None = None,
) -> JpegPlan:
    """The stream to decode and the output to ask for. With a ``crop``, the asked size is that
    of the cropped part (one side alone keeps the crop's aspect ratio)."""
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
        want_w, want_h = output_size(request, biggest.width, biggest.height, crop)
        chosen = choose_for_request(
            shapes,
            want_w,
            want_h,
            performance.streaming_mode,
            adaptive=performance.adaptive_streaming,
            zoomed=request.zoomed or crop is not None,
        )
    width, height = output_size(request, chosen.width, chosen.height, crop)
    fps = request.fps if request.fps is not None else level.max_fps
    requested = OutputSpec(width, height, fps, request.quality)
    return JpegPlan(chosen.stream_id, hubs[chosen.stream_id], requested, tuple(masks), crop)


async def frames(
    registry: TranscoderRegistry, limits: Limits, chosen: JpegPlan
) -> AsyncIterator[tuple[OutputSpec, JpegFrame | Drop | Notice]]:
    """The viewer's JPEGs (and notices), each with the output in force when it was made."""
    while True:
        level = limits.level
        spec = clamp(chosen.requested, level)
        subscription = registry.subscribe(
            chosen.stream_id, chosen.hub, spec, chosen.masks, chosen.crop
        )
        with subscription:
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
