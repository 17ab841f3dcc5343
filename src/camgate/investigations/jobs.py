"""Preparing one export, in a worker thread: from the recordings it was planned on to one
encrypted file in the investigation's folder (ADR 0011)."""

from __future__ import annotations

import os
import threading
import zipfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from camgate.investigations import native
from camgate.investigations.models import ExportFormat, ExportState, progress_percent
from camgate.investigations.sealed import SealedFile, plaintext_size
from camgate.investigations.signing import SigningKey
from camgate.media import export as media_export
from camgate.media.audio import sidecar_path
from camgate.media.mp4file import Cut
from camgate.media.segment import PARTIAL_SUFFIX

PART_SUFFIX = ".part"
#: What one copy step moves between encrypted files.
COPY_CHUNK = 1 << 20
SIZE_LIMIT_PASSED = (
    "the export stopped: it would pass the investigations folder's size limit; delete exports "
    "you no longer need, or ask the administrator to raise the limit"
)


class JobCancelled(Exception):
    """The export was deleted while it was being prepared."""


@dataclass(frozen=True, slots=True)
class TrackPlan:
    """One camera's part of an export: the cuts of its recordings in the time range."""

    camera_id: str
    camera_name: str
    cuts: tuple[Cut, ...]
    #: When audio was asked: each of its segments that has an audio sidecar, with the sidecar's
    #: size when the export was planned (see :func:`planned_sidecars`).
    sidecars: tuple[tuple[Path, int], ...] = ()


@dataclass(frozen=True, slots=True)
class ExportPlan:
    format: ExportFormat
    investigation_name: str
    start: float
    end: float
    tracks: tuple[TrackPlan, ...]
    include_audio: bool
    password: str | None = field(repr=False)
    avi_codec: str
    avi_timestamp: bool
    avi_audio_bitrate: int

    @property
    def estimated_size(self) -> int:
        """The recordings' bytes: what a remux or a copy writes, give or take the framing."""
        segments = {cut.segment.path: cut.segment.size for t in self.tracks for cut in t.cuts}
        sidecars = {path: size for t in self.tracks for path, size in t.sidecars}
        return sum(segments.values()) + sum(sidecars.values())


def planned_sidecars(cuts: Sequence[Cut]) -> tuple[tuple[Path, int], ...]:
    """The cuts' segments that have an audio sidecar, each with the sidecar's size now
    (blocking): a sidecar still being written is exported as far as it was written then."""
    sizes = []
    for path in dict.fromkeys(cut.segment.path for cut in cuts):
        try:
            sizes.append((path, sidecar_path(path).stat().st_size))
        except FileNotFoundError:
            continue
    return tuple(sizes)


class ExportJob:
    """An export being prepared; its state and progress are read from the event loop."""

    def __init__(
        self,
        plan: ExportPlan,
        target: Path,
        data_key: bytes,
        signer: SigningKey,
        budget: int | None,
    ) -> None:
        self.plan = plan
        self.target = target
        self.state = ExportState.QUEUED
        self.progress = 0
        #: The investigations' data key (files are sealed under it) and the server's signing
        #: key: never logged (the job has no repr of them).
        self.data_key = data_key
        self.signer = signer
        #: The most bytes the export may take (the folder's size limit), None: no limit.
        self.budget = budget
        self._cancelled = threading.Event()

    def cancel(self) -> None:
        self._cancelled.set()

    def cancelled(self) -> bool:
        return self._cancelled.is_set()


def run_job(job: ExportJob) -> int:
    """Prepares the export (blocking); returns the download's size in bytes."""
    if job.cancelled():
        raise JobCancelled
    job.state = ExportState.RUNNING
    job.target.parent.mkdir(parents=True, exist_ok=True)
    part = job.target.with_name(job.target.name + PART_SUFFIX)
    try:
        with SealedFile.create(part, job.data_key) as out:
            _write(job, out, part)
        os.replace(part, job.target)
        _fsync_dir(job.target.parent)
    except BaseException:
        part.unlink(missing_ok=True)
        if job.cancelled():
            raise JobCancelled from None
        raise
    return plaintext_size(job.target)


def _write(job: ExportJob, out: SealedFile, part: Path) -> None:
    plan = job.plan
    if plan.format is ExportFormat.MKV:
        media_export.write_mkv(
            [media_export.ExportTrack(t.camera_name, t.cuts) for t in plan.tracks],
            out,
            origin=plan.start,
            audio=plan.include_audio,
            progress=_progress(job, out, 0.0, 1.0),
            cancelled=job.cancelled,
        )
    elif plan.format is ExportFormat.AVI:
        _write_avi(job, out, part)
    else:
        native.write_native(
            out,
            files=_native_files(plan),
            info=_native_info(plan),
            signer=job.signer,
            password=plan.password,
            progress=_progress(job, out, 0.0, 1.0),
            cancelled=job.cancelled,
        )


