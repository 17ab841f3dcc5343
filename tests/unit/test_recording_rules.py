"""Recording rules and segment files with fake packets: intervals, keyframe seeking, retention,
the writer's rotation and durability order, scanning truncated and garbage files (ADR 0009)."""

from __future__ import annotations

import dataclasses
import itertools
import os
import tempfile
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from camgate.media import fmp4
from camgate.media.packet import TIMESCALE, MediaPacket, StreamConfig
from camgate.media.recording_rules import (
    SECONDS_PER_DAY,
    HeldRange,
    Interval,
    RetentionLimits,
    StoredSegment,
    held_by,
    keyframe_at_or_before,
    merge_intervals,
    segments_to_delete,
)
from camgate.media.segment import (
    ClosedSegment,
    KeyframeEntry,
    SegmentFiles,
    SegmentWriter,
    decode_keyframes,
    encode_keyframes,
    salvage,
    scan_segment,
    start_wallclock_of,
)

FRAME = 3000
EPOCH = 1_735_689_600.0  # 2025-01-01T00:00:00Z
CONFIG = StreamConfig(
    "h264", 640, 360, bytes.fromhex("0164001effe1000467640028010004" + "68ef3c80")
)
OTHER_CONFIG = dataclasses.replace(CONFIG, width=1280, height=720)


# --- intervals and keyframes -----------------------------------------------------------------


def test_merge_joins_within_tolerance_only() -> None:
    intervals = [Interval(10, 20), Interval(0, 5), Interval(20.5, 30), Interval(32, 40)]
    assert merge_intervals(intervals, tolerance=1) == [
        Interval(0, 5),
        Interval(10, 30),
        Interval(32, 40),
    ]
    assert merge_intervals(intervals, tolerance=2) == [Interval(0, 5), Interval(10, 40)]
    assert merge_intervals([Interval(0, 10), Interval(2, 3)], tolerance=0) == [Interval(0, 10)]
    assert merge_intervals([], tolerance=1) == []


intervals_st = st.lists(
    st.tuples(st.integers(0, 1000), st.integers(0, 100)).map(lambda t: Interval(t[0], t[0] + t[1]))
)


@given(intervals_st, st.integers(0, 20))
def test_merged_intervals_cover_the_inputs_and_stay_apart(
    intervals: list[Interval], tolerance: int
) -> None:
    merged = merge_intervals(intervals, tolerance)
    for before, after in itertools.pairwise(merged):
        assert after.start - before.end > tolerance
    for interval in intervals:
        assert any(m.start <= interval.start and interval.end <= m.end for m in merged)
    # Every merged interval starts and ends where some input does: nothing is invented.
    assert {m.start for m in merged} <= {i.start for i in intervals}
    assert {m.end for m in merged} <= {i.end for i in intervals}


def test_keyframe_at_or_before() -> None:
    times = [0, 90_000, 180_000]
    assert keyframe_at_or_before(times, -1) is None
    assert keyframe_at_or_before(times, 0) == 0
    assert keyframe_at_or_before(times, 89_999) == 0
    assert keyframe_at_or_before(times, 90_000) == 1
    assert keyframe_at_or_before(times, 10**9) == 2
    assert keyframe_at_or_before([], 5) is None


@given(st.lists(st.integers(0, 10**6), unique=True).map(sorted), st.integers(-10, 10**6 + 10))
def test_keyframe_at_or_before_is_the_last_not_after(times: list[int], time: int) -> None:
    expected = max((i for i, t in enumerate(times) if t <= time), default=None)
    assert keyframe_at_or_before(times, time) == expected


# --- retention -------------------------------------------------------------------------------

NOW = EPOCH + 30 * SECONDS_PER_DAY
DAY = SECONDS_PER_DAY


def seg(
    id: int, camera: str = "a", day: float = 0, size: int = 100, held: bool = False
) -> StoredSegment:
    start = NOW - day * DAY
    return StoredSegment(id, camera, start, start + 60, size, held)


def ids(segments: list[StoredSegment]) -> list[int]:
    return [s.id for s in segments]


def test_retention_deletes_what_is_older_than_the_max_age() -> None:
    segments = [seg(1, day=10), seg(2, day=8), seg(3, day=6.9), seg(4, day=9, held=True)]
    limits = {"a": RetentionLimits(max_age_days=7)}
    assert ids(segments_to_delete(segments, limits, NOW)) == [1, 2]


