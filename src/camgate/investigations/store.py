"""Database access for investigations and their exports."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from camgate.db.tables import CameraRow, ExportRow, InvestigationCameraRow, InvestigationRow
from camgate.investigations.models import Export, ExportFormat, ExportState, Investigation


async def camera_ids(db: AsyncSession, investigation_id: str) -> tuple[str, ...]:
    rows = await db.scalars(
        select(InvestigationCameraRow.camera_id)
        .where(InvestigationCameraRow.investigation_id == investigation_id)
        .order_by(InvestigationCameraRow.position)
    )
    return tuple(rows)


async def investigation(db: AsyncSession, row: InvestigationRow) -> Investigation:
    return Investigation(
        row.id,
        row.name,
        await camera_ids(db, row.id),
        row.start,
        row.end,
        row.owner,
        row.owner_id,
        row.created_at,
        row.updated_at,
    )


async def row(db: AsyncSession, investigation_id: str) -> InvestigationRow | None:
    return await db.get(InvestigationRow, investigation_id)


async def rows_in(db: AsyncSession, folder: str) -> list[InvestigationRow]:
    """The investigations of a folder, the latest first."""
    found = await db.scalars(
        select(InvestigationRow)
        .where(InvestigationRow.folder == folder)
        .order_by(InvestigationRow.created_at.desc(), InvestigationRow.id)
    )
    return list(found)


async def older_than(db: AsyncSession, folder: str, cutoff: float) -> list[InvestigationRow]:
    found = await db.scalars(
        select(InvestigationRow).where(
            InvestigationRow.folder == folder, InvestigationRow.created_at < cutoff
        )
    )
    return list(found)


async def set_cameras(db: AsyncSession, investigation_id: str, ids: Sequence[str]) -> None:
    await db.execute(
        delete(InvestigationCameraRow).where(
            InvestigationCameraRow.investigation_id == investigation_id
        )
    )
    for position, camera_id in enumerate(ids):
        db.add(
            InvestigationCameraRow(
                investigation_id=investigation_id, position=position, camera_id=camera_id
            )
        )


async def existing_cameras(db: AsyncSession, ids: Sequence[str]) -> dict[str, str]:
    """Names of the cameras among ``ids`` that exist."""
    rows = await db.execute(select(CameraRow.id, CameraRow.name).where(CameraRow.id.in_(ids)))
    return {row.id: row.name for row in rows}


def export(row: ExportRow) -> Export:
    return Export(
        row.id,
        row.investigation_id,
        ExportFormat(row.format),
        ExportState(row.state),
        row.progress,
        row.size,
        row.error,
        row.include_audio,
        row.password_protected,
        row.download_name,
        row.requested_by,
        row.created_at,
        row.finished_at,
    )


async def export_rows(db: AsyncSession, investigation_id: str) -> list[ExportRow]:
    found = await db.scalars(
        select(ExportRow)
        .where(ExportRow.investigation_id == investigation_id)
        .order_by(ExportRow.created_at, ExportRow.id)
    )
    return list(found)


async def export_row(db: AsyncSession, export_id: str) -> ExportRow | None:
    return await db.get(ExportRow, export_id)


async def unfinished(db: AsyncSession) -> list[ExportRow]:
    found = await db.scalars(
        select(ExportRow).where(
            ExportRow.state.in_([ExportState.QUEUED.value, ExportState.RUNNING.value])
        )
    )
    return list(found)
