"""Database access for the segment index and the cameras' recording settings."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import and_, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from camgate.db.tables import CameraRow, SegmentRow
from camgate.media.packet import Codec, StreamConfig
from camgate.media.recording_rules import StoredSegment
from camgate.media.segment import ClosedSegment, decode_keyframes, encode_keyframes
from camgate.recording.models import IndexedSegment, RecordingConfig

READY = "ready"
#: Marked for deletion: the first of deletion's ordered steps (ADR 0009).
GARBAGE = "garbage"


def _codec(value: str) -> Codec:
    if value not in ("h264", "hevc"):
        raise ValueError(f"unknown codec {value!r} in the index")
    return "h264" if value == "h264" else "hevc"


def _indexed(root: Path, row: SegmentRow) -> IndexedSegment:
    config = StreamConfig(_codec(row.codec), row.width, row.height, row.extradata)
    segment = ClosedSegment(
        root / row.path,
        config,
        row.start_dts,
        row.end_dts,
        row.start_wallclock,
        row.end_wallclock,
        row.size,
        decode_keyframes(row.keyframes),
    )
    return IndexedSegment(row.id, row.camera_id, row.stream_id, segment)


def _row(root: Path, camera_id: str, stream_id: str, segment: ClosedSegment) -> SegmentRow:
    return SegmentRow(
        camera_id=camera_id,
        stream_id=stream_id,
        path=segment.path.relative_to(root).as_posix(),
        start_wallclock=segment.start_wallclock,
        end_wallclock=segment.end_wallclock,
        start_dts=segment.start_dts,
        end_dts=segment.end_dts,
        size=segment.size,
        keyframes=encode_keyframes(segment.keyframes),
        codec=segment.config.codec,
        width=segment.config.width,
        height=segment.config.height,
        extradata=segment.config.extradata,
        state=READY,
    )


async def insert(
    db: AsyncSession, root: Path, camera_id: str, stream_id: str, segment: ClosedSegment
) -> int:
    row = _row(root, camera_id, stream_id, segment)
    db.add(row)
    await db.flush()
    return row.id


async def replace(db: AsyncSession, root: Path, segment_id: int, segment: ClosedSegment) -> None:
    """Point a row at what its file really holds (``check --repair``)."""
    row = await db.get(SegmentRow, segment_id)
    if row is None:
        return
    fresh = _row(root, row.camera_id, row.stream_id, segment)
    for column in ("start_wallclock", "end_wallclock", "start_dts", "end_dts", "size"):
        setattr(row, column, getattr(fresh, column))
    row.keyframes = fresh.keyframes


async def overlapping(
    db: AsyncSession, root: Path, camera_id: str, start: float, end: float
) -> list[IndexedSegment]:
    """The camera's ready segments that overlap [start, end) in wall time, oldest first."""
    rows = await db.scalars(
        select(SegmentRow)
        .where(
            SegmentRow.camera_id == camera_id,
            SegmentRow.state == READY,
            SegmentRow.start_wallclock < end,
            SegmentRow.end_wallclock > start,
        )
        .order_by(SegmentRow.start_wallclock, SegmentRow.id)
    )
    return [_indexed(root, row) for row in rows]


#: No segment is longer: bounds the look for a segment joined to another (segments are at most
#: 600 s plus a GOP).
MAX_SEGMENT_S = 3600.0


def _ready(camera_id: str, stream_id: str, table: Any = SegmentRow) -> Any:
    """``table``: :class:`SegmentRow` or an alias of it."""
    return and_(table.camera_id == camera_id, table.stream_id == stream_id, table.state == READY)


