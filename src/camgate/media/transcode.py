"""Transcoded live video: a camera stream decoded, scaled and encoded as JPEG frames.

One :class:`Transcoder` runs per distinct output (stream, :class:`OutputSpec`, privacy masks,
crop) and every viewer of that output shares its JPEGs through a :class:`FanOut`: ten viewers
asking for the same size, rate and quality cost one transcoder. :class:`TranscoderRegistry`
starts a transcoder with its first viewer and stops it after the last.

Threads: the transcoder itself lives on the event loop (it reads the hub's packets and publishes
JPEGs); decoding, scaling and encoding run as jobs on a shared, bounded executor. A transcoder has
at most one job in flight, so its decoder and its frames are only ever touched by one thread at a
time, and no frame outlives the job that decoded it.

Cost, cheapest first:

* Frames are picked by timestamp to reach the output rate (:class:`FrameRateGate`); only picked
  frames are scaled and encoded.
* When the output rate is at or below the stream's keyframe rate, non-key packets are dropped on
  the loop before they reach a decoder, and each picked keyframe is decoded on its own.
* Scaling goes straight to full-range YUV 4:2:0 (``yuvj420p``) and libjpeg-turbo (simplejpeg)
  encodes the planes: measured on the 1080p → 640×360 path, that costs less CPU than going
  through RGB, and both release the GIL.

Decoders come from :class:`~camgate.media.hwaccel.HardwareDecoders`: on a device when the
registry's ``prefer_hardware`` says so as a transcoder starts, else (or when the device fails) in
software.

PyAV gotcha (PyAV 18.1, FFmpeg 8.1): freeing a frame-threaded decoder that still has packets in
flight deadlocks in ``avcodec_free_context``. Every decoder here is flushed before it is dropped.
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Protocol

import av
import numpy as np
import simplejpeg
from av.video.reformatter import VideoReformatter
from numpy.typing import NDArray

from camgate.media.fanout import Closed, Drop, FanOut, Notice, Subscription
from camgate.media.hwaccel import HardwareDecoders
from camgate.media.limits import OutputSpec
from camgate.media.packet import TIMESCALE, MediaPacket, StreamConfig
from camgate.media.snapshot import decode_keyframe

log = logging.getLogger(__name__)

#: Every JPEG decodes on its own, so a viewer needs no history: a small queue, and a new viewer
#: starts at once with the latest JPEG (the "GOP cache" of one).
JPEG_SUBSCRIBER_CAPACITY = 4
JPEG_GOP_LIMIT = 1
#: Packets a transcoder holds while its job runs: half a second at 30 fps, to ride out jitter.
BACKLOG_LIMIT = 15
#: Frames older than this, behind the newest packet of their job, are decoded (later frames
#: refer to them) but not encoded: a viewer would only skip them.
STALE_AFTER = TIMESCALE // 2
#: Frame threads hold back one frame each: at most 3 frames (100 ms at 30 fps) of added latency,
#: where FFmpeg's automatic count (cores + 1, up to 16) would add half a second on a big server.
MAX_DECODER_THREADS = 4
#: The keyframe rate assumed until two keyframes have shown the real one (a 1 s GOP, the most
#: common camera setting).
ASSUMED_KEYFRAME_RATE = 1.0
#: Keyframe intervals remembered to judge a stream's keyframe rate.
CADENCE_WINDOW = 4
#: Timestamp jitter tolerated when comparing the output rate with the keyframe rate.
CADENCE_TOLERANCE = 0.05
#: Timestamps remembered to give each decoded frame its capture time back.
WALLCLOCK_MEMORY = 64
SNAPSHOT_QUALITY = 85

_EPSILON = 1e-6
#: Pixel formats whose planes a crop can slice as they are.
_PLANAR_420 = frozenset({"yuv420p", "yuvj420p"})
_PACKET_TIME_BASE = Fraction(1, TIMESCALE)


@dataclass(frozen=True, slots=True, order=True)
class Rect:
    """A rectangle in picture coordinates from 0 to 1: a privacy mask (filled black), or the
    part of the picture a viewer zooms into (a crop)."""

    x: float
    y: float
    width: float
    height: float

    def __post_init__(self) -> None:
        if not (0 <= self.x <= 1 and 0 <= self.y <= 1):
            raise ValueError("a mask starts inside the picture (0 to 1)")
        if not (0 < self.width <= 1 and 0 < self.height <= 1):
            raise ValueError("a mask's size is more than 0 and at most 1")

    def pixels(self, width: int, height: int) -> tuple[int, int, int, int]:
        """Left, top, right, bottom in pixels, rounded outwards: a mask never shrinks.

        (Outwards past float noise only: 0.1 + 0.2 of 100 pixels ends at pixel 30, not 31.)
        """
        return (
            math.floor(self.x * width + _EPSILON),
            math.floor(self.y * height + _EPSILON),
            min(width, math.ceil((self.x + self.width) * width - _EPSILON)),
            min(height, math.ceil((self.y + self.height) * height - _EPSILON)),
        )


@dataclass(frozen=True, slots=True, eq=False)
class JpegFrame:
    """One transcoded frame; the same object (bytes and all) goes to every viewer."""

    data: bytes
    width: int
    height: int
    #: The source frame's presentation time (90 kHz clock).
    pts: int
    #: When the source frame was captured, seconds since the epoch (NaN if it was lost track of).
    wallclock: float
    #: Always True: every JPEG decodes on its own, so the fan-out's drop policy reduces to
    #: "skip stale frames".
    is_keyframe: bool = True


class PacketSource(Protocol):
    """What a transcoder reads: a :class:`~camgate.media.hub.LiveHub`, or anything like it."""

    def subscribe_packets(self) -> Subscription[MediaPacket]: ...


class FrameRateGate:
    """Picks frames by timestamp so that the output approaches ``fps``, never exceeds it.

    A frame passes when its timestamp reaches the next due time, less a quarter interval of slack
    for jittery camera clocks. The due time then moves on by one interval from where it was (not
    from the frame), so the long-run rate is exact even when the source rate is not a multiple of
    the output rate; after a gap (or a backwards jump) it starts again from the frame.
    """

    def __init__(self, fps: float) -> None:
        self._interval = TIMESCALE / fps
        self._slack = self._interval / 4
        self._due: float | None = None
        self._last = 0

    def admit(self, pts: int) -> bool:
        if self._due is not None and self._last <= pts < self._due - self._slack:
            return False
        if self._due is None or pts < self._last or pts - self._due >= self._interval:
            self._due = pts + self._interval
        else:
            self._due += self._interval
        self._last = pts
        return True


class KeyframeCadence:
    """The stream's keyframe rate: the slowest over the last few keyframe intervals.

    The slowest, so that a camera with a variable GOP is decoded in full whenever one of its
    recent GOPs was too long to give the output rate from keyframes alone.
    """

    def __init__(self) -> None:
        self._intervals: deque[int] = deque(maxlen=CADENCE_WINDOW)
        self._last: int | None = None

    def keyframe(self, pts: int) -> None:
        if self._last is not None and pts > self._last:
            self._intervals.append(pts - self._last)
        self._last = pts

    @property
    def rate(self) -> float:
        """Keyframes per second (:data:`ASSUMED_KEYFRAME_RATE` until it is known)."""
        if not self._intervals:
            return ASSUMED_KEYFRAME_RATE
        return TIMESCALE / max(self._intervals)

    def keyframes_suffice(self, fps: float) -> bool:
        """Whether keyframes alone reach ``fps`` (then nothing else needs decoding)."""
        return fps <= self.rate * (1 + CADENCE_TOLERANCE)


def plane_array(plane: av.video.plane.VideoPlane) -> NDArray[np.uint8]:
    """A view of a plane's visible pixels (rows may be padded to the line size)."""
    rows = np.frombuffer(memoryview(plane), dtype=np.uint8).reshape(plane.height, plane.line_size)
    return rows[:, : plane.width]