def test_retention_deletes_the_oldest_until_within_max_bytes() -> None:
    segments = [seg(i, day=10 - i) for i in range(1, 6)]  # 500 bytes, id 1 oldest
    assert ids(segments_to_delete(segments, {"a": RetentionLimits(max_bytes=250)}, NOW)) == [
        1,
        2,
        3,
    ]
    assert segments_to_delete(segments, {"a": RetentionLimits(max_bytes=500)}, NOW) == []


def test_held_segments_count_toward_usage_but_stay() -> None:
    segments = [seg(1, day=5, held=True), seg(2, day=4), seg(3, day=3), seg(4, day=2)]
    limits = {"a": RetentionLimits(max_bytes=200)}
    assert ids(segments_to_delete(segments, limits, NOW)) == [2, 3]


def test_limits_apply_per_camera() -> None:
    segments = [seg(1, "a", day=3), seg(2, "b", day=4), seg(3, "a", day=1), seg(4, "b", day=2)]
    limits = {"a": RetentionLimits(max_bytes=100), "b": RetentionLimits(max_age_days=3)}
    assert ids(segments_to_delete(segments, limits, NOW)) == [2, 1]


def test_disk_pressure_takes_the_oldest_of_all_cameras() -> None:
    segments = [seg(1, "a", day=3), seg(2, "b", day=4, held=True), seg(3, "b", day=2)]
    segments += [seg(4, "a", day=1)]
    assert ids(segments_to_delete(segments, {}, NOW, bytes_to_free=150)) == [1, 3]
    # What the limits already free counts toward the pressure.
    limits = {"a": RetentionLimits(max_age_days=2)}
    assert ids(segments_to_delete(segments, limits, NOW, bytes_to_free=150)) == [1, 3]
    assert ids(segments_to_delete(segments, limits, NOW, bytes_to_free=50)) == [1]
    # Everything unheld, and no more, when the pressure cannot be met.
    assert ids(segments_to_delete(segments, {}, NOW, bytes_to_free=10**9)) == [1, 3, 4]


stored_st = st.lists(
    st.tuples(st.sampled_from("abc"), st.integers(0, 40), st.integers(1, 500), st.booleans()),
    max_size=25,
).map(lambda rows: [seg(i, c, d, n, h) for i, (c, d, n, h) in enumerate(rows)])
limits_st = st.dictionaries(
    st.sampled_from("abc"),
    st.builds(
        RetentionLimits,
        st.none() | st.integers(0, 40).map(float),
        st.none() | st.integers(0, 3000),
    ),
)


@given(stored_st, limits_st, st.integers(0, 5000))
def test_retention_invariants(
    segments: list[StoredSegment], limits: dict[str, RetentionLimits], pressure: int
) -> None:
    doomed = segments_to_delete(segments, limits, NOW, pressure)
    doomed_ids = set(ids(doomed))
    kept = [s for s in segments if s.id not in doomed_ids]
    assert len(doomed_ids) == len(doomed) and not any(s.held for s in doomed)
    assert doomed == sorted(doomed, key=lambda s: (s.start, s.id))  # oldest first
    for camera, limit in limits.items():
        own_kept = [s for s in kept if s.camera_id == camera]
        if limit.max_age_days is not None:
            cutoff = NOW - limit.max_age_days * DAY
            assert all(s.held or s.end >= cutoff for s in own_kept)
        if limit.max_bytes is not None and sum(s.size for s in own_kept) > limit.max_bytes:
            assert all(s.held for s in own_kept)  # nothing deletable is left
    freed = sum(s.size for s in doomed)
    assert freed >= pressure or all(s.held for s in kept)
    for camera in "abc":
        # Per camera, what goes (besides the too old) is its oldest unheld segments.
        limit = limits.get(camera, RetentionLimits())
        young = [s for s in segments if s.camera_id == camera and not s.held]
        young = [s for s in young if not _too_old(s, limit)]
        young.sort(key=lambda s: (s.start, s.id))
        flags = [s.id in doomed_ids for s in young]
        assert flags == sorted(flags, reverse=True)
    # Nothing more than needed: keeping the newest victim that was not too old would break
    # its camera's max bytes or leave the pressure unmet.
    chosen = [s for s in doomed if not _too_old(s, limits.get(s.camera_id, RetentionLimits()))]
    if chosen:
        newest = chosen[-1]
        max_bytes = limits.get(newest.camera_id, RetentionLimits()).max_bytes
        usage = sum(s.size for s in kept if s.camera_id == newest.camera_id) + newest.size
        assert (max_bytes is not None and usage > max_bytes) or freed - newest.size < pressure


