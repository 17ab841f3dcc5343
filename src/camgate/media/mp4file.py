"""The virtual MP4: a progressive MP4 of a time range, assembled from segment files (ADR 0009).

Nothing is re-encoded or copied ahead of time: the header (``ftyp``, ``moov``, the ``mdat``
header) is built from the moofs of the GOPs in range, and the ``mdat`` payload is slices of the
segment files, read only when :meth:`VirtualMp4.read` asks for them. So an HTTP range request
costs the slices it covers.

Box order (ISO 14496-12): ftyp; moov(mvhd, trak(tkhd, edts(elst), mdia(mdhd, hdlr,
minf(vmhd, dinf(dref(url)), stbl(stsd, stts, [ctts], stss, stsz, stsc, co64))))); mdat.
"""

from __future__ import annotations

import bisect
import hashlib
import itertools
import os
import struct
from array import array
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from camgate.media import fmp4
from camgate.media.packet import TIMESCALE, StreamConfig
from camgate.media.segment import (
    PARTIAL_SUFFIX,
    ClosedSegment,
    KeyframeEntry,
    ScannedFragment,
    read_fragments,
)

#: Bumped whenever the bytes this module writes change: it is part of every ETag.
FORMAT_VERSION = 1

_U32 = struct.Struct(">I")
_MDAT_HEADER_SIZE = 16  # 64-bit largesize: an export may exceed 4 GiB


@dataclass(frozen=True, slots=True)
class Span:
    """A stretch of the file from one segment: where its media time lies on the clocks.

    Gaps between segments are squeezed out of the file, so a player's time maps to the
    timeline and the wall clock only through these.
    """

    media_start: int  # 90 kHz, 0 = the file's first sample
    timeline_start: int
    wallclock_start: float
    duration: int


@dataclass(frozen=True, slots=True)
class _Slice:
    """Bytes of a segment file that lie at ``at`` in the virtual file."""

    at: int
    path: Path
    offset: int
    length: int


class VirtualMp4:
    """A file assembled on demand: a header in memory and slices of segment files."""

    def __init__(
        self, header: bytes, slices: list[_Slice], spans: list[Span], media_start: int
    ) -> None:
        self._header = header
        self._slices = slices
        self._starts = [piece.at for piece in slices]
        self.spans = spans
        #: The media time where presentation begins (the edit list's): player time 0.
        self.media_start = media_start
        last = slices[-1]
        self.size = last.at + last.length
        digest = hashlib.sha256(FORMAT_VERSION.to_bytes(4, "big") + header)
        for piece in slices:
            digest.update(f"{piece.path}\0{piece.offset}\0{piece.length}\0".encode())
        self.etag = f'"{digest.hexdigest()[:32]}"'

    def read(self, offset: int, length: int) -> bytes:
        """Bytes [offset, offset + length) of the file, fewer at its end (blocking)."""
        end = min(self.size, offset + length)
        parts = [self._header[offset:end]] if offset < len(self._header) else []
        index = max(0, bisect.bisect_right(self._starts, offset) - 1)
        fds: dict[Path, int] = {}
        try:
            for piece in itertools.islice(self._slices, index, None):
                if piece.at >= end:
                    break
                lo, hi = max(offset, piece.at), min(end, piece.at + piece.length)
                if lo < hi:
                    if piece.path not in fds:
                        fds[piece.path] = _open(piece.path)
                    fd = fds[piece.path]
                    parts.append(_pread_exact(fd, hi - lo, piece.offset + lo - piece.at))
        finally:
            for fd in fds.values():
                os.close(fd)
        return b"".join(parts)


def _open(path: Path) -> int:
    try:
        return os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        if path.suffix != PARTIAL_SUFFIX:
            raise
        # The open segment closed meanwhile: the same bytes under its final name.
        return os.open(path.with_suffix(""), os.O_RDONLY | os.O_CLOEXEC)


def open_segment(path: Path) -> BinaryIO:
    """A segment opened for reading, also when it was renamed from ``.partial`` meanwhile."""
    return os.fdopen(_open(path), "rb")


def _pread_exact(fd: int, size: int, offset: int) -> bytes:
    data = os.pread(fd, size, offset)
    if len(data) != size:
        raise OSError(f"a segment file is shorter than its index ({offset + len(data)})")
    return data


# --- choosing the samples --------------------------------------------------------------------


@dataclass(slots=True)
class _Tables:
    """The sample table being gathered, in the file's (squeezed) media time."""

    durations: array[int] = field(default_factory=lambda: array("I"))
    sizes: array[int] = field(default_factory=lambda: array("I"))
    offsets: array[int] = field(default_factory=lambda: array("i"))  # composition offsets
    sync: array[int] = field(default_factory=lambda: array("I"))  # 1-based sample numbers
    chunk_samples: array[int] = field(default_factory=lambda: array("I"))
    slices: list[_Slice] = field(default_factory=list)
    spans: list[Span] = field(default_factory=list)
    media_time: int = 0
    mdat_size: int = 0
    #: Of the samples so far, the latest presentation end in media time.
    presentation_end: int = 0

    def add_fragment(self, path: Path, fragment: ScannedFragment, end: int) -> None:
        """Add the fragment's samples that decode before ``end``."""
        dts, count, size = fragment.dts, 0, 0
        for duration, sample_size, flags, offset in fragment.samples:
            if dts >= end:
                break
            if not flags & 0x00010000:
                self.sync.append(len(self.sizes) + 1)
            self.durations.append(duration)
            self.sizes.append(sample_size)
            self.offsets.append(offset)
            self.presentation_end = max(self.presentation_end, self.media_time + offset + duration)
            self.media_time += duration
            dts += duration
            count += 1
            size += sample_size
        if count:
            self.chunk_samples.append(count)
            self.slices.append(_Slice(self.mdat_size, path, fragment.data_offset, size))
            self.mdat_size += size


