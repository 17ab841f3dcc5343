"""Database access for bookmarks."""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from camgate.bookmarks.models import MAX_SPAN_S, Bookmark, BookmarkQuery
from camgate.db.tables import BookmarkRow, CameraRow


def bookmark(row: BookmarkRow) -> Bookmark:
    return Bookmark(
        row.id,
        row.camera_id,
        row.start,
        row.end,
        row.headline,
        row.description,
        row.user_id,
        row.username,
    )


async def row(db: AsyncSession, bookmark_id: str) -> BookmarkRow | None:
    return await db.get(BookmarkRow, bookmark_id)


async def camera_exists(db: AsyncSession, camera_id: str) -> bool:
    return await db.get(CameraRow, camera_id) is not None


async def camera_ids(db: AsyncSession) -> list[str]:
    return list(await db.scalars(select(CameraRow.id)))


def _in_window(start: float | None, end: float | None) -> list[ColumnElement[bool]]:
    """``models.overlaps`` in SQL."""
    conditions: list[ColumnElement[bool]] = []
    if end is not None:
        conditions.append(BookmarkRow.start < end)
    if start is not None:
        conditions.append(or_(BookmarkRow.end > start, BookmarkRow.start >= start))
        # Implied by the rule above and the longest span, and it lets SQLite use the index.
        conditions.append(BookmarkRow.start >= start - MAX_SPAN_S)
    return conditions


async def matching(
    db: AsyncSession, query: BookmarkQuery, camera_ids: Collection[str], user_id: str
) -> list[Bookmark]:
    """The bookmarks on ``camera_ids`` that match ``query``, the latest start first."""
    statement = select(BookmarkRow).where(
        BookmarkRow.camera_id.in_(list(camera_ids)), *_in_window(query.start, query.end)
    )
    if query.text:
        statement = statement.where(
            or_(
                BookmarkRow.headline.icontains(query.text, autoescape=True),
                BookmarkRow.description.icontains(query.text, autoescape=True),
            )
        )
    if query.mine:
        statement = statement.where(BookmarkRow.user_id == user_id)
    statement = statement.order_by(
        BookmarkRow.start.desc(), BookmarkRow.created_at.desc(), BookmarkRow.id
    ).limit(query.limit)
    return [bookmark(found) for found in await db.scalars(statement)]
