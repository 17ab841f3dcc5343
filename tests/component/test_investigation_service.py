"""The investigation service on a real database and real recordings, with a clock the test
moves: the size limit, retention, holds, a restart in the middle of an export."""

from __future__ import annotations

import asyncio
import io
import threading
import time
import zipfile
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from camgate.audit.models import AuditQuery
from camgate.audit.service import AuditLog
from camgate.cameras.service import CameraService
from camgate.context import Core, open_core
from camgate.core.errors import CamgateError, ErrorKind
from camgate.db.tables import ExportRow
from camgate.identity.models import Permission, User
from camgate.investigations import protection
from camgate.investigations import service as service_module
from camgate.investigations.jobs import ExportJob
from camgate.investigations.keys import DataKeys
from camgate.investigations.models import Export, ExportFormat, ExportState, Investigation
from camgate.investigations.service import InvestigationService
from camgate.media.audio import AudioConfig, AudioPacket, records, sidecar_path
from camgate.media.packet import TIMESCALE
from camgate.media.recording_rules import SECONDS_PER_DAY, HeldRange
from camgate.media.segment import SegmentWriter
from camgate.media.source import read_packets
from camgate.media.synthetic import PROFILES, ensure_clip
from camgate.recording import store as recording_store
from camgate.recording.service import RecordingService
from tests.component.test_recording_service import Clip, looped
from tests.support.clock import FakeClock
from tests.support.media import CLIP_EPOCH

ADDRESS = "127.0.0.1"


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Clip:
    path = ensure_clip(tmp_path_factory.mktemp("clips"), "Cam B", PROFILES[2])
    return Clip(path, read_packets(path, CLIP_EPOCH), [])


@dataclass
class World:
    core: Core
    service: InvestigationService
    clock: FakeClock
    camera_id: str
    admin: User
    operator: User
    audit: AuditLog
    folder: Path

    async def settings(self, **section: object) -> None:
        await self.core.settings.patch({"investigations": section})


@pytest.fixture
def executor() -> Iterator[ThreadPoolExecutor]:
    with ThreadPoolExecutor(max_workers=2) as pool:
        yield pool


@pytest.fixture
async def world(tmp_path: Path, clip: Clip, executor: ThreadPoolExecutor) -> AsyncIterator[World]:
    clock = FakeClock(CLIP_EPOCH + 60)
    async with open_core(tmp_path / "data", clock) as core:
        await core.settings.patch(
            {
                "recording": {"min_free_mb": 0},
                "investigations": {"export_formats": {"mkv": True, "native": True}},
            }
        )
        camera = await CameraService(core.sessions, clock, core.key).add("Gate", ["synthetic:360p"])
        root = tmp_path / "recordings"
        writer = SegmentWriter(
            root, camera.id, camera.streams[0].id, segment_duration=2 * TIMESCALE
        )
        packets = looped(clip, 3)
        segments = [s for p in packets for s in writer.append(p)]
        if (last := writer.close()) is not None:
            segments.append(last)
        async with core.sessions() as db:
            for segment in segments:
                await recording_store.insert(db, root, camera.id, camera.streams[0].id, segment)
            await db.commit()
        recordings = RecordingService(
            core.sessions,
            clock,
            root,
            settings=lambda: core.settings.tree.recording,
            executor=executor,
        )
        folder = tmp_path / "investigations"
        keys = DataKeys(core.key, core.data_dir)
        protection.create(folder, None, keys.sealer)
        audit = AuditLog(core.sessions, clock)
        service = InvestigationService(
            core.sessions,
            clock,
            folder=folder,
            settings=lambda: core.settings.tree.investigations,
            audit=audit,
            can_view=lambda user, camera_id: True,
            recordings=recordings,
            keys=keys,
        )
        admin = await core.identity.add_user("boss", "long password 1", "administrator")
        operator = await core.identity.add_user("olga", "long password 2", "operator")
        await core.identity.set_role_permissions("operator", frozenset({Permission.EXPORT}))
        operator = await core.identity.user("olga")
        world = World(core, service, clock, camera.id, admin, operator, audit, folder)
        try:
            yield world
        finally:
            await service.aclose()
            await recordings.aclose()