#: More than any reordering delay between decoding and presenting a frame (B-frames).
_REORDER_SLACK = TIMESCALE


def gops_in_range(
    segment: ClosedSegment, start: int, end: int
) -> Iterable[tuple[KeyframeEntry, int]]:
    """The segment's GOPs (with their end) that overlap [start, end) on the timeline."""
    ends = [entry.dts for entry in segment.keyframes[1:]] + [segment.end_dts]
    for entry, gop_end in zip(segment.keyframes, ends, strict=True):
        if gop_end > start and entry.dts < end:
            yield entry, gop_end


def _gather(cuts: Sequence[Cut]) -> _Tables:
    tables = _Tables()
    for cut in cuts:
        segment = cut.segment
        gops = list(gops_in_range(segment, cut.start, cut.end))
        if not gops:
            continue
        first = gops[0][0]
        tables.spans.append(Span(tables.media_time, first.dts, segment.wallclock_at(first.dts), 0))
        span_start = tables.media_time
        with open_segment(segment.path) as file:
            for entry, _ in gops:
                fragments = list(
                    read_fragments(file.fileno(), entry.offset, entry.offset + entry.size)
                )
                if sum(len(f.samples) for f in fragments) != entry.samples:
                    raise ValueError(f"{segment.path} does not match its index at {entry.offset}")
                for fragment in fragments:
                    tables.add_fragment(segment.path, fragment, cut.end)
        last = tables.spans[-1]
        tables.spans[-1] = Span(
            last.media_start,
            last.timeline_start,
            last.wallclock_start,
            tables.media_time - span_start,
        )
    return tables


def _first_shown(tables: _Tables, at: int) -> int:
    """The presentation time of the first frame at or after ``at`` (media time).

    The edit list starts there: players (Chromium, FFmpeg) start at the first frame at or after
    the edit's start, so an edit between two frames would show every frame up to a frame's
    duration before the time its span gives.
    """
    best: int | None = None
    decoded = 0
    for duration, offset in zip(tables.durations, tables.offsets, strict=True):
        shown = decoded + offset
        if shown >= at and (best is None or shown < best):
            best = shown
        if best is not None and decoded > best + _REORDER_SLACK:  # later frames show later
            break
        decoded += duration
    return at if best is None else best


# --- boxes -----------------------------------------------------------------------------------


def _run_lengths(values: array[int]) -> list[tuple[int, int]]:
    """(count, value) for each run of equal values."""
    return [(len(list(group)), value) for value, group in itertools.groupby(values)]


def _table(kind: bytes, version: int, rows: Sequence[tuple[int, ...]], row: str) -> bytes:
    packer = struct.Struct(">" + row)
    body = b"".join(packer.pack(*r) for r in rows)
    return fmp4.full_box(kind, version, 0, _U32.pack(len(rows)), body)


def _big_endian(values: array[int]) -> bytes:
    swapped = array(values.typecode, values)
    if swapped.itemsize != 4:
        raise ValueError("tables hold 32-bit values")
    swapped.byteswap()
    return swapped.tobytes()


def _stbl_head(config: StreamConfig, tables: _Tables) -> bytes:
    """stbl's boxes up to co64 (which depends on where the mdat lands)."""
    count = len(tables.sizes)
    boxes = [
        fmp4.full_box(b"stsd", 0, 0, _U32.pack(1), fmp4.sample_entry(config)),
        _table(b"stts", 0, _run_lengths(tables.durations), "II"),
    ]
    if any(tables.offsets):
        boxes.append(_table(b"ctts", 1, _run_lengths(tables.offsets), "Ii"))
    boxes.append(
        fmp4.full_box(b"stss", 0, 0, _U32.pack(len(tables.sync)), _big_endian(tables.sync))
    )
    boxes.append(
        fmp4.full_box(b"stsz", 0, 0, _U32.pack(0), _U32.pack(count), _big_endian(tables.sizes))
    )
    boxes.append(_stsc(tables.chunk_samples))
    return b"".join(boxes)


def _stsc(chunk_samples: array[int]) -> bytes:
    """(first_chunk, samples_per_chunk, sample_description_index) where the count changes."""
    rows: list[tuple[int, ...]] = []
    for index, samples in enumerate(chunk_samples, start=1):
        if not rows or rows[-1][1] != samples:
            rows.append((index, samples, 1))
    return _table(b"stsc", 0, rows, "III")


