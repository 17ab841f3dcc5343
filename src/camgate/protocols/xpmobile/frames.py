"""The video channel's binary frames: a 36-byte main header, the header extensions its flags
name (in flag-bit order), then the payload (a JPEG, or fMP4 data). Pure functions.

Little-endian integers and the GUID in .NET layout (``uuid.bytes_le``) unless the stream asked
for ``ByteOrder=Network``: then big-endian integers and the GUID in textual byte order.
docs/ref/xpmobile.md has the tables.
"""

from __future__ import annotations

import struct
import uuid
from dataclasses import dataclass
from enum import Enum, IntFlag

#: The main header's size; the "total header size" field counts the extensions too.
MAIN_HEADER_SIZE = 36
STREAM_INFO_SIZE = 52
STREAM_INFO_VERSION = 1
#: ``ResamplingTag`` of a picture sent at the asked size, as a decimal factor (×10⁶: the
#: extended resampling factor that LogIn offers).
RESAMPLING_UNIT = 1_000_000
#: Which StreamInfo fields are valid: their bit assignment is not public, and camgate fills
#: every field, so all bits are set.
ALL_FIELDS_VALID = 0xFFFFFFFF


class Extension(IntFlag):
    """The header-extension flags, in the order their data follows the main header."""

    SIZE = 0x001
    LIVE_EVENTS = 0x002
    PLAYBACK_EVENTS = 0x004
    STREAM_INFO = 0x040


class LiveEvent(IntFlag):
    """Bits of the LiveEvents extension."""

    LIVE_FEED = 0x01
    MOTION = 0x02
    RECORDING = 0x04
    NOTIFICATION = 0x08
    CAMERA_CONNECTION_LOST = 0x10
    DATABASE_FAIL = 0x20
    DISK_FULL = 0x40
    CLIENT_LIVE_STOPPED = 0x80


class PlaybackEvent(IntFlag):
    """Bits of the PlaybackEvents extension."""

    STOPPED = 0x001
    FORWARD = 0x002
    BACKWARD = 0x004
    #: At the first frame recorded (a DbStart seek, or playing backward reached it).
    DATABASE_START = 0x010
    #: At the last frame recorded (paused there).
    DATABASE_END = 0x020
    #: The recordings could not be read, or a frame does not decode.
    DATABASE_ERROR = 0x040
    #: A seek to a time that is not recorded: the next recorded frame is shown.
    RANGE_NO_DATA = 0x100
    #: A seek found no frame: the frame shown stays.
    OUT_OF_RANGE = 0x200


def motion(playing: bool, speed: float) -> PlaybackEvent:
    """The events that say how playback moves. Pure."""
    if not playing:
        return PlaybackEvent.STOPPED
    return PlaybackEvent.FORWARD if speed > 0 else PlaybackEvent.BACKWARD


class ByteOrder(Enum):
    LITTLE_ENDIAN = "<"
    NETWORK = ">"


@dataclass(frozen=True, slots=True)
class SizeInfo:
    """The Size extension: the source picture, the part of it shown (in source pixels), and the
    picture sent."""

    source_width: int
    source_height: int
    #: Left, top, right, bottom.
    crop: tuple[int, int, int, int]
    dest_width: int
    dest_height: int
    #: How much the client enlarges the picture to reach the size it asked for, ×10⁶.
    resampling: int = RESAMPLING_UNIT


@dataclass(frozen=True, slots=True)
class Events:
    """An events extension (LiveEvents, PlaybackEvents): the bits now, and those that changed
    since the previous frame the client was sent."""

    current: int
    changed: int


@dataclass(frozen=True, slots=True)
class StreamInfo:
    """The StreamInfo extension: what the payload is. Direct streaming sends it on every frame;
    JPEG frames on a stream that asked for fMP4 carry it too (``JPEG``: the fallback)."""

    #: The FourCC: ``JPEG``, ``H264``, ``H265``.
    data_type: str
    #: The payload holds a key frame (an fMP4 fragment that starts one).
    key_frame: bool
    #: Frames in the payload.
    frame_count: int = 1
    time_between_frames_ms: int = 0
    profile: int = 0
    level: int = 0
    compatibility: int = 0


@dataclass(frozen=True, slots=True)
class Frame:
    video_id: str
    #: Milliseconds since the epoch (UTC).
    timestamp_ms: int
    #: Counts the stream's frames from 1.
    number: int
    #: Empty for a frame that only carries events.
    payload: bytes = b""
    size: SizeInfo | None = None
    live_events: Events | None = None
    playback_events: Events | None = None
    stream_info: StreamInfo | None = None


def _guid(video_id: str, order: ByteOrder) -> bytes:
    value = uuid.UUID(video_id)
    return value.bytes_le if order is ByteOrder.LITTLE_ENDIAN else value.bytes


def _fourcc(text: str, order: ByteOrder) -> bytes:
    """A FourCC as a 32-bit integer whose big-endian bytes spell it."""
    raw = text.encode("ascii")
    if len(raw) != 4:
        raise ValueError(f"a FourCC has four characters, not {text!r}")
    return raw[::-1] if order is ByteOrder.LITTLE_ENDIAN else raw


def _size(info: SizeInfo, order: ByteOrder) -> bytes:
    # Twelve 32-bit integers (the reference library's constant says 32 bytes; it reads 48).
    # The last three (a destination crop) are unused: zero.
    return struct.pack(
        f"{order.value}12i",
        info.source_width,
        info.source_height,
        *info.crop,
        info.dest_width,
        info.dest_height,
        info.resampling,
        0,
        0,
        0,
    )


def _events(events: Events, order: ByteOrder) -> bytes:
    return struct.pack(f"{order.value}2I", events.current, events.changed)


def _stream_info(info: StreamInfo, order: ByteOrder) -> bytes:
    head = struct.pack(
        f"{order.value}5I",
        STREAM_INFO_SIZE,
        STREAM_INFO_VERSION,
        0,
        ALL_FIELDS_VALID,
        info.time_between_frames_ms,
    )
    tail = struct.pack(
        f"{order.value}4IQI",
        int(info.key_frame),
        info.profile,
        info.level,
        info.compatibility,
        0,  # constraints
        info.frame_count,
    )
    return head + _fourcc(info.data_type, order) + tail


def encode(frame: Frame, order: ByteOrder = ByteOrder.LITTLE_ENDIAN) -> bytes:
    """The frame as the channel sends it: header, extensions, payload."""
    flags = Extension(0)
    extensions = []
    if frame.size is not None:
        flags |= Extension.SIZE
        extensions.append(_size(frame.size, order))
    if frame.live_events is not None:
        flags |= Extension.LIVE_EVENTS
        extensions.append(_events(frame.live_events, order))
    if frame.playback_events is not None:
        flags |= Extension.PLAYBACK_EVENTS
        extensions.append(_events(frame.playback_events, order))
    if frame.stream_info is not None:
        flags |= Extension.STREAM_INFO
        extensions.append(_stream_info(frame.stream_info, order))
    header_size = MAIN_HEADER_SIZE + sum(len(extension) for extension in extensions)
    main = _guid(frame.video_id, order) + struct.pack(
        f"{order.value}QIIHH",
        frame.timestamp_ms,
        frame.number & 0xFFFFFFFF,
        len(frame.payload),
        header_size,
        int(flags),
    )
    return b"".join((main, *extensions, frame.payload))
