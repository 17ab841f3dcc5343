"""A camera's recorded frames found by capture time and rendered as JPEG: what every client
protocol's playback shares (the playback player's seeks and steps, :mod:`.pacing`; the XProtect
Mobile adapter's thumbnails by time), so that none has rules of its own.

The media part is :mod:`camgate.media.player`; here the segments are fetched from the recording
service a window at a time around the time looked at, and the blocking work (reading frame
tables, decoding, encoding) runs in the transcoding pool.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from camgate.api.deps import Services
from camgate.cameras.models import Camera
from camgate.core.errors import not_found
from camgate.live.jpeg import JpegRequest, output_size
from camgate.media.limits import Level, OutputSpec, clamp
from camgate.media.packet import StreamConfig
from camgate.media.player import Frame, FrameFinder, FrameRenderer
from camgate.media.transcode import Rect

#: Segments are fetched this far on either side of the time looked at (and again beyond it).
WINDOW_S = 300.0
#: Times are given to clients cut to the millisecond: a seek to the time a frame was sent with
#: shows that frame, not the one before.
TIME_RESOLUTION_S = 0.001

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Landing:
    """Where a seek lands: the frame to show, the gap it jumped (from where), whether it is
    the last frame recorded."""

    frame: Frame
    gap_from: float | None = None
    end: bool = False


def wanted_spec(
    request: JpegRequest, config: StreamConfig, level: Level, crop: Rect | None = None
) -> OutputSpec:
    """The JPEGs asked of a recorded stream, of which ``crop`` is shown: the size asked (or the
    stream's), the rate asked (or the level's)."""
    width, height = output_size(request, config.width, config.height, crop)
    fps = request.fps if request.fps is not None else level.max_fps
    return OutputSpec(width, height, fps, request.quality)


def output_spec(
    request: JpegRequest, config: StreamConfig, level: Level, crop: Rect | None = None
) -> OutputSpec:
    """The JPEGs of a recorded stream: :func:`wanted_spec` within the limitation level in
    force, as live JPEG is."""
    return clamp(wanted_spec(request, config, level, crop), level)


async def recorded_stream(svc: Services, camera: Camera, time: float, stream: str | None) -> str:
    """The stream to play from ``time``: the one asked for, else the one recorded around
    ``time``, else the one the camera records."""
    if stream is not None:
        return stream
    found, _ = await svc.recordings.stream_segments(camera.id, time - WINDOW_S, time + WINDOW_S)
    if found is not None:
        return found
    if not camera.streams:
        raise not_found("recorded video")
    position = (await svc.recordings.config(camera.id)).stream_position
    return camera.streams[min(position, len(camera.streams) - 1)].id


class RecordedFrames:
    """One stream's recorded frames, for one viewer: found by capture time, rendered as JPEGs
    with the camera's privacy masks.

    Every blocking job is awaited before the next, so the finder and the renderer are touched
    by one thread at a time. :meth:`close` releases the decoder.
    """

    def __init__(self, svc: Services, camera: Camera, stream_id: str) -> None:
        self._svc = svc
        self._camera_id = camera.id
        self.stream_id = stream_id
        self.finder = FrameFinder()
        transcoders = svc.transcoders
        self._renderer = FrameRenderer(
            transcoders.decoders,
            camera.privacy_masks,
            prefer_hardware=transcoders.prefer_hardware(),
        )
        self._pool = transcoders.pool

    async def locate(self, time: float) -> Landing | None:
        """Where a seek to ``time`` lands: the frame shown at ``time``; in a gap, the next
        recorded frame; past the last recording, the last frame (None: nothing recorded)."""
        frame = await self.at(time)
        if frame is not None:
            return Landing(frame)
        frame = await self.next(time)
        if frame is not None:
            return Landing(frame, gap_from=time)
        frame = await self.previous(time)
        return None if frame is None else Landing(frame, end=True)

    async def at(self, time: float) -> Frame | None:
        """The frame shown at ``time`` (None in a gap or beyond the recordings)."""
        await self._load(time)
        return await self.job(functools.partial(self.finder.at, time + TIME_RESOLUTION_S))

    async def next(self, time: float, keyframes: bool = False) -> Frame | None:
        """The first frame (keyframe) captured after ``time``, across gaps."""
        look = functools.partial(self.finder.after, time, keyframes_only=keyframes)
        return await self._search(look, time, forward=True)

    async def previous(self, time: float, keyframes: bool = False) -> Frame | None:
        """The last frame (keyframe) captured before ``time``, across gaps."""
        look = functools.partial(self.finder.before, time, keyframes_only=keyframes)
        return await self._search(look, time, forward=False)

    async def render(
        self,
        frame: Frame,
        spec: OutputSpec,
        *,
        crop: Rect | None = None,
        alone: bool = False,
        keep_earlier: bool = False,
    ) -> bytes | None:
        """The frame's JPEG at ``spec`` (see :meth:`FrameRenderer.render`); None when it does
        not decode."""

        def work() -> bytes | None:
            gop = self.finder.gop(frame)
            return self._renderer.render(
                gop, frame, spec, crop=crop, alone=alone, keep_earlier=keep_earlier
            )

        return await self.job(work)

    def close(self) -> None:
        """Release the decoder. Not awaited: the renderer's lock lets a render still running
        finish first."""
        with contextlib.suppress(RuntimeError):  # the pool is shut down with the server
            self._pool.submit(self._renderer.close)

    async def job(self, work: Callable[[], T]) -> T:
        """Blocking work in the transcoding pool; awaited, so one job at a time."""
        return await asyncio.get_running_loop().run_in_executor(self._pool, work)

    async def _load(self, time: float) -> None:
        """Look among the stream's segments within :data:`WINDOW_S` of ``time``."""
        _, segments = await self._svc.recordings.stream_segments(
            self._camera_id, time - WINDOW_S, time + WINDOW_S, self.stream_id
        )
        self.finder.use(segments)

    async def _search(
        self, look: Callable[[], Frame | None], time: float, *, forward: bool
    ) -> Frame | None:
        """``look`` among the segments known; then among fresh ones around ``time`` (video
        written since, or past the window); then around the next (previous) recording."""
        frame = await self.job(look)
        if frame is None:
            await self._load(time)
            frame = await self.job(look)
        if frame is None:
            beyond = await self._svc.recordings.neighbour(
                self._camera_id, self.stream_id, time, after=forward
            )
            if beyond is not None:
                await self._load(beyond)
                frame = await self.job(look)
        return frame