Box = tuple[int, int, int, int]


def crop_box(crop: Rect, width: int, height: int) -> Box:
    """``crop`` in pixels of a ``width``×``height`` picture (left, top, right, bottom), rounded
    outwards to even pixels (4:2:0 chroma halves them), at least 2×2, inside the picture."""
    left, top, right, bottom = crop.pixels(width, height)
    even_width, even_height = max(2, width // 2 * 2), max(2, height // 2 * 2)
    right = min(even_width, (right + 1) // 2 * 2)
    bottom = min(even_height, (bottom + 1) // 2 * 2)
    left = min(left // 2 * 2, right - 2)
    top = min(top // 2 * 2, bottom - 2)
    return left, top, right, bottom


def crop_frame(frame: av.VideoFrame, box: Box) -> av.VideoFrame:
    """The part of ``frame`` inside ``box`` (from :func:`crop_box`), as a new 4:2:0 frame."""
    planar = frame if frame.format.name in _PLANAR_420 else frame.reformat(format="yuv420p")
    left, top, right, bottom = box
    luma, blue, red = (plane_array(plane) for plane in planar.planes)
    chroma = slice(top // 2, bottom // 2), slice(left // 2, right // 2)
    parts = (luma[top:bottom, left:right], blue[chroma], red[chroma])
    # from_ndarray reads a 4:2:0 picture as its three planes one after the other.
    flat = np.concatenate([part.reshape(-1) for part in parts])
    return av.VideoFrame.from_ndarray(flat.reshape(-1, right - left), format=planar.format.name)


def _mask_in_box(mask: Rect, box: Box, width: int, height: int, out: tuple[int, int]) -> Box | None:
    """A mask of the whole ``width``×``height`` picture in pixels of the output made from
    ``box``; rounded outwards at every step, so that it never shrinks. None outside the box."""
    left, top, right, bottom = mask.pixels(width, height)
    box_left, box_top, box_right, box_bottom = box
    left, top = max(left, box_left), max(top, box_top)
    right, bottom = min(right, box_right), min(bottom, box_bottom)
    if right <= left or bottom <= top:
        return None
    scale_x = out[0] / (box_right - box_left)
    scale_y = out[1] / (box_bottom - box_top)
    return (
        math.floor((left - box_left) * scale_x),
        math.floor((top - box_top) * scale_y),
        min(out[0], math.ceil((right - box_left) * scale_x)),
        min(out[1], math.ceil((bottom - box_top) * scale_y)),
    )


class JpegEncoder:
    """Crops (digital zoom) and scales decoded frames to one size, blacks out the masks, encodes
    JPEG. One thread only.

    A crop is a rectangle of the picture like a mask (0 to 1). The masks cover the whole
    picture: with a crop they are placed by the crop's pixels in each frame, so that the picture
    shown is masked exactly where the uncropped one is."""

    def __init__(
        self,
        width: int,
        height: int,
        quality: int,
        masks: Sequence[Rect],
        crop: Rect | None = None,
    ) -> None:
        self.width = width
        self.height = height
        self._quality = quality
        self._mask_rects = tuple(masks)
        self._masks = tuple(mask.pixels(width, height) for mask in masks)
        self._crop = crop
        self._reformatter = VideoReformatter()

    def encode(self, frame: av.VideoFrame) -> bytes:
        masks: Sequence[Box] = self._masks
        if self._crop is not None:
            box = crop_box(self._crop, frame.width, frame.height)
            size = (self.width, self.height)
            placed = (
                _mask_in_box(m, box, frame.width, frame.height, size) for m in self._mask_rects
            )
            masks = [mask for mask in placed if mask is not None]
            frame = crop_frame(frame, box)
        # One scaling thread: parallelism comes from the decoder and from other transcoders.
        scaled = self._reformatter.reformat(frame, self.width, self.height, "yuvj420p", threads=1)
        luma, blue, red = (plane_array(plane) for plane in scaled.planes)
        if masks:
            # Copies: when no conversion was needed, the planes are the decoder's own picture.
            luma, blue, red = luma.copy(), blue.copy(), red.copy()
            for left, top, right, bottom in masks:
                luma[top:bottom, left:right] = 0
                # Chroma planes are half size; neutral chroma makes the black true black.
                chroma = slice(top // 2, (bottom + 1) // 2), slice(left // 2, (right + 1) // 2)
                blue[chroma] = 128
                red[chroma] = 128
        return bytes(simplejpeg.encode_jpeg_yuv_planes(luma, blue, red, quality=self._quality))


def snapshot_jpeg(
    packet: MediaPacket,
    spec: OutputSpec | None = None,
    masks: Sequence[Rect] = (),
    *,
    decoders: HardwareDecoders | None = None,
    prefer_hardware: bool = False,
) -> bytes:
    """A keyframe as JPEG, at ``spec``'s size and quality (else the stream's size), masked.

    Blocking: run it in a worker thread.
    """
    frame = decode_keyframe(packet, decoders, prefer_hardware=prefer_hardware)
    if spec is None:
        encoder = JpegEncoder(frame.width, frame.height, SNAPSHOT_QUALITY, masks)
    else:
        encoder = JpegEncoder(spec.width, spec.height, spec.quality, masks)
    return encoder.encode(frame)


class _Decoder:
    """A decoder for one stream configuration (software: threads AUTO). One thread at a time."""

    def __init__(
        self, config: StreamConfig, decoders: HardwareDecoders, prefer_hardware: bool
    ) -> None:
        self.config = config
        self._decoder = decoders.open(
            config.codec,
            config.extradata,
            prefer_hardware=prefer_hardware,
            threads=min(MAX_DECODER_THREADS, (os.cpu_count() or 1) + 1),
        )

    def decode(self, packet: MediaPacket) -> list[av.VideoFrame]:
        """Frames that came out; frame threads hold a few back until later packets push them."""
        return self._decoder.decode(self._packet(packet))

    def decode_alone(self, packet: MediaPacket) -> list[av.VideoFrame]:
        """Decode one keyframe right now: feed it, drain, and reset the decoder for the next."""
        frames = self._decoder.decode(self._packet(packet))
        frames += self._decoder.decode(None)
        self._decoder.flush_buffers()
        return frames

    def reset(self) -> None:
        """Forget every packet in flight (after an error)."""
        self._decoder.flush_buffers()

    def close(self) -> None:
        """Flush and release the decoder (before dropping it)."""
        self._decoder.close()

    @staticmethod
    def _packet(packet: MediaPacket) -> av.Packet[Any]:
        raw = av.Packet(packet.data)
        raw.pts, raw.dts, raw.time_base = packet.pts, packet.dts, _PACKET_TIME_BASE
        return raw


@dataclass(frozen=True, slots=True)
class _Work:
    packet: MediaPacket
    #: Decode this keyframe on its own (the output rate needs keyframes only).
    keyframe_only: bool


@dataclass(slots=True)
class _Outcome:
    """What one job did, handed back to the loop."""

    frames: list[JpegFrame] = field(default_factory=list)
    decoded: int = 0
    errors: int = 0


class _Pipeline:
    """Decoder, frame picking and encoder of one transcoder: used by one job at a time."""

    def __init__(
        self,
        spec: OutputSpec,
        masks: Sequence[Rect],
        crop: Rect | None,
        decoders: HardwareDecoders,
        prefer_hardware: bool,
    ) -> None:
        self._encoder = JpegEncoder(spec.width, spec.height, spec.quality, masks, crop)
        self._gate = FrameRateGate(spec.fps)
        self._decoders = decoders
        self._prefer_hardware = prefer_hardware
        self._decoder: _Decoder | None = None
        self._need_keyframe = True
        self._wallclocks: dict[int, float] = {}

    def run(self, work: Sequence[_Work]) -> _Outcome:
        outcome = _Outcome()
        fresh_from = work[-1].packet.pts - STALE_AFTER
        for item in work:
            self._feed(item, fresh_from, outcome)
        return outcome

    def close(self) -> None:
        if self._decoder is not None:
            self._decoder.close()
            self._decoder = None

    def _feed(self, item: _Work, fresh_from: int, outcome: _Outcome) -> None:
        packet = item.packet
        if self._decoder is None or self._decoder.config != packet.config:
            # A new stream configuration (the camera reconnected or was reconfigured).
            self.close()
            self._decoder = _Decoder(packet.config, self._decoders, self._prefer_hardware)
            self._need_keyframe = True
        if self._need_keyframe and not packet.is_keyframe:
            return
        if item.keyframe_only and (packet.pts < fresh_from or not self._gate.admit(packet.pts)):
            return  # keyframes stand alone: a stale or unwanted one need not be decoded
        self._need_keyframe = False
        self._remember(packet)
        outcome.decoded += 1
        try:
            if item.keyframe_only:
                # Only the keyframe's own picture (the last out), none left over from before.
                frames = self._decoder.decode_alone(packet)[-1:]
            else:
                frames = self._decoder.decode(packet)
        except av.FFmpegError as error:
            # A broken packet: decoding resumes at the next keyframe.
            log.debug("transcoder decode error: %s", error)
            outcome.errors += 1
            self._decoder.reset()
            self._need_keyframe = True
            return
        for frame in frames:
            self._emit(frame, item.keyframe_only, fresh_from, outcome)

    def _emit(self, frame: av.VideoFrame, picked: bool, fresh_from: int, outcome: _Outcome) -> None:
        if frame.pts is None:  # cannot be placed in time; never seen with camgate's packets
            return
        wallclock = self._wallclocks.pop(frame.pts, math.nan)
        if frame.pts < fresh_from:
            return
        if picked or self._gate.admit(frame.pts):
            data = self._encoder.encode(frame)
            size = (self._encoder.width, self._encoder.height)
            outcome.frames.append(JpegFrame(data, *size, frame.pts, wallclock))

    def _remember(self, packet: MediaPacket) -> None:
        self._wallclocks[packet.pts] = packet.wallclock
        if len(self._wallclocks) > WALLCLOCK_MEMORY:
            del self._wallclocks[next(iter(self._wallclocks))]


class Transcoder:
    """One output of one stream: reads the hub's packets, publishes JPEGs. Lives on the loop.

    Bounded work: at most one job is in flight. Packets that arrive meanwhile wait in a backlog
    of at most :data:`BACKLOG_LIMIT`; they become the next job. When the backlog is full the
    worker is falling behind, and queueing more would only add latency: the backlog is dropped
    and so is every packet up to the next keyframe, where decoding can resume cleanly.

    Decode errors skip to the next keyframe; a new stream configuration (camera reconnect)
    recreates the decoder. Neither stops the transcoder. Call :meth:`close` when done.

    Decoders come from ``decoders`` (a private set if None), on a device if ``prefer_hardware``.
    """

    def __init__(
        self,
        hub: PacketSource,
        spec: OutputSpec,
        pool: Executor,
        *,
        masks: Sequence[Rect] = (),
        crop: Rect | None = None,
        decoders: HardwareDecoders | None = None,
        prefer_hardware: bool = False,
    ) -> None:
        self.spec = spec
        self.masks = tuple(masks)
        self.crop = crop
        self.jpegs: FanOut[JpegFrame] = FanOut(
            subscriber_capacity=JPEG_SUBSCRIBER_CAPACITY, gop_limit=JPEG_GOP_LIMIT
        )
        #: Packets handed to the decoder (keyframe-only decoding shows here).
        self.decoded_packets = 0
        #: Packets dropped because the worker was behind.
        self.dropped_packets = 0
        self.decode_errors = 0
        self.published_frames = 0
        self._hub = hub
        self._pool = pool
        self._pipeline = _Pipeline(
            spec, masks, crop, decoders or HardwareDecoders(), prefer_hardware
        )
        self._cadence = KeyframeCadence()
        self._keyframe_only = self._cadence.keyframes_suffice(spec.fps)
        self._skipping = False
        self._backlog: list[_Work] = []
        self._packets: Subscription[MediaPacket] | None = None
        self._task: asyncio.Task[None] | None = None
        self._job: asyncio.Future[_Outcome] | None = None
        self._teardown: asyncio.Future[None] | None = None
        self._progress = asyncio.Event()
        self._closed = False

    @property
    def running(self) -> bool:
        return self._task is not None and not self._closed

    @property
    def subscriber_count(self) -> int:
        return self.jpegs.subscriber_count

    @property
    def keyframe_only(self) -> bool:
        """Whether the current GOP is decoded from its keyframe alone."""
        return self._keyframe_only

    def start(self) -> None:
        """Subscribe to the hub and start reading (on the running loop).

        The hub queues its cached GOP at once; all of it is the first job, however long (the hub
        bounds it): dropping it would leave nothing to decode before the next keyframe, while
        decoding it shows the current picture at once (its stale frames are not encoded).
        """
        self._packets = self._hub.subscribe_packets()
        cached: list[_Work] = []
        while (item := self._packets.get_nowait()) is not None:
            if (work := self._take(item)) is not None:
                cached.append(work)
        if cached:
            self._submit(cached)
        self._task = asyncio.get_running_loop().create_task(self._pump(self._packets))

    def subscribe(self) -> Subscription[JpegFrame]:
        return self.jpegs.subscribe()

    def close(self) -> None:
        """Stop at once: leave the hub, end the viewers' subscriptions, release the decoder."""
        if self._closed:
            return
        self._closed = True
        self._backlog.clear()
        if self._packets is not None:
            self._packets.close()
        if self._task is not None:
            self._task.cancel()
        self.jpegs.close()
        if self._job is None:
            self._release_pipeline()
        self._progress.set()

    async def wait_closed(self) -> None:
        """Wait until the reader and the worker have ended (after :meth:`close`)."""
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)
        if self._job is not None:
            await asyncio.gather(self._job, return_exceptions=True)
        if self._teardown is not None:
            await self._teardown

    async def drained(self) -> None:
        """Wait until every packet the hub has given is processed and published (or dropped)."""
        while not self._closed and (
            self._job is not None
            or self._backlog
            or (self._packets is not None and len(self._packets) > 0)
        ):
            self._progress.clear()
            await self._progress.wait()

    async def _pump(self, packets: Subscription[MediaPacket]) -> None:
        try:
            while True:
                if (work := self._take(await packets.get())) is not None:
                    self._enqueue(work)
                self._progress.set()
        except Closed:
            self.close()  # the hub went away

    def _take(self, item: MediaPacket | Drop | Notice) -> _Work | None:
        """The work a hub item asks for: None for notices and for packets not to decode."""
        if isinstance(item, Notice):
            self.jpegs.notify(item)
            return None
        if isinstance(item, Drop):
            self.dropped_packets += item.frames
            return None
        if item.is_keyframe:
            self._cadence.keyframe(item.pts)
            self._keyframe_only = self._cadence.keyframes_suffice(self.spec.fps)
            self._skipping = False
        elif self._keyframe_only:
            return None  # not needed: the output rate is reached from keyframes
        elif self._skipping:
            self.dropped_packets += 1
            return None
        return _Work(item, self._keyframe_only)

    def _enqueue(self, work: _Work) -> None:
        if self._job is None:
            self._submit([work])
        elif len(self._backlog) < BACKLOG_LIMIT:
            self._backlog.append(work)
        else:
            self._fall_behind(work)

    def _fall_behind(self, work: _Work) -> None:
        self.dropped_packets += len(self._backlog)
        self._backlog.clear()
        if work.packet.is_keyframe:
            self._backlog.append(work)
        else:
            self.dropped_packets += 1
            self._skipping = True

    def _submit(self, work: list[_Work]) -> None:
        loop = asyncio.get_running_loop()
        self._job = loop.run_in_executor(self._pool, self._pipeline.run, work)
        self._job.add_done_callback(self._finished)

    def _finished(self, job: asyncio.Future[_Outcome]) -> None:
        self._job = None
        if self._closed:
            self._release_pipeline()
            return
        error = job.exception()
        if error is not None:
            # A bug, not a broken packet (those are handled in the job): keep serving.
            log.error("transcoder job failed", exc_info=error)
        else:
            self._publish(job.result())
        if self._backlog:
            work, self._backlog = self._backlog, []
            self._submit(work)
        self._progress.set()

    def _publish(self, outcome: _Outcome) -> None:
        self.decoded_packets += outcome.decoded
        self.decode_errors += outcome.errors
        for jpeg in outcome.frames:
            self.jpegs.publish(jpeg)
        self.published_frames += len(outcome.frames)

    def _release_pipeline(self) -> None:
        """Flush the decoder in the pool (it may wait for its frame threads), then drop it."""
        loop = asyncio.get_running_loop()
        self._teardown = loop.run_in_executor(self._pool, self._pipeline.close)


class JpegSubscription:
    """One viewer of a transcoded output. Closing the last one stops the transcoder."""

    def __init__(self, subscription: Subscription[JpegFrame], release: Callable[[], None]) -> None:
        self._subscription = subscription
        self._release = release
        self._closed = False

    @property
    def dropped_total(self) -> int:
        return self._subscription.dropped_total

    async def get(self) -> JpegFrame | Drop | Notice:
        """The next JPEG (or notice); raises :class:`Closed` once the output has ended."""
        return await self._subscription.get()

    def get_nowait(self) -> JpegFrame | Drop | Notice | None:
        return self._subscription.get_nowait()

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._subscription.close()
            self._release()

    def __enter__(self) -> JpegSubscription:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


_Key = tuple[str, OutputSpec, tuple[Rect, ...], Rect | None]


class TranscoderRegistry:
    """The running transcoders, one per (stream, output spec, masks, crop). Lives on the loop.

    ``prefer_hardware`` is asked as each transcoder starts (the hardware decoding setting: a
    change applies to transcoders started afterwards); all of them share ``decoders``.
    """

    def __init__(
        self,
        pool: Executor,
        decoders: HardwareDecoders | None = None,
        *,
        prefer_hardware: Callable[[], bool] = lambda: False,
    ) -> None:
        self.decoders = decoders or HardwareDecoders()
        self.prefer_hardware = prefer_hardware
        self._pool = pool
        self._transcoders: dict[_Key, Transcoder] = {}

    @property
    def pool(self) -> Executor:
        """The bounded pool that decodes and encodes (playback's JPEG frames run there too)."""
        return self._pool

    @property
    def running(self) -> int:
        """How many transcoders run now (the cost of transcoded viewing)."""
        return sum(1 for transcoder in self._transcoders.values() if transcoder.running)

    def find(
        self,
        stream_id: str,
        spec: OutputSpec,
        masks: Sequence[Rect] = (),
        crop: Rect | None = None,
    ) -> Transcoder | None:
        return self._transcoders.get(_key(stream_id, spec, masks, crop))

    def subscribe(
        self,
        stream_id: str,
        hub: PacketSource,
        spec: OutputSpec,
        masks: Sequence[Rect] = (),
        crop: Rect | None = None,
    ) -> JpegSubscription:
        """A viewer of this output (``crop``: the part of the picture it shows, None for all of
        it); its transcoder starts now if it is the first viewer."""
        key = _key(stream_id, spec, masks, crop)
        transcoder = self._transcoders.get(key)
        if transcoder is None or not transcoder.running:
            transcoder = Transcoder(
                hub,
                spec,
                self._pool,
                masks=key[2],
                crop=crop,
                decoders=self.decoders,
                prefer_hardware=self.prefer_hardware(),
            )
            transcoder.start()
            self._transcoders[key] = transcoder
        return JpegSubscription(transcoder.subscribe(), lambda: self._release(key, transcoder))

    def _release(self, key: _Key, transcoder: Transcoder) -> None:
        if transcoder.subscriber_count:
            return
        transcoder.close()
        if self._transcoders.get(key) is transcoder:
            del self._transcoders[key]

    async def aclose(self) -> None:
        """Stop every transcoder and wait for their workers."""
        transcoders = list(self._transcoders.values())
        self._transcoders.clear()
        for transcoder in transcoders:
            transcoder.close()
        for transcoder in transcoders:
            await transcoder.wait_closed()


def _key(stream_id: str, spec: OutputSpec, masks: Sequence[Rect], crop: Rect | None) -> _Key:
    """Masks in any order, or repeated, make the same output."""
    return stream_id, spec, tuple(sorted(set(masks))), crop
