"""Recording segments: self-describing fMP4 files of one stream (ADR 0009).

A segment is the stream's init segment followed by one ``moof`` + ``mdat`` per GOP, on the
stream's 90 kHz timeline. :class:`SegmentWriter` writes them crash-safely (``.partial``, fsync,
rename, fsync of the directory) and returns an index entry per closed segment;
:func:`scan_segment` reads a segment back without the index, and :func:`salvage` turns the
``.partial`` a crash left into a closed segment.
"""

from __future__ import annotations

import dataclasses
import os
import struct
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from camgate.media import audio, fmp4
from camgate.media.audio import AudioConfig, AudioPacket
from camgate.media.packet import TIMESCALE, Codec, MediaPacket, StreamConfig

#: A segment closes at the first keyframe this long (timeline ticks) after its start.
DEFAULT_SEGMENT_DURATION = 60 * TIMESCALE
#: How often an open segment is fsynced: what a power loss may cost, at most, plus one GOP.
DEFAULT_FSYNC_INTERVAL_S = 5.0
#: A decode time this much later than expected is a gap (the source reconnected, ADR 0005).
GAP_TOLERANCE = TIMESCALE
#: The writer holds at most this much of a GOP; a longer GOP is written in several fragments.
MAX_FRAGMENT_SAMPLES = 600
MAX_FRAGMENT_BYTES = 32 * 2**20
PARTIAL_SUFFIX = ".partial"
#: How far a run's wall clock may drift from its frames' before a segment re-anchors.
ANCHOR_DRIFT_S = 0.5

# Bigger boxes than these at those places are garbage: an init is parameter sets and ~700 bytes
# of boxes, a moof ~100 bytes plus 16 per sample (MAX_FRAGMENT_SAMPLES fit easily), our ftyp 28.
_MAX_MOOF_SIZE = 1 << 20
_MAX_INIT_SIZE = 1 << 20
_MAX_FTYP_SIZE = 64
_HEADER = struct.Struct(">I4s")
_KEYFRAMES_VERSION = 1
_KEYFRAME = struct.Struct(">QQII")  # decode time, offset, size, samples
_NON_SYNC_BIT = 0x00010000  # sample_is_non_sync_sample in sample flags (8.8.3.1)


@dataclass(frozen=True, slots=True)
class KeyframeEntry:
    """One GOP of a segment: where its fragments are, and when it starts."""

    dts: int
    #: Byte offset of the GOP's first moof in the segment file.
    offset: int
    #: Bytes of the GOP's fragments (one, or several for a GOP over the fragment cap).
    size: int
    samples: int


@dataclass(frozen=True, slots=True)
class ClosedSegment:
    """The index entry of a closed segment: what the recording service stores in its row."""

    path: Path
    config: StreamConfig
    start_dts: int
    end_dts: int
    #: The wall clock of the first keyframe, to the millisecond of the file name.
    start_wallclock: float
    end_wallclock: float
    size: int
    keyframes: tuple[KeyframeEntry, ...]

    @property
    def sample_count(self) -> int:
        return sum(entry.samples for entry in self.keyframes)

    def wallclock_at(self, dts: int) -> float:
        """Wall time of a timeline instant, anchored at the segment's first keyframe."""
        return wallclock_at(self.start_wallclock, self.start_dts, dts)


def wallclock_at(start_wallclock: float, start_dts: int, dts: int) -> float:
    return start_wallclock + (dts - start_dts) / TIMESCALE


def encode_keyframes(entries: Sequence[KeyframeEntry]) -> bytes:
    """The keyframe offsets as one compact value for a database column (24 bytes per GOP)."""
    packed = (_KEYFRAME.pack(e.dts, e.offset, e.size, e.samples) for e in entries)
    return bytes([_KEYFRAMES_VERSION]) + b"".join(packed)


def decode_keyframes(data: bytes) -> tuple[KeyframeEntry, ...]:
    if not data or data[0] != _KEYFRAMES_VERSION or (len(data) - 1) % _KEYFRAME.size:
        raise ValueError("not keyframe offsets of a known version")
    return tuple(KeyframeEntry(*fields) for fields in _KEYFRAME.iter_unpack(data[1:]))


# --- file system calls -----------------------------------------------------------------------


