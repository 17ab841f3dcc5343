"""Recording real H.264 into segment files and playing ranges back through the virtual MP4,
decoded with PyAV (ADR 0009)."""

from __future__ import annotations

import dataclasses
import functools
import io
import itertools
import random
import time
from collections.abc import Sequence
from pathlib import Path

import av
import pytest

from camgate.media.mp4file import VirtualMp4, build_mp4
from camgate.media.packet import TIMESCALE, MediaPacket
from camgate.media.segment import (
    ClosedSegment,
    SegmentWriter,
    salvage,
    scan_segment,
)
from camgate.media.source import read_packets
from camgate.media.synthetic import PROFILES, ensure_clip
from tests.support.media import (
    CLIP_EPOCH,
    DecodedFrame,
    decode_frames,
    encode_clip,
    fmp4_stream,
    to_media_packets,
)

FRAME = 3000  # 30 fps in the 90 kHz clock
GOP = 15


@functools.cache
def clip_packets(bframes: int = 0) -> list[MediaPacket]:
    """6 s of 360p H.264, a keyframe every half second."""
    return to_media_packets(encode_clip(frames=180, gop=GOP, bframes=bframes))


def record(root: Path, packets: Sequence[MediaPacket], seconds: float = 2.0) -> list[ClosedSegment]:
    writer = SegmentWriter(root, "cam", "main", segment_duration=round(seconds * TIMESCALE))
    closed = [segment for packet in packets for segment in writer.append(packet)]
    last = writer.close()
    return [*closed, last] if last else closed


def whole(mp4: VirtualMp4) -> bytes:
    return mp4.read(0, mp4.size)


@pytest.fixture(scope="module")
def reference() -> list[DecodedFrame]:
    """Every frame of the clip, decoded from one fMP4 of it (pts = the packets' pts)."""
    return decode_frames(fmp4_stream(clip_packets()))


def test_a_closed_segment_plays_as_it_is(tmp_path: Path, reference: list[DecodedFrame]) -> None:
    segments = record(tmp_path, clip_packets())
    assert len(segments) == 3
    decoded = [frame for s in segments for frame in decode_frames(s.path.read_bytes())]
    assert [f.pts for f in decoded] == [f.pts for f in reference]
    assert [f.digest for f in decoded] == [f.digest for f in reference]
    assert [f.key_frame for f in decode_frames(segments[1].path.read_bytes())][:2] == [True, False]


def test_a_synthetic_camera_recording_plays(tmp_path: Path) -> None:
    """Packets as a source makes them (PacketNormalizer), from a synthetic camera's clip."""
    packets = read_packets(ensure_clip(tmp_path / "cache", "Cam B", PROFILES[2]), CLIP_EPOCH)
    (segment,) = record(tmp_path / "rec", packets, seconds=60)
    frames = decode_frames(segment.path.read_bytes())
    assert len(frames) == len(packets) == segment.sample_count
    assert [f.pts for f in frames] == sorted(p.pts for p in packets)


@pytest.mark.parametrize(
    ("start", "end"),
    [
        (20 * FRAME, 100 * FRAME),  # mid-GOP to mid-GOP across a segment boundary at frame 60
        (45 * FRAME, 120 * FRAME),  # from a keyframe to the end of a segment
        (0, 180 * FRAME),  # everything
        (59 * FRAME, 61 * FRAME),  # two frames around the boundary
        (20 * FRAME + 1000, 100 * FRAME),  # between two frames: the file starts at the next
    ],
)
def test_a_range_decodes_to_exactly_its_frames(
    tmp_path: Path, reference: list[DecodedFrame], start: int, end: int
) -> None:
    mp4 = build_mp4(record(tmp_path, clip_packets()), start, end)
    frames = decode_frames(whole(mp4))
    expected = [f for f in reference if start <= f.pts < end]
    # The edit list starts playback at the first frame at or after `start`: the file's time 0.
    assert [f.pts for f in frames] == [f.pts - expected[0].pts for f in expected]
    assert [f.digest for f in frames] == [f.digest for f in expected]
    assert mp4.spans[0].timeline_start == start - start % (GOP * FRAME)
    # On a frame, exactly: FFmpeg hides an edit between two frames, Chromium shows it early.
    assert mp4.media_start == expected[0].pts - mp4.spans[0].timeline_start


def test_b_frames_keep_their_order_and_pictures(tmp_path: Path) -> None:
    packets = clip_packets(bframes=2)
    assert any(p.pts != p.dts for p in packets)
    reference = decode_frames(fmp4_stream(packets))
    start, end = 30 * FRAME, 150 * FRAME  # keyframe-aligned: B-frame pts pass `end` otherwise
    frames = decode_frames(whole(build_mp4(record(tmp_path, packets), start, end)))
    expected = [f for f in reference if start <= f.pts - reference[0].pts < end]
    assert [f.digest for f in frames] == [f.digest for f in expected]
    steps = {b.pts - a.pts for a, b in itertools.pairwise(frames)}
    assert steps == {FRAME}


def test_a_gap_is_squeezed_and_told_by_the_spans(tmp_path: Path) -> None:
    packets = clip_packets()
    gap = 10 * TIMESCALE  # the source was away for 10 s after frame 90
    later = [
        dataclasses.replace(p, dts=p.dts + gap, pts=p.pts + gap, wallclock=p.wallclock + 10)
        for p in packets[90:]
    ]
    segments = record(tmp_path, packets[:90] + later, seconds=60)
    assert [(s.start_dts, s.end_dts) for s in segments] == [
        (0, 90 * FRAME),
        (90 * FRAME + gap, 180 * FRAME + gap),
    ]
    mp4 = build_mp4(segments, 60 * FRAME, 120 * FRAME + gap)
    frames = decode_frames(whole(mp4))
    assert [f.pts for f in frames] == [i * FRAME for i in range(60)]  # continuous, gap gone
    assert [(s.media_start, s.timeline_start, s.duration) for s in mp4.spans] == [
        (0, 60 * FRAME, 30 * FRAME),
        (30 * FRAME, 90 * FRAME + gap, 30 * FRAME),
    ]
    assert mp4.spans[1].wallclock_start == segments[1].start_wallclock


