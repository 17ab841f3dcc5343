"""The video channel's frame writer, round-tripped through a parser written from the protocol
notes (tests/support/xpmobile_video.py), and the LiveEvents bits a live stream reports."""

from __future__ import annotations

import math
import struct
import uuid
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any, cast

import pytest

from camgate.live.service import LiveTarget
from camgate.media.hub import StreamStatus
from camgate.protocols.xpmobile.frames import (
    MAIN_HEADER_SIZE,
    ByteOrder,
    Events,
    Frame,
    LiveEvent,
    SizeInfo,
    StreamInfo,
    encode,
)
from camgate.protocols.xpmobile.live import LiveStream, live_events
from camgate.protocols.xpmobile.stream_options import Picture
from camgate.recording.models import RecorderState, RecorderStatus
from tests.support.clock import FakeClock
from tests.support.xpmobile_video import parse, parse_all

VIDEO_ID = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"


def test_a_bare_frame_is_the_main_header_and_the_payload() -> None:
    data = encode(Frame(VIDEO_ID, 1_700_000_000_123, 7, b"\xff\xd8jpeg\xff\xd9"))
    assert len(data) == MAIN_HEADER_SIZE + 8
    # The GUID in .NET layout: the first three groups little-endian.
    assert data[:16] == uuid.UUID(VIDEO_ID).bytes_le
    assert data[:4] == bytes.fromhex("3c2d1e0f")
    parsed = parse(data)
    assert parsed.video_id == VIDEO_ID
    assert (parsed.timestamp_ms, parsed.number, parsed.header_size, parsed.flags) == (
        1_700_000_000_123,
        7,
        36,
        0,
    )
    assert parsed.payload == b"\xff\xd8jpeg\xff\xd9"


def test_extensions_follow_in_flag_order_and_count_in_the_header_size() -> None:
    frame = Frame(
        VIDEO_ID,
        5,
        1,
        b"x" * 3,
        size=SizeInfo(1920, 1080, (0, 0, 1920, 1080), 640, 360, 3_000_000),
        live_events=Events(LiveEvent.LIVE_FEED, LiveEvent.LIVE_FEED),
        stream_info=StreamInfo("JPEG", key_frame=True),
    )
    data = encode(frame)
    parsed = parse(data)
    assert parsed.header_size == 36 + 48 + 8 + 52
    assert parsed.flags == 0x01 | 0x02 | 0x40
    assert parsed.size is not None
    assert parsed.size.source == (1920, 1080)
    assert parsed.size.crop == (0, 0, 1920, 1080)
    assert parsed.size.dest == (640, 360)
    assert parsed.size.resampling == 3_000_000
    assert parsed.live == (1, 1)
    assert parsed.info is not None
    assert (parsed.info.data_type, parsed.info.key_frame, parsed.info.header_size) == (
        "JPEG",
        True,
        52,
    )
    assert parsed.payload == b"xxx"
    # The FourCC's bytes are reversed on the wire (the library reads them backwards).
    stream_info_at = 36 + 48 + 8
    assert data[stream_info_at + 20 : stream_info_at + 24] == b"GEPJ"


def test_stream_info_carries_the_codec_and_the_key_frame_flag() -> None:
    info = StreamInfo(
        "H264",
        key_frame=False,
        frame_count=3,
        time_between_frames_ms=33,
        profile=100,
        level=40,
        compatibility=0,
    )
    parsed = parse(encode(Frame(VIDEO_ID, 0, 9, b"moofmdat", stream_info=info)))
    assert parsed.info is not None
    assert parsed.info.data_type == "H264" and not parsed.info.key_frame
    assert (parsed.info.profile, parsed.info.level, parsed.info.frame_count) == (100, 40, 3)
    assert parsed.info.time_between_frames == 33
    assert parsed.info.version == 1


def test_an_events_only_frame_has_no_payload() -> None:
    lost = LiveEvent.CAMERA_CONNECTION_LOST
    data = encode(Frame(VIDEO_ID, 0, 2, live_events=Events(lost, lost | LiveEvent.LIVE_FEED)))
    parsed = parse(data)
    assert parsed.payload == b"" and struct.unpack_from("<I", data, 28) == (0,)
    assert parsed.live == (0x10, 0x11)
    assert parsed.flags == 0x02


def test_playback_events_have_their_own_flag_after_the_live_ones() -> None:
    frame = Frame(VIDEO_ID, 0, 1, live_events=Events(1, 0), playback_events=Events(0x22, 0x02))
    parsed = parse(encode(frame))
    assert parsed.flags == 0x06
    assert (parsed.live, parsed.playback) == ((1, 0), (0x22, 0x02))


