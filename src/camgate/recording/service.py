"""Recording use cases: recorders for the running cameras, the index, retention, playback."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import dataclasses
import fcntl
import logging
import os
import shutil
from collections.abc import Awaitable, Callable, Collection, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from camgate.cameras import store as camera_store
from camgate.core.clock import Clock
from camgate.core.errors import CamgateError, ErrorKind, invalid, not_found
from camgate.live.runtime import LiveRuntime
from camgate.media.audio import remove_sidecar
from camgate.media.mp4file import VirtualMp4, build_mp4_cuts
from camgate.media.packet import TIMESCALE
from camgate.media.recording_rules import HeldRange, Interval, held_by, segments_to_delete
from camgate.media.segment import DEFAULT_SEGMENT_DURATION, ClosedSegment, SegmentFiles, salvage
from camgate.recording import check, store
from camgate.recording.check import Problem, ProblemKind
from camgate.recording.models import (
    IndexedSegment,
    RecorderState,
    RecorderStatus,
    RecordingConfig,
    RecordingEvent,
)
from camgate.recording.playback import GAP_TOLERANCE_S, cuts_end, cuts_for, recorded_intervals
from camgate.recording.recorder import StreamRecorder
from camgate.settings import Recording

log = logging.getLogger(__name__)

#: How often retention runs (it also runs at once when a disk fills up).
RETENTION_INTERVAL_S = 60.0
#: Events kept for the status page.
MAX_EVENTS = 100
#: Virtual MP4s kept built: a ``<video>`` asks for the same file many times (range requests).
PLAYBACK_CACHE = 16
#: The longest range one playback file covers (its moov grows with it: ~10 MiB a day at 30 fps).
MAX_PLAYBACK_S = 24 * 3600
LOCK_FILE = ".lock"

#: The spans that investigations keep: their segments are never deleted by retention.
Holds = Callable[[], Awaitable[Collection[HeldRange]]]


async def no_holds() -> Collection[HeldRange]:
    """Nothing held (a recording service without investigations: tests, ``camgate check``)."""
    return ()


@dataclass(frozen=True, slots=True)
class PlaybackFile:
    """A virtual MP4 of a camera's recordings and where it lies in wall time."""

    camera_id: str
    stream_id: str
    mp4: VirtualMp4
    start: float
    #: Where the file ends: the requested end, or earlier at a stream config change.
    end: float


@dataclass(frozen=True, slots=True)
class Timeline:
    camera_id: str
    stream_id: str | None
    intervals: list[Interval]


@dataclass(frozen=True, slots=True)
class DiskStatus:
    root: Path
    total_bytes: int
    free_bytes: int
    min_free_bytes: int


class RecordingsLock:
    """An exclusive lock on the recordings folder: one server, or one ``check --repair``."""

    def __init__(self, root: Path) -> None:
        self._path = root / LOCK_FILE
        self._fd: int | None = None

    def acquire(self) -> bool:
        self._path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self._path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self._fd = fd
        return True

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def disk_status(root: Path, min_free_mb: int) -> DiskStatus:
    usage = shutil.disk_usage(root)
    return DiskStatus(root, usage.total, usage.free, min_free_mb * 2**20)


