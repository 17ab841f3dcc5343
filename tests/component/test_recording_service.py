"""The recording service against a real SQLite index and real segment files (ADR 0009):
recorders fed through a live hub, a full disk, retention, ``check`` and repair, recovery.

Nothing is mocked but the camera (a hub the test feeds), a file system call that fails on purpose
and, where the amount of free space matters, the disk's size.
"""

from __future__ import annotations

import asyncio
import dataclasses
import errno
import inspect
import os
import shutil
import sqlite3
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from camgate.cameras.models import Camera, CameraStream
from camgate.cameras.service import CameraService
from camgate.context import Core, open_core
from camgate.core.errors import CamgateError
from camgate.live.runtime import LiveRuntime
from camgate.media.audio import AudioConfig, AudioPacket, records, sidecar_path
from camgate.media.fanout import Subscription
from camgate.media.hub import LiveHub
from camgate.media.packet import TIMESCALE, MediaPacket
from camgate.media.recording_rules import SECONDS_PER_DAY, HeldRange, Interval
from camgate.media.segment import (
    PARTIAL_SUFFIX,
    ClosedSegment,
    SegmentFiles,
    SegmentWriter,
    scan_segment,
)
from camgate.media.source import read_packets
from camgate.media.synthetic import PROFILES, ensure_clip
from camgate.recording import recorder as recorder_module
from camgate.recording import service as service_module
from camgate.recording import store
from camgate.recording.check import DAMAGED_SUFFIX, ProblemKind
from camgate.recording.models import IndexedSegment, RecorderState
from camgate.recording.service import DiskStatus, Holds, RecordingService, no_holds
from tests.support.clock import FakeClock
from tests.support.media import CLIP_EPOCH, decode_frames

SECOND = TIMESCALE
#: The synthetic clip: 2 s at 30 fps, a keyframe every second.
FRAMES_PER_GOP = 30
WAIT_S = 10.0


# --- the clip and the streams made of it -----------------------------------------------------


@dataclass(frozen=True)
class Clip:
    path: Path
    packets: list[MediaPacket]
    #: The decoded pictures of the clip file, one digest per frame.
    digests: list[str]


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Clip:
    path = ensure_clip(tmp_path_factory.mktemp("clips"), "Cam B", PROFILES[2])
    packets = read_packets(path, CLIP_EPOCH)
    digests = [frame.digest for frame in decode_frames(path.read_bytes())]
    assert len(packets) == len(digests) == 2 * FRAMES_PER_GOP
    return Clip(path, packets, digests)


G711 = AudioConfig("pcm_mulaw", 8000, 1)


def looped(clip: Clip, times: int, origin: float = CLIP_EPOCH) -> list[MediaPacket]:
    """The clip played ``times`` over on one continuous timeline, as a looping source does."""
    length = clip.packets[-1].dts + clip.packets[-1].duration
    return [
        dataclasses.replace(
            packet,
            dts=packet.dts + loop * length,
            pts=packet.pts + loop * length,
            wallclock=origin + (packet.dts + loop * length) / TIMESCALE,
        )
        for loop in range(times)
        for packet in clip.packets
    ]


# --- the environment: a data folder with a camera, a recordings folder -----------------------


@dataclass
class Env:
    core: Core
    clock: FakeClock
    root: Path
    camera: Camera
    executor: ThreadPoolExecutor
    services: list[RecordingService] = field(default_factory=list)

    @property
    def stream_id(self) -> str:
        return self.camera.streams[0].id

    def service(
        self,
        *,
        runtime: LiveRuntime | None = None,
        holds: Holds = no_holds,
        files: SegmentFiles | None = None,
        segment_s: float = 2.0,
    ) -> RecordingService:
        service = RecordingService(
            self.core.sessions,
            self.clock,
            self.root,
            settings=lambda: self.core.settings.tree.recording,
            executor=self.executor,
            runtime=runtime,
            holds=holds,
            segment_s=segment_s,
            files=files,
        )
        self.services.append(service)
        return service

    def record(self, packets: Sequence[MediaPacket], seconds: float = 2.0) -> list[ClosedSegment]:
        """Segments written as a recorder writes them (not indexed)."""
        writer = SegmentWriter(
            self.root, self.camera.id, self.stream_id, segment_duration=round(seconds * SECOND)
        )
        closed = [segment for packet in packets for segment in writer.append(packet)]
        last = writer.close()
        return [*closed, last] if last else closed

    async def index(self, segments: Sequence[ClosedSegment]) -> list[int]:
        async with self.core.sessions() as db:
            ids = [
                await store.insert(db, self.root, self.camera.id, self.stream_id, segment)
                for segment in segments
            ]
            await db.commit()
        return ids

    async def rows(self) -> list[IndexedSegment]:
        async with self.core.sessions() as db:
            return await store.all_segments(db, self.root)

    async def row_ids(self) -> list[int]:
        return [row.id for row in await self.rows()]

    def states(self) -> dict[int, str]:
        """The rows' states as the database file holds them (committed), read without the
        service's engine: usable from any thread."""
        with sqlite3.connect(self.core.data_dir / "camgate.db") as db:
            return dict(db.execute("SELECT id, state FROM segments").fetchall())

    def relative(self, path: Path) -> str:
        return path.relative_to(self.root).as_posix()

    def partials(self) -> list[Path]:
        return sorted(self.root.rglob(f"*{PARTIAL_SUFFIX}"))