async def neighbour(
    db: AsyncSession,
    root: Path,
    camera_id: str,
    stream_id: str,
    time: float,
    *,
    after: bool,
    tolerance: float,
) -> IndexedSegment | None:
    """The first segment that starts a recording after ``time``, or the last one that ends a
    recording before it: segments less than ``tolerance`` apart are one recording."""
    other = aliased(SegmentRow)
    if after:
        # No segment runs up to this one's start: it begins a recording.
        joined = and_(
            other.start_wallclock < SegmentRow.start_wallclock,
            other.start_wallclock >= SegmentRow.start_wallclock - MAX_SEGMENT_S,
            other.end_wallclock >= SegmentRow.start_wallclock - tolerance,
        )
        where = SegmentRow.start_wallclock > time
        order: Any = SegmentRow.start_wallclock
    else:
        # No segment starts before this one's end is past: it ends a recording.
        joined = and_(
            other.end_wallclock > SegmentRow.end_wallclock,
            other.start_wallclock <= SegmentRow.end_wallclock + tolerance,
            other.start_wallclock >= SegmentRow.end_wallclock - MAX_SEGMENT_S,
        )
        where = SegmentRow.end_wallclock < time
        order = SegmentRow.end_wallclock.desc()
    continued = select(other.id).where(_ready(camera_id, stream_id, other), joined).exists()
    query = select(SegmentRow).where(_ready(camera_id, stream_id), where, ~continued)
    row = await db.scalar(query.order_by(order).limit(1))
    return _indexed(root, row) if row else None


async def joined(
    db: AsyncSession, camera_id: str, stream_id: str, start: float, *, tolerance: float
) -> bool:
    """Whether an indexed segment runs up to ``start`` (within ``tolerance``)."""
    query = select(SegmentRow.id).where(
        _ready(camera_id, stream_id),
        SegmentRow.start_wallclock < start,
        SegmentRow.start_wallclock >= start - MAX_SEGMENT_S,
        SegmentRow.end_wallclock >= start - tolerance,
    )
    return await db.scalar(query.limit(1)) is not None


async def all_segments(db: AsyncSession, root: Path) -> list[IndexedSegment]:
    rows = await db.scalars(select(SegmentRow).order_by(SegmentRow.id))
    return [_indexed(root, row) for row in rows]


async def paths(db: AsyncSession) -> set[str]:
    return set(await db.scalars(select(SegmentRow.path)))


async def stored(db: AsyncSession) -> list[StoredSegment]:
    """What retention needs of every ready segment (held is filled in by the service)."""
    rows = await db.execute(
        select(
            SegmentRow.id,
            SegmentRow.camera_id,
            SegmentRow.start_wallclock,
            SegmentRow.end_wallclock,
            SegmentRow.size,
        ).where(SegmentRow.state == READY)
    )
    return [StoredSegment(*row) for row in rows.all()]


async def usage(db: AsyncSession) -> dict[str, tuple[int, int]]:
    """Per camera: bytes and segments of its ready recordings."""
    rows = await db.execute(
        select(SegmentRow.camera_id, func.sum(SegmentRow.size), func.count())
        .where(SegmentRow.state == READY)
        .group_by(SegmentRow.camera_id)
    )
    return {camera_id: (int(size or 0), count) for camera_id, size, count in rows.all()}


async def mark_garbage(db: AsyncSession, ids: Sequence[int]) -> None:
    for chunk in _chunks(ids):
        await db.execute(update(SegmentRow).where(SegmentRow.id.in_(chunk)).values(state=GARBAGE))


async def garbage(db: AsyncSession, root: Path) -> list[tuple[int, Path]]:
    rows = await db.execute(
        select(SegmentRow.id, SegmentRow.path).where(SegmentRow.state == GARBAGE)
    )
    return [(segment_id, root / path) for segment_id, path in rows.all()]


async def delete_rows(db: AsyncSession, ids: Sequence[int]) -> None:
    for chunk in _chunks(ids):
        await db.execute(delete(SegmentRow).where(SegmentRow.id.in_(chunk)))


def _chunks(ids: Sequence[int], size: int = 500) -> Iterable[Sequence[int]]:
    """SQLite limits the variables of one statement."""
    for at in range(0, len(ids), size):
        yield ids[at : at + size]


async def configs(db: AsyncSession) -> dict[str, RecordingConfig]:
    rows = await db.scalars(select(CameraRow))
    return {row.id: config_of(row) for row in rows}


def config_of(row: CameraRow) -> RecordingConfig:
    return RecordingConfig(
        row.recording_enabled,
        row.recording_stream,
        row.retention_days,
        row.retention_gb,
        row.recording_audio,
    )


def set_config(row: CameraRow, config: RecordingConfig) -> None:
    row.recording_enabled = config.enabled
    row.recording_stream = config.stream_position
    row.retention_days = config.retention_days
    row.retention_gb = config.retention_gb
    row.recording_audio = config.audio
