"""Transcoding real H.264/H.265 from a live hub to JPEG: size, rate, masks, sharing, lifecycle.

Clips are small (320×180 or 640×360, a few seconds, GOP 30 at 30 fps) and made once per session.
Packets are fed a few at a time, waiting for the transcoder to take them (``drained``), the way a
camera's 30 fps would leave it idle between frames.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import itertools
import statistics
import threading
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from typing import Any, ParamSpec, TypeVar

import numpy as np
import pytest
import simplejpeg
from hypothesis import given
from hypothesis import strategies as st
from numpy.typing import NDArray

from camgate.media.fanout import Closed, Drop, Notice
from camgate.media.hub import LiveHub
from camgate.media.limits import OutputSpec
from camgate.media.packet import Codec, MediaPacket
from camgate.media.transcode import (
    BACKLOG_LIMIT,
    FrameRateGate,
    JpegFrame,
    JpegSubscription,
    KeyframeCadence,
    Rect,
    Transcoder,
    TranscoderRegistry,
    snapshot_jpeg,
)
from tests.support.media import encode_clip, to_media_packets

FRAME = 3000  # one frame at 30 fps in the 90 kHz clock
GOP = 30 * FRAME
P = ParamSpec("P")
R = TypeVar("R")


@functools.cache
def clip(
    width: int = 320, height: int = 180, frames: int = 90, gop: int = 30, codec: Codec = "h264"
) -> tuple[MediaPacket, ...]:
    return tuple(to_media_packets(encode_clip(codec, width, height, frames, gop=gop)))


def shifted(packets: Sequence[MediaPacket], by: int) -> list[MediaPacket]:
    """The packets later on the stream's timeline (as after a reconnect)."""
    return [dataclasses.replace(p, pts=p.pts + by, dts=p.dts + by) for p in packets]


def picture(jpeg: JpegFrame) -> NDArray[np.uint8]:
    rgb: NDArray[np.uint8] = simplejpeg.decode_jpeg(jpeg.data)
    return rgb


class Viewer:
    """Reads one subscription in a task, as a WebSocket sender would."""

    def __init__(self, subscription: JpegSubscription) -> None:
        self.subscription = subscription
        self.frames: list[JpegFrame] = []
        self.notices: list[Notice] = []
        self.drops = 0
        self.closed = asyncio.Event()
        self._task = asyncio.get_running_loop().create_task(self._read())

    async def _read(self) -> None:
        try:
            while True:
                item = await self.subscription.get()
                if isinstance(item, Notice):
                    self.notices.append(item)
                elif isinstance(item, Drop):
                    self.drops += item.frames
                else:
                    self.frames.append(item)
        except Closed:
            self.closed.set()

    @property
    def pts(self) -> list[int]:
        return [frame.pts for frame in self.frames]

    def close(self) -> None:
        self.subscription.close()
        self._task.cancel()


async def feed(hub: LiveHub, packets: Sequence[MediaPacket], *transcoders: Transcoder) -> None:
    """Publish, letting the transcoders take each few packets before the next ones."""
    for index, packet in enumerate(packets):
        hub.publish(packet)
        if index % 4 == 3:
            await drained(transcoders)
    await drained(transcoders)
    await asyncio.sleep(0)  # let the viewers' tasks read what was published last


async def drained(transcoders: Sequence[Transcoder]) -> None:
    for transcoder in transcoders:
        await transcoder.drained()


async def until(condition: Callable[[], bool], rounds: int = 100) -> None:
    """Let the loop run other tasks until ``condition`` holds (or ``rounds`` turns have passed)."""
    for _ in range(rounds):
        if condition():
            return
        await asyncio.sleep(0)


@pytest.fixture
def pool() -> Iterator[ThreadPoolExecutor]:
    with ThreadPoolExecutor(max_workers=2) as executor:
        yield executor


@pytest.fixture
async def registry(pool: ThreadPoolExecutor) -> AsyncIterator[TranscoderRegistry]:
    transcoders = TranscoderRegistry(pool)
    yield transcoders
    await transcoders.aclose()


def watch(
    registry: TranscoderRegistry,
    hub: LiveHub,
    spec: OutputSpec,
    masks: Sequence[Rect] = (),
) -> tuple[Viewer, Transcoder]:
    viewer = Viewer(registry.subscribe("cam", hub, spec, masks))
    transcoder = registry.find("cam", spec, masks)
    assert transcoder is not None
    return viewer, transcoder


# --- size, rate, keyframes -----------------------------------------------------------------------