def test_network_byte_order_writes_big_endian_and_the_guid_as_written() -> None:
    frame = Frame(
        VIDEO_ID,
        0x0102030405,
        258,
        b"abc",
        size=SizeInfo(640, 480, (10, 20, 330, 260), 320, 240),
        stream_info=StreamInfo("H265", key_frame=True),
    )
    data = encode(frame, ByteOrder.NETWORK)
    assert data[:16] == uuid.UUID(VIDEO_ID).bytes
    assert data[24:28] == (258).to_bytes(4, "big")
    parsed = parse(data, little_endian=False)
    assert parsed.video_id == VIDEO_ID and parsed.timestamp_ms == 0x0102030405
    assert parsed.size is not None and parsed.size.crop == (10, 20, 330, 260)
    assert parsed.info is not None and parsed.info.data_type == "H265"
    assert parsed.payload == b"abc"


def test_frames_back_to_back_split_by_their_header_sizes() -> None:
    first = encode(Frame(VIDEO_ID, 1, 1, b"a" * 100, live_events=Events(1, 1)))
    second = encode(Frame(VIDEO_ID, 2, 2, b"", live_events=Events(1, 0)))
    third = encode(Frame(VIDEO_ID, 3, 3, b"c" * 5))
    frames, rest = parse_all(first + second + third[:-2])
    assert [frame.number for frame in frames] == [1, 2]
    assert rest == third[:-2]
    frames, rest = parse_all(rest + third[-2:])
    assert [frame.payload for frame in frames] == [b"c" * 5] and rest == b""


def test_a_fourcc_has_four_characters() -> None:
    with pytest.raises(ValueError, match="four characters"):
        encode(Frame(VIDEO_ID, 0, 1, stream_info=StreamInfo("AV1", key_frame=True)))


# --- the LiveEvents bits of a live stream ----------------------------------------------------

#: The bits, as the protocol notes give them (§3).
LIVE_FEED, RECORDING, CONNECTION_LOST, DATABASE_FAIL, DISK_FULL = 0x01, 0x04, 0x10, 0x20, 0x40


@pytest.mark.parametrize(
    ("status", "recorder", "bits"),
    [
        (StreamStatus.ONLINE, None, LIVE_FEED),
        (StreamStatus.ONLINE, RecorderState.WAITING, LIVE_FEED),  # nothing written yet
        (StreamStatus.ONLINE, RecorderState.RECORDING, LIVE_FEED | RECORDING),
        (StreamStatus.ONLINE, RecorderState.DISK_FULL, LIVE_FEED | DISK_FULL),
        (StreamStatus.ONLINE, RecorderState.FAILED, LIVE_FEED | DATABASE_FAIL),
        (StreamStatus.OFFLINE, None, CONNECTION_LOST),
        (StreamStatus.OFFLINE, RecorderState.WAITING, CONNECTION_LOST),
        (StreamStatus.CONNECTING, None, 0),
        (StreamStatus.CONNECTING, RecorderState.RECORDING, RECORDING),
    ],
)
def test_live_events_say_the_feed_and_the_recording(
    status: StreamStatus, recorder: RecorderState | None, bits: int
) -> None:
    assert live_events(status, recorder) == bits


@dataclass
class _Recordings:
    """The recording service's in-memory state of one camera."""

    state: RecorderState | None = None

    def status_of(self, camera_id: str) -> RecorderStatus | None:
        if self.state is None:
            return None
        return RecorderStatus(camera_id, "stream", self.state, "", 0, 0)


def _live_stream(recordings: _Recordings) -> LiveStream:
    svc = cast(Any, SimpleNamespace(clock=FakeClock(), recordings=recordings))
    camera = cast(Any, SimpleNamespace(id="camera"))
    hub = cast(Any, SimpleNamespace(status=StreamStatus.ONLINE))
    return LiveStream(
        svc,
        cast(Any, None),
        "connection",
        camera,
        Picture(),
        direct=LiveTarget(cast(Any, None), camera, "stream", hub),
        push=True,
        order=ByteOrder.LITTLE_ENDIAN,
        request_size=False,
        stream_info=False,
    )


def test_frames_say_when_recording_starts_and_stops() -> None:
    recordings = _Recordings()
    stream = _live_stream(recordings)

    def sent() -> tuple[int, int] | None:
        return parse(stream.frame(b"", math.nan)).live

    assert sent() == (LIVE_FEED, LIVE_FEED)  # the first frame: all of it changed
    recordings.state = RecorderState.WAITING
    assert sent() == (LIVE_FEED, 0)
    recordings.state = RecorderState.RECORDING
    assert sent() == (LIVE_FEED | RECORDING, RECORDING)
    assert sent() == (LIVE_FEED | RECORDING, 0)
    recordings.state = RecorderState.DISK_FULL
    assert sent() == (LIVE_FEED | DISK_FULL, RECORDING | DISK_FULL)
    recordings.state = None  # recording turned off
    assert sent() == (LIVE_FEED, DISK_FULL)
