"""Controlled playback's pure rules: pacing, keyframes-only speeds, choosing frames, gaps, and
the commands a client sends."""

from __future__ import annotations

from pathlib import Path

import pytest

from camgate.core.errors import CamgateError
from camgate.media.packet import TIMESCALE, StreamConfig
from camgate.media.player import (
    LATE_S,
    Frame,
    Pace,
    Piece,
    arrange,
    frame_after,
    frame_at,
    frame_before,
    gop_index,
    hole,
    keyframes_only,
)
from camgate.media.segment import ClosedSegment, KeyframeEntry
from camgate.recording.playback_ws import Pause, Play, Seek, Step, parse_command, start_time

CONFIG = StreamConfig("h264", 640, 360, b"")
INTERVAL = 1 / 30


def segment(start: float, seconds: float, gop_s: float = 1.0) -> ClosedSegment:
    ticks = round(seconds * TIMESCALE)
    gop = round(gop_s * TIMESCALE)
    keyframes = tuple(KeyframeEntry(dts, 0, 0, 0) for dts in range(0, ticks, gop))
    end = start + seconds
    return ClosedSegment(Path(f"{start}.mp4"), CONFIG, 0, ticks, start, end, 0, keyframes)


def frames(count: int, gop: int = 30, start: float = 100.0) -> list[Frame]:
    """``count`` frames at 30 fps, a keyframe every ``gop``."""
    owner = segment(start, count * INTERVAL)
    return [
        Frame(owner, n // gop, n * 3000, n * 3000, 0, 0, n % gop == 0, start + n / 30, INTERVAL)
        for n in range(count)
    ]


def test_frames_are_due_at_their_capture_times_divided_by_the_speed() -> None:
    pace = Pace(clock=50.0, time=1000.0, speed=1.0)
    assert [pace.due(1000.0 + n * INTERVAL) for n in range(3)] == pytest.approx(
        [50.0, 50.0 + INTERVAL, 50.0 + 2 * INTERVAL]
    )
    fast = Pace(clock=50.0, time=1000.0, speed=8.0)
    assert fast.due(1004.0) == pytest.approx(50.5)
    assert fast.position(51.0) == pytest.approx(1008.0)
    slow = Pace(clock=50.0, time=1000.0, speed=0.25)
    assert slow.due(1001.0) == pytest.approx(54.0)


def test_a_frame_too_late_is_skipped_not_shown_late() -> None:
    pace = Pace(clock=0.0, time=1000.0, speed=2.0)
    assert not pace.late(1001.0, now=0.5 + LATE_S)  # due at 0.5: exactly the slack late
    assert pace.late(1001.0, now=0.5 + LATE_S + 0.01)


def test_only_keyframes_above_four_times() -> None:
    assert not keyframes_only(0.25)
    assert not keyframes_only(4.0)
    assert keyframes_only(4.5)
    assert keyframes_only(16.0)


def test_the_frame_at_a_time_is_the_last_captured_at_or_before_it() -> None:
    gop = frames(30)
    assert frame_at(gop, gop[5].time) is gop[5]
    assert frame_at(gop, gop[5].time + INTERVAL / 2) is gop[5]
    assert frame_at(gop, gop[0].time - 0.001) is None
    assert frame_at(gop, gop[29].time + 10) is gop[29]


def test_keyframes_only_selection() -> None:
    gop = frames(60)
    assert frame_after(gop, gop[0].time, keyframes_only=True) is gop[30]
    assert frame_after(gop, gop[30].time, keyframes_only=True) is None
    assert frame_at(gop, gop[45].time, keyframes_only=True) is gop[30]
    assert frame_after(gop, gop[0].time) is gop[1]


def test_the_previous_frame_is_the_last_before() -> None:
    gop = frames(30)
    assert frame_before(gop, gop[10].time) is gop[9]
    assert frame_before(gop, gop[0].time) is None
    assert frame_before(gop, gop[10].time + INTERVAL / 2) is gop[10]


def test_overlapping_segments_the_earlier_wins() -> None:
    first, overlapping, inside, later = (
        segment(100, 60),
        segment(150, 60),
        segment(170, 10),
        segment(300, 60),
    )
    pieces = arrange([first, overlapping, inside, later])
    assert pieces == [Piece(first, 100), Piece(overlapping, 160), Piece(later, 300)]
    assert pieces[1].shows(160) and not pieces[1].shows(155)
    assert pieces[1].shows(160 - 0.001)  # a run's segments meet within a millisecond


def test_holes_longer_than_the_tolerance_are_gaps() -> None:
    pieces = arrange([segment(100, 60), segment(160.3, 60), segment(300, 60)])
    assert hole(pieces, 110, 200, 1.0) is None  # 0.3 s between segments of a run: no gap
    assert hole(pieces, 210, 305, 1.0) == (220.3, 300)
    assert hole(pieces, 30, 110, 1.0) == (30, 100)
    assert hole(pieces, 350, 400, 1.0) == (360, 400)


def test_the_gop_of_a_time() -> None:
    owner = segment(100, 10, gop_s=2)
    assert gop_index(owner, 100) == 0
    assert gop_index(owner, 103.99) == 1
    assert gop_index(owner, 104) == 2
    assert gop_index(owner, 99) == 0
    assert gop_index(owner, 200) == 4


def test_commands() -> None:
    assert parse_command('{"type":"play","speed":8}') == Play(type="play", speed=8)
    assert parse_command('{"type":"play"}') == Play(type="play")
    assert parse_command('{"type":"pause"}') == Pause(type="pause")
    assert isinstance(parse_command('{"type":"seek","time":"2026-12-02T16:00:00Z"}'), Seek)
    assert parse_command('{"type":"step","frames":-1}') == Step(type="step", frames=-1)
    for bad, words in [
        ('{"type":"play","speed":32}', "speed"),
        ('{"type":"step","frames":2}', "frames"),
        ('{"type":"seek","time":"2026-12-02T16:00:00"}', "time"),
        ('{"type":"rewind"}', "rewind"),
        ("not json", "JSON"),
    ]:
        detail = parse_command(bad)
        assert isinstance(detail, str) and words in detail, detail


def test_start_is_required_with_a_time_zone() -> None:
    assert start_time("2026-12-02T16:00:00Z") == 1796227200.0
    assert start_time("2026-12-02T17:00:00+01:00") == 1796227200.0
    for bad in (None, "2026-12-02T16:00:00", "yesterday"):
        with pytest.raises(CamgateError):
            start_time(bad)