@pytest.mark.parametrize("size", [(320, 180), (160, 120), (642, 362), (97, 55)])
async def test_jpegs_have_the_asked_size(
    registry: TranscoderRegistry, size: tuple[int, int]
) -> None:
    hub = LiveHub("cam")
    viewer, transcoder = watch(registry, hub, OutputSpec(*size, fps=30, quality=80))
    await feed(hub, clip(640, 360, frames=30), transcoder)
    assert len(viewer.frames) >= 20
    for jpeg in viewer.frames:
        assert (jpeg.width, jpeg.height) == size
        assert picture(jpeg).shape == (size[1], size[0], 3)
        assert simplejpeg.decode_jpeg_header(jpeg.data)[3] == "420"


@pytest.mark.parametrize("fps", [30, 15, 10, 7.5, 4, 2])
async def test_the_output_rate_follows_the_asked_fps(
    registry: TranscoderRegistry, fps: float
) -> None:
    hub = LiveHub("cam")
    viewer, transcoder = watch(registry, hub, OutputSpec(320, 180, fps=fps, quality=70))
    await feed(hub, clip(frames=150), transcoder)
    pts = viewer.pts
    assert pts == sorted(pts) and pts[0] == 0
    # Frame threads keep the last few frames until more packets come: judge what came out.
    span_s = (pts[-1] - pts[0]) / 90_000
    assert span_s >= 4.5
    assert abs((len(pts) - 1) / span_s - fps) <= 0.05 * fps
    # Picked frames are whole source frames apart: the typical gap is within one of the interval.
    assert statistics.median(b - a for a, b in itertools.pairwise(pts)) == pytest.approx(
        90_000 / fps, abs=FRAME
    )
    assert transcoder.decoded_packets == 150  # above the keyframe rate: everything decodes
    assert not transcoder.keyframe_only


@pytest.mark.parametrize(("fps", "keyframes"), [(1, [0, 1, 2, 3, 4]), (0.5, [0, 2, 4])])
async def test_at_or_below_the_keyframe_rate_only_keyframes_are_decoded(
    registry: TranscoderRegistry, fps: float, keyframes: list[int]
) -> None:
    hub = LiveHub("cam")
    viewer, transcoder = watch(registry, hub, OutputSpec(320, 180, fps=fps, quality=70))
    await feed(hub, clip(frames=150), transcoder)
    assert transcoder.keyframe_only
    assert transcoder.decoded_packets == len(keyframes)
    assert viewer.pts == [index * GOP for index in keyframes]


async def test_keyframe_only_decoding_starts_once_the_keyframe_rate_is_known(
    registry: TranscoderRegistry,
) -> None:
    """GOP 15 (2 keyframes/s): 2 fps needs keyframes only, which shows from the second GOP."""
    hub = LiveHub("cam")
    viewer, transcoder = watch(registry, hub, OutputSpec(320, 180, fps=2, quality=70))
    await feed(hub, clip(frames=150, gop=15), transcoder)
    assert transcoder.keyframe_only
    # The first GOP in full; after it, keyframes only, each decoded one giving one JPEG.
    later = [pts for pts in viewer.pts if pts >= 15 * FRAME]
    assert transcoder.decoded_packets == 15 + len(later)
    assert len(later) >= 8
    assert all(pts % (15 * FRAME) == 0 for pts in later)


async def test_a_new_viewer_gets_the_latest_jpeg_at_once(registry: TranscoderRegistry) -> None:
    hub = LiveHub("cam")
    first, transcoder = watch(registry, hub, OutputSpec(320, 180, fps=10, quality=70))
    await feed(hub, clip(frames=60), transcoder)
    late = registry.subscribe("cam", hub, OutputSpec(320, 180, fps=10, quality=70))
    item = late.get_nowait()
    assert isinstance(item, JpegFrame)
    assert item is first.frames[-1]
    late.close()


async def test_the_cached_gop_gives_a_new_transcoder_a_picture_at_once(
    registry: TranscoderRegistry,
) -> None:
    """The hub's cached GOP is decoded in full; only its recent frames are encoded."""
    hub = LiveHub("cam")
    for packet in clip(frames=55):
        hub.publish(packet)  # nobody watches yet: the hub caches frames 30 to 54
    viewer, transcoder = watch(registry, hub, OutputSpec(320, 180, fps=30, quality=70))
    await transcoder.drained()
    await asyncio.sleep(0)
    assert transcoder.decoded_packets == 25
    assert transcoder.dropped_packets == 0
    assert transcoder.published_frames <= 16  # half a second's worth, not the whole GOP
    assert viewer.pts  # a picture without waiting for the next keyframe
    assert min(viewer.pts) >= 54 * FRAME - 90_000 // 2  # nothing older than half a second


