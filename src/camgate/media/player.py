"""Controlled playback of recordings: the frame at a time, its neighbours, and its picture.

A client steers playback (play at a speed, pause, seek, step a frame either way); the recording
service gives the segments and the playback route paces and sends. This module is the media part:

* :class:`FrameFinder` finds a stream's recorded frames by capture time among the segments it is
  given: the frame shown at a time, the next one (or the next keyframe), the previous one. It
  reads only the ``moof``\\ s of the GOPs it looks at, and keeps a few of those frame tables.
* :class:`FrameRenderer` decodes a frame from its GOP's keyframe and encodes it as a JPEG with the
  camera's privacy masks, exactly as live transcoding does (:class:`JpegEncoder`). Its decoder
  stays where it stopped, so playing forward decodes each frame once; and it keeps the JPEGs of
  the GOP it decodes, so stepping back through a GOP decodes that GOP once, not once per step.
* Pure rules: which segment shows which time (:func:`arrange`), gaps (:func:`hole`), the frame
  of a time within a GOP, keyframes-only speeds and the pacing schedule (:class:`Pace`).

Both classes block (file reads, decoding): callers run them in a worker thread, one call at a
time, so that a decoder and its pictures are only ever touched by one thread at a time.
"""

from __future__ import annotations

import bisect
import collections
import logging
import math
import os
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, BinaryIO

import av

from camgate.media.hwaccel import Decoder, HardwareDecoders
from camgate.media.limits import OutputSpec
from camgate.media.mp4file import open_segment
from camgate.media.packet import TIMESCALE, StreamConfig
from camgate.media.segment import PARTIAL_SUFFIX, ClosedSegment, read_fragments
from camgate.media.transcode import JpegEncoder, Rect

log = logging.getLogger(__name__)

MIN_SPEED = 0.25
MAX_SPEED = 16.0
#: Above this speed only keyframes are decoded and shown (their capture times still pace them):
#: decoding every frame at 16× would cost 16 times a live viewer's decoding.
KEYFRAMES_ONLY_ABOVE = 4.0
#: A frame due longer ago than this (wall seconds) is not shown late: playback skips to the frame
#: due now. So a slow client or a busy server makes playback jerky, never behind or queued up.
LATE_S = 0.5
#: Segments of a run meet within the rounding of their names to the millisecond (ADR 0009): a
#: frame captured this little before its piece starts still belongs to the piece.
MEET_TOLERANCE_S = 0.002
#: Frame tables of GOPs kept: stepping and seeking look at the same few GOPs again and again.
GOP_TABLES = 16
#: JPEGs of the current GOP kept for stepping back; beyond this the earliest are dropped (and
#: decoded again if asked for).
JPEG_CACHE_BYTES = 32 * 2**20

_TIME_BASE = Fraction(1, TIMESCALE)

#: A GOP: its segment file's final name, its keyframe's decode time.
GopKey = tuple[str, int]


class RecordingUnreadable(Exception):
    """A segment could not be read as its index says (deleted by retention meanwhile, damaged)."""


@dataclass(frozen=True, slots=True)
class Frame:
    """One recorded frame: where its bytes are and when it was captured."""

    segment: ClosedSegment = field(compare=False, repr=False)
    #: Its GOP: an index into ``segment.keyframes``.
    gop: int
    dts: int
    pts: int
    #: Where its bytes are in the segment file.
    offset: int
    size: int
    keyframe: bool
    #: When it was captured (seconds since the epoch): the segment's wall clock at its
    #: presentation time (ADR 0009's mapping; presentation, so that B-frames keep their order).
    time: float
    #: How long it is shown at 1× (seconds).
    duration: float

    @property
    def end(self) -> float:
        return self.time + self.duration


@dataclass(frozen=True, slots=True)
class Gop:
    """The frames of one GOP in decode order (the order a decoder takes them)."""

    segment: ClosedSegment
    index: int
    frames: tuple[Frame, ...]

    @property
    def key(self) -> GopKey:
        return gop_key(self.segment, self.index)


def gop_key(segment: ClosedSegment, index: int) -> GopKey:
    """A GOP's identity: the same for the open part and, once closed, its segment."""
    return str(segment.path).removesuffix(PARTIAL_SUFFIX), segment.keyframes[index].dts


@dataclass(frozen=True, slots=True)
class Piece:
    """What playback shows of a segment: its frames from ``start`` (where no earlier segment
    covers the time any more) to its end."""

    segment: ClosedSegment
    start: float

    @property
    def end(self) -> float:
        return self.segment.end_wallclock

    def shows(self, time: float) -> bool:
        return self.start - MEET_TOLERANCE_S <= time < self.end