class SegmentFiles:
    """The writer's file system calls, one method each: a seam to observe their order."""

    def create(self, path: Path) -> int:
        return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)

    def write(self, fd: int, data: bytes) -> None:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]

    def fsync(self, fd: int) -> None:
        os.fsync(fd)

    def close(self, fd: int) -> None:
        os.close(fd)

    def rename(self, source: Path, target: Path) -> None:
        os.rename(source, target)

    def remove(self, path: Path) -> None:
        path.unlink(missing_ok=True)

    def fsync_dir(self, path: Path) -> None:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def make_dirs(self, path: Path) -> None:
        """Create ``path`` and missing parents, fsyncing each new entry's parent directory."""
        if path.is_dir():
            return
        self.make_dirs(path.parent)
        path.mkdir(exist_ok=True)
        self.fsync_dir(path.parent)


# --- writing ---------------------------------------------------------------------------------


class RotationError(OSError):
    """Opening the next segment failed after the previous one was closed durably: the closed
    one (``closed``) is on disk and must still be indexed."""

    def __init__(self, error: OSError, closed: list[ClosedSegment]) -> None:
        super().__init__(error.errno, error.strerror)
        self.closed = closed


@dataclass(slots=True)
class _OpenSegment:
    fd: int
    partial: Path
    config: StreamConfig
    start_dts: int
    start_wallclock: float
    end_dts: int
    size: int
    last_fsync: float
    keyframes: list[KeyframeEntry] = dataclasses.field(default_factory=list)
    sequence: int = 0
    #: The audio sidecar, once the first audio packet came (ADR 0016), and its last config.
    audio_fd: int | None = None
    audio_config: AudioConfig | None = None

    @property
    def final(self) -> Path:
        return self.partial.with_name(self.partial.name.removesuffix(PARTIAL_SUFFIX))

    def entry(self, path: Path) -> ClosedSegment:
        """The index entry of what has been written so far."""
        return ClosedSegment(
            path,
            self.config,
            self.start_dts,
            self.end_dts,
            self.start_wallclock,
            wallclock_at(self.start_wallclock, self.start_dts, self.end_dts),
            self.size,
            tuple(self.keyframes),
        )