def test_random_ranges_concatenate_to_the_whole(tmp_path: Path) -> None:
    mp4 = build_mp4(record(tmp_path, clip_packets()), 10 * FRAME, 170 * FRAME)
    data = whole(mp4)
    assert len(data) == mp4.size
    rng = random.Random(4)
    for _ in range(20):
        cuts = sorted({0, mp4.size, *(rng.randrange(mp4.size) for _ in range(rng.randrange(8)))})
        pieces = [mp4.read(a, b - a) for a, b in itertools.pairwise(cuts)]
        assert b"".join(pieces) == data
    assert mp4.read(mp4.size - 3, 100) == data[-3:]
    assert mp4.read(mp4.size, 10) == b""
    # Same range, same bytes, same ETag; another range, another ETag.
    again = build_mp4(record(tmp_path / "again", clip_packets()), 10 * FRAME, 170 * FRAME)
    assert whole(again) == data
    other = build_mp4(record(tmp_path / "other", clip_packets()), 10 * FRAME, 169 * FRAME)
    assert other.etag != mp4.etag


def test_configs_cannot_mix_and_empty_ranges_are_refused(tmp_path: Path) -> None:
    packets = clip_packets()
    changed = dataclasses.replace(packets[0].config, width=641)
    second = [dataclasses.replace(p, config=changed) for p in packets[60:]]
    segments = record(tmp_path, packets[:60] + second)
    with pytest.raises(ValueError, match="config"):
        build_mp4(segments, 0, 120 * FRAME)
    with pytest.raises(ValueError, match="nothing"):
        build_mp4(segments, 500 * FRAME, 600 * FRAME)


def test_a_partial_cut_mid_fragment_is_salvaged_to_its_whole_gops(
    tmp_path: Path, reference: list[DecodedFrame]
) -> None:
    packets = clip_packets()
    writer = SegmentWriter(tmp_path, "cam", "main")
    for packet in packets[:100]:  # GOPs 0..5 written; 6 is held in memory
        writer.append(packet)
    partial = writer.open_path
    assert partial is not None and partial.name.endswith(".mp4.partial")
    # A crash: the process dies (the writer is dropped); the file also lost half its last GOP.
    data = partial.read_bytes()
    last = scan_segment(partial).fragments[-1]
    partial.write_bytes(data[: last.offset + last.size // 2])
    segment = salvage(partial)
    assert segment is not None and not partial.exists()
    assert segment.sample_count == 5 * GOP
    frames = decode_frames(segment.path.read_bytes())
    assert [f.digest for f in frames] == [f.digest for f in reference[: 5 * GOP]]


def test_an_hour_builds_fast(tmp_path: Path) -> None:
    """An hour at 30 fps, 1 s GOPs, in 60 one-minute segments (tiny samples: only the moov
    matters). Measured on the 2-core development machine: ~0.27 s for 108,000 samples."""
    config = clip_packets()[0].config
    writer = SegmentWriter(tmp_path, "cam", "main")
    segments = []
    sample = b"\x00\x00\x00\x04\x65\x88\x84\x00"
    for index in range(3600 * 30):
        dts = index * FRAME
        packet = MediaPacket(
            sample, dts, dts, FRAME, index % 30 == 0, 1.7e9 + dts / TIMESCALE, config
        )
        segments += writer.append(packet)
    last = writer.close()
    assert last is not None
    segments.append(last)
    assert len(segments) == 60
    began = time.perf_counter()
    mp4 = build_mp4(segments, 0, 3600 * TIMESCALE)
    elapsed = time.perf_counter() - began
    with av.open(io.BytesIO(mp4.read(0, mp4.size))) as container:
        assert container.streams.video[0].frames == 3600 * 30
    assert elapsed < 3.0, f"building the moov of an hour took {elapsed:.2f} s"


def _jittered(packets: Sequence[MediaPacket], late: Sequence[float]) -> list[MediaPacket]:
    """The packets as a source stamps them: each arriving ``late[i % len(late)]`` s late."""
    return [
        dataclasses.replace(p, wallclock=p.wallclock + late[i % len(late)])
        for i, p in enumerate(packets)
    ]


def test_segments_of_a_run_keep_one_wall_clock(tmp_path: Path) -> None:
    """Arrival jitter opens no holes between segments: the run's clock continues."""
    packets = _jittered(clip_packets(), [0.0, 0.11, 0.03, 0.07, 0.2])
    segments = record(tmp_path, packets)
    assert len(segments) == 3
    for before, after in itertools.pairwise(segments):
        assert after.start_wallclock == pytest.approx(before.end_wallclock, abs=0.001)


def test_a_drifting_camera_clock_is_re_anchored(tmp_path: Path) -> None:
    """A source whose frames' wall clock runs 30 % fast: each segment anchors afresh."""
    packets = [
        dataclasses.replace(p, wallclock=CLIP_EPOCH + (p.dts / TIMESCALE) * 1.3)
        for p in clip_packets()
    ]
    segments = record(tmp_path, packets)
    for segment in segments:
        first = next(p for p in packets if p.dts == segment.start_dts)
        assert segment.start_wallclock == pytest.approx(first.wallclock, abs=0.001)