# --- pure rules ------------------------------------------------------------------------------


def arrange(segments: Iterable[ClosedSegment]) -> list[Piece]:
    """The pieces of segments sorted by wall-clock start. Where two overlap (the clock was set
    back), the earlier wins, as in a playback file (ADR 0010)."""
    pieces: list[Piece] = []
    covered = -math.inf
    for segment in segments:
        start = max(covered, segment.start_wallclock)
        if segment.end_wallclock > start:
            pieces.append(Piece(segment, start))
            covered = segment.end_wallclock
    return pieces


def hole(
    pieces: Sequence[Piece], start: float, end: float, tolerance: float
) -> tuple[float, float] | None:
    """The first stretch of [start, end) that no piece covers, if longer than ``tolerance``: a
    gap in the recordings."""
    covered = start
    for piece in pieces:
        if piece.start >= end:
            break
        if piece.end <= covered:
            continue
        if piece.start - covered > tolerance:
            return covered, piece.start
        covered = piece.end
    return (covered, end) if end - covered > tolerance else None


def gop_index(segment: ClosedSegment, time: float) -> int:
    """The segment's GOP that holds ``time``: the last one whose keyframe is at or before it
    (the first one for earlier times)."""
    starts = [segment.wallclock_at(entry.dts) for entry in segment.keyframes]
    return max(0, bisect.bisect_right(starts, time) - 1)


def frame_at(frames: Sequence[Frame], time: float, *, keyframes_only: bool = False) -> Frame | None:
    """The last frame (keyframe) captured at or before ``time``; ``frames`` in time order."""
    return next(
        (f for f in reversed(frames) if f.time <= time and (f.keyframe or not keyframes_only)),
        None,
    )


def frame_after(
    frames: Sequence[Frame], time: float, *, keyframes_only: bool = False
) -> Frame | None:
    """The first frame (keyframe) captured after ``time``; ``frames`` in time order."""
    return next((f for f in frames if f.time > time and (f.keyframe or not keyframes_only)), None)


def frame_before(
    frames: Sequence[Frame], time: float, *, keyframes_only: bool = False
) -> Frame | None:
    """The last frame (keyframe) captured before ``time`` (stepping or playing back);
    ``frames`` in time order."""
    return next(
        (f for f in reversed(frames) if f.time < time and (f.keyframe or not keyframes_only)),
        None,
    )


def keyframes_only(speed: float) -> bool:
    """Whether playback at ``speed`` decodes and shows keyframes only."""
    return speed > KEYFRAMES_ONLY_ABOVE


@dataclass(frozen=True, slots=True)
class Pace:
    """The pacing schedule: the frame captured at ``time`` is due at ``clock`` (monotonic
    seconds); later frames follow by their capture times divided by ``speed``."""

    clock: float
    time: float
    speed: float

    def due(self, time: float) -> float:
        """When the frame captured at ``time`` is due."""
        return self.clock + (time - self.time) / self.speed

    def position(self, now: float) -> float:
        """The capture time due at ``now``."""
        return self.time + (now - self.clock) * self.speed

    def late(self, time: float, now: float) -> bool:
        """Whether the frame captured at ``time`` is too late to show: skip to the one due now."""
        return now - self.due(time) > LATE_S


# --- reading ---------------------------------------------------------------------------------


def read_gop(segment: ClosedSegment, index: int) -> Gop:
    """A GOP's frame table, from its moofs (blocking)."""
    entry = segment.keyframes[index]
    try:
        with open_segment(segment.path) as file:
            end = entry.offset + entry.size
            fragments = list(read_fragments(file.fileno(), entry.offset, end))
    except OSError as error:
        raise RecordingUnreadable(f"{segment.path.name}: {error}") from error
    frames: list[Frame] = []
    for fragment in fragments:
        dts, offset = fragment.dts, fragment.data_offset
        for position, (duration, size, _flags, composition) in enumerate(fragment.samples):
            pts = dts + composition
            # A GOP over the fragment cap continues in fragments that start with a non-sync
            # sample (ADR 0009): only a keyframe fragment's first sample is a keyframe.
            keyframe = fragment.keyframe and position == 0
            time = segment.wallclock_at(pts)
            frames.append(
                Frame(segment, index, dts, pts, offset, size, keyframe, time, duration / TIMESCALE)
            )
            dts += duration
            offset += size
    if len(frames) != entry.samples:
        raise RecordingUnreadable(f"{segment.path.name} does not match its index at {entry.offset}")
    return Gop(segment, index, tuple(frames))