@pytest.fixture
def executor() -> Iterator[ThreadPoolExecutor]:
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="recording") as pool:
        yield pool


@pytest.fixture
async def env(tmp_path: Path, executor: ThreadPoolExecutor) -> AsyncIterator[Env]:
    clock = FakeClock(CLIP_EPOCH + 60)
    async with open_core(tmp_path / "data", clock) as core:
        # The default keeps 1 GiB free: on a small test disk that alone would delete recordings.
        await core.settings.patch({"recording": {"min_free_mb": 0}})
        camera = await CameraService(core.sessions, clock, core.key).add("Gate", ["synthetic:360p"])
        root = tmp_path / "recordings"
        root.mkdir()
        env = Env(core, clock, root, camera, executor)
        try:
            yield env
        finally:
            for service in env.services:
                await service.aclose()


# --- a camera the test feeds -----------------------------------------------------------------


class FedHub(LiveHub):
    """A live hub that knows its packet subscriptions, so the test can wait for them."""

    def __init__(self) -> None:
        super().__init__("gate")
        self.subscriptions: list[Subscription[MediaPacket]] = []

    def subscribe_packets(self) -> Subscription[MediaPacket]:
        subscription = super().subscribe_packets()
        self.subscriptions.append(subscription)
        return subscription

    async def feed(self, packets: Sequence[MediaPacket]) -> None:
        """Publish as a camera would, letting the subscribers take each GOP before the next
        (a real camera is slower than a disk; a queue that overflows would drop GOPs)."""
        for packet in packets:
            self.publish(packet)
            if packet.is_keyframe:
                await self.taken()
        await self.taken()

    async def taken(self) -> None:
        await until(lambda: all(len(s) == 0 for s in self.subscriptions))


class FedRuntime(LiveRuntime):
    """The live runtime of one camera whose only stream is a hub the test feeds."""

    def __init__(self, camera: Camera, hub: LiveHub) -> None:
        super().__init__(Path("unused"))
        self._camera = camera
        self._hub = hub

    def running(self) -> dict[str, tuple[str, ...]]:
        return {self._camera.id: (self._camera.streams[0].id,)}

    def camera_hubs(self, camera_id: str) -> list[tuple[CameraStream, LiveHub]]:
        return [(self._camera.streams[0], self._hub)] if camera_id == self._camera.id else []

    def hub(self, stream_id: str) -> LiveHub | None:
        return self._hub if stream_id == self._camera.streams[0].id else None


async def until(condition: Callable[[], bool | Awaitable[bool]]) -> None:
    deadline = time.monotonic() + WAIT_S
    while True:
        result = condition()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return
        if time.monotonic() > deadline:
            raise AssertionError("the condition did not come true in time")
        await asyncio.sleep(0.005)


async def intervals(service: RecordingService, env: Env) -> list[Interval]:
    timeline = await service.timeline(env.camera.id, CLIP_EPOCH - 3600, CLIP_EPOCH + 3600)
    return timeline.intervals


async def played(service: RecordingService, env: Env, start: float, end: float) -> list[str]:
    """The digests of the frames a playback file of [start, end) presents."""
    playback = await service.playback(env.camera.id, start, end)
    return [frame.digest for frame in decode_frames(playback.mp4.read(0, playback.mp4.size))]