class RecordingService:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        clock: Clock,
        root: Path,
        *,
        settings: Callable[[], Recording],
        executor: Executor,
        runtime: LiveRuntime | None = None,
        holds: Holds = no_holds,
        segment_s: float = DEFAULT_SEGMENT_DURATION / TIMESCALE,
        files: SegmentFiles | None = None,
    ) -> None:
        self._db = sessions
        self._clock = clock
        self.root = root
        self._settings = settings
        self._executor = executor
        self._runtime = runtime
        self._holds = holds
        self._files = files
        self._segment_duration = round(segment_s * TIMESCALE)
        self._recorders: dict[str, StreamRecorder] = {}
        self._events: collections.deque[RecordingEvent] = collections.deque(maxlen=MAX_EVENTS)
        self._retention_lock = asyncio.Lock()
        self._cache: collections.OrderedDict[tuple[object, ...], VirtualMp4] = (
            collections.OrderedDict()
        )

    # --- recorders ----------------------------------------------------------------------------

    async def reconcile(self) -> None:
        """Record exactly the running cameras whose recording is on, from the chosen stream."""
        if self._runtime is None:
            return
        async with self._db() as db:
            configs = await store.configs(db)
        wanted: dict[str, tuple[str, bool]] = {}  # stream id -> camera id, audio recorded
        for camera_id in self._runtime.running():
            config = configs.get(camera_id)
            if config is None or not config.enabled:
                continue
            streams = self._runtime.camera_hubs(camera_id)
            chosen = next((s for s, _ in streams if s.position == config.stream_position), None)
            if chosen is None and streams:
                chosen = streams[0][0]  # the position is gone: the first stream
            if chosen is not None:
                wanted[chosen.id] = (camera_id, config.audio)
        for stream_id, recorder in tuple(self._recorders.items()):
            if (
                stream_id not in wanted
                or recorder.audio != wanted[stream_id][1]
                or recorder.done
                or recorder.hub is not self._runtime.hub(stream_id)
            ):
                del self._recorders[stream_id]
                await recorder.stop()
        for stream_id, (camera_id, audio) in wanted.items():
            hub = self._runtime.hub(stream_id)
            if stream_id not in self._recorders and hub is not None:
                recorder = StreamRecorder(
                    camera_id,
                    stream_id,
                    hub,
                    self.root,
                    self._executor,
                    on_closed=self._index,
                    on_error=self._recorder_failed,
                    segment_duration=self._segment_duration,
                    audio=audio,
                    files=self._files,
                    monotonic=self._clock.monotonic,
                )
                self._recorders[stream_id] = recorder
                recorder.start()

    def statuses(self) -> list[RecorderStatus]:
        return [recorder.status() for recorder in self._recorders.values()]

    def status_of(self, camera_id: str) -> RecorderStatus | None:
        """The camera's recorder (a camera records one stream), from memory: cheap enough for
        every live frame that reports it (the XProtect Mobile protocol's LiveEvents)."""
        return next(
            (r.status() for r in self._recorders.values() if r.camera_id == camera_id), None
        )

    @property
    def events(self) -> list[RecordingEvent]:
        return list(self._events)

    async def disk(self) -> DiskStatus:
        min_free_mb = self._settings().min_free_mb
        return await asyncio.to_thread(disk_status, self.root, min_free_mb)

    async def recorded_bytes(self) -> int:
        """Bytes of every camera's finished recordings, as the index counts them."""
        async with self._db() as db:
            return sum(size for size, _segments in (await store.usage(db)).values())

    async def aclose(self) -> None:
        recorders, self._recorders = self._recorders, {}
        await asyncio.gather(*(recorder.stop() for recorder in recorders.values()))

    async def _index(self, camera_id: str, stream_id: str, segment: ClosedSegment) -> None:
        try:
            async with self._db() as db:
                await store.insert(db, self.root, camera_id, stream_id, segment)
                await db.commit()
        except Exception:  # the file stays: the next start (or check --repair) indexes it
            log.exception("cannot index %s", segment.path)

    async def _recorder_failed(self, recorder: StreamRecorder, error: OSError) -> None:
        status = recorder.status()
        self._event(status.state.value, recorder.camera_id, status.detail)
        if status.state is RecorderState.DISK_FULL:
            await self.enforce_retention()

    def _event(self, kind: str, camera_id: str | None, detail: str) -> None:
        log.warning("recording: %s%s: %s", kind, f" ({camera_id})" if camera_id else "", detail)
        self._events.append(RecordingEvent(self._clock.now(), kind, camera_id, detail))

    # --- settings -----------------------------------------------------------------------------

    async def config(self, camera_id: str) -> RecordingConfig:
        async with self._db() as db:
            row = await camera_store.camera_row(db, camera_id)
            if row is None:
                raise not_found("camera")
            return store.config_of(row)

    async def set_config(self, camera_id: str, config: RecordingConfig) -> RecordingConfig:
        if config.retention_days is not None and config.retention_days < 1:
            raise invalid("retention_days is at least 1 (or null for no age limit)")
        if config.retention_gb is not None and config.retention_gb <= 0:
            raise invalid("retention_gb is more than 0 (or null for no size limit)")
        async with self._db() as db:
            row = await camera_store.camera_row(db, camera_id)
            if row is None:
                raise not_found("camera")
            camera = await camera_store.camera(db, camera_id)
            assert camera is not None
            if not 0 <= config.stream_position < len(camera.streams):
                raise invalid(f"the camera has streams 0 to {len(camera.streams) - 1}")
            store.set_config(row, config)
            await db.commit()
        await self.reconcile()
        return config

    # --- the timeline and playback ------------------------------------------------------------

    async def _segments(self, camera_id: str, start: float, end: float) -> list[IndexedSegment]:
        """Indexed segments overlapping [start, end), and the open segment's written part."""
        async with self._db() as db:
            found = await store.overlapping(db, self.root, camera_id, start, end)
        for recorder in self._recorders.values():
            part = recorder.open_part
            if (
                recorder.camera_id == camera_id
                and part is not None
                and part.end_wallclock > start
                and part.start_wallclock < end
            ):
                found.append(IndexedSegment(-1, camera_id, recorder.stream_id, part))
        return found

    def _stream_of(self, camera_id: str, segments: Sequence[IndexedSegment]) -> str | None:
        """The stream to play when the client names none: the one recorded now, if it has
        video in the range, else the one recorded first in the range."""
        streams = {s.stream_id for s in segments}
        current = next(
            (r.stream_id for r in self._recorders.values() if r.camera_id == camera_id), None
        )
        if current in streams:
            return current
        earliest = min(segments, key=lambda s: s.segment.start_wallclock, default=None)
        return earliest.stream_id if earliest else None

    async def timeline(
        self, camera_id: str, start: float, end: float, stream_id: str | None = None
    ) -> Timeline:
        _check_range(start, end, max_s=None)
        stream_id, own = await self.stream_segments(camera_id, start, end, stream_id)
        return Timeline(camera_id, stream_id, recorded_intervals(own, start, end))

    async def playback(
        self, camera_id: str, start: float, end: float, stream_id: str | None = None
    ) -> PlaybackFile:
        _check_range(start, end, max_s=MAX_PLAYBACK_S)
        stream_id, own = await self.stream_segments(camera_id, start, end, stream_id)
        cuts = cuts_for(own, start, end)
        if not cuts or stream_id is None:
            raise not_found("recorded video in that range")
        key = (stream_id, start, end, *((c.segment.path, c.segment.size) for c in cuts))
        mp4 = self._cache.get(key)
        if mp4 is None:
            try:
                mp4 = await asyncio.to_thread(build_mp4_cuts, cuts)
            except ValueError as error:
                raise CamgateError(ErrorKind.NOT_FOUND, str(error)) from error
            except FileNotFoundError as error:  # deleted by retention meanwhile
                raise not_found("recorded video in that range") from error
            self._cache[key] = mp4
            while len(self._cache) > PLAYBACK_CACHE:
                self._cache.popitem(last=False)
        self._cache.move_to_end(key)
        return PlaybackFile(camera_id, stream_id, mp4, start, cuts_end(cuts))

    async def stream_segments(
        self, camera_id: str, start: float, end: float, stream_id: str | None = None
    ) -> tuple[str | None, list[ClosedSegment]]:
        """One stream's segments overlapping [start, end), the open part included, sorted by
        wall-clock start (an indexed segment before the open part of the same start), and
        that stream: ``stream_id``, else the one :meth:`timeline` would show."""
        segments = await self._segments(camera_id, start, end)
        stream_id = stream_id or self._stream_of(camera_id, segments)
        own = sorted(
            (s for s in segments if s.stream_id == stream_id),
            key=lambda s: (s.segment.start_wallclock, s.id < 0),
        )
        return stream_id, [s.segment for s in own]

    async def neighbour(
        self, camera_id: str, stream_id: str, time: float, *, after: bool
    ) -> float | None:
        """Where the next recording starts, or the previous one ends, for "jump to recording":
        segments less than :data:`GAP_TOLERANCE_S` apart are one recording, and the one at
        ``time`` is skipped.

        The open part counts: a recording that began after a gap is found before its first
        segment closes, and the newest recording ends where the open part does."""
        parts = [
            r.open_part
            for r in self._recorders.values()
            if r.stream_id == stream_id and r.open_part is not None
        ]
        async with self._db() as db:
            if after:
                found = await self._run_edge(db, camera_id, stream_id, time, after=True)
                starts = [] if found is None else [found.start_wallclock]
                for part in parts:
                    if part.start_wallclock > time and not await store.joined(
                        db, camera_id, stream_id, part.start_wallclock, tolerance=GAP_TOLERANCE_S
                    ):
                        starts.append(part.start_wallclock)
                return min(starts, default=None)
            for part in parts:
                if part.end_wallclock < time:
                    return part.end_wallclock
            found = await self._run_edge(db, camera_id, stream_id, time, after=False)
            # Not in the index, the open part continues the segment found: when ``time`` is in
            # the open part, that segment is the end of ``time``'s own recording.
            if found is not None and any(
                found.end_wallclock >= part.start_wallclock - GAP_TOLERANCE_S
                and time >= part.start_wallclock - GAP_TOLERANCE_S
                for part in parts
            ):
                found = await self._run_edge(
                    db, camera_id, stream_id, found.start_wallclock, after=False
                )
        return None if found is None else found.end_wallclock

    async def _run_edge(
        self, db: AsyncSession, camera_id: str, stream_id: str, time: float, *, after: bool
    ) -> ClosedSegment | None:
        found = await store.neighbour(
            db, self.root, camera_id, stream_id, time, after=after, tolerance=GAP_TOLERANCE_S
        )
        return None if found is None else found.segment

    # --- retention ----------------------------------------------------------------------------

    async def run_retention(self) -> None:
        while True:
            try:
                await self.enforce_retention()
            except Exception:  # a failed round is logged and tried again
                log.exception("retention failed")
            await asyncio.sleep(RETENTION_INTERVAL_S)

    async def enforce_retention(self) -> int:
        """Delete what the cameras' limits and the disk's free space ask for; returns how many."""
        async with self._retention_lock:
            async with self._db() as db:
                stored = await store.stored(db)
                configs = await store.configs(db)
            held = held_by(stored, await self._holds())
            stored = [dataclasses.replace(s, held=s.id in held) for s in stored]
            limits = {
                s.camera_id: configs.get(s.camera_id, RecordingConfig()).limits() for s in stored
            }
            disk = await self.disk()
            to_free = max(0, disk.min_free_bytes - disk.free_bytes)
            doomed = segments_to_delete(stored, limits, self._clock.now(), to_free)
            freed = sum(s.size for s in doomed)
            if to_free and freed < to_free:
                self._event(
                    "disk_full",
                    None,
                    f"{to_free - freed} more bytes should be free, and nothing else may be deleted",
                )
            elif to_free:
                self._event("disk_pressure", None, f"deleted {len(doomed)} old segments for space")
            await self._delete([s.id for s in doomed])
            return len(doomed)

    async def _delete(self, ids: Sequence[int]) -> None:
        """Deletion's ordered steps (ADR 0009): mark, unlink and fsync, delete the rows."""
        if not ids:
            return
        async with self._db() as db:
            await store.mark_garbage(db, ids)
            await db.commit()
        await self._finish_garbage()

    async def _finish_garbage(self) -> int:
        async with self._db() as db:
            garbage = await store.garbage(db, self.root)
        if not garbage:
            return 0
        await asyncio.to_thread(_unlink_all, [path for _, path in garbage])
        async with self._db() as db:
            await store.delete_rows(db, [segment_id for segment_id, _ in garbage])
            await db.commit()
        return len(garbage)

    # --- recovery and check -------------------------------------------------------------------

    async def recover(self) -> list[Problem]:
        """At start, before recording: finish what a crash interrupted (partials, orphans,
        deletions). Rows are not re-verified here (that is ``camgate check``)."""
        async with self._db() as db:
            indexed = await store.paths(db)
        found = await asyncio.to_thread(check.unindexed_files, self.root, indexed, partials=True)
        async with self._db() as db:
            garbage = await store.garbage(db, self.root)
        problems = found + [
            Problem(ProblemKind.GARBAGE, _relative(self.root, path), "deletion unfinished", sid)
            for sid, path in garbage
        ]
        await self._repair(problems)
        if found:
            self._event("recovered", None, f"indexed {len(found)} segments left by a crash")
        return problems

    async def check(self, *, repair: bool, partials: bool = True) -> list[Problem]:
        """Every problem of the recordings against the index; repaired when ``repair``.

        ``partials``: whether ``.partial`` files count (not while a server records into them).
        """
        async with self._db() as db:
            segments = await store.all_segments(db, self.root)
            garbage = await store.garbage(db, self.root)
        garbage_ids = {segment_id for segment_id, _ in garbage}
        ready = [s for s in segments if s.id not in garbage_ids]
        problems = await asyncio.to_thread(self._inspect, ready, segments, partials)
        problems += [
            Problem(ProblemKind.GARBAGE, _relative(self.root, path), "deletion unfinished", sid)
            for sid, path in garbage
        ]
        if repair:
            await self._repair(problems)
        return check.sorted_problems(problems)

    def _inspect(
        self, ready: Sequence[IndexedSegment], rows: Sequence[IndexedSegment], partials: bool
    ) -> list[Problem]:
        problems = [p for s in ready if (p := check.verify_segment(self.root, s)) is not None]
        # A marked row's file is not an orphan: its unfinished deletion is reported (garbage).
        paths = {_relative(self.root, s.segment.path) for s in rows}
        problems += check.unindexed_files(self.root, paths, partials=partials)
        problems += check.overlaps(self.root, ready)
        return problems

    async def _repair(self, problems: Sequence[Problem]) -> None:
        for problem in problems:
            try:
                await self._repair_one(problem)
            except (OSError, ValueError) as error:
                log.warning("cannot repair %s (%s): %s", problem.path, problem.kind, error)

    async def _repair_one(self, problem: Problem) -> None:
        path = self.root / problem.path
        match problem.kind:
            case ProblemKind.PARTIAL:
                closed = await asyncio.to_thread(salvage, path, self._files)
                if closed is not None:
                    await self._index_found(closed)
            case ProblemKind.ORPHAN:
                orphan = await asyncio.to_thread(check.read_orphan, path)
                if orphan is None:
                    await asyncio.to_thread(check.set_aside, path)
                else:
                    await self._index_found(orphan)
            case ProblemKind.MISSING:
                await self._delete_rows([problem.segment_id])
            case ProblemKind.UNREADABLE:
                await asyncio.to_thread(check.set_aside, path)
                await self._delete_rows([problem.segment_id])
            case ProblemKind.MISMATCH:
                await self._reindex(problem, path)
            case ProblemKind.GARBAGE:
                await self._finish_garbage()
            case ProblemKind.OVERLAP:
                pass  # harmless: playback takes the earlier segment where they overlap

    async def _reindex(self, problem: Problem, path: Path) -> None:
        """Trust the file: cut a garbage tail, then point the row at what the file holds."""
        scan = await asyncio.to_thread(check.trim, path)
        async with self._db() as db:
            if scan is None:
                await store.delete_rows(db, [problem.segment_id] if problem.segment_id else [])
            elif problem.segment_id is not None:
                await store.replace(db, self.root, problem.segment_id, scan)
            await db.commit()

    async def _index_found(self, segment: ClosedSegment) -> None:
        owner = check.owner_of(self.root, segment.path)
        if owner is None:
            return
        await self._index(owner.camera_id, owner.stream_id, segment)

    async def _delete_rows(self, ids: Sequence[int | None]) -> None:
        async with self._db() as db:
            await store.delete_rows(db, [i for i in ids if i is not None])
            await db.commit()


def _unlink_all(paths: Sequence[Path]) -> None:
    files = SegmentFiles()
    folders: set[Path] = set()
    for path in paths:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        remove_sidecar(path)
        folders.add(path.parent)
    for folder in folders:
        try:
            folder.rmdir()  # an emptied day folder; refused while it holds files
        except OSError:
            with contextlib.suppress(FileNotFoundError):
                files.fsync_dir(folder)
        else:
            files.fsync_dir(folder.parent)


def _relative(root: Path, path: Path) -> str:
    return path.relative_to(root).as_posix()


def _check_range(start: float, end: float, *, max_s: float | None) -> None:
    if end <= start:
        raise invalid("end must be after start")
    if max_s is not None and end - start > max_s:
        raise invalid(f"a playback file covers at most {max_s / 3600:g} hours")