def _too_old(segment: StoredSegment, limit: RetentionLimits) -> bool:
    return limit.max_age_days is not None and segment.end < NOW - limit.max_age_days * DAY


# --- keyframe offsets ------------------------------------------------------------------------


def test_keyframe_offsets_round_trip_compactly() -> None:
    entries = [KeyframeEntry(2**40, 1234, 56789, 30), KeyframeEntry(2**40 + 90_000, 58023, 4, 1)]
    data = encode_keyframes(entries)
    assert len(data) == 1 + 24 * 2
    assert decode_keyframes(data) == tuple(entries)
    assert decode_keyframes(encode_keyframes([])) == ()
    for broken in (b"", b"\x02", data[:-1]):
        with pytest.raises(ValueError):
            decode_keyframes(broken)


# --- the writer, with fake packets -----------------------------------------------------------


def packet(
    index: int,
    keyframe: bool,
    *,
    dts: int | None = None,
    config: StreamConfig = CONFIG,
    size: int = 50,
) -> MediaPacket:
    dts = index * FRAME if dts is None else dts
    data = (size - 4).to_bytes(4, "big") + bytes([index % 256]) * (size - 4)
    return MediaPacket(data, dts, dts, FRAME, keyframe, EPOCH + dts / TIMESCALE, config)


def stream(frames: int, gop: int = 30, start: int = 0) -> list[MediaPacket]:
    return [packet(i, i % gop == 0) for i in range(start, start + frames)]


def write_all(writer: SegmentWriter, packets: list[MediaPacket]) -> list[ClosedSegment]:
    closed = [segment for p in packets for segment in writer.append(p)]
    last = writer.close()
    return [*closed, last] if last else closed


def test_segments_close_at_the_first_keyframe_after_the_duration(tmp_path: Path) -> None:
    writer = SegmentWriter(tmp_path, "cam", "main", segment_duration=2 * TIMESCALE + 1)
    closed = write_all(writer, stream(300))  # 10 s, a keyframe every second
    assert [(s.start_dts, s.end_dts) for s in closed] == [
        (0, 3 * TIMESCALE),
        (3 * TIMESCALE, 6 * TIMESCALE),
        (6 * TIMESCALE, 9 * TIMESCALE),
        (9 * TIMESCALE, 10 * TIMESCALE),
    ]
    first = closed[0]
    assert first.path == tmp_path / "cam" / "main" / "2025-01-01" / "1735689600000.mp4"
    assert [e.dts for e in first.keyframes] == [0, TIMESCALE, 2 * TIMESCALE]
    assert [e.samples for e in first.keyframes] == [30, 30, 30]
    assert (first.start_wallclock, first.end_wallclock) == (EPOCH, EPOCH + 3)
    assert first.size == first.path.stat().st_size
    assert not list(tmp_path.rglob("*.partial"))
    # The index entry is what the file alone says.
    for segment in closed:
        scan = scan_segment(segment.path)
        assert scan.closed(segment.path, start_wallclock_of(segment.path)) == segment
        assert scan.complete_size == scan.file_size == segment.size


def test_leading_packets_before_a_keyframe_are_dropped(tmp_path: Path) -> None:
    writer = SegmentWriter(tmp_path, "cam", "main")
    (segment,) = write_all(writer, stream(70)[5:])
    assert segment.start_dts == 30 * FRAME
    assert segment.sample_count == 40