# --- masks ---------------------------------------------------------------------------------------


async def test_privacy_masks_are_black_and_the_rest_is_untouched(
    registry: TranscoderRegistry,
) -> None:
    hub = LiveHub("cam")
    spec = OutputSpec(320, 180, fps=5, quality=90)
    masks = [Rect(0.25, 0.25, 0.5, 0.5), Rect(0.9, 0.0, 0.1, 1.0)]
    masked, transcoder = watch(registry, hub, spec, masks)
    plain, other = watch(registry, hub, spec)
    assert registry.running == 2
    await feed(hub, clip(frames=30), transcoder, other)
    # On a loaded machine either output may skip a frame the other kept: compare the same frames.
    common = sorted(set(masked.pts) & set(plain.pts))
    assert len(common) >= len(plain.pts) // 2
    pairs = [
        (masked.frames[masked.pts.index(pts)], plain.frames[plain.pts.index(pts)]) for pts in common
    ]
    margin = 3  # JPEG blocks blur the mask's edges a little
    for with_masks, without in pairs:
        luma = picture(with_masks).mean(axis=2)
        reference = picture(without).mean(axis=2)
        inside = (slice(45 + margin, 135 - margin), slice(80 + margin, 240 - margin))
        assert luma[inside].max() <= 12
        assert reference[inside].mean() > 60  # it was not black before
        assert luma[:, 288 + margin :].max() <= 12
        for outside in (slice(0, 45 - margin), slice(135 + margin, 180)):
            difference = np.abs(luma[outside, : 288 - margin] - reference[outside, : 288 - margin])
            assert difference.mean() < 2


def test_a_mask_covers_every_pixel_it_touches() -> None:
    assert Rect(0.1, 0.1, 0.2, 0.2).pixels(100, 10) == (10, 1, 30, 3)
    assert Rect(0.105, 0.0, 0.01, 1.0).pixels(100, 10) == (10, 0, 12, 10)
    assert Rect(0.5, 0.5, 1.0, 1.0).pixels(100, 10) == (50, 5, 100, 10)


@pytest.mark.parametrize(
    "rect", [(-0.1, 0, 0.5, 0.5), (0, 1.1, 0.5, 0.5), (0, 0, 0, 0.5), (0, 0, 0.5, 1.5)]
)
def test_invalid_masks(rect: tuple[float, float, float, float]) -> None:
    with pytest.raises(ValueError):
        Rect(*rect)


# --- sharing and lifecycle -----------------------------------------------------------------------


async def test_ten_viewers_of_one_output_share_one_transcoder(
    registry: TranscoderRegistry,
) -> None:
    hub = LiveHub("cam")
    spec = OutputSpec(320, 180, fps=10, quality=70)
    masks = [Rect(0, 0, 0.1, 0.1), Rect(0.5, 0.5, 0.1, 0.1)]
    viewers = [
        Viewer(registry.subscribe("cam", hub, spec, masks[:: 1 if i % 2 else -1]))
        for i in range(10)
    ]
    transcoder = registry.find("cam", spec, masks)
    assert transcoder is not None
    assert registry.running == 1
    assert hub.packets.subscriber_count == 1
    assert transcoder.subscriber_count == 10
    await feed(hub, clip(frames=60), transcoder)
    assert len(viewers[0].frames) >= 15
    for viewer in viewers:
        assert viewer.drops == 0
        # The very same JPEG objects: encoded once, shared by all.
        assert [id(f) for f in viewer.frames] == [id(f) for f in viewers[0].frames]
    other = Viewer(registry.subscribe("cam", hub, dataclasses.replace(spec, quality=71), masks))
    assert registry.running == 2
    other.close()
    for viewer in viewers:
        viewer.close()


async def test_the_transcoder_stops_after_the_last_viewer_leaves(
    registry: TranscoderRegistry,
) -> None:
    hub = LiveHub("cam")
    spec = OutputSpec(320, 180, fps=10, quality=70)
    viewers = [Viewer(registry.subscribe("cam", hub, spec)) for _ in range(3)]
    transcoder = registry.find("cam", spec)
    assert transcoder is not None
    await feed(hub, clip(frames=20), transcoder)
    viewers[0].close()
    viewers[1].close()
    assert registry.running == 1 and transcoder.running
    viewers[2].close()
    viewers[2].close()  # closing twice is harmless
    assert registry.running == 0
    assert not transcoder.running
    assert hub.packets.subscriber_count == 0
    assert registry.find("cam", spec) is None
    await asyncio.wait_for(transcoder.wait_closed(), 10)
    # The next viewer starts a fresh one.
    viewer = Viewer(registry.subscribe("cam", hub, spec))
    assert registry.running == 1 and registry.find("cam", spec) is not transcoder
    viewer.close()


