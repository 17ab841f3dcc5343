"""The protocol's times, and GetSequences' reading of the timeline: counted on either side,
read a chunk at a time and no further than the counts need, joined across chunks and cameras."""

from __future__ import annotations

import asyncio
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from typing import cast

import pytest

from camgate.api.deps import Services
from camgate.media.recording_rules import Interval
from camgate.protocols.xpmobile import recordings
from camgate.protocols.xpmobile.errors import CommandError, ErrorCode
from camgate.protocols.xpmobile.messages import Block, Reply, render_response
from camgate.protocols.xpmobile.recordings import CHUNK_S, counted, stretches
from camgate.protocols.xpmobile.times import LATEST_MS, parse_time, render_time
from camgate.recording.service import Timeline

T0 = 1_700_000_000.0


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("1700000000000", T0), (" 1700000000123 ", T0 + 0.123), ("1700000000000.5", T0 + 0.0005)],
)
def test_times_are_milliseconds_since_1970(text: str, seconds: float) -> None:
    assert parse_time(text, "Time") == pytest.approx(seconds, abs=1e-6)


@pytest.mark.parametrize(
    "text", ["", "now", "-1", "nan", "inf", "1e300", str(LATEST_MS + 1), "2024-01-01T00:00:00Z"]
)
def test_what_is_no_time_is_refused(text: str) -> None:
    with pytest.raises(CommandError) as refused:
        parse_time(text, "StartTime")
    assert refused.value.code is ErrorCode.WRONG_INPUT_PARAMETER
    assert "StartTime" in refused.value.text


def test_answered_times_are_cut_to_the_millisecond() -> None:
    assert render_time(T0 + 0.1239) == "1700000000123"
    assert render_time(0.0) == "0"
    for t in (T0 + 0.0001, T0 + 0.0339, T0 + 0.9999):
        # Asked for again, a time answered is never after the moment it named.
        back = parse_time(render_time(t), "Time")
        assert back <= t < back + 0.001


def _intervals(*pairs: tuple[float, float]) -> list[Interval]:
    return [Interval(T0 + a, T0 + b) for a, b in pairs]


def test_counted_keeps_the_stretches_nearest_the_start_of_the_reading() -> None:
    found = _intervals((0, 1), (2, 3), (4, 5))
    assert counted(found, 2, forward=True) == found[:2]
    assert counted(found, 2, forward=False) == found[1:]
    assert counted(found, 5, forward=False) == found
    assert counted(found, 0, forward=True) == []


@dataclass
class FakeRecordings:
    """The recording service's timeline over fixed recorded stretches per camera."""

    recorded: dict[str, list[Interval]]
    asked: list[tuple[float, float]] = field(default_factory=list)

    async def timeline(self, camera_id: str, start: float, end: float) -> Timeline:
        assert end > start
        self.asked.append((start, end))
        clipped = [
            Interval(max(start, i.start), min(end, i.end))
            for i in self.recorded.get(camera_id, [])
            if i.end > start and i.start < end
        ]
        return Timeline(camera_id, None, clipped)


@dataclass
class FakeServices:
    recordings: FakeRecordings


def _read(
    recorded: dict[str, list[Interval]],
    span: tuple[float, float],
    count: int,
    *,
    forward: bool,
    tolerance: float = 1.0,
) -> tuple[list[Interval], FakeRecordings]:
    fake = FakeRecordings(recorded)
    svc = cast(Services, FakeServices(fake))
    span = (T0 + span[0], T0 + span[1])
    found = asyncio.run(stretches(svc, list(recorded), span, count, tolerance, forward=forward))
    return found, fake


DAY = 86400.0
#: Three recordings, the middle one running across a chunk boundary.
RUNS = _intervals((100, 200), (CHUNK_S - 50, CHUNK_S + 50), (3 * CHUNK_S, 3 * CHUNK_S + 10))


def test_reading_forward_stops_once_the_count_is_certain() -> None:
    found, fake = _read({"a": RUNS}, (0, 30 * DAY), 1, forward=True)
    # The second run starts in the first chunk: the first is complete, nothing more is read.
    assert found == RUNS[:1]
    assert len(fake.asked) == 1
    found, fake = _read({"a": RUNS}, (0, 30 * DAY), 2, forward=True)
    # The second run crosses into the second chunk and is read whole, joined across it.
    assert found == RUNS[:2]
    assert [round(b - a) for a, b in fake.asked] == [CHUNK_S] * 4


def test_reading_backward_counts_from_the_end() -> None:
    found, fake = _read({"a": RUNS}, (0, 3 * CHUNK_S + 5), 1, forward=False)
    # Cut to the span read.
    assert found == [Interval(RUNS[2].start, T0 + 3 * CHUNK_S + 5)]
    found, _ = _read({"a": RUNS}, (0, 3 * CHUNK_S + 5), 2, forward=False)
    assert found == [RUNS[1], Interval(RUNS[2].start, T0 + 3 * CHUNK_S + 5)]
    found, fake = _read({"a": RUNS}, (150, 4 * CHUNK_S), 10, forward=False)
    assert found == [Interval(T0 + 150, RUNS[0].end), *RUNS[1:]]
    assert fake.asked[-1][0] == T0 + 150  # read down to the span's start, no further


def test_cameras_are_read_together_and_near_gaps_joined() -> None:
    recorded = {"a": _intervals((0, 10), (40, 50)), "b": _intervals((8, 20), (21.5, 30))}
    found, _ = _read(recorded, (0, DAY), 100, forward=True)
    assert found == _intervals((0, 20), (21.5, 30), (40, 50))
    found, _ = _read(recorded, (0, DAY), 100, forward=True, tolerance=10)
    assert found == _intervals((0, 50))


def test_nothing_is_read_for_no_count_or_an_empty_span() -> None:
    for span, count in (((0, DAY), 0), ((10, 10), 5), ((10, 5), 5)):
        found, fake = _read({"a": RUNS}, span, count, forward=True)
        assert found == [] and fake.asked == []


def test_sequences_render_as_the_library_reads_them() -> None:
    rows = tuple(
        Block("Sequence", (("StartTime", "1000"), ("EndTime", "2000"), ("TimeStamp", "1000")))
        for _ in range(2)
    )
    body = render_response(
        "GetSequences", 3, None, Reply(blocks=(Block("Sequences", children=rows),))
    )
    command = ET.fromstring(body.split(b"\r\n\r\n")[0]).find("Command")
    assert command is not None
    entries = command.findall("Sequences/Sequence")
    assert [e.attrib for e in entries] == [
        {"StartTime": "1000", "EndTime": "2000", "TimeStamp": "1000"}
    ] * 2
    empty = render_response("GetSequences", 4, None, Reply(blocks=(Block("Sequences"),)))
    assert b"<Sequences />" in empty
    assert set(recordings.COMMANDS) == {"GetSequences", "GetRecordingTime", "GetThumbnailByTime"}
