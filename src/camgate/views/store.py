"""Database access for views."""

from __future__ import annotations

from sqlalchemy import delete, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from camgate.db.tables import ViewCameraRow, ViewRow
from camgate.views.models import View


async def _view(db: AsyncSession, row: ViewRow) -> View:
    cameras = await db.scalars(
        select(ViewCameraRow.camera_id)
        .where(ViewCameraRow.view_id == row.id)
        .order_by(ViewCameraRow.position)
    )
    return View(row.id, row.name, row.owner_id, row.shared, row.columns, tuple(cameras))


async def visible_to(db: AsyncSession, user_id: str) -> list[View]:
    rows = await db.scalars(
        select(ViewRow)
        .where(or_(ViewRow.shared.is_(True), ViewRow.owner_id == user_id))
        .order_by(ViewRow.name)
    )
    return [await _view(db, row) for row in rows]


async def row(db: AsyncSession, view_id: str) -> ViewRow | None:
    return await db.get(ViewRow, view_id)


async def view(db: AsyncSession, view_id: str) -> View | None:
    found = await db.get(ViewRow, view_id)
    return await _view(db, found) if found else None


async def set_cameras(db: AsyncSession, view_id: str, camera_ids: list[str]) -> None:
    await db.execute(delete(ViewCameraRow).where(ViewCameraRow.view_id == view_id))
    await db.flush()
    for position, camera_id in enumerate(camera_ids):
        db.add(ViewCameraRow(view_id=view_id, position=position, camera_id=camera_id))
