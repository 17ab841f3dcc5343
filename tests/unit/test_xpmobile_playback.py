"""The pure rules of playback over the XProtect Mobile protocol: the speed a client asks for,
the seek types each command takes, the PlaybackEvents bits, and the pacing schedule backward."""

from __future__ import annotations

from typing import Any, cast

import pytest

from camgate.media.player import LATE_S, Pace
from camgate.protocols.xpmobile.call import Call
from camgate.protocols.xpmobile.connections import ConnectionTable
from camgate.protocols.xpmobile.errors import CommandError, ErrorCode
from camgate.protocols.xpmobile.frames import PlaybackEvent, motion
from camgate.protocols.xpmobile.messages import Message
from camgate.protocols.xpmobile.stream_options import bounded_speed, seek_type
from camgate.protocols.xpmobile.streams import StreamTable
from camgate.recording.pacing import Conductor


def _call(**params: str) -> Call:
    message = Message("ChangeStream", 1, None, {name: (value,) for name, value in params.items()})
    return Call(cast(Any, None), ConnectionTable(), StreamTable(), message, "127.0.0.1", "")


@pytest.mark.parametrize(
    ("text", "speed"),
    [
        ("1", 1.0),
        ("1.0", 1.0),
        ("-1", -1.0),
        ("0", 0.0),
        ("-0", 0.0),
        (" 2 ", 2.0),
        ("0.5", 0.5),
        ("32", 16.0),  # beyond camgate's fastest: the fastest
        ("-100", -16.0),
        ("0.1", 0.25),  # slower than camgate's slowest: the slowest
        ("-0.01", -0.25),
    ],
)
def test_speeds_are_bounded_to_what_camgate_plays(text: str, speed: float) -> None:
    assert bounded_speed(text) == speed


@pytest.mark.parametrize("text", ["fast", "", "nan", "inf", "-inf", "1/2"])
def test_a_speed_that_is_no_number_is_refused(text: str) -> None:
    with pytest.raises(CommandError) as refused:
        bounded_speed(text)
    assert refused.value.code is ErrorCode.WRONG_INPUT_PARAMETER


def test_the_motion_events_say_how_playback_moves() -> None:
    assert motion(False, 1.0) is PlaybackEvent.STOPPED
    assert motion(False, -4.0) is PlaybackEvent.STOPPED
    assert motion(True, 0.25) is PlaybackEvent.FORWARD
    assert motion(True, -16.0) is PlaybackEvent.BACKWARD


def test_the_playback_events_are_the_protocols_bits() -> None:
    # The protocol notes §3 (PlaybackEvents), as the reference library's header parser reads them.
    assert {event.name: event.value for event in PlaybackEvent} == {
        "STOPPED": 0x01,
        "FORWARD": 0x02,
        "BACKWARD": 0x04,
        "DATABASE_START": 0x10,
        "DATABASE_END": 0x20,
        "DATABASE_ERROR": 0x40,
        "RANGE_NO_DATA": 0x100,
        "OUT_OF_RANGE": 0x200,
    }


def test_seek_types() -> None:
    assert seek_type(_call(), relative=True) is None
    # A Time alone seeks to it (as the library's RequestStream sends both, SeekType=Time).
    assert seek_type(_call(Time="1000"), relative=False) == "Time"
    assert seek_type(_call(SeekType="nextseq"), relative=True) == "NextSeq"
    assert seek_type(_call(SeekType="DbEnd"), relative=False) == "DbEnd"
    for kind in ("TimeOrBefore", "TimeOrAfter", "TimeBefore", "TimeAfter"):
        assert seek_type(_call(SeekType=kind, Time="1"), relative=False) == kind
    # Where a new stream would start from: there is no "where it is" yet.
    for kind in ("PrevSeq", "NextSeq", "PrevFrame", "NextFrame", "Sideways"):
        with pytest.raises(CommandError) as refused:
            seek_type(_call(SeekType=kind), relative=False)
        assert refused.value.code is ErrorCode.WRONG_INPUT_PARAMETER


def test_the_pace_runs_backward_too() -> None:
    pace = Pace(clock=10.0, time=100.0, speed=-2.0)
    assert pace.due(98.0) == 11.0  # two seconds earlier, one second later at 2×
    assert pace.position(12.0) == 96.0
    assert not pace.late(98.0, 11.0 + LATE_S)
    assert pace.late(98.0, 11.0 + LATE_S + 0.01)


def test_a_conductor_is_one_clock_for_several_players() -> None:
    conductor = Conductor(100.0, 5000.0)
    assert not conductor.playing and conductor.position(160.0) == 5000.0  # paused: still
    conductor.play(2.0, now=110.0)
    assert conductor.position(113.0) == 5006.0
    assert conductor.pace.due(5010.0) == 115.0  # what its players pace their frames by
    conductor.pause(now=114.0)
    assert conductor.position(200.0) == 5008.0
    conductor.seek(4000.0, now=200.0)
    assert conductor.position(300.0) == 4000.0
    conductor.play(-1.0, now=300.0)
    assert conductor.position(301.5) == 3998.5
