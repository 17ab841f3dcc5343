"""Database access for cameras and their streams."""

from __future__ import annotations

import json

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from camgate.cameras.models import Camera, CameraStream
from camgate.db.tables import CameraRow, CameraStreamRow
from camgate.media.source import SourceKind
from camgate.media.transcode import Rect


async def _camera(db: AsyncSession, row: CameraRow) -> Camera:
    streams = await db.scalars(
        select(CameraStreamRow)
        .where(CameraStreamRow.camera_id == row.id)
        .order_by(CameraStreamRow.position)
    )
    return Camera(
        row.id,
        row.name,
        row.enabled,
        tuple(CameraStream(s.id, s.position, SourceKind(s.kind), s.url) for s in streams),
        row.username is not None,
        tuple(Rect(*values) for values in json.loads(row.privacy_masks or "[]")),
    )


async def cameras(db: AsyncSession) -> list[Camera]:
    rows = await db.scalars(select(CameraRow).order_by(CameraRow.name))
    return [await _camera(db, row) for row in rows]


async def camera_row(db: AsyncSession, camera_id: str) -> CameraRow | None:
    return await db.get(CameraRow, camera_id)


async def camera(db: AsyncSession, camera_id: str) -> Camera | None:
    row = await db.get(CameraRow, camera_id)
    return await _camera(db, row) if row else None


async def camera_row_by_name(db: AsyncSession, name: str) -> CameraRow | None:
    return await db.scalar(select(CameraRow).where(CameraRow.name == name))


def add_camera(db: AsyncSession, row: CameraRow, streams: list[CameraStreamRow]) -> None:
    db.add(row)
    db.add_all(streams)
