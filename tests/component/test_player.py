"""Controlled playback's media part on real H.264 recorded into segment files: frames found by
capture time, and rendered to exactly the JPEG of the right picture however they are reached."""

from __future__ import annotations

import dataclasses
import functools
import io
from collections.abc import Sequence
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from camgate.media.hwaccel import HardwareDecoders
from camgate.media.limits import OutputSpec
from camgate.media.packet import TIMESCALE, MediaPacket
from camgate.media.player import Frame, FrameFinder, FrameRenderer
from camgate.media.segment import ClosedSegment, SegmentWriter
from camgate.media.transcode import JpegEncoder, Rect
from tests.support.media import CLIP_EPOCH, encode_clip, fmp4_stream, to_media_packets

FRAME = 3000  # 30 fps in the 90 kHz clock
GOP = 15
SPEC = OutputSpec(320, 180, 30, 75)


@functools.cache
def clip_packets(bframes: int = 0) -> list[MediaPacket]:
    """3 s of 360p H.264, a keyframe every half second."""
    return to_media_packets(encode_clip(frames=90, gop=GOP, bframes=bframes))


def record(root: Path, packets: Sequence[MediaPacket]) -> list[ClosedSegment]:
    """Segments of one second (so that frames cross segment boundaries)."""
    writer = SegmentWriter(root, "cam", "main", segment_duration=TIMESCALE)
    closed = [segment for packet in packets for segment in writer.append(packet)]
    last = writer.close()
    return [*closed, last] if last else closed


def expected_jpegs(packets: Sequence[MediaPacket], masks: Sequence[Rect] = ()) -> dict[int, bytes]:
    """Every picture of the clip decoded in one go and encoded as the renderer should: by pts."""
    encoder = JpegEncoder(SPEC.width, SPEC.height, SPEC.quality, masks)
    with av.open(io.BytesIO(fmp4_stream(packets)), format="mp4") as container:
        stream = container.streams.video[0]
        return {
            round(picture.pts * stream.time_base * TIMESCALE): encoder.encode(picture)
            for picture in container.decode(stream)
        }


def time_of(pts: int) -> float:
    return CLIP_EPOCH + pts / TIMESCALE


def all_frames(finder: FrameFinder) -> list[Frame]:
    frames = []
    frame = finder.after(0.0)
    while frame is not None:
        frames.append(frame)
        frame = finder.after(frame.time)
    return frames


def finder_of(segments: Sequence[ClosedSegment]) -> FrameFinder:
    finder = FrameFinder()
    finder.use(segments)
    return finder


def test_frames_are_found_by_capture_time_across_segments(tmp_path: Path) -> None:
    segments = record(tmp_path, clip_packets())
    assert len(segments) == 3
    finder = finder_of(segments)
    frames = all_frames(finder)
    assert [f.pts for f in frames] == [n * FRAME for n in range(90)]
    assert [f.keyframe for f in frames] == [n % GOP == 0 for n in range(90)]

    assert finder.at(time_of(30 * FRAME)) == frames[30]
    assert finder.at(time_of(30 * FRAME) + 0.02) == frames[30]  # the last one at or before
    assert finder.at(time_of(0) - 0.5) is None  # before the recording
    assert finder.at(frames[-1].end + 0.1) is None  # after it
    assert finder.before(frames[30].time) == frames[29]  # the previous segment's last frame
    assert finder.before(frames[0].time) is None
    assert finder.after(frames[-1].time) is None
    assert finder.after(frames[20].time, keyframes_only=True) == frames[30]
    assert finder.at(time_of(44 * FRAME), keyframes_only=True) == frames[30]


@pytest.mark.parametrize("bframes", [0, 2])
def test_every_frame_renders_to_its_own_picture_forwards_and_backwards(
    tmp_path: Path, bframes: int
) -> None:
    packets = clip_packets(bframes)
    expected = expected_jpegs(packets)
    finder = finder_of(record(tmp_path, packets))
    frames = all_frames(finder)
    assert [f.time for f in frames] == sorted(f.time for f in frames)
    forwards = FrameRenderer(HardwareDecoders())
    backwards = FrameRenderer(HardwareDecoders())
    try:
        ahead = [forwards.render(finder.gop(f), f, SPEC) for f in frames]
        behind = [
            backwards.render(finder.gop(f), f, SPEC, keep_earlier=True) for f in reversed(frames)
        ]
    finally:
        forwards.close()
        backwards.close()
    assert ahead == [expected[f.pts] for f in frames]
    assert behind[::-1] == ahead
    assert Image.open(io.BytesIO(ahead[0] or b"")).size == (SPEC.width, SPEC.height)


def test_keyframes_decode_alone_and_seeks_decode_from_their_keyframe(tmp_path: Path) -> None:
    packets = clip_packets()
    expected = expected_jpegs(packets)
    finder = finder_of(record(tmp_path, packets))
    renderer = FrameRenderer(HardwareDecoders())
    try:
        for n in (45, 60, 75):
            keyframe = finder.at(time_of(n * FRAME), keyframes_only=True)
            assert keyframe is not None and keyframe.keyframe
            assert (
                renderer.render(finder.gop(keyframe), keyframe, SPEC, alone=True)
                == (expected[n * FRAME])
            )
        for n in (52, 7, 89, 88):  # forwards, far back, across segments, one back
            frame = finder.at(time_of(n * FRAME))
            assert frame is not None
            assert renderer.render(finder.gop(frame), frame, SPEC) == expected[n * FRAME]
    finally:
        renderer.close()


def test_masks_are_black_in_every_frame(tmp_path: Path) -> None:
    masks = [Rect(0, 0, 0.5, 0.5)]
    finder = finder_of(record(tmp_path, clip_packets()))
    renderer = FrameRenderer(HardwareDecoders(), masks)
    try:
        for frame in all_frames(finder)[::10]:
            jpeg = renderer.render(finder.gop(frame), frame, SPEC)
            picture = np.asarray(Image.open(io.BytesIO(jpeg or b"")).convert("L"))
            assert picture[:88, :158].max() <= 16
            assert picture[92:, 162:].max() > 16  # the rest is the picture
    finally:
        renderer.close()


def test_a_gap_between_runs_is_crossed(tmp_path: Path) -> None:
    packets = clip_packets()
    later = [
        dataclasses.replace(p, wallclock=p.wallclock + 10, dts=p.dts, pts=p.pts)
        for p in packets[60:]
    ]
    first = record(tmp_path / "a", packets[:45])
    second = record(tmp_path / "b", later)
    finder = finder_of([*first, *second])
    last = finder.at(time_of(44 * FRAME))
    assert last is not None
    following = finder.after(last.time)
    assert following is not None
    assert following.time == pytest.approx(time_of(60 * FRAME) + 10)
    assert finder.before(following.time) == last
    assert finder.at(last.end + 5) is None  # in the gap