async def test_viewers_hear_the_hubs_notices_and_its_end(registry: TranscoderRegistry) -> None:
    hub = LiveHub("cam")
    viewer, transcoder = watch(registry, hub, OutputSpec(320, 180, fps=10, quality=70))
    await feed(hub, clip(frames=10), transcoder)
    hub.source_failed("camera unplugged")
    await until(lambda: len(viewer.notices) == 2)
    assert [(n.status, n.detail) for n in viewer.notices] == [
        ("online", ""),
        ("offline", "camera unplugged"),
    ]
    hub.close()
    await asyncio.wait_for(viewer.closed.wait(), 10)
    assert registry.running == 0
    await asyncio.wait_for(transcoder.wait_closed(), 10)


async def test_a_camera_reconnect_keeps_frames_coming(registry: TranscoderRegistry) -> None:
    """A new stream configuration (here another size and codec) gets a new decoder."""
    hub = LiveHub("cam")
    viewer, transcoder = watch(registry, hub, OutputSpec(320, 180, fps=30, quality=70))
    await feed(hub, clip(640, 360, frames=30), transcoder)
    before = len(viewer.frames)
    hub.source_failed("gone")
    hub.source_started()
    later = shifted(clip(480, 270, frames=30, codec="hevc"), 10 * GOP)
    await feed(hub, later, transcoder)
    new = [frame for frame in viewer.frames if frame.pts >= 10 * GOP]
    assert before >= 25 and len(new) >= 25
    assert {(picture(f).shape) for f in new} == {(180, 320, 3)}
    assert transcoder.running


async def test_a_broken_packet_skips_to_the_next_keyframe(registry: TranscoderRegistry) -> None:
    hub = LiveHub("cam")
    packets = list(clip(frames=90))
    packets[5] = dataclasses.replace(packets[5], data=b"\x00\x00\x00\x10" + b"\xff" * 16)
    viewer, transcoder = watch(registry, hub, OutputSpec(320, 180, fps=30, quality=70))
    await feed(hub, packets, transcoder)
    assert transcoder.decode_errors >= 1
    assert transcoder.running
    # Packets up to the next keyframe are not even decoded (the error shows within 4 packets).
    assert transcoder.decoded_packets <= 10 + 60
    # Nothing from the broken GOP after the error (reported a few frames late by frame threads),
    # the next GOPs in full (less the frames the decoder still holds at the end).
    assert not [pts for pts in viewer.pts if 10 * FRAME <= pts < GOP]
    assert set(range(GOP, 85 * FRAME, FRAME)) <= set(viewer.pts)


# --- bounded work --------------------------------------------------------------------------------


class GatedPool(Executor):
    """One worker thread that starts each job only once the gate is open."""

    def __init__(self) -> None:
        self.gate = threading.Event()
        self._pool = ThreadPoolExecutor(max_workers=1)

    def submit(self, fn: Callable[P, R], /, *args: P.args, **kwargs: P.kwargs) -> Future[R]:
        def gated() -> R:
            self.gate.wait(10)
            return fn(*args, **kwargs)

        return self._pool.submit(gated)

    def shutdown(self, wait: bool = True, **kwargs: Any) -> None:
        self.gate.set()
        self._pool.shutdown(wait)


async def test_a_worker_that_falls_behind_drops_up_to_the_next_keyframe() -> None:
    pool = GatedPool()
    hub = LiveHub("cam")
    transcoder = Transcoder(hub, OutputSpec(320, 180, fps=30, quality=70), pool)
    transcoder.start()
    viewer = Viewer(JpegSubscription(transcoder.subscribe(), lambda: None))
    packets = clip(frames=90)
    for packet in packets[:21]:
        hub.publish(packet)
    # The job for packet 0 hangs; 1 to 15 wait; 16 overflows.
    await until(lambda: transcoder.dropped_packets > 0)
    assert transcoder.dropped_packets == BACKLOG_LIMIT + 1 + 4  # the backlog, 16, then 17–20
    pool.gate.set()
    await feed(hub, packets[21:], transcoder)
    assert transcoder.dropped_packets == 20 + 9  # 21–29, up to the keyframe
    assert transcoder.decoded_packets == 1 + 60
    assert not [pts for pts in viewer.pts if 0 < pts < GOP]
    assert set(range(GOP, 85 * FRAME, FRAME)) <= set(viewer.pts)
    viewer.close()
    transcoder.close()
    await asyncio.wait_for(transcoder.wait_closed(), 10)
    pool.shutdown()