# --- 1. recording through a hub --------------------------------------------------------------


async def test_a_hub_is_recorded_indexed_and_played_back_while_written(
    env: Env, clip: Clip
) -> None:
    hub = FedHub()
    service = env.service(runtime=FedRuntime(env.camera, hub))
    await service.reconcile()
    (status,) = service.statuses()
    assert status.state is RecorderState.WAITING
    assert service.status_of(env.camera.id) == status
    assert service.status_of("another camera") is None
    packets = looped(clip, 3)  # 6 s; keyframes at 0, 1, ... 5 s; segments of 2 s

    # Up to the keyframe at 5 s: segments [0, 2) and [2, 4) closed, [4, 5) of the third written.
    await hub.feed(packets[: 5 * FRAMES_PER_GOP + 1])
    epoch = CLIP_EPOCH
    await until(lambda: service.statuses()[0].segments_closed == 2)
    # The timeline reaches the last written GOP before its segment closes.
    await until(lambda: _intervals_are(service, env, [Interval(epoch, epoch + 5)]))
    assert len(await env.rows()) == 2
    assert [p.name for p in env.partials()] == [f"{round((epoch + 4) * 1000)}.mp4.partial"]
    assert service.statuses()[0].state is RecorderState.RECORDING
    assert await intervals(service, env) == [Interval(epoch, epoch + 5)]
    # The open segment plays: alone, and joined to the closed ones.
    assert await played(service, env, epoch + 4.5, epoch + 5) == clip.digests[15:30]
    assert await played(service, env, epoch, epoch + 5) == (clip.digests * 3)[:150]

    await hub.feed(packets[5 * FRAMES_PER_GOP + 1 :])
    await service.aclose()  # closes the third segment and indexes it
    rows = await env.rows()
    assert [(r.segment.start_wallclock, r.segment.end_wallclock) for r in rows] == [
        (epoch, epoch + 2),
        (epoch + 2, epoch + 4),
        (epoch + 4, epoch + 6),
    ]
    assert {(r.camera_id, r.stream_id) for r in rows} == {(env.camera.id, env.stream_id)}
    assert [r.segment.sample_count for r in rows] == [60, 60, 60]
    assert env.partials() == []
    assert await intervals(service, env) == [Interval(epoch, epoch + 6)]
    assert await played(service, env, epoch, epoch + 6) == clip.digests * 3
    assert (
        await played(service, env, epoch + 1.5, epoch + 2.5)
        == clip.digests[45:60] + clip.digests[:15]
    )
    assert await service.check(repair=False) == []


async def _intervals_are(service: RecordingService, env: Env, expected: list[Interval]) -> bool:
    return await intervals(service, env) == expected


# --- 2. a full disk --------------------------------------------------------------------------