async def investigate(world: World, user: User | None = None) -> Investigation:
    return await world.service.create(
        user or world.operator,
        ADDRESS,
        name="Gate",
        camera_ids=[world.camera_id],
        start=CLIP_EPOCH,
        end=CLIP_EPOCH + 3,
    )


async def finished(world: World, user: User, investigation_id: str, export_id: str) -> Export:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        exports = await world.service.exports(user, investigation_id)
        found = next(e for e in exports if e.id == export_id)
        if found.state in (ExportState.DONE, ExportState.FAILED):
            return found
        await asyncio.sleep(0.05)
    raise AssertionError("the export did not finish")


async def test_an_export_past_the_size_limit_is_refused_and_nothing_old_goes(
    world: World,
) -> None:
    investigation = await investigate(world)
    first = await world.service.prepare(
        world.operator, ADDRESS, investigation.id, export_format=ExportFormat.MKV
    )
    done = await finished(world, world.operator, investigation.id, first.id)
    assert done.state is ExportState.DONE
    files = sorted(world.folder.rglob("*.mkv"))

    # A limit just above what the folder holds: the next export would pass it.
    used = sum(p.stat().st_size for p in world.folder.rglob("*") if p.is_file())
    await world.settings(size_limit_enabled=True, size_limit_mb=max(1, (used + 1000) // 2**20))
    if used + done.size < 2**20:  # the clip is small: fill the folder up to its limit
        filler = world.folder / "other-files"
        filler.write_bytes(b"\0" * (2**20 - used - 1000))
    with pytest.raises(CamgateError) as refused:
        await world.service.prepare(
            world.operator, ADDRESS, investigation.id, export_format=ExportFormat.MKV
        )
    assert refused.value.kind is ErrorKind.CONFLICT
    assert "size limit of 1 MB" in refused.value.detail
    assert sorted(world.folder.rglob("*.mkv")) == files
    assert len(await world.service.exports(world.operator, investigation.id)) == 1


async def test_retention_deletes_investigations_older_than_its_days(world: World) -> None:
    old = await investigate(world)
    world.clock.t += 3 * SECONDS_PER_DAY
    young = await investigate(world)
    export = await world.service.prepare(
        world.operator, ADDRESS, old.id, export_format=ExportFormat.MKV
    )
    await finished(world, world.operator, old.id, export.id)
    assert (world.folder / old.id).is_dir()

    world.clock.t += 4 * SECONDS_PER_DAY + 1  # the old one is 7 days and a second old
    assert await world.service.enforce_retention() == 0  # retention is off by default
    await world.settings(retention_enabled=True)
    assert await world.service.enforce_retention() == 1
    assert [i.id for i in await world.service.visible_to(world.operator)] == [young.id]
    assert not (world.folder / old.id).exists()
    (entry,) = await world.audit.search(AuditQuery("investigation.delete"))
    assert entry.username == "camgate" and entry.target == old.id
    assert "7 days" in entry.details["reason"]


async def test_investigations_hold_their_recordings(world: World) -> None:
    investigation = await investigate(world)
    assert list(await world.service.held()) == [
        HeldRange(world.camera_id, investigation.start, investigation.end)
    ]
    await world.service.delete(world.operator, ADDRESS, investigation.id)
    assert list(await world.service.held()) == []


async def test_an_export_interrupted_by_a_restart_failed(world: World) -> None:
    investigation = await investigate(world)
    part = world.folder / investigation.id / "x.mkv.part"
    part.parent.mkdir(parents=True)
    part.write_bytes(b"half an export")
    async with world.core.sessions() as db:
        db.add(
            ExportRow(
                id="x",
                investigation_id=investigation.id,
                format="mkv",
                state="running",
                progress=40,
                size=0,
                error="",
                include_audio=False,
                password_protected=False,
                file_name="x.mkv",
                download_name="Gate-mkv.mkv",
                requested_by="olga",
                created_at=world.clock.t,
                finished_at=None,
            )
        )
        await db.commit()
    await world.service.recover()
    (export,) = await world.service.exports(world.operator, investigation.id)
    assert export.state is ExportState.FAILED and "prepare it again" in export.error
    assert not part.exists()


async def test_who_sees_and_changes_what(world: World) -> None:
    theirs = await investigate(world, world.admin)
    mine = await investigate(world)
    assert [i.id for i in await world.service.visible_to(world.operator)] == [mine.id]
    assert len(await world.service.visible_to(world.admin)) == 2
    await world.settings(view_others=True)
    assert len(await world.service.visible_to(world.operator)) == 2
    with pytest.raises(CamgateError) as refused:
        await world.service.delete(world.operator, ADDRESS, theirs.id)
    assert refused.value.kind is ErrorKind.FORBIDDEN
    await world.settings(enabled=False)
    with pytest.raises(CamgateError) as off:
        await world.service.visible_to(world.admin)
    assert off.value.kind is ErrorKind.FORBIDDEN and "turned off" in off.value.detail


async def test_the_audit_log_keeps_its_own_retention(world: World) -> None:
    await investigate(world)
    world.clock.t += 89 * SECONDS_PER_DAY
    assert await world.audit.enforce_retention(90) == 0
    world.clock.t += 2 * SECONDS_PER_DAY
    assert await world.audit.enforce_retention(90) == 1
    assert await world.audit.search(AuditQuery()) == []


async def test_a_queued_export_is_deleted_without_waiting_its_turn(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    release = threading.Event()
    real = service_module.run_job

    def slow_native(job: ExportJob) -> int:
        if job.plan.format is ExportFormat.NATIVE:
            release.wait(30)  # an export that keeps the one worker busy
        return real(job)

    monkeypatch.setattr(service_module, "run_job", slow_native)
    investigation = await investigate(world)
    first = await world.service.prepare(
        world.operator, ADDRESS, investigation.id, export_format=ExportFormat.NATIVE
    )
    queued = await world.service.prepare(
        world.operator, ADDRESS, investigation.id, export_format=ExportFormat.MKV
    )
    started = time.monotonic()
    await world.service.delete_export(world.operator, ADDRESS, queued.id)
    assert time.monotonic() - started < 5
    assert [e.id for e in await world.service.exports(world.operator, investigation.id)] == [
        first.id
    ]
    release.set()
    assert (await finished(world, world.operator, investigation.id, first.id)).state is (
        ExportState.DONE
    )
    assert sorted(p.name for p in (world.folder / investigation.id).iterdir()) == [
        f"{first.id}.zip"
    ]


async def test_a_native_export_carries_the_audio_sidecars_when_asked(world: World) -> None:
    segment = min((world.folder.parent / "recordings").rglob("*.mp4"))
    sidecar = sidecar_path(segment)
    config = AudioConfig("pcm_mulaw", 8000, 1)
    sidecar.write_bytes(records([AudioPacket(bytes(160), 0, 1800, CLIP_EPOCH, config)], None))
    investigation = await investigate(world)
    for include_audio in (True, False):
        export = await world.service.prepare(
            world.operator,
            ADDRESS,
            investigation.id,
            export_format=ExportFormat.NATIVE,
            include_audio=include_audio,
        )
        done = await finished(world, world.operator, investigation.id, export.id)
        assert done.state is ExportState.DONE, done.error
        download = await world.service.download(world.operator, export.id)
        data = b"".join(download.read(0, download.size))
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            audio = [name for name in archive.namelist() if name.endswith(".audio")]
            assert audio == ([f"recordings/Gate/{sidecar.name}"] if include_audio else [])
            for name in audio:
                assert archive.read(name) == sidecar.read_bytes()