def _progress(job: ExportJob, out: SealedFile, low: float, high: float) -> Callable[[float], None]:
    """A progress callback for the part [low, high] of the job that also watches its size."""

    def report(fraction: float) -> None:
        if job.cancelled():
            raise JobCancelled
        if job.budget is not None and out.tell() > job.budget:
            raise ValueError(SIZE_LIMIT_PASSED)
        job.progress = progress_percent(low + (high - low) * min(1.0, max(0.0, fraction)))

    return report


def _write_avi(job: ExportJob, out: SealedFile, part: Path) -> None:
    """One AVI for one camera; for several, one AVI each in a ZIP (AVI players show one
    video stream)."""
    plan = job.plan
    count = len(plan.tracks)
    if count == 1:
        _avi(job, plan.tracks[0], out, _progress(job, out, 0.0, 1.0))
        return
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as archive:
        for index, track in enumerate(plan.tracks):
            temporary = part.with_name(f"{part.name}.{index}")
            try:
                with SealedFile.create(temporary, job.data_key) as avi:
                    _avi(job, track, avi, _progress(job, out, index / count, (index + 1) / count))
                name = f"{index + 1:02d} {_safe(track.camera_name)}.avi"
                with (
                    SealedFile.open(temporary, job.data_key) as source,
                    archive.open(name, "w", force_zip64=True) as entry,
                ):
                    for chunk in _chunks(source):
                        entry.write(chunk)
            finally:
                temporary.unlink(missing_ok=True)


def _avi(
    job: ExportJob, track: TrackPlan, out: SealedFile, report: Callable[[float], None]
) -> None:
    plan = job.plan
    media_export.write_avi(
        media_export.ExportTrack(track.camera_name, track.cuts),
        out,
        codec=plan.avi_codec,
        timestamp=plan.avi_timestamp,
        audio_bit_rate=plan.avi_audio_bitrate if plan.include_audio else None,
        progress=report,
        cancelled=job.cancelled,
    )


def _chunks(source: SealedFile) -> Iterator[bytes]:
    while chunk := source.read(COPY_CHUNK):
        yield chunk


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in " ._-" else "_" for c in name).strip() or "camera"


def _native_files(plan: ExportPlan) -> list[native.NativeFile]:
    """The segments of the cuts, whole: the recordings as they are stored. Of a segment still
    being written, what was written when the export was planned (a valid segment as it is).

    With audio, each segment's sidecar follows it, as far as it was written when the export
    was planned (a record cut short at that size is one a reader stops before), with the
    segment's camera and time range. A sidecar keeps its name when its segment closes.
    """
    files = []
    for track in plan.tracks:
        folder = f"recordings/{_safe(track.camera_name)}"
        sidecars = dict(track.sidecars) if plan.include_audio else {}
        seen: set[Path] = set()
        for cut in track.cuts:
            segment = cut.segment
            if segment.path in seen:
                continue
            seen.add(segment.path)
            name = segment.path.name
            open_part = name.endswith(PARTIAL_SUFFIX)
            closed_name = name.removesuffix(PARTIAL_SUFFIX)
            files.append(
                native.NativeFile(
                    source=segment.path,
                    archive_name=f"{folder}/{closed_name}",
                    camera_id=track.camera_id,
                    camera_name=track.camera_name,
                    start=segment.start_wallclock,
                    end=segment.end_wallclock,
                    size=segment.size if open_part else None,
                    renamed=segment.path.with_name(closed_name) if open_part else None,
                )
            )
            if segment.path in sidecars:
                sidecar = sidecar_path(segment.path)
                files.append(
                    native.NativeFile(
                        source=sidecar,
                        archive_name=f"{folder}/{sidecar.name}",
                        camera_id=track.camera_id,
                        camera_name=track.camera_name,
                        start=segment.start_wallclock,
                        end=segment.end_wallclock,
                        size=sidecars[segment.path],
                    )
                )
    return files


def _native_info(plan: ExportPlan) -> dict[str, object]:
    return {
        "investigation": plan.investigation_name,
        "start": plan.start,
        "end": plan.end,
        "cameras": [{"id": t.camera_id, "name": t.camera_name} for t in plan.tracks],
    }


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
