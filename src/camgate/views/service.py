"""View use cases. Everyone may keep private views; administrators also make shared ones."""

from __future__ import annotations

import uuid
from collections.abc import Callable

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from camgate.core.clock import Clock
from camgate.core.errors import forbidden, invalid, not_found
from camgate.db.tables import ViewRow
from camgate.identity.models import Permission, User
from camgate.views import store
from camgate.views.models import ALL_CAMERAS_VIEW_ID, MAX_CAMERAS, MAX_COLUMNS, View

#: Whether a user may view a camera (the identity rules, with the settings in force).
CanView = Callable[[User, str], bool]


def _check(name: str, camera_ids: list[str], columns: int) -> str:
    name = name.strip()
    if not name or len(name) > 100:
        raise invalid("a view name is 1 to 100 characters")
    if not 1 <= columns <= MAX_COLUMNS:
        raise invalid(f"a view has 1 to {MAX_COLUMNS} columns")
    if len(camera_ids) > MAX_CAMERAS:
        raise invalid(f"a view holds at most {MAX_CAMERAS} cameras")
    return name


class ViewService:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        clock: Clock,
        can_view: CanView,
        all_cameras_enabled: Callable[[], bool],
    ) -> None:
        self._db = sessions
        self._clock = clock
        self._can_view = can_view
        self._all_cameras_enabled = all_cameras_enabled

    def _for(self, user: User, view: View) -> View:
        """The view as ``user`` sees it: without the cameras they may not view."""
        visible = tuple(c for c in view.camera_ids if self._can_view(user, c))
        return View(view.id, view.name, view.owner_id, view.shared, view.columns, visible)

    async def visible(self, user: User, all_camera_ids: list[str]) -> list[View]:
        views = []
        if self._all_cameras_enabled():
            everything = View(
                ALL_CAMERAS_VIEW_ID, "All cameras", None, True, 0, tuple(all_camera_ids)
            )
            views.append(self._for(user, everything))
        async with self._db() as db:
            views += [self._for(user, v) for v in await store.visible_to(db, user.id)]
        return views

    async def get(self, user: User, view_id: str, all_camera_ids: list[str]) -> View:
        for view in await self.visible(user, all_camera_ids):
            if view.id == view_id:
                return view
        raise not_found("view")

    def _check_cameras(self, user: User, camera_ids: list[str]) -> None:
        if any(not self._can_view(user, c) for c in camera_ids):
            raise not_found("camera")

    async def create(
        self, user: User, name: str, camera_ids: list[str], columns: int, shared: bool
    ) -> View:
        name = _check(name, camera_ids, columns)
        if shared and not user.may(Permission.ADMINISTRATION):
            raise forbidden("only administrators make shared views")
        self._check_cameras(user, camera_ids)
        view_id = str(uuid.uuid4())
        async with self._db() as db:
            db.add(
                ViewRow(
                    id=view_id,
                    name=name,
                    owner_id=user.id,
                    shared=shared,
                    columns=columns,
                    created_at=self._clock.now(),
                )
            )
            await db.flush()
            await store.set_cameras(db, view_id, camera_ids)
            try:
                await db.commit()
            except IntegrityError as error:
                raise not_found("camera") from error
            created = await store.view(db, view_id)
        assert created is not None
        return self._for(user, created)

    async def _editable(self, db: AsyncSession, user: User, view_id: str) -> ViewRow:
        if view_id == ALL_CAMERAS_VIEW_ID:
            raise forbidden('the "All cameras" view cannot be changed')
        row = await store.row(db, view_id)
        if row is None or not (row.shared or row.owner_id == user.id):
            raise not_found("view")
        if row.owner_id != user.id and not user.may(Permission.ADMINISTRATION):
            raise forbidden("only its owner or an administrator changes a view")
        return row

    async def update(
        self,
        user: User,
        view_id: str,
        *,
        name: str | None = None,
        camera_ids: list[str] | None = None,
        columns: int | None = None,
    ) -> View:
        async with self._db() as db:
            row = await self._editable(db, user, view_id)
            current = await store.view(db, view_id)
            assert current is not None
            new_ids = camera_ids if camera_ids is not None else list(current.camera_ids)
            row.name = _check(
                name if name is not None else row.name, new_ids, columns or row.columns
            )
            row.columns = columns or row.columns
            if camera_ids is not None:
                self._check_cameras(user, camera_ids)
                await store.set_cameras(db, view_id, camera_ids)
            await db.commit()
            updated = await store.view(db, view_id)
        assert updated is not None
        return self._for(user, updated)

    async def delete(self, user: User, view_id: str) -> None:
        async with self._db() as db:
            row = await self._editable(db, user, view_id)
            await db.delete(row)
            await db.commit()