class FrameFinder:
    """Finds a stream's recorded frames by capture time, among the segments it was given last.

    Blocking (it reads GOPs' moofs): one thread at a time. The frame tables of the last
    :data:`GOP_TABLES` GOPs looked at are kept.
    """

    def __init__(self) -> None:
        self.pieces: list[Piece] = []
        self._tables: collections.OrderedDict[tuple[GopKey, int], Gop] = collections.OrderedDict()

    def use(self, segments: Iterable[ClosedSegment]) -> None:
        """Look among these segments from now on (one stream's, sorted by wall-clock start)."""
        self.pieces = arrange(segments)

    def at(self, time: float, *, keyframes_only: bool = False) -> Frame | None:
        """The frame (keyframe) shown at ``time``: the last captured at or before it. None when
        ``time`` is not recorded (a gap, or beyond the segments)."""
        piece = next((p for p in self.pieces if p.shows(time)), None)
        if piece is None:
            return None
        shown = self._shown(piece, gop_index(piece.segment, time))
        return frame_at(shown, time, keyframes_only=keyframes_only)

    def after(self, time: float, *, keyframes_only: bool = False) -> Frame | None:
        """The first frame (keyframe) captured after ``time``, across gaps."""
        for piece in self.pieces:
            if piece.end <= time:
                continue
            segment = piece.segment
            for index in range(gop_index(segment, max(time, piece.start)), len(segment.keyframes)):
                found = frame_after(self._shown(piece, index), time, keyframes_only=keyframes_only)
                if found is not None:
                    return found
        return None

    def before(self, time: float, *, keyframes_only: bool = False) -> Frame | None:
        """The last frame (keyframe) captured before ``time``, across gaps."""
        for piece in reversed(self.pieces):
            if piece.start - MEET_TOLERANCE_S >= time:
                continue
            segment = piece.segment
            first = gop_index(segment, piece.start)
            for index in range(gop_index(segment, min(time, piece.end)), first - 1, -1):
                shown = self._shown(piece, index)
                found = frame_before(shown, time, keyframes_only=keyframes_only)
                if found is not None:
                    return found
        return None

    def gop(self, frame: Frame) -> Gop:
        """The GOP that holds ``frame``."""
        return self._table(frame.segment, frame.gop)

    def _shown(self, piece: Piece, index: int) -> list[Frame]:
        """The GOP's frames that the piece shows, in time order."""
        frames = self._table(piece.segment, index).frames
        return sorted((f for f in frames if piece.shows(f.time)), key=lambda f: f.time)

    def _table(self, segment: ClosedSegment, index: int) -> Gop:
        # The size too: the last GOP of an open part can grow (a GOP over the fragment cap).
        key = (gop_key(segment, index), segment.keyframes[index].size)
        gop = self._tables.get(key)
        if gop is None:
            gop = read_gop(segment, index)
            self._tables[key] = gop
            while len(self._tables) > GOP_TABLES:
                self._tables.popitem(last=False)
        self._tables.move_to_end(key)
        return gop


# --- decoding --------------------------------------------------------------------------------