def test_a_config_change_or_a_gap_closes_the_segment(tmp_path: Path) -> None:
    writer = SegmentWriter(tmp_path, "cam", "main")
    packets = stream(45)
    # A reconnect: the timeline jumps by 5 s and the new session starts mid-GOP.
    jump = 45 * FRAME + 5 * TIMESCALE
    packets += [packet(100 + i, i == 3, dts=jump + i * FRAME) for i in range(40)]
    changed = [dataclasses.replace(p, config=OTHER_CONFIG) for p in stream(20, gop=20, start=200)]
    packets += changed
    closed = write_all(writer, packets)
    assert [(s.start_dts, s.end_dts, s.sample_count) for s in closed] == [
        (0, 45 * FRAME, 45),  # the last sample before the gap keeps its own duration
        (jump + 3 * FRAME, jump + 40 * FRAME, 37),
        (200 * FRAME, 220 * FRAME, 20),
    ]
    assert [s.config for s in closed] == [CONFIG, CONFIG, OTHER_CONFIG]


def test_durations_come_from_decode_times(tmp_path: Path) -> None:
    """Jittery source durations must not make read-back decode times drift."""
    packets = [dataclasses.replace(p, duration=2999) for p in stream(60)]
    (segment,) = write_all(SegmentWriter(tmp_path, "cam", "main"), packets)
    fragments = scan_segment(segment.path).fragments
    assert [f.dts for f in fragments] == [0, 30 * FRAME]
    assert {s[0] for s in fragments[0].samples} == {FRAME}
    assert fragments[1].samples[-1][0] == 2999  # the last one has nothing after it


def test_a_huge_gop_is_written_in_capped_fragments(tmp_path: Path) -> None:
    writer = SegmentWriter(tmp_path, "cam", "main", max_fragment_samples=25)
    held = []
    for p in stream(100, gop=60):
        writer.append(p)
        held.append(writer.held_samples)
    assert max(held) == 25
    segment = writer.close()
    assert segment is not None
    assert [(e.dts, e.samples) for e in segment.keyframes] == [(0, 60), (60 * FRAME, 40)]
    fragments = scan_segment(segment.path).fragments
    assert [len(f.samples) for f in fragments] == [25, 25, 10, 25, 15]
    assert [f.keyframe for f in fragments] == [True, False, False, True, False]
    assert segment.keyframes[0].size == sum(f.size for f in fragments[:3])


def test_a_taken_name_gets_the_next_millisecond(tmp_path: Path) -> None:
    writer = SegmentWriter(tmp_path, "cam", "main")
    first = write_all(writer, stream(30))[0]
    again = write_all(writer, stream(30))[0]  # the same wall clock again
    assert (first.path.name, again.path.name) == ("1735689600000.mp4", "1735689600001.mp4")
    assert again.start_wallclock == EPOCH + 0.001


