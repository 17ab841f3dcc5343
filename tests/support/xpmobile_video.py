"""A parser of the XProtect Mobile video channel's frames, written from the protocol notes
(../shared/protocol/xprotect-mobile.md §3), not from camgate's writer: the tests round-trip
camgate's frames through it."""

from __future__ import annotations

import struct
import time
import uuid
from dataclasses import dataclass, field

from websockets.sync.client import ClientConnection

MAIN = 36
SIZE, LIVE, PLAYBACK, NATIVE, MOTION, LOCATION, STREAM, CAROUSEL, DYNAMIC, PLAYBACK_INFO = (
    1 << bit for bit in range(10)
)
LIVE_FEED = 0x01
CONNECTION_LOST = 0x10


@dataclass
class Size:
    source: tuple[int, int]
    crop: tuple[int, int, int, int]
    dest: tuple[int, int]
    resampling: int


@dataclass
class Info:
    header_size: int
    version: int
    valid: int
    time_between_frames: int
    data_type: str
    flags: int
    profile: int
    level: int
    compatibility: int
    frame_count: int

    @property
    def key_frame(self) -> bool:
        return bool(self.flags & 1)


@dataclass
class Parsed:
    video_id: str
    timestamp_ms: int
    number: int
    header_size: int
    flags: int
    payload: bytes
    size: Size | None = None
    live: tuple[int, int] | None = None
    playback: tuple[int, int] | None = None
    info: Info | None = None
    extensions_end: int = field(default=0, repr=False)


def parse(data: bytes, little_endian: bool = True) -> Parsed:
    """One frame; its payload must be all of the rest of ``data``."""
    parsed, end = parse_from(data, 0, little_endian)
    assert end == len(data), (end, len(data))
    return parsed


def parse_from(data: bytes, at: int, little_endian: bool = True) -> tuple[Parsed, int]:
    """The frame starting at ``at`` and where the next one starts (frames back to back)."""
    order = "<" if little_endian else ">"
    raw_id = data[at : at + 16]
    video_id = str(uuid.UUID(bytes_le=raw_id) if little_endian else uuid.UUID(bytes=raw_id))
    timestamp, number, size, header_size, flags = struct.unpack_from(f"{order}QIIHH", data, at + 16)
    offset = at + MAIN
    parsed = Parsed(video_id, timestamp, number, header_size, flags, b"")
    if flags & SIZE:
        values = struct.unpack_from(f"{order}12i", data, offset)
        parsed.size = Size(values[0:2], values[2:6], values[6:8], values[8])
        offset += 48
    if flags & LIVE:
        parsed.live = struct.unpack_from(f"{order}2I", data, offset)
        offset += 8
    if flags & PLAYBACK:
        parsed.playback = struct.unpack_from(f"{order}2I", data, offset)
        offset += 8
    assert not flags & (NATIVE | MOTION | LOCATION), "not sent by camgate"
    if flags & STREAM:
        head = struct.unpack_from(f"{order}5I", data, offset)
        fourcc = data[offset + 20 : offset + 24]
        tail = struct.unpack_from(f"{order}4IQI", data, offset + 24)
        text = (fourcc[::-1] if little_endian else fourcc).decode("ascii")
        parsed.info = Info(
            head[0], head[1], head[3], head[4], text, tail[0], tail[1], tail[2], tail[3], tail[5]
        )
        offset += 52
    parsed.extensions_end = offset - at
    assert header_size == offset - at, (header_size, offset - at)
    parsed.payload = data[offset : offset + size]
    assert len(parsed.payload) == size, "a frame cut short"
    return parsed, offset + size


def parse_all(data: bytes, little_endian: bool = True) -> tuple[list[Parsed], bytes]:
    """The whole frames in ``data`` (a push response read so far) and the bytes left over."""
    frames = []
    at = 0
    while len(data) - at >= MAIN:
        header_size, _ = struct.unpack_from("<HH" if little_endian else ">HH", data, at + 32)
        size = struct.unpack_from("<I" if little_endian else ">I", data, at + 28)[0]
        if len(data) - at < header_size + size:
            break
        frame, at = parse_from(data, at, little_endian)
        frames.append(frame)
    return frames, data[at:]


def read_frames(socket: ClientConnection, count: int, *, with_video: bool = True) -> list[Parsed]:
    """The next ``count`` frames (with a payload, unless ``with_video`` is False); keeps the
    channel alive as the library does, with an empty text message now and then."""
    found: list[Parsed] = []
    deadline = time.monotonic() + 30
    while len(found) < count:
        assert time.monotonic() < deadline, found
        message = socket.recv(timeout=10)
        assert isinstance(message, bytes), message
        frame = parse(message)
        if frame.payload or not with_video:
            found.append(frame)
        socket.send("")
    return found
