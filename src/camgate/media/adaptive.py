"""Adaptive streaming: which of a camera's streams a viewer gets (pure).

A viewer asks for the size it shows the video at (its tile or screen, in pixels). The video is
fitted into that box with its aspect ratio kept (letterboxed), so a stream is *enough* for the
request when fitting it does not upscale it: its width reaches the box's width or its height
reaches the box's height (``W ≥ w or H ≥ h``). A 640×360 stream is enough for a 640×480 box.

Modes (the manual's Performance tab):

* optimize video quality (default): the lowest-resolution stream that is enough;
* optimize server performance: the request is first halved on each side (a quarter of the
  pixels), then the same rule. Halving each side moves a request exactly one rung down the
  usual ladders (1080p → 540p, 720p → 360p); scaling by 1/√2 instead would leave a 1080p request
  on the 1080p stream of a 1080p/720p/360p camera, changing nothing;
* optimize for low bandwidth: the lowest-resolution stream, whatever was asked.

A zoomed view always gets the highest resolution. With adaptive streaming off, every viewer gets
the camera's default stream. When no stream is enough, the highest one is the closest. Ties (equal
pixel counts) go to the stream listed first.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from camgate.settings import StreamingMode


@dataclass(frozen=True, slots=True)
class StreamShape:
    stream_id: str
    width: int
    height: int

    @property
    def pixels(self) -> int:
        return self.width * self.height


def choose_for_request(
    streams: Sequence[StreamShape],
    requested_w: int,
    requested_h: int,
    mode: StreamingMode,
    *,
    adaptive: bool,
    zoomed: bool,
    default_index: int = 0,
) -> StreamShape:
    """The stream this viewer gets (see the module's rules)."""
    if not streams:
        raise ValueError("a camera has at least one stream")
    if not adaptive:
        return streams[default_index]
    if zoomed:
        return highest(streams)
    if mode is StreamingMode.OPTIMIZE_LOW_BANDWIDTH:
        return lowest(streams)
    if mode is StreamingMode.OPTIMIZE_SERVER_PERFORMANCE:
        requested_w, requested_h = reduce_request(requested_w, requested_h)
    return lowest_enough(streams, requested_w, requested_h)


def reduce_request(width: int, height: int) -> tuple[int, int]:
    """Optimize server performance: half the width and half the height, rounded up."""
    return math.ceil(width / 2), math.ceil(height / 2)


def is_enough(stream: StreamShape, width: int, height: int) -> bool:
    """Fitted into a width×height box (aspect kept), the stream is not upscaled."""
    return stream.width >= width or stream.height >= height


def lowest_enough(streams: Sequence[StreamShape], width: int, height: int) -> StreamShape:
    enough = [stream for stream in streams if is_enough(stream, width, height)]
    return lowest(enough) if enough else highest(streams)


def lowest(streams: Sequence[StreamShape]) -> StreamShape:
    # min() and max() keep the first of equal keys: ties go to the earlier position.
    return min(streams, key=lambda stream: stream.pixels)


def highest(streams: Sequence[StreamShape]) -> StreamShape:
    return max(streams, key=lambda stream: stream.pixels)