async def test_closing_with_a_job_in_flight_waits_for_it() -> None:
    pool = GatedPool()
    hub = LiveHub("cam")
    transcoder = Transcoder(hub, OutputSpec(320, 180, fps=30, quality=70), pool)
    transcoder.start()
    for packet in clip(frames=10):
        hub.publish(packet)
    await asyncio.sleep(0)
    transcoder.close()
    assert hub.packets.subscriber_count == 0
    closing = asyncio.ensure_future(transcoder.wait_closed())
    await until(lambda: False, rounds=20)
    assert not closing.done()  # the job still holds the decoder
    pool.gate.set()
    await asyncio.wait_for(closing, 10)
    pool.shutdown()


# --- snapshots -----------------------------------------------------------------------------------


def test_snapshots_honour_size_quality_and_masks() -> None:
    keyframe = clip(640, 360, frames=1)[0]
    native = simplejpeg.decode_jpeg(snapshot_jpeg(keyframe))
    assert native.shape == (360, 640, 3)
    small = snapshot_jpeg(keyframe, OutputSpec(160, 90, fps=1, quality=90))
    assert simplejpeg.decode_jpeg(small).shape == (90, 160, 3)
    rough = snapshot_jpeg(keyframe, OutputSpec(160, 90, fps=1, quality=10))
    assert len(rough) < len(small)
    masked = simplejpeg.decode_jpeg(snapshot_jpeg(keyframe, None, [Rect(0, 0, 0.5, 1)]))
    assert masked[:, :316].max() <= 12
    assert masked[:, 324:].mean() > 60


# --- pure parts: frame picking and keyframe cadence ---------------------------------------------


def picked(gate: FrameRateGate, pts: Sequence[int]) -> list[int]:
    return [p for p in pts if gate.admit(p)]


def test_the_gate_picks_evenly() -> None:
    frames = range(0, 30 * FRAME, FRAME)
    assert picked(FrameRateGate(15), frames) == list(range(0, 30 * FRAME, 2 * FRAME))
    assert picked(FrameRateGate(10), frames) == list(range(0, 30 * FRAME, 3 * FRAME))
    assert len(picked(FrameRateGate(30), frames)) == 30
    assert len(picked(FrameRateGate(60), frames)) == 30  # never more than there is
    # 25 of 30: the due time advances by the interval, not from each frame.
    assert len(picked(FrameRateGate(25), range(0, 300 * FRAME, FRAME))) == 250


def test_the_gate_tolerates_jitter_and_restarts_after_gaps_and_jumps() -> None:
    jittery = [0, 3100, 5900, 9050, 11950, 15000]
    assert picked(FrameRateGate(15), jittery) == [0, 5900, 11950]
    gate = FrameRateGate(10)
    assert picked(gate, [0, 9000, 500_000, 503_000, 509_000]) == [0, 9000, 500_000, 509_000]
    assert picked(gate, [100, 3100, 9100]) == [100, 9100]  # the timeline went back


@given(
    st.floats(0.2, 60),
    st.lists(st.integers(1, 20_000), min_size=1, max_size=200),
)
def test_the_gate_never_exceeds_the_rate(fps: float, steps: list[int]) -> None:
    pts = list(np.cumsum(steps))
    admitted = picked(FrameRateGate(fps), pts)
    interval = 90_000 / fps
    assert len(admitted) - 1 <= (admitted[-1] - admitted[0]) / interval + 0.25 + 1e-9


@given(st.floats(0.2, 60), st.integers(300, 12_000), st.integers(10, 300))
def test_the_gate_leaves_no_gap_longer_than_the_interval(fps: float, step: int, count: int) -> None:
    admitted = picked(FrameRateGate(fps), range(0, step * count, step))
    gaps = [b - a for a, b in itertools.pairwise(admitted)]
    assert all(gap <= 90_000 / fps + step for gap in gaps)


def test_the_keyframe_cadence_is_the_slowest_recent_interval() -> None:
    cadence = KeyframeCadence()
    assert cadence.rate == 1.0  # assumed until known
    for pts in (0, 45_000, 90_000):
        cadence.keyframe(pts)
    assert cadence.rate == 2.0
    assert cadence.keyframes_suffice(2.0) and cadence.keyframes_suffice(2.09)
    assert not cadence.keyframes_suffice(2.2)
    cadence.keyframe(270_000)  # one long GOP
    assert cadence.rate == 0.5
    for pts in range(315_000, 315_000 + 4 * 45_000, 45_000):
        cadence.keyframe(pts)
    assert cadence.rate == 2.0  # the long GOP has left the window
