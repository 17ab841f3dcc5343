"""Bookmark use cases. Whoever may view a camera sees its bookmarks and may add their own; only
the creator, or an administrator, changes or deletes one."""

from __future__ import annotations

import uuid
from collections.abc import Callable

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from camgate.bookmarks import store
from camgate.bookmarks.models import (
    Bookmark,
    BookmarkQuery,
    check_description,
    check_headline,
    check_limit,
    check_span,
    check_window,
)
from camgate.core.clock import Clock
from camgate.core.errors import forbidden, not_found
from camgate.db.tables import BookmarkRow
from camgate.identity.models import Permission, User

#: Whether a user may view a camera (the identity rules, with the settings in force).
CanView = Callable[[User, str], bool]

TURNED_OFF = "bookmarks are turned off on this server"


class BookmarkService:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        clock: Clock,
        *,
        can_view: CanView,
        enabled: Callable[[], bool],
    ) -> None:
        self._db = sessions
        self._clock = clock
        self._can_view = can_view
        self._enabled = enabled

    def require_enabled(self) -> None:
        """Refuses every use case while an administrator has turned bookmarks off."""
        if not self._enabled():
            raise forbidden(TURNED_OFF)

    async def search(self, user: User, query: BookmarkQuery) -> list[Bookmark]:
        self.require_enabled()
        check_window(query.start, query.end)
        check_limit(query.limit)
        async with self._db() as db:
            # Filtered in SQL rather than afterwards, so that ``limit`` counts visible ones only.
            # Existing cameras only: an administrator "may view" any id, even a deleted one's.
            if query.camera_id is None:
                known = await store.camera_ids(db)
            elif await store.camera_exists(db, query.camera_id):
                known = [query.camera_id]
            else:
                known = []
            visible = [c for c in known if self._can_view(user, c)]
            if not visible:
                return []
            return await store.matching(db, query, visible, user.id)

    async def _visible(self, db: AsyncSession, user: User, bookmark_id: str) -> BookmarkRow:
        row = await store.row(db, bookmark_id)
        # The same answer as for an unknown id, so that ids on hidden cameras do not leak.
        if row is None or not self._can_view(user, row.camera_id):
            raise not_found("bookmark")
        return row

    async def _editable(self, db: AsyncSession, user: User, bookmark_id: str) -> BookmarkRow:
        row = await self._visible(db, user, bookmark_id)
        if row.user_id != user.id and not user.may(Permission.ADMINISTRATION):
            raise forbidden("only its creator or an administrator changes a bookmark")
        return row

    async def get(self, user: User, bookmark_id: str) -> Bookmark:
        self.require_enabled()
        async with self._db() as db:
            return store.bookmark(await self._visible(db, user, bookmark_id))

    async def create(
        self,
        user: User,
        camera_id: str,
        start: float,
        end: float,
        headline: str,
        description: str = "",
    ) -> Bookmark:
        self.require_enabled()
        headline = check_headline(headline)
        description = check_description(description)
        check_span(start, end)
        async with self._db() as db:
            # A camera the user may not view does not exist for them, as everywhere else.
            if not self._can_view(user, camera_id) or not await store.camera_exists(db, camera_id):
                raise not_found("camera")
            now = self._clock.now()
            row = BookmarkRow(
                id=str(uuid.uuid4()),
                camera_id=camera_id,
                start=start,
                end=end,
                headline=headline,
                description=description,
                user_id=user.id,
                username=user.username,
                created_at=now,
                updated_at=now,
            )
            db.add(row)
            await db.commit()
            return store.bookmark(row)

    async def update(
        self,
        user: User,
        bookmark_id: str,
        *,
        start: float | None = None,
        end: float | None = None,
        headline: str | None = None,
        description: str | None = None,
    ) -> Bookmark:
        self.require_enabled()
        async with self._db() as db:
            row = await self._editable(db, user, bookmark_id)
            new_start = row.start if start is None else start
            new_end = row.end if end is None else end
            check_span(new_start, new_end)
            if headline is not None:
                row.headline = check_headline(headline)
            if description is not None:
                row.description = check_description(description)
            row.start, row.end = new_start, new_end
            row.updated_at = self._clock.now()
            await db.commit()
            return store.bookmark(row)

    async def delete(self, user: User, bookmark_id: str) -> None:
        self.require_enabled()
        async with self._db() as db:
            row = await self._editable(db, user, bookmark_id)
            await db.delete(row)
            await db.commit()