class SegmentWriter:
    """Writes one stream's packets into segment files; blocking, for a worker thread.

    Memory: at most one GOP (capped at ``max_fragment_samples``/``MAX_FRAGMENT_BYTES``). A GOP is
    written when the next keyframe arrives; the file is fsynced every ``fsync_interval_s``.
    Packets before the first keyframe of a segment are dropped: nothing could decode them.
    """

    def __init__(
        self,
        root: Path,
        camera_id: str,
        stream_id: str,
        *,
        segment_duration: int = DEFAULT_SEGMENT_DURATION,
        fsync_interval_s: float = DEFAULT_FSYNC_INTERVAL_S,
        max_fragment_samples: int = MAX_FRAGMENT_SAMPLES,
        files: SegmentFiles | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._folder = root / camera_id / stream_id
        self._segment_duration = segment_duration
        self._fsync_interval_s = fsync_interval_s
        self._max_fragment_samples = max_fragment_samples
        self._files = files or SegmentFiles()
        self._clock = clock
        self._segment: _OpenSegment | None = None
        self._pending: list[MediaPacket] = []
        self._pending_bytes = 0

    @property
    def open_path(self) -> Path | None:
        """The ``.partial`` being written, if any."""
        return self._segment.partial if self._segment else None

    @property
    def held_samples(self) -> int:
        """Samples held in memory, waiting for the rest of their GOP."""
        return len(self._pending)

    def append(self, packet: MediaPacket) -> list[ClosedSegment]:
        """Take the next packet (decode order); returns the segments it closed (0 or 1)."""
        closed: list[ClosedSegment] = []
        if self._segment is not None and self._breaks(self._segment, packet):
            closed.append(self._close(self._segment, next_dts=None))
        if self._segment is None:
            if not packet.is_keyframe:
                return closed
            self._segment = self._open(packet)
        elif packet.is_keyframe or self._pending_full():
            self._write_pending(self._segment, next_dts=packet.dts)
            if packet.is_keyframe and self._rotates(self._segment, packet):
                previous = self._segment
                closed.append(self._close(previous, next_dts=None))
                try:
                    self._segment = self._open(packet, _continued(previous, packet))
                except OSError as error:
                    raise RotationError(error, closed) from error
        self._pending.append(packet)
        self._pending_bytes += len(packet.data)
        return closed

    def append_audio(self, packets: Sequence[AudioPacket]) -> None:
        """Write audio packets into the open segment's sidecar (created with the first one).

        Audio while no segment is open is dropped: there is no video to go with it.
        """
        segment = self._segment
        if segment is None or not packets:
            return
        if segment.audio_fd is None:
            sidecar = audio.sidecar_path(segment.partial)
            # The segment's name is new, so a sidecar already there was left by a crash.
            self._files.remove(sidecar)
            segment.audio_fd = self._files.create(sidecar)
        self._files.write(segment.audio_fd, audio.records(packets, segment.audio_config))
        segment.audio_config = packets[-1].config

    def close(self) -> ClosedSegment | None:
        """Write what is held and close the open segment (shutdown, a new generation)."""
        if self._segment is None:
            return None
        return self._close(self._segment, next_dts=None)

    def written(self) -> ClosedSegment | None:
        """The open segment's part already on disk (path: its ``.partial``), if any.

        Playback offers the last minute from it before the segment closes.
        """
        segment = self._segment
        if segment is None or not segment.keyframes:
            return None
        return segment.entry(segment.partial)

    def abandon(self) -> Path | None:
        """Give up the open segment after a failed write (a full disk): close its file and
        forget what is held. Returns the ``.partial`` left behind, for :func:`salvage`."""
        segment, self._segment = self._segment, None
        self._pending = []
        self._pending_bytes = 0
        if segment is None:
            return None
        self._files.close(segment.fd)
        if segment.audio_fd is not None:
            self._files.close(segment.audio_fd)
        return segment.partial

    def _breaks(self, segment: _OpenSegment, packet: MediaPacket) -> bool:
        """A config change or a timeline gap: the packet cannot continue the segment."""
        last = self._pending[-1]
        expected = last.dts + last.duration
        return (
            packet.config != segment.config
            or packet.dts <= last.dts
            or packet.dts - expected > GAP_TOLERANCE
        )

    def _rotates(self, segment: _OpenSegment, keyframe: MediaPacket) -> bool:
        return keyframe.dts - segment.start_dts >= self._segment_duration

    def _pending_full(self) -> bool:
        return (
            len(self._pending) >= self._max_fragment_samples
            or self._pending_bytes >= MAX_FRAGMENT_BYTES
        )

    def _open(self, keyframe: MediaPacket, anchor: float | None = None) -> _OpenSegment:
        """A new segment; ``anchor``: its wall clock, when it continues the previous one."""
        wallclock = keyframe.wallclock if anchor is None else anchor
        moment = datetime.fromtimestamp(wallclock, UTC)
        folder = self._folder / moment.strftime("%Y-%m-%d")
        self._files.make_dirs(folder)
        start_ms = round(wallclock * 1000)
        while True:
            partial = folder / f"{start_ms}.mp4{PARTIAL_SUFFIX}"
            if not partial.with_suffix("").exists():
                try:
                    fd = self._files.create(partial)
                    break
                except FileExistsError:
                    pass
            start_ms += 1  # the clock went back: the next free name keeps both files
        init = fmp4.init_segment(keyframe.config)
        try:
            self._files.write(fd, init)
            self._files.fsync_dir(folder)
        except OSError:
            # A file without its init holds nothing: leave no trace for the retry to trip on.
            self._files.close(fd)
            self._files.remove(partial)
            raise
        return _OpenSegment(
            fd,
            partial,
            keyframe.config,
            keyframe.dts,
            start_ms / 1000,
            keyframe.dts,
            len(init),
            self._clock(),
        )

    def _write_pending(self, segment: _OpenSegment, next_dts: int | None) -> None:
        """Write the held samples as one fragment; ``next_dts`` ends the last one."""
        samples = _with_exact_durations(self._pending, next_dts)
        segment.sequence += 1
        data = fmp4.media_segment(segment.sequence, samples)
        self._files.write(segment.fd, data)
        if samples[0].is_keyframe:
            entry = KeyframeEntry(samples[0].dts, segment.size, len(data), len(samples))
            segment.keyframes.append(entry)
        else:  # the rest of a GOP over the cap
            last = segment.keyframes[-1]
            segment.keyframes[-1] = dataclasses.replace(
                last, size=last.size + len(data), samples=last.samples + len(samples)
            )
        segment.size += len(data)
        segment.end_dts = samples[-1].dts + samples[-1].duration
        self._pending = []
        self._pending_bytes = 0
        if self._clock() - segment.last_fsync >= self._fsync_interval_s:
            self._fsync(segment)
            segment.last_fsync = self._clock()

    def _fsync(self, segment: _OpenSegment) -> None:
        self._files.fsync(segment.fd)
        if segment.audio_fd is not None:
            self._files.fsync(segment.audio_fd)

    def _close(self, segment: _OpenSegment, next_dts: int | None) -> ClosedSegment:
        """The durable close: last GOP, fsync, rename, fsync of the directory (in that order)."""
        if self._pending:
            self._write_pending(segment, next_dts)
        self._segment = None
        self._fsync(segment)
        self._files.close(segment.fd)
        if segment.audio_fd is not None:
            self._files.close(segment.audio_fd)
        self._files.rename(segment.partial, segment.final)
        self._files.fsync_dir(segment.final.parent)
        return segment.entry(segment.final)


def _continued(previous: _OpenSegment, keyframe: MediaPacket) -> float | None:
    """The wall clock of ``keyframe`` on the previous segment's clock, when the two agree.

    A source stamps frames when they arrive, with jitter; anchoring each segment of a run
    afresh would open holes and overlaps of that jitter between segments. So a segment that
    continues a run keeps the run's clock, until it drifts from the frames' by more than
    ``ANCHOR_DRIFT_S`` (a camera's clock runs fast or slow): then the frame's wall clock wins.
    """
    continued = wallclock_at(previous.start_wallclock, previous.start_dts, keyframe.dts)
    return continued if abs(continued - keyframe.wallclock) <= ANCHOR_DRIFT_S else None


def _with_exact_durations(
    packets: Sequence[MediaPacket], next_dts: int | None
) -> list[MediaPacket]:
    """Durations from consecutive decode times, so that read-back decode times are exact."""
    ends = [p.dts for p in packets[1:]] + [next_dts]
    exact = []
    for packet, end in zip(packets, ends, strict=True):
        if end is not None and end - packet.dts != packet.duration:
            packet = dataclasses.replace(packet, duration=end - packet.dts)
        exact.append(packet)
    return exact


# --- reading ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ScannedFragment:
    """One complete moof + mdat of a segment file."""

    offset: int
    size: int
    dts: int
    #: Offset in the file of the first sample's bytes (the mdat payload).
    data_offset: int
    #: (duration, size, flags, composition offset) per sample.
    samples: list[tuple[int, int, int, int]]

    @property
    def keyframe(self) -> bool:
        return not self.samples[0][2] & _NON_SYNC_BIT


@dataclass(frozen=True, slots=True)
class SegmentScan:
    """What a segment file holds, read from the file alone."""

    config: StreamConfig
    fragments: list[ScannedFragment]
    #: Bytes up to the end of the last complete fragment (the init's end if there is none).
    complete_size: int
    file_size: int

    @property
    def keyframes(self) -> tuple[KeyframeEntry, ...]:
        entries: list[KeyframeEntry] = []
        for fragment in self.fragments:
            count = len(fragment.samples)
            if fragment.keyframe:
                entries.append(KeyframeEntry(fragment.dts, fragment.offset, fragment.size, count))
            else:
                last = entries[-1]
                entries[-1] = KeyframeEntry(
                    last.dts, last.offset, last.size + fragment.size, last.samples + count
                )
        return tuple(entries)

    def closed(self, path: Path, start_wallclock: float) -> ClosedSegment:
        """The index entry of the complete part (there must be at least one fragment)."""
        last = self.fragments[-1]
        start_dts = self.fragments[0].dts
        end_dts = last.dts + sum(sample[0] for sample in last.samples)
        return ClosedSegment(
            path,
            self.config,
            start_dts,
            end_dts,
            start_wallclock,
            wallclock_at(start_wallclock, start_dts, end_dts),
            self.complete_size,
            self.keyframes,
        )


def scan_segment(path: Path) -> SegmentScan:
    """Parse the init and every complete fragment, stopping at a truncated or garbage tail.

    Raises ValueError when the file does not start with an init segment camgate wrote.
    """
    with path.open("rb") as file:
        fd = file.fileno()
        file_size = os.fstat(fd).st_size
        config, init_size = _read_init(fd, file_size)
        fragments = list(read_fragments(fd, init_size, file_size))
    complete = fragments[-1].offset + fragments[-1].size if fragments else init_size
    return SegmentScan(config, fragments, complete, file_size)


def read_fragments(fd: int, start: int, end: int) -> Iterator[ScannedFragment]:
    """The complete fragments in bytes [start, end) of a segment, reading only their moofs.

    Stops at the first thing that is not a whole fragment as the writer makes them. A segment
    must start with a keyframe, so a first fragment without one ends the scan as well.
    """
    position = start
    while position + _HEADER.size <= end:
        fragment = _read_fragment(fd, position, end)
        if fragment is None or (position == start and not fragment.keyframe):
            return
        yield fragment
        position += fragment.size


def _read_fragment(fd: int, position: int, end: int) -> ScannedFragment | None:
    moof_size, kind = _HEADER.unpack(os.pread(fd, _HEADER.size, position))
    if kind != b"moof" or not fmp4.MOOF_HEAD_SIZE <= moof_size <= _MAX_MOOF_SIZE:
        return None
    mdat_at = position + moof_size
    if mdat_at + _HEADER.size > end:
        return None
    try:
        header = fmp4.parse_moof(os.pread(fd, moof_size, position))
    except ValueError:
        return None
    mdat_size, kind = _HEADER.unpack(os.pread(fd, _HEADER.size, mdat_at))
    payload = sum(sample[1] for sample in header.samples)
    complete = mdat_at + mdat_size <= end
    if not header.samples or kind != b"mdat" or mdat_size != _HEADER.size + payload or not complete:
        return None
    return ScannedFragment(
        position, moof_size + mdat_size, header.dts, mdat_at + _HEADER.size, header.samples
    )


def _read_init(fd: int, file_size: int) -> tuple[StreamConfig, int]:
    """The stream config of the file's init segment, and the init's size."""
    ftyp_size, kind = _HEADER.unpack(_pread_exact(fd, _HEADER.size, 0))
    if kind != b"ftyp" or ftyp_size > _MAX_FTYP_SIZE:
        raise ValueError("not a segment: no ftyp")
    moov_size, kind = _HEADER.unpack(_pread_exact(fd, _HEADER.size, ftyp_size))
    init_size = ftyp_size + moov_size
    if kind != b"moov" or init_size > min(file_size, _MAX_INIT_SIZE):
        raise ValueError("not a segment: no complete moov")
    init = _pread_exact(fd, init_size, 0)
    try:
        config = _config_of(init, ftyp_size)
    except (struct.error, StopIteration) as error:
        raise ValueError("not a segment: a broken moov") from error
    if fmp4.init_segment(config) != init:
        raise ValueError("an init segment camgate did not write")
    return config, init_size


def _config_of(init: bytes, moov_at: int) -> StreamConfig:
    """The StreamConfig in moov/trak/mdia/minf/stbl/stsd's sample entry."""
    start, size = moov_at, len(init) - moov_at
    for kind in ("trak", "mdia", "minf", "stbl", "stsd"):
        start, size = _child(init, start + 8, start + size, kind)
    entry_at = start + 16  # stsd: header, version/flags, entry_count
    entry_size, entry_kind = _HEADER.unpack_from(init, entry_at)
    codec: Codec = "h264" if entry_kind == b"avc1" else "hevc"
    if entry_kind not in (b"avc1", b"hvc1"):
        raise ValueError(f"unknown sample entry {entry_kind!r}")
    width, height = struct.unpack_from(">HH", init, entry_at + 8 + 24)
    record_at, record_size = next(
        (at, n) for _, at, n in fmp4.iter_boxes(init, entry_at + 86, entry_at + entry_size)
    )
    return StreamConfig(codec, width, height, init[record_at + 8 : record_at + record_size])


def _child(data: bytes, start: int, end: int, kind: str) -> tuple[int, int]:
    for found, at, size in fmp4.iter_boxes(data, start, end):
        if found == kind:
            return at, size
    raise ValueError(f"no {kind} box")


def _pread_exact(fd: int, size: int, offset: int) -> bytes:
    data = os.pread(fd, size, offset)
    if len(data) != size:
        raise ValueError(f"truncated at {offset + len(data)}")
    return data


# --- salvage ---------------------------------------------------------------------------------


def start_wallclock_of(path: Path) -> float:
    """The wall-clock anchor a segment's name holds (``<start_unix_ms>.mp4[.partial]``)."""
    return int(path.name.split(".", 1)[0]) / 1000


def salvage(path: Path, files: SegmentFiles | None = None) -> ClosedSegment | None:
    """Close the ``.partial`` a crash left: truncate to its complete fragments and rename.

    Returns its index entry, or None (the file deleted) when it holds no complete GOP.
    """
    files = files or SegmentFiles()
    final = path.with_name(path.name.removesuffix(PARTIAL_SUFFIX))
    try:
        scan = scan_segment(path)
    except ValueError:
        scan = None
    if scan is None or not scan.fragments:
        path.unlink()
        audio.remove_sidecar(path)
        files.fsync_dir(path.parent)
        return None
    fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
    try:
        os.ftruncate(fd, scan.complete_size)
        files.fsync(fd)
    finally:
        files.close(fd)
    files.rename(path, final)
    files.fsync_dir(final.parent)
    return scan.closed(final, start_wallclock_of(final))