def _co64(tables: _Tables, base: int) -> bytes:
    offsets = array("Q", (base + piece.at for piece in tables.slices))
    offsets.byteswap()
    return fmp4.full_box(b"co64", 0, 0, _U32.pack(len(tables.slices)), offsets.tobytes())


def _elst(media_time: int, duration: int) -> bytes:
    """One edit (8.6.6, version 1): present the media from ``media_time`` for ``duration``."""
    entry = struct.pack(">Qqhh", duration, media_time, 1, 0)
    return fmp4.box(b"edts", fmp4.full_box(b"elst", 1, 0, _U32.pack(1), entry))


def _moov(
    config: StreamConfig, stbl: bytes, duration: int, media_duration: int, edts: bytes
) -> bytes:
    """``duration``: what the edit list presents; ``media_duration``: all the samples."""
    mvhd = fmp4.full_box(
        b"mvhd",
        1,
        0,
        struct.pack(">QQIQIH10x", 0, 0, TIMESCALE, duration, 0x00010000, 0x0100),
        fmp4.UNITY_MATRIX,
        bytes(24),
        _U32.pack(fmp4.TRACK_ID + 1),
    )
    tkhd = fmp4.full_box(
        b"tkhd",
        1,
        0x000003,
        struct.pack(">QQIIQ8xhhH2x", 0, 0, fmp4.TRACK_ID, 0, duration, 0, 0, 0),
        fmp4.UNITY_MATRIX,
        struct.pack(">II", config.width << 16, config.height << 16),
    )
    mdhd = fmp4.full_box(
        b"mdhd", 1, 0, struct.pack(">QQIQHH", 0, 0, TIMESCALE, media_duration, fmp4.LANGUAGE_UND, 0)
    )
    hdlr = fmp4.full_box(b"hdlr", 0, 0, _U32.pack(0), b"vide", bytes(12), b"VideoHandler\x00")
    vmhd = fmp4.full_box(b"vmhd", 0, 1, bytes(8))
    dinf = fmp4.box(
        b"dinf", fmp4.full_box(b"dref", 0, 0, _U32.pack(1), fmp4.full_box(b"url ", 0, 1))
    )
    minf = fmp4.box(b"minf", vmhd, dinf, fmp4.box(b"stbl", stbl))
    trak = fmp4.box(b"trak", tkhd, edts, fmp4.box(b"mdia", mdhd, hdlr, minf))
    return fmp4.box(b"moov", mvhd, trak)


def _ftyp(config: StreamConfig) -> bytes:
    brand = b"avc1" if config.codec == "h264" else b"hvc1"
    return fmp4.box(b"ftyp", b"isom", _U32.pack(0x200), b"isomiso2", brand, b"mp41")


# --- building --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Cut:
    """The part [start, end) of a segment, on that segment's own timeline."""

    segment: ClosedSegment
    start: int
    end: int


def build_mp4(segments: Sequence[ClosedSegment], start: int, end: int) -> VirtualMp4:
    """The virtual MP4 of [start, end) on one stream's timeline, from its segments' entries."""
    chosen = sorted(
        (s for s in segments if s.end_dts > start and s.start_dts < end), key=lambda s: s.start_dts
    )
    return build_mp4_cuts([Cut(segment, start, end) for segment in chosen])


def build_mp4_cuts(cuts: Sequence[Cut]) -> VirtualMp4:
    """The virtual MP4 of the cuts, in their order.

    Each cut's segment may come from another timeline (a restarted server starts its timeline
    anew), so each carries its own range. The file starts at the keyframe at or before the
    first cut's start (the first one after it when that start falls in a gap) with an edit list
    that begins playback at that start, and ends with the last sample that decodes before the
    last cut's end. Gaps between cuts are squeezed out (see ``spans``).
    Raises ValueError when nothing is recorded in the cuts or their segments' configs differ.
    """
    configs = {cut.segment.config for cut in cuts}
    if len(configs) > 1:
        raise ValueError("the range spans a stream config change: ask for each part")
    tables = _gather(cuts)
    if not tables.slices:
        raise ValueError("nothing recorded in the range")
    config = configs.pop()
    first_dts = tables.spans[0].timeline_start
    media_start = _first_shown(tables, max(cuts[0].start - first_dts, 0))
    duration = max(0, tables.presentation_end - media_start)
    stbl_head = _stbl_head(config, tables)
    edts = _elst(media_start, duration)
    ftyp = _ftyp(config)
    # co64 has a fixed size, so a first moov tells where the mdat payload begins.
    probe = _moov(config, stbl_head + _co64(tables, 0), duration, tables.media_time, edts)
    base = len(ftyp) + len(probe) + _MDAT_HEADER_SIZE
    moov = _moov(config, stbl_head + _co64(tables, base), duration, tables.media_time, edts)
    mdat = struct.pack(">I4sQ", 1, b"mdat", _MDAT_HEADER_SIZE + tables.mdat_size)
    header = ftyp + moov + mdat
    slices = [
        _Slice(piece.at + len(header), piece.path, piece.offset, piece.length)
        for piece in tables.slices
    ]
    return VirtualMp4(header, slices, tables.spans, media_start)
