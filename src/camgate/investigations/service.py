"""Investigation use cases: who may see and change which investigation, preparing exports in
the background under the folder's size limit, downloads, retention and the audit trail.

Rules (ADR 0011): every use needs investigations turned on and the Export permission. A user
sees their own investigations, and others' when "view investigations made by other users" is
on (administrators see all), but never one with a camera they may not view. Only the owner or
an administrator edits or deletes an investigation; whoever sees it prepares and downloads
exports, and deletes the ones they prepared.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
import shutil
import uuid
from collections.abc import Callable, Collection, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from camgate.audit.models import SERVER, Actor
from camgate.audit.service import AuditLog
from camgate.core.clock import Clock
from camgate.core.errors import CamgateError, ErrorKind, forbidden, not_found
from camgate.db.tables import ExportRow, InvestigationRow
from camgate.identity.models import Permission, User
from camgate.investigations import store
from camgate.investigations.jobs import (
    PART_SUFFIX,
    ExportJob,
    ExportPlan,
    JobCancelled,
    TrackPlan,
    planned_sidecars,
    run_job,
)
from camgate.investigations.keys import DataKeys, NoKeyring
from camgate.investigations.models import (
    MAX_PENDING_EXPORTS,
    Export,
    ExportFormat,
    ExportState,
    Investigation,
    check_cameras,
    check_export_password,
    check_name,
    check_span,
    download_name,
)
from camgate.investigations.sealed import plaintext_size, read_range
from camgate.media.export import avi_codecs
from camgate.media.recording_rules import HeldRange
from camgate.recording.playback import all_cuts
from camgate.recording.service import RecordingService
from camgate.settings import Investigations

log = logging.getLogger(__name__)

#: Whether a user may view a camera (the identity rules, with the settings in force).
CanView = Callable[[User, str], bool]

TURNED_OFF = "investigations are turned off on this server"
NO_PERMISSION = "preparing video evidence needs the Export permission"
NO_PASSWORD = (
    "no data protection password is set on this server yet: an administrator sets one with "
    "'camgate password' (or turns encryption off with 'camgate password --off')"
)
#: How often retention looks for investigations past their time.
RETENTION_INTERVAL_S = 3600.0
#: Exports prepared at once; the others wait their turn (AVI keeps a core busy).
EXPORT_WORKERS = 1
RESTARTED = "camgate stopped while this export was being prepared: prepare it again"
#: The extension of a prepared file, by format and by whether it holds several cameras.
_EXTENSIONS = {ExportFormat.MKV: "mkv", ExportFormat.NATIVE: "zip"}


def _extension(export_format: ExportFormat, cameras: int) -> str:
    if export_format is ExportFormat.AVI:
        return "avi" if cameras == 1 else "zip"
    return _EXTENSIONS[export_format]


def folder_usage(folder: Path) -> int:
    """Bytes of every file under ``folder``."""
    total = 0
    for path in _files(folder):
        try:
            total += path.stat().st_size
        except FileNotFoundError:  # deleted meanwhile
            continue
    return total


def _files(folder: Path) -> Iterator[Path]:
    for root, _dirs, names in os.walk(folder):
        for name in names:
            yield Path(root) / name


@dataclasses.dataclass(slots=True)
class _Running:
    job: ExportJob
    task: asyncio.Task[None]


class InvestigationService:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        clock: Clock,
        *,
        folder: Path,
        settings: Callable[[], Investigations],
        audit: AuditLog,
        can_view: CanView,
        recordings: RecordingService,
        keys: DataKeys,
    ) -> None:
        self._db = sessions
        self._clock = clock
        self.folder = folder
        self._settings = settings
        self._audit = audit
        self._can_view = can_view
        self._recordings = recordings
        self._keys = keys
        self._executor = ThreadPoolExecutor(EXPORT_WORKERS, thread_name_prefix="export")
        self._running: dict[str, _Running] = {}
        #: Bytes that queued and running exports may still add to the folder.
        self._reserved: dict[str, int] = {}

    # --- rules ----------------------------------------------------------------------------------

    def require_use(self, user: User) -> None:
        """Refuses every use case while investigations are off or to a user without Export."""
        if not self._settings().enabled:
            raise forbidden(TURNED_OFF)
        if not user.may(Permission.EXPORT):
            raise forbidden(NO_PERMISSION)

    def enabled_formats(self) -> list[ExportFormat]:
        enabled = self._settings().export_formats
        return [f for f in ExportFormat if getattr(enabled, f.value)]

    @property
    def _folder_key(self) -> str:
        return str(self.folder)

    def _sees(self, user: User, row: InvestigationRow, camera_ids: Sequence[str]) -> bool:
        if row.folder != self._folder_key:
            return False
        mine = row.owner_id == user.id
        if not (mine or user.may(Permission.ADMINISTRATION) or self._settings().view_others):
            return False
        return all(self._can_view(user, camera_id) for camera_id in camera_ids)

    async def _visible(
        self, db: AsyncSession, user: User, investigation_id: str
    ) -> tuple[InvestigationRow, Investigation]:
        row = await store.row(db, investigation_id)
        if row is not None:
            found = await store.investigation(db, row)
            if self._sees(user, row, found.camera_ids):
                return row, found
        # The same answer as for an unknown id: others' ids do not leak.
        raise not_found("investigation")

    async def _editable(
        self, db: AsyncSession, user: User, investigation_id: str
    ) -> tuple[InvestigationRow, Investigation]:
        row, found = await self._visible(db, user, investigation_id)
        if row.owner_id != user.id and not user.may(Permission.ADMINISTRATION):
            raise forbidden("only its owner or an administrator changes an investigation")
        return row, found

    async def _check_cameras(self, db: AsyncSession, user: User, ids: list[str]) -> tuple[str, ...]:
        unique = check_cameras(ids)
        existing = await store.existing_cameras(db, unique)
        for camera_id in unique:
            # A camera the user may not view does not exist for them, as everywhere else.
            if camera_id not in existing or not self._can_view(user, camera_id):
                raise not_found(f"camera {camera_id}")
        return unique

    # --- investigations -------------------------------------------------------------------------

    async def visible_to(self, user: User) -> list[Investigation]:
        self.require_use(user)
        async with self._db() as db:
            found = []
            for row in await store.rows_in(db, self._folder_key):
                investigation = await store.investigation(db, row)
                if self._sees(user, row, investigation.camera_ids):
                    found.append(investigation)
            return found

    async def get(self, user: User, investigation_id: str) -> Investigation:
        self.require_use(user)
        async with self._db() as db:
            return (await self._visible(db, user, investigation_id))[1]

    async def create(
        self,
        user: User,
        address: str,
        *,
        name: str,
        camera_ids: list[str],
        start: float,
        end: float,
    ) -> Investigation:
        self.require_use(user)
        name = check_name(name)
        check_span(start, end)
        async with self._db() as db:
            cameras = await self._check_cameras(db, user, camera_ids)
            now = self._clock.now()
            row = InvestigationRow(
                id=str(uuid.uuid4()),
                name=name,
                owner_id=user.id,
                owner=user.username,
                start=start,
                end=end,
                folder=self._folder_key,
                created_at=now,
                updated_at=now,
            )
            db.add(row)
            await store.set_cameras(db, row.id, cameras)
            self._audit.add(
                db,
                Actor(user.username, address),
                "investigation.create",
                row.id,
                name=name,
                camera_ids=list(cameras),
                start=start,
                end=end,
            )
            await db.commit()
            return await store.investigation(db, row)

    async def update(
        self,
        user: User,
        address: str,
        investigation_id: str,
        *,
        name: str | None = None,
        camera_ids: list[str] | None = None,
        start: float | None = None,
        end: float | None = None,
    ) -> Investigation:
        self.require_use(user)
        async with self._db() as db:
            row, before = await self._editable(db, user, investigation_id)
            new_start = before.start if start is None else start
            new_end = before.end if end is None else end
            check_span(new_start, new_end)
            changes: dict[str, Any] = {}
            if name is not None and (new_name := check_name(name)) != before.name:
                changes["name"] = {"old": before.name, "new": new_name}
                row.name = new_name
            if camera_ids is not None:
                cameras = await self._check_cameras(db, user, camera_ids)
                if cameras != before.camera_ids:
                    changes["camera_ids"] = {"old": list(before.camera_ids), "new": list(cameras)}
                    await store.set_cameras(db, row.id, cameras)
            for field, old, new in (
                ("start", before.start, new_start),
                ("end", before.end, new_end),
            ):
                if old != new:
                    changes[field] = {"old": old, "new": new}
            row.start, row.end = new_start, new_end
            row.updated_at = self._clock.now()
            self._audit.add(
                db, Actor(user.username, address), "investigation.edit", row.id, **changes
            )
            await db.commit()
            return await store.investigation(db, row)

    async def delete(self, user: User, address: str, investigation_id: str) -> None:
        """Deletes the investigation and every export of it, prepared or being prepared."""
        self.require_use(user)
        async with self._db() as db:
            row, found = await self._editable(db, user, investigation_id)
            await self._delete_investigation(db, row, Actor(user.username, address), found.name)

    async def _delete_investigation(
        self, db: AsyncSession, row: InvestigationRow, actor: Actor, name: str, **why: Any
    ) -> None:
        exports = await store.export_rows(db, row.id)
        for export in exports:
            await self._stop(export.id)
        self._audit.add(
            db,
            actor,
            "investigation.delete",
            row.id,
            name=name,
            exports=[export.id for export in exports],
            **why,
        )
        await db.delete(row)
        await db.commit()
        await asyncio.to_thread(shutil.rmtree, self.folder / row.id, ignore_errors=True)

    # --- exports --------------------------------------------------------------------------------

    async def exports(self, user: User, investigation_id: str) -> list[Export]:
        self.require_use(user)
        async with self._db() as db:
            await self._visible(db, user, investigation_id)
            return [self._live(row) for row in await store.export_rows(db, investigation_id)]

    def _live(self, row: ExportRow) -> Export:
        """The export as stored, with the progress of its job when one runs."""
        export = store.export(row)
        running = self._running.get(row.id)
        if running is None:
            return export
        return dataclasses.replace(export, state=running.job.state, progress=running.job.progress)

    async def prepare(
        self,
        user: User,
        address: str,
        investigation_id: str,
        *,
        export_format: ExportFormat,
        include_audio: bool = False,
        password: str | None = None,
    ) -> Export:
        self.require_use(user)
        settings = self._settings()
        if export_format not in self.enabled_formats():
            raise forbidden(f"the administrator has not enabled {export_format.value} exports")
        if password is not None and export_format is not ExportFormat.NATIVE:
            raise CamgateError(ErrorKind.INVALID, "only native exports are protected by a password")
        check_export_password(password)
        if export_format is ExportFormat.AVI and settings.avi_codec not in avi_codecs():
            raise CamgateError(
                ErrorKind.CONFLICT,
                f"this server cannot encode {settings.avi_codec.value}: the administrator "
                f"chooses one of {', '.join(avi_codecs())}",
            )
        if len(self._running) >= MAX_PENDING_EXPORTS:
            raise CamgateError(
                ErrorKind.UNAVAILABLE,
                f"{MAX_PENDING_EXPORTS} exports are being prepared: try again when one is done",
            )
        data_key = await self._data_key()
        async with self._db() as db:
            _row, investigation = await self._visible(db, user, investigation_id)
            names = await store.existing_cameras(db, investigation.camera_ids)
        plan = await self._plan(investigation, names, export_format, include_audio, password)
        budget = await self._size_budget(plan.estimated_size)
        export_id = str(uuid.uuid4())
        extension = _extension(export_format, len(plan.tracks))
        export = ExportRow(
            id=export_id,
            investigation_id=investigation.id,
            format=export_format.value,
            state=ExportState.QUEUED.value,
            progress=0,
            size=0,
            error="",
            include_audio=include_audio,
            password_protected=password is not None,
            file_name=f"{export_id}.{extension}",
            download_name=download_name(investigation.name, export_format, extension),
            requested_by=user.username,
            created_at=self._clock.now(),
            finished_at=None,
        )
        async with self._db() as db:
            db.add(export)
            self._audit.add(
                db,
                Actor(user.username, address),
                "export.prepare",
                export_id,
                investigation=investigation.id,
                format=export_format.value,
                include_audio=include_audio,
                password_protected=password is not None,
                cameras=[track.camera_name for track in plan.tracks],
            )
            await db.commit()
            self._start(export, plan, data_key, budget)
            return self._live(export)

    async def _data_key(self) -> bytes:
        try:
            return await asyncio.to_thread(self._keys.data_key, self.folder)
        except NoKeyring as error:
            raise CamgateError(ErrorKind.CONFLICT, NO_PASSWORD) from error

    async def _plan(
        self,
        investigation: Investigation,
        names: dict[str, str],
        export_format: ExportFormat,
        include_audio: bool,
        password: str | None,
    ) -> ExportPlan:
        tracks = []
        for camera_id in investigation.camera_ids:
            if camera_id not in names:
                continue  # removed since: its recordings may still be there, its name is not
            _stream, segments = await self._recordings.stream_segments(
                camera_id, investigation.start, investigation.end
            )
            cuts = all_cuts(segments, investigation.start, investigation.end)
            if cuts:
                sidecars = await asyncio.to_thread(planned_sidecars, cuts) if include_audio else ()
                tracks.append(TrackPlan(camera_id, names[camera_id], tuple(cuts), sidecars))
        if not tracks:
            raise not_found("recorded video of these cameras in the investigation's time range")
        settings = self._settings()
        return ExportPlan(
            format=export_format,
            investigation_name=investigation.name,
            start=investigation.start,
            end=investigation.end,
            tracks=tuple(tracks),
            include_audio=include_audio,
            password=password,
            avi_codec=settings.avi_codec.value,
            avi_timestamp=settings.avi_timestamp,
            avi_audio_bitrate=settings.avi_audio_bitrate,
        )

    async def _size_budget(self, estimated: int) -> int | None:
        """The bytes an export may write without the folder passing its size limit (None: no
        limit); refuses it at once when its estimate does not fit."""
        settings = self._settings()
        if not settings.size_limit_enabled:
            return None
        limit = settings.size_limit_mb * 2**20
        used = await asyncio.to_thread(folder_usage, self.folder) + sum(self._reserved.values())
        if used + estimated > limit:
            raise CamgateError(
                ErrorKind.CONFLICT,
                f"the investigations folder would pass its size limit of "
                f"{settings.size_limit_mb} MB ({used / 2**20:.0f} MB used, this export needs "
                f"about {estimated / 2**20:.0f} MB): delete exports you no longer need, or ask "
                f"the administrator to raise the limit",
            )
        return limit - used

    def _start(self, row: ExportRow, plan: ExportPlan, data_key: bytes, budget: int | None) -> None:
        target = self.folder / row.investigation_id / row.file_name
        job = ExportJob(plan, target, data_key, self._keys.signer, budget)
        self._reserved[row.id] = plan.estimated_size
        task = asyncio.create_task(self._run(row.id, job), name=f"export-{row.id}")
        self._running[row.id] = _Running(job, task)

    async def _run(self, export_id: str, job: ExportJob) -> None:
        loop = asyncio.get_running_loop()
        state, size, error = ExportState.FAILED, 0, ""
        try:
            size = await loop.run_in_executor(self._executor, run_job, job)
            state = ExportState.DONE
        except JobCancelled:
            return  # deleted: the row went with it
        except (OSError, ValueError) as failure:
            error = _explain(failure)
            log.warning("export %s failed: %s", export_id, error)
        except Exception:
            error = "an unexpected error stopped the export (see the server log)"
            log.exception("export %s failed", export_id)
        finally:
            self._reserved.pop(export_id, None)
        await self._finish(export_id, state, size, error)

    async def _finish(self, export_id: str, state: ExportState, size: int, error: str) -> None:
        try:
            async with self._db() as db:
                row = await store.export_row(db, export_id)
                if row is not None:
                    row.state = state.value
                    row.progress = 100 if state is ExportState.DONE else row.progress
                    row.size = size
                    row.error = error
                    row.finished_at = self._clock.now()
                    self._audit.add(
                        db, SERVER, f"export.{state.value}", export_id, size=size, error=error
                    )
                    await db.commit()
        finally:
            self._running.pop(export_id, None)

    async def _stop(self, export_id: str) -> None:
        """Cancels the export's job, if one runs, and waits until its files are gone."""
        running = self._running.get(export_id)
        if running is None:
            return
        running.job.cancel()
        if running.job.state is ExportState.QUEUED:
            # Waiting behind another export: its thread may be minutes away; drop it now.
            running.task.cancel()
        await asyncio.gather(running.task, return_exceptions=True)
        self._running.pop(export_id, None)
        self._reserved.pop(export_id, None)

    async def _export_of(
        self, db: AsyncSession, user: User, export_id: str, investigation_id: str | None = None
    ) -> tuple[ExportRow, InvestigationRow]:
        row = await store.export_row(db, export_id)
        if row is None or investigation_id not in (None, row.investigation_id):
            raise not_found("export")
        try:
            investigation, _found = await self._visible(db, user, row.investigation_id)
        except CamgateError as error:
            raise not_found("export") from error
        return row, investigation

    async def delete_export(
        self, user: User, address: str, export_id: str, *, investigation_id: str | None = None
    ) -> None:
        self.require_use(user)
        async with self._db() as db:
            row, investigation = await self._export_of(db, user, export_id, investigation_id)
            mine = user.id == investigation.owner_id or user.username == row.requested_by
            if not (mine or user.may(Permission.ADMINISTRATION)):
                raise forbidden(
                    "only who prepared it, the investigation's owner or an administrator "
                    "deletes an export"
                )
            await self._stop(export_id)
            self._audit.add(
                db,
                Actor(user.username, address),
                "export.delete",
                export_id,
                investigation=row.investigation_id,
                format=row.format,
            )
            path = self.folder / row.investigation_id / row.file_name
            await db.delete(row)
            await db.commit()
        await asyncio.to_thread(path.unlink, missing_ok=True)

    async def download(self, user: User, export_id: str) -> Download:
        self.require_use(user)
        async with self._db() as db:
            row, _investigation = await self._export_of(db, user, export_id)
        if row.state != ExportState.DONE.value:
            raise CamgateError(ErrorKind.CONFLICT, "the export is not prepared yet")
        path = self.folder / row.investigation_id / row.file_name
        data_key = await self._data_key()
        try:
            size = await asyncio.to_thread(plaintext_size, path)
        except FileNotFoundError as error:
            raise not_found("the export's file") from error
        return Download(store.export(row), path, data_key, size)

    async def downloaded(self, user: User, address: str, export: Export, part: str) -> None:
        """Audits a download (each request: a resumed download shows as several)."""
        await self._audit.record(
            Actor(user.username, address),
            "export.download",
            export.id,
            investigation=export.investigation_id,
            format=export.format.value,
            bytes=part,
        )

    # --- housekeeping ---------------------------------------------------------------------------

    async def recover(self) -> None:
        """At start: exports that a stopped server was preparing failed; their parts go."""
        async with self._db() as db:
            for row in await store.unfinished(db):
                row.state = ExportState.FAILED.value
                row.error = RESTARTED
                row.finished_at = self._clock.now()
            await db.commit()
        await asyncio.to_thread(_remove_parts, self.folder)

    async def held(self) -> Collection[HeldRange]:
        """The spans of every investigation in the folder (the recording service's holds)."""
        async with self._db() as db:
            held: list[HeldRange] = []
            for row in await store.rows_in(db, self._folder_key):
                held.extend(
                    HeldRange(camera_id, row.start, row.end)
                    for camera_id in await store.camera_ids(db, row.id)
                )
            return held

    async def enforce_retention(self) -> int:
        """Deletes the investigations older than the retention time; returns how many."""
        settings = self._settings()
        if not settings.retention_enabled:
            return 0
        cutoff = self._clock.now() - settings.retention_days * 86400.0
        async with self._db() as db:
            doomed = await store.older_than(db, self._folder_key, cutoff)
            for row in doomed:
                await self._delete_investigation(
                    db, row, SERVER, row.name, reason=f"older than {settings.retention_days} days"
                )
        return len(doomed)

    async def run_retention(self) -> None:
        while True:
            try:
                await self.enforce_retention()
            except Exception:  # a failed round is logged and tried again
                log.exception("investigation retention failed")
            await asyncio.sleep(RETENTION_INTERVAL_S)

    async def aclose(self) -> None:
        for export_id in list(self._running):
            await self._stop(export_id)
        await asyncio.to_thread(self._executor.shutdown)


@dataclasses.dataclass(frozen=True, slots=True)
class Download:
    export: Export
    path: Path
    data_key: bytes
    size: int

    def read(self, start: int, end: int) -> Iterator[bytes]:
        """Plaintext of [start, end), decrypted a chunk at a time (blocking)."""
        return read_range(self.path, self.data_key, start, end)


def _remove_parts(folder: Path) -> None:
    if folder.is_dir():
        for path in _files(folder):
            if PART_SUFFIX in path.name:  # AVI's per-camera parts end in .part.<n>
                path.unlink(missing_ok=True)


def _explain(failure: OSError | ValueError) -> str:
    if isinstance(failure, OSError) and failure.strerror:
        return f"cannot write the export: {failure.strerror}"
    return str(failure)