class RecordingFiles(SegmentFiles):
    """The real calls, logged, with the state of the files checked as they happen."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def write(self, fd: int, data: bytes) -> None:
        super().write(fd, data)
        self.calls.append("write")

    def fsync(self, fd: int) -> None:
        super().fsync(fd)
        self.calls.append("fsync")

    def close(self, fd: int) -> None:
        super().close(fd)
        self.calls.append("close")

    def rename(self, source: Path, target: Path) -> None:
        assert not target.exists()
        # The file about to appear as .mp4 is whole: scanning finds no incomplete tail.
        scan = scan_segment(source)
        assert scan.complete_size == scan.file_size
        super().rename(source, target)
        self.calls.append("rename")

    def fsync_dir(self, path: Path) -> None:
        super().fsync_dir(path)
        self.calls.append("fsync_dir")


def test_durability_order_and_the_fsync_interval(tmp_path: Path) -> None:
    files = RecordingFiles()
    now = [0.0]
    writer = SegmentWriter(
        tmp_path, "cam", "main", fsync_interval_s=5, files=files, clock=lambda: now[0]
    )
    for p in stream(150, gop=30):
        now[0] = p.dts / TIMESCALE
        writer.append(p)
        assert not list(tmp_path.rglob("*.mp4")), "no .mp4 exists before the close"
    writer.close()
    # make_dirs fsyncs the parents of 3 new directories; then the init and the partial's entry.
    assert files.calls[:5] == ["fsync_dir"] * 3 + ["write", "fsync_dir"]
    # A GOP per second (written when the next keyframe comes), none 5 s after the open.
    body = files.calls[5:]
    assert body == ["write"] * 4 + ["write", "fsync", "close", "rename", "fsync_dir"]
    writer = SegmentWriter(
        tmp_path, "cam", "main", fsync_interval_s=2, files=files, clock=lambda: now[0]
    )
    files.calls.clear()
    for p in stream(150, gop=30, start=1000):
        now[0] = p.dts / TIMESCALE
        writer.append(p)
    # Opened at 34 s (the first keyframe); GOPs written at 35..38 s: fsyncs at 36 and 38 s.
    assert files.calls == [
        "write",
        "fsync_dir",
        "write",
        "write",
        "fsync",
        "write",
        "write",
        "fsync",
    ]


# --- scanning and salvage --------------------------------------------------------------------


@pytest.fixture
def partial(tmp_path: Path) -> tuple[Path, list[int]]:
    """A closed segment of 4 GOPs renamed to .partial, and the end offset of each fragment."""
    (segment,) = write_all(SegmentWriter(tmp_path, "cam", "main"), stream(100, gop=25))
    path = segment.path.with_name(segment.path.name + ".partial")
    os.rename(segment.path, path)
    ends = [e.offset + e.size for e in segment.keyframes]
    return path, ends


def test_scan_finds_every_complete_fragment_of_a_truncated_file(
    partial: tuple[Path, list[int]],
) -> None:
    path, ends = partial
    data = path.read_bytes()
    init_size = len(fmp4.init_segment(CONFIG))
    cuts = sorted({*range(0, len(data), 97), *ends, *(e - 1 for e in ends), *(e + 3 for e in ends)})
    for cut in (c for c in cuts if c <= len(data)):
        path.write_bytes(data[:cut])
        if cut < init_size:
            with pytest.raises(ValueError):
                scan_segment(path)
            continue
        scan = scan_segment(path)
        complete = max((end for end in ends if end <= cut), default=init_size)
        assert (scan.complete_size, scan.file_size) == (complete, cut)
        assert len(scan.fragments) == sum(1 for end in ends if end <= cut)


@given(st.binary(min_size=1, max_size=64))
def test_scan_stops_at_garbage(garbage: bytes) -> None:
    # A fresh folder per example: hypothesis does not reset function fixtures.
    with tempfile.TemporaryDirectory() as folder:
        (segment,) = write_all(SegmentWriter(Path(folder), "c", "s"), stream(50, gop=25))
        whole = segment.path.read_bytes()
        segment.path.write_bytes(whole + garbage)
        scan = scan_segment(segment.path)
        assert scan.complete_size == len(whole)
        assert len(scan.fragments) == 2


def test_a_file_that_is_no_segment_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "1.mp4"
    for data in (b"", b"\x00\x00\x00\x10ftypisom", fmp4.init_segment(CONFIG)[:-5], b"x" * 100):
        path.write_bytes(data)
        with pytest.raises(ValueError):
            scan_segment(path)


def test_salvage_truncates_renames_and_indexes(partial: tuple[Path, list[int]]) -> None:
    path, ends = partial
    data = path.read_bytes()
    path.write_bytes(data[: ends[2] + 10])  # the fourth GOP was being written
    segment = salvage(path)
    assert segment is not None
    final = path.with_name(path.name.removesuffix(".partial"))
    assert not path.exists() and segment.path == final
    assert final.read_bytes() == data[: ends[2]]
    assert (segment.start_dts, segment.end_dts, segment.size) == (0, 75 * FRAME, ends[2])
    assert segment.start_wallclock == EPOCH
    assert len(segment.keyframes) == 3


def test_salvage_drops_a_partial_without_a_whole_gop(partial: tuple[Path, list[int]]) -> None:
    path, ends = partial
    path.write_bytes(path.read_bytes()[: ends[0] - 1])
    assert salvage(path) is None
    assert not path.exists()
    path.write_bytes(b"\x00" * 10)  # not even an init
    assert salvage(path) is None
    assert not list(path.parent.iterdir())


def test_a_held_range_holds_the_segments_of_its_camera_that_it_touches() -> None:
    segments = [seg(1, "a", day=1), seg(2, "a", day=2), seg(3, "b", day=1)]
    one = segments[0]
    assert held_by(segments, [HeldRange("a", one.start + 10, one.start + 20)]) == {1}
    # Touching is not overlapping: a range ending where a segment starts does not hold it.
    assert held_by(segments, [HeldRange("a", one.start - 10, one.start)]) == set()
    assert held_by(segments, [HeldRange("a", NOW - 3 * DAY, NOW)]) == {1, 2}
    assert held_by(segments, []) == set()