class FillingDisk(SegmentFiles):
    """Writes fail with ENOSPC once ``room`` writes are spent (None: never), after writing half
    their bytes, as a write does when the disk fills up in its middle."""

    def __init__(self, room: int | None) -> None:
        self.room = room
        self.writes = 0

    def write(self, fd: int, data: bytes) -> None:
        self.writes += 1
        if self.room is not None:
            if self.room == 0:
                super().write(fd, data[: len(data) // 2])
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            self.room -= 1
        super().write(fd, data)


async def test_a_full_disk_keeps_what_was_written_runs_retention_and_recording_resumes(
    env: Env, clip: Clip
) -> None:
    old = await env.index(env.record(looped(clip, 1, origin=CLIP_EPOCH - 30 * SECONDS_PER_DAY)))
    epoch = CLIP_EPOCH
    hub = FedHub()
    # The init, the GOPs [0, 1) and [1, 2) fit; the GOP [2, 3) fills the disk half-way.
    files = FillingDisk(room=3)
    service = env.service(runtime=FedRuntime(env.camera, hub), files=files, segment_s=60)
    await service.reconcile()
    packets = looped(clip, 4)  # 8 s, keyframes every second

    await hub.feed(packets[: 3 * FRAMES_PER_GOP + 1])
    await until(lambda: service.statuses()[0].state is RecorderState.DISK_FULL)
    status = service.statuses()[0]
    assert status.detail == "the recordings disk is full"
    await until(lambda: len(service.events) == 1)
    (event,) = service.events
    assert (event.kind, event.camera_id, event.detail) == (
        "disk_full",
        env.camera.id,
        "the recordings disk is full",
    )
    # Retention ran at once: the month-old recording is gone (the camera keeps 7 days).
    await until(lambda: _missing(env, old))
    # The two GOPs written before the failure are a closed, indexed segment; the half GOP is cut.
    rows = await env.rows()
    assert [(r.id in old, r.segment.start_wallclock, r.segment.end_wallclock) for r in rows] == [
        (False, epoch, epoch + 2)
    ]
    assert len(rows[0].segment.keyframes) == 2
    assert env.partials() == []
    assert await service.check(repair=False) == []

    # Space is back, but GOPs are dropped until the retry time has passed.
    files.room = None
    writes = files.writes
    await hub.feed(packets[3 * FRAMES_PER_GOP + 1 : 4 * FRAMES_PER_GOP + 1])
    assert files.writes == writes
    assert service.statuses()[0].state is RecorderState.DISK_FULL

    env.clock.t += recorder_module.RETRY_S
    # The keyframe at 5 s opens a new segment; at 6 s its first GOP is written.
    await hub.feed(packets[4 * FRAMES_PER_GOP + 1 : 6 * FRAMES_PER_GOP + 1])
    await until(lambda: service.statuses()[0].state is RecorderState.RECORDING)
    assert service.statuses()[0].detail == ""
    assert [p.name for p in env.partials()] == [f"{round((epoch + 5) * 1000)}.mp4.partial"]
    await hub.feed(packets[6 * FRAMES_PER_GOP + 1 :])
    await service.aclose()
    assert await intervals(service, env) == [
        Interval(epoch, epoch + 2),
        Interval(epoch + 5, epoch + 8),
    ]
    assert await played(service, env, epoch, epoch + 8) == clip.digests + (clip.digests * 2)[30:]
    assert await service.check(repair=False) == []
    assert [e.kind for e in service.events] == ["disk_full"]


async def _missing(env: Env, ids: Collection[int]) -> bool:
    return not set(ids) & set(await env.row_ids())


async def test_retries_on_a_disk_that_stays_full_leave_nothing_behind(env: Env, clip: Clip) -> None:
    hub = FedHub()
    files = FillingDisk(room=2)  # the init and the GOP [0, 1) fit; nothing after them
    service = env.service(runtime=FedRuntime(env.camera, hub), files=files, segment_s=60)
    await service.reconcile()
    packets = looped(clip, 3)
    await hub.feed(packets[: 2 * FRAMES_PER_GOP + 1])
    await until(lambda: len(service.events) == 1)
    for retry in (3, 4):  # each retry opens a segment at a keyframe, and its init fails
        env.clock.t += recorder_module.RETRY_S
        await hub.feed(packets[(retry - 1) * FRAMES_PER_GOP + 1 : retry * FRAMES_PER_GOP + 1])
        await until(lambda n=retry - 1: len(service.events) == n)
    await service.aclose()
    assert [e.kind for e in service.events] == ["disk_full"] * 3
    assert [(r.segment.start_wallclock, r.segment.end_wallclock) for r in await env.rows()] == [
        (CLIP_EPOCH, CLIP_EPOCH + 1)
    ]
    assert env.partials() == []


async def test_a_disk_that_fills_when_a_segment_rotates_loses_nothing_written(
    env: Env, clip: Clip
) -> None:
    hub = FedHub()
    # The init and the GOPs [0, 1), [1, 2) fit; the next segment's init does not.
    files = FillingDisk(room=3)
    service = env.service(runtime=FedRuntime(env.camera, hub), files=files, segment_s=2)
    await service.reconcile()
    await hub.feed(looped(clip, 2)[: 2 * FRAMES_PER_GOP + 1])
    await until(lambda: service.statuses()[0].state is RecorderState.DISK_FULL)
    await service.aclose()
    rows = await env.rows()
    assert [(r.segment.start_wallclock, r.segment.end_wallclock) for r in rows] == [
        (CLIP_EPOCH, CLIP_EPOCH + 2)
    ]
    assert env.partials() == []
    assert await service.check(repair=False) == []


# --- 3. retention ----------------------------------------------------------------------------


async def test_retention_deletes_what_is_older_than_the_camera_keeps_unless_held(
    env: Env, clip: Clip
) -> None:
    day0 = await env.index(env.record(looped(clip, 3)))
    day6 = await env.index(env.record(looped(clip, 3, origin=CLIP_EPOCH + 6 * SECONDS_PER_DAY)))
    service_rows = {row.id: row.segment for row in await env.rows()}
    kept = service_rows[day0[1]]
    # An investigation's span inside the segment holds it, and no other.
    held = [HeldRange(env.camera.id, kept.start_wallclock + 0.1, kept.end_wallclock - 0.1)]

    async def holds() -> Collection[HeldRange]:
        return held

    service = env.service(holds=holds)
    files = {row_id: segment.path for row_id, segment in service_rows.items()}
    day0_folder = files[day0[0]].parent
    for segment in service_rows.values():  # a camera with a microphone
        tone = AudioPacket(b"\x7f" * 160, segment.start_dts, 1800, 0.0, G711)
        sidecar_path(segment.path).write_bytes(records([tone], None))

    env.clock.t = CLIP_EPOCH + 6 * SECONDS_PER_DAY
    assert await service.enforce_retention() == 0
    assert await env.row_ids() == day0 + day6

    env.clock.t = CLIP_EPOCH + 7 * SECONDS_PER_DAY + 60  # day 0 is more than 7 days old
    assert await service.enforce_retention() == 2
    assert await env.row_ids() == [day0[1], *day6]
    assert sorted(p for p in env.root.rglob("*.mp4")) == sorted(files[i] for i in [day0[1], *day6])
    assert sorted(env.root.rglob("*.audio")) == sorted(
        sidecar_path(files[i]) for i in [day0[1], *day6]
    )

    held.clear()
    assert await service.enforce_retention() == 1
    assert await env.row_ids() == day6
    assert not day0_folder.exists()  # the emptied day folder went with its last segment
    assert service.events == []


class SmallDisk:
    """A disk of ``capacity`` bytes that holds nothing but the recordings folder."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity

    def __call__(self, root: Path, min_free_mb: int) -> DiskStatus:
        used = sum(path.stat().st_size for path in root.rglob("*") if path.is_file())
        return DiskStatus(root, self.capacity, self.capacity - used, min_free_mb * 2**20)


async def test_disk_pressure_deletes_the_oldest_first_and_says_when_it_cannot_free_enough(
    env: Env, clip: Clip, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = await env.index(env.record(looped(clip, 6)))  # six segments of 2 s
    rows = await env.rows()
    sizes = [row.segment.size for row in rows]
    held: list[HeldRange] = []

    async def holds() -> Collection[HeldRange]:
        return held

    service = env.service(holds=holds)
    await env.core.settings.patch({"recording": {"min_free_mb": 1}})
    used = sum(path.stat().st_size for path in env.root.rglob("*") if path.is_file())
    # One byte less free than the oldest two segments would give back.
    disk = SmallDisk(used + 2**20 - sizes[0] - sizes[1] + 1)
    monkeypatch.setattr(service_module, "disk_status", disk)

    assert await service.enforce_retention() == 2
    assert await env.row_ids() == ids[2:]
    assert [(e.kind, e.camera_id) for e in service.events] == [("disk_pressure", None)]
    assert await service.enforce_retention() == 0  # enough is free now

    # The oldest left is held; everything else cannot free 10 MiB.
    third = rows[2].segment
    held.append(HeldRange(env.camera.id, third.start_wallclock + 0.1, third.end_wallclock - 0.1))
    await env.core.settings.patch({"recording": {"min_free_mb": 10}})
    assert await service.enforce_retention() == 3
    assert await env.row_ids() == [ids[2]]
    assert [e.kind for e in service.events] == ["disk_pressure", "disk_full"]
    assert "more bytes should be free" in service.events[-1].detail
    assert [p.name for p in env.root.rglob("*.mp4")] == [f"{round(CLIP_EPOCH * 1000) + 4000}.mp4"]


async def test_a_real_disk_with_too_little_free_space_keeps_only_held_recordings(
    env: Env, clip: Clip
) -> None:
    segments = env.record(looped(clip, 3))
    ids = await env.index(segments)
    first = segments[0]

    async def holds() -> Collection[HeldRange]:
        return [HeldRange(env.camera.id, first.start_wallclock, first.end_wallclock - 0.1)]

    service = env.service(holds=holds)
    free_mb = shutil.disk_usage(env.root).free // 2**20
    await env.core.settings.patch({"recording": {"min_free_mb": free_mb + 1024}})
    disk = await service.disk()
    assert disk.min_free_bytes > disk.free_bytes
    assert await service.enforce_retention() == 2
    assert await env.row_ids() == [ids[0]]
    assert [e.kind for e in service.events] == ["disk_full"]


# --- 4. check and repair ---------------------------------------------------------------------


@dataclass
class Recorded:
    ids: list[int]
    segments: list[ClosedSegment]


async def _recorded(env: Env, clip: Clip) -> Recorded:
    segments = env.record(looped(clip, 3))
    assert len(segments) == 3
    return Recorded(await env.index(segments), segments)


Rows = dict[str, IndexedSegment]


@dataclass(frozen=True)
class Damage:
    """What a test did to a clean recording: the problem ``check`` must report, at ``path``,
    and what must hold of the rows (by relative path) after the repair."""

    kind: ProblemKind
    path: Path
    repaired: Callable[[Rows], None]


async def _file_deleted_by_hand(env: Env, rec: Recorded) -> Damage:
    path = rec.segments[1].path
    path.unlink()

    def repaired(rows: Rows) -> None:
        assert env.relative(path) not in rows

    return Damage(ProblemKind.MISSING, path, repaired)


async def _row_lost(env: Env, rec: Recorded) -> Damage:
    async with env.core.sessions() as db:
        await store.delete_rows(db, [rec.ids[1]])
        await db.commit()

    def repaired(rows: Rows) -> None:
        assert rows[env.relative(rec.segments[1].path)].segment == rec.segments[1]

    return Damage(ProblemKind.ORPHAN, rec.segments[1].path, repaired)


async def _partial_left(env: Env, rec: Recorded) -> Damage:
    """The first GOP and a half of a segment, as a crash leaves them (an hour later, so that
    the salvaged segment does not overlap the others)."""
    source = rec.segments[2].path
    second = scan_segment(source).fragments[1]
    start_ms = round(rec.segments[2].start_wallclock * 1000) + 3_600_000
    partial = source.with_name(f"{start_ms}.mp4{PARTIAL_SUFFIX}")
    partial.write_bytes(source.read_bytes()[: second.offset + second.size // 2])

    def repaired(rows: Rows) -> None:
        closed = partial.with_name(partial.name.removesuffix(PARTIAL_SUFFIX))
        assert not partial.exists()
        salvaged = rows[env.relative(closed)].segment
        assert salvaged.keyframes == rec.segments[2].keyframes[:1]
        assert salvaged.start_wallclock == start_ms / 1000
        assert closed.stat().st_size == salvaged.size

    return Damage(ProblemKind.PARTIAL, partial, repaired)


async def _garbage_appended(env: Env, rec: Recorded) -> Damage:
    path = rec.segments[1].path
    with path.open("ab") as file:
        file.write(os.urandom(5000))

    def repaired(rows: Rows) -> None:
        assert path.stat().st_size == rec.segments[1].size
        assert rows[env.relative(path)].segment == rec.segments[1]

    return Damage(ProblemKind.MISMATCH, path, repaired)


async def _last_gop_torn(env: Env, rec: Recorded) -> Damage:
    path = rec.segments[1].path
    last = rec.segments[1].keyframes[-1]
    os.truncate(path, last.offset + last.size // 2)

    def repaired(rows: Rows) -> None:
        segment = rows[env.relative(path)].segment
        assert segment.keyframes == rec.segments[1].keyframes[:1]
        assert segment.end_wallclock == rec.segments[1].start_wallclock + 1
        assert path.stat().st_size == segment.size

    return Damage(ProblemKind.MISMATCH, path, repaired)


def _set_aside(env: Env, path: Path) -> Callable[[Rows], None]:
    def repaired(rows: Rows) -> None:
        assert env.relative(path) not in rows
        assert not path.exists()
        assert path.with_name(path.name + DAMAGED_SUFFIX).exists()

    return repaired


async def _not_a_segment(env: Env, rec: Recorded) -> Damage:
    path = rec.segments[1].path
    path.write_bytes(b"this is not a segment\n" * 100)
    return Damage(ProblemKind.UNREADABLE, path, _set_aside(env, path))


async def _unindexed_junk(env: Env, rec: Recorded) -> Damage:
    path = rec.segments[0].path.with_name(f"{round(CLIP_EPOCH * 1000) + 3_600_000}.mp4")
    path.write_bytes(b"\x00" * 4096)
    return Damage(ProblemKind.ORPHAN, path, _set_aside(env, path))


async def _deletion_unfinished(env: Env, rec: Recorded) -> Damage:
    path = rec.segments[1].path
    async with env.core.sessions() as db:
        await store.mark_garbage(db, [rec.ids[1]])
        await db.commit()

    def repaired(rows: Rows) -> None:
        assert env.relative(path) not in rows
        assert not path.exists()

    return Damage(ProblemKind.GARBAGE, path, repaired)


@pytest.mark.parametrize(
    "damage",
    [
        _file_deleted_by_hand,
        _row_lost,
        _partial_left,
        _garbage_appended,
        _last_gop_torn,
        _not_a_segment,
        _unindexed_junk,
        _deletion_unfinished,
    ],
)
async def test_check_finds_each_problem_and_repair_fixes_it(
    env: Env, clip: Clip, damage: Callable[[Env, Recorded], Awaitable[Damage]]
) -> None:
    rec = await _recorded(env, clip)
    service = env.service()
    assert await service.check(repair=False) == []

    done = await damage(env, rec)
    found = await service.check(repair=False)
    assert [(p.kind, p.path) for p in found] == [(done.kind, env.relative(done.path))]
    assert await service.check(repair=True) == found
    assert await service.check(repair=False) == []

    rows = {env.relative(row.segment.path): row for row in await env.rows()}
    untouched = [s for s in rec.segments if s.path != done.path]
    assert all(rows[env.relative(s.path)].segment == s for s in untouched)
    done.repaired(rows)
    assert env.states() == dict.fromkeys((r.id for r in rows.values()), store.READY)


async def test_overlapping_segments_are_reported_and_left_alone(env: Env, clip: Clip) -> None:
    rec = await _recorded(env, clip)
    # The clock went back: a second run starts 1.5 s before the first one's last segment ends.
    later = await env.index(env.record(looped(clip, 1, origin=CLIP_EPOCH + 4.5)))
    service = env.service()
    found = await service.check(repair=False)
    (segment,) = [row.segment for row in await env.rows() if row.id == later[0]]
    assert [(p.kind, p.path, p.segment_id) for p in found] == [
        (ProblemKind.OVERLAP, env.relative(segment.path), later[0])
    ]
    assert await service.check(repair=True) == found
    assert await service.check(repair=False) == found
    assert await env.row_ids() == rec.ids + later


# --- 5. recovery at start --------------------------------------------------------------------


async def test_recover_finishes_what_a_crash_left(env: Env, clip: Clip) -> None:
    rec = await _recorded(env, clip)
    async with env.core.sessions() as db:
        await store.mark_garbage(db, [rec.ids[0]])  # a deletion that stopped after its mark
        await store.delete_rows(db, [rec.ids[1]])  # renamed, not yet indexed
        await db.commit()
    # A segment being written when the process died, its last GOP half on disk.
    writer = SegmentWriter(env.root, env.camera.id, env.stream_id)
    for packet in looped(clip, 2, origin=CLIP_EPOCH + 60)[: 3 * FRAMES_PER_GOP + 1]:
        writer.append(packet)
    partial = writer.open_path
    assert partial is not None
    writer.abandon()
    last = scan_segment(partial).fragments[-1]
    os.truncate(partial, last.offset + last.size // 2)

    service = env.service()
    problems = await service.recover()
    assert sorted((p.kind, p.path) for p in problems) == sorted(
        [
            (ProblemKind.GARBAGE, env.relative(rec.segments[0].path)),
            (ProblemKind.ORPHAN, env.relative(rec.segments[1].path)),
            (ProblemKind.PARTIAL, env.relative(partial)),
        ]
    )
    rows = await env.rows()
    salvaged = partial.with_name(partial.name.removesuffix(PARTIAL_SUFFIX))
    assert sorted(env.relative(r.segment.path) for r in rows) == sorted(
        env.relative(path) for path in (rec.segments[1].path, rec.segments[2].path, salvaged)
    )
    assert (
        next(r for r in rows if r.segment.path == rec.segments[1].path).segment == (rec.segments[1])
    )
    assert not rec.segments[0].path.exists()
    assert env.partials() == []
    assert len(next(r for r in rows if r.segment.path == salvaged).segment.keyframes) == 2
    assert env.states() == {r.id: store.READY for r in rows}
    assert [e.kind for e in service.events] == ["recovered"]
    assert await service.check(repair=False) == []
    assert await service.recover() == []  # idempotent


# --- 6. deletion order -----------------------------------------------------------------------


async def test_a_deletion_marks_the_row_before_the_file_goes(
    env: Env, clip: Clip, monkeypatch: pytest.MonkeyPatch
) -> None:
    rec = await _recorded(env, clip)
    service = env.service()
    seen: list[tuple[dict[int, str], list[bool]]] = []
    unlink_all = service_module._unlink_all

    def observed(paths: Sequence[Path]) -> None:
        seen.append((env.states(), [path.exists() for path in paths]))
        unlink_all(paths)

    monkeypatch.setattr(service_module, "_unlink_all", observed)
    env.clock.t = CLIP_EPOCH + 8 * SECONDS_PER_DAY
    assert await service.enforce_retention() == 3
    assert seen == [(dict.fromkeys(rec.ids, store.GARBAGE), [True, True, True])]
    assert env.states() == {}
    assert not any(s.path.exists() for s in rec.segments)


async def test_a_crash_between_mark_and_unlink_hides_the_segments_until_recovery(
    env: Env, clip: Clip, monkeypatch: pytest.MonkeyPatch
) -> None:
    rec = await _recorded(env, clip)
    service = env.service()

    def power_cut(paths: Sequence[Path]) -> None:
        raise RuntimeError("power cut")

    monkeypatch.setattr(service_module, "_unlink_all", power_cut)
    env.clock.t = CLIP_EPOCH + 8 * SECONDS_PER_DAY
    with pytest.raises(RuntimeError, match="power cut"):
        await service.enforce_retention()
    assert env.states() == dict.fromkeys(rec.ids, store.GARBAGE)
    assert all(s.path.exists() for s in rec.segments)
    assert await intervals(service, env) == []
    with pytest.raises(CamgateError):
        await service.playback(env.camera.id, CLIP_EPOCH, CLIP_EPOCH + 6)

    monkeypatch.undo()
    restarted = env.service()
    assert [p.kind for p in await restarted.recover()] == [ProblemKind.GARBAGE] * 3
    assert env.states() == {}
    assert not any(s.path.exists() for s in rec.segments)


# --- 7. jump to recording ----------------------------------------------------------------------


async def test_jumps_go_to_the_next_and_previous_recording_not_the_next_segment(
    env: Env, clip: Clip
) -> None:
    epoch = CLIP_EPOCH
    # Three recordings: [0, 6) and [20, 26) in three segments each, [40, 42) in one.
    for start, loops in ((0, 3), (20, 3), (40, 1)):
        await env.index(env.record(looped(clip, loops, origin=epoch + start)))
    service = env.service()

    async def jump(at: float, after: bool) -> float | None:
        found = await service.neighbour(env.camera.id, env.stream_id, epoch + at, after=after)
        return None if found is None else round(found - epoch, 3)

    assert [await jump(at, True) for at in (-5, 1, 5.9, 10, 21, 41)] == [0, 20, 20, 20, 40, None]
    assert [await jump(at, False) for at in (3, 10, 23, 30, 41, 50)] == [None, 6, 6, 26, 26, 42]


async def test_jumps_count_a_recording_whose_first_segment_is_still_open(
    env: Env, clip: Clip
) -> None:
    epoch = CLIP_EPOCH
    await env.index(env.record(looped(clip, 3)))  # [0, 6)
    hub = FedHub()
    service = env.service(runtime=FedRuntime(env.camera, hub), segment_s=60)
    await service.reconcile()
    packets = looped(clip, 2, origin=epoch + 20)  # [20, 24), its segment open
    await hub.feed(packets[: 3 * FRAMES_PER_GOP + 1])
    await until(lambda: service.statuses()[0].state is RecorderState.RECORDING)
    await until(
        lambda: _intervals_are(
            service, env, [Interval(epoch, epoch + 6), Interval(epoch + 20, epoch + 23)]
        )
    )
    assert len(await env.rows()) == 3

    async def jump(at: float, after: bool) -> float | None:
        found = await service.neighbour(env.camera.id, env.stream_id, epoch + at, after=after)
        return None if found is None else round(found - epoch, 3)

    assert [await jump(at, True) for at in (1, 10, 21)] == [20, 20, None]
    assert [await jump(at, False) for at in (10, 21, 30)] == [6, 6, 23]