class FrameRenderer:
    """Decodes recorded frames and encodes them as masked JPEGs. Blocking; thread-safe (a lock
    makes callers take turns, so :meth:`close` waits for a render still running).

    One decoder, single-threaded (frame threads would hold pictures back, and a step must show
    its frame at once), left where it stopped: playing forward gives it each packet once. The
    JPEGs of the GOP decoded last are kept (at most :data:`JPEG_CACHE_BYTES`).
    """

    def __init__(
        self,
        decoders: HardwareDecoders,
        masks: Sequence[Rect] = (),
        *,
        prefer_hardware: bool = False,
    ) -> None:
        self._decoders = decoders
        self._masks = tuple(masks)
        self._prefer_hardware = prefer_hardware
        self._lock = threading.Lock()
        self._decoder: Decoder | None = None
        self._config: StreamConfig | None = None
        self._spec: OutputSpec | None = None
        self._crop: Rect | None = None
        self._encoder: JpegEncoder | None = None
        #: Where the decoder is: its GOP, how many of its packets it took, whether it was
        #: drained (it must start again from a keyframe), the last picture it gave.
        self._gop: GopKey | None = None
        self._fed = 0
        self._drained = False
        self._last_pts: int | None = None
        #: JPEGs by pts, of the GOP ``_cached``.
        self._cached: GopKey | None = None
        self._jpegs: dict[int, bytes] = {}
        self._cached_bytes = 0

    def render(
        self,
        gop: Gop,
        frame: Frame,
        spec: OutputSpec,
        *,
        crop: Rect | None = None,
        alone: bool = False,
        keep_earlier: bool = False,
    ) -> bytes | None:
        """The JPEG of ``frame`` (of ``gop``) at ``spec``, of the part ``crop`` of the picture
        (digital zoom; None: all of it); None when it does not decode.

        ``alone``: decode the keyframe by itself (keyframes-only playback). ``keep_earlier``:
        keep the JPEGs of the frames before it in its GOP too (stepping or playing back).
        """
        with self._lock:
            self._output(spec, crop, gop.key)
            cached = self._jpegs.get(frame.pts)
            if cached is not None:
                return cached
            try:
                if alone or not self._can_continue(gop.key, frame.pts):
                    self._restart(gop)
                feed = 1 if alone else len(gop.frames)
                return self._decode_to(gop, frame.pts, feed, keep_earlier)
            except av.FFmpegError as error:
                # A broken packet: the next frame starts again from its keyframe.
                log.debug("playback decode error: %s", error)
                self._gop = None
                return None
            except OSError as error:
                self._gop = None
                raise RecordingUnreadable(f"{gop.segment.path.name}: {error}") from error

    def close(self) -> None:
        """Release the decoder (flushed first, see :mod:`camgate.media.transcode`)."""
        with self._lock:
            if self._decoder is not None:
                self._decoder.close()
                self._decoder = None
            self._gop = None

    def _can_continue(self, key: GopKey, pts: int) -> bool:
        """Whether the decoder, where it is, has yet to give the picture ``pts`` of GOP ``key``."""
        passed = self._last_pts is not None and self._last_pts >= pts
        return self._gop == key and not self._drained and not passed

    def _output(self, spec: OutputSpec, crop: Rect | None, key: GopKey) -> None:
        if spec != self._spec or crop != self._crop:
            self._spec, self._crop = spec, crop
            self._encoder = JpegEncoder(spec.width, spec.height, spec.quality, self._masks, crop)
            self._cached = None
        if key != self._cached:
            self._cached = key
            self._jpegs = {}
            self._cached_bytes = 0

    def _restart(self, gop: Gop) -> None:
        """Position the decoder before the GOP's keyframe (a new decoder for a new config)."""
        config = gop.segment.config
        if self._decoder is None or config != self._config:
            if self._decoder is not None:
                self._decoder.close()
                self._decoder = None
            self._decoder = self._decoders.open(
                config.codec, config.extradata, prefer_hardware=self._prefer_hardware, threads=1
            )
            self._config = config
        else:
            self._decoder.flush_buffers()
        self._gop, self._fed, self._drained, self._last_pts = gop.key, 0, False, None

    def _decode_to(self, gop: Gop, target: int, feed: int, keep_earlier: bool) -> bytes | None:
        """Give the decoder packets (at most ``feed`` of the GOP, then drain it) until the
        picture ``target`` or a later one is out."""
        decoder = self._decoder
        assert decoder is not None
        with open_segment(gop.segment.path) as file:
            while self._last_pts is None or self._last_pts < target:
                if self._fed < feed:
                    frame = gop.frames[self._fed]
                    self._fed += 1
                    pictures = decoder.decode(_packet(file, frame))
                elif not self._drained:
                    pictures = decoder.decode(None)
                    self._drained = True
                else:
                    break  # the GOP ended without that picture
                for picture in pictures:
                    self._take(picture, target, keep_earlier)
        return self._jpegs.get(target)

    def _take(self, picture: av.VideoFrame, target: int, keep_earlier: bool) -> None:
        if picture.pts is None:  # cannot be placed in time; never seen with camgate's packets
            return
        pts = int(picture.pts)
        self._last_pts = pts
        # Pictures after the target come out with it only when the decoder is drained (or
        # reorders B-frames): they are the next ones asked for, and it cannot give them again.
        if pts >= target or keep_earlier:
            assert self._encoder is not None
            self._keep(pts, self._encoder.encode(picture))

    def _keep(self, pts: int, jpeg: bytes) -> None:
        previous = self._jpegs.pop(pts, b"")
        self._jpegs[pts] = jpeg
        self._cached_bytes += len(jpeg) - len(previous)
        while self._cached_bytes > JPEG_CACHE_BYTES and len(self._jpegs) > 1:
            self._cached_bytes -= len(self._jpegs.pop(min(self._jpegs)))


def _packet(file: BinaryIO, frame: Frame) -> av.Packet[Any]:
    data = os.pread(file.fileno(), frame.size, frame.offset)
    if len(data) != frame.size:
        raise OSError("the file is shorter than its index")
    packet = av.Packet(data)
    packet.pts, packet.dts, packet.time_base = frame.pts, frame.dts, _TIME_BASE
    return packet
