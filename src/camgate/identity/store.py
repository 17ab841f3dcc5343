"""Database access for users, roles and sessions."""

from __future__ import annotations

import json

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from camgate.db.tables import DirectoryGroupRow, RoleCameraRow, RoleRow, SessionRow, UserRow
from camgate.identity.models import Permission, Role, SessionInfo, User
from camgate.identity.twostep import TwoStepMethod

#: ``users.source`` of users whose password the directory checks.
DIRECTORY_SOURCE = "directory"


async def _role(db: AsyncSession, row: RoleRow) -> Role:
    cameras = await db.scalars(
        select(RoleCameraRow.camera_id).where(RoleCameraRow.role_id == row.id)
    )
    return Role(
        row.id,
        row.name,
        row.builtin,
        row.administrator,
        row.all_cameras,
        frozenset(cameras),
        frozenset(Permission(value) for value in json.loads(row.permissions)),
    )


async def role_by_name(db: AsyncSession, name: str) -> Role | None:
    row = await db.scalar(select(RoleRow).where(RoleRow.name == name))
    return await _role(db, row) if row else None


async def role_by_id(db: AsyncSession, role_id: str) -> Role | None:
    row = await db.get(RoleRow, role_id)
    return await _role(db, row) if row else None


async def roles(db: AsyncSession) -> list[Role]:
    rows = await db.scalars(select(RoleRow).order_by(RoleRow.name))
    return [await _role(db, row) for row in rows]


async def add_role(
    db: AsyncSession,
    role_id: str,
    name: str,
    all_cameras: bool,
    permissions: frozenset[Permission] | None = None,
) -> None:
    """A new role; without ``permissions``, the defaults (``RoleRow.DEFAULT_PERMISSIONS``)."""
    row = RoleRow(
        id=role_id, name=name, builtin=False, administrator=False, all_cameras=all_cameras
    )
    if permissions is not None:
        row.permissions = json.dumps(sorted(permissions))
    db.add(row)


async def users_with_role(db: AsyncSession, role_id: str) -> int:
    rows = await db.scalars(select(UserRow.id).where(UserRow.role_id == role_id))
    return len(list(rows))


async def delete_role(db: AsyncSession, role_id: str) -> None:
    row = await db.get(RoleRow, role_id)
    if row is not None:
        await db.delete(row)


async def set_role_cameras(db: AsyncSession, role_id: str, camera_ids: set[str]) -> None:
    await db.execute(delete(RoleCameraRow).where(RoleCameraRow.role_id == role_id))
    for camera_id in sorted(camera_ids):
        db.add(RoleCameraRow(role_id=role_id, camera_id=camera_id))


async def set_role_permissions(
    db: AsyncSession, role_id: str, permissions: frozenset[Permission]
) -> None:
    row = await db.get(RoleRow, role_id)
    assert row is not None, "the caller found the role"
    row.permissions = json.dumps(sorted(permissions))


async def _user(db: AsyncSession, row: UserRow) -> User:
    role = await role_by_id(db, row.role_id)
    assert role is not None, "users.role_id is a foreign key"
    return User(
        row.id,
        row.username,
        role,
        row.created_at,
        email=row.email,
        two_step=TwoStepMethod(row.two_step) if row.two_step else None,
        totp_enrolled=row.totp_secret is not None,
        directory=row.source == DIRECTORY_SOURCE,
    )


async def user_row_by_name(db: AsyncSession, username: str) -> UserRow | None:
    return await db.scalar(select(UserRow).where(UserRow.username_key == username.casefold()))


async def user_by_name(db: AsyncSession, username: str) -> User | None:
    row = await user_row_by_name(db, username)
    return await _user(db, row) if row else None


async def user_by_id(db: AsyncSession, user_id: str) -> User | None:
    row = await db.get(UserRow, user_id)
    return await _user(db, row) if row else None


async def users(db: AsyncSession) -> list[User]:
    rows = await db.scalars(select(UserRow).order_by(UserRow.username_key))
    return [await _user(db, row) for row in rows]


async def add_user(
    db: AsyncSession, user_id: str, username: str, password_hash: str, role_id: str, now: float
) -> None:
    db.add(
        UserRow(
            id=user_id,
            username=username,
            username_key=username.casefold(),
            password_hash=password_hash,
            role_id=role_id,
            created_at=now,
        )
    )


async def administrators_left(db: AsyncSession, without_user_id: str) -> int:
    rows = await db.scalars(
        select(UserRow.id)
        .join(RoleRow, RoleRow.id == UserRow.role_id)
        .where(RoleRow.administrator.is_(True), UserRow.id != without_user_id)
    )
    return len(list(rows))


async def session_by_hash(db: AsyncSession, token_hash: str) -> SessionRow | None:
    return await db.get(SessionRow, token_hash)


async def delete_sessions_of(db: AsyncSession, user_id: str) -> None:
    await db.execute(delete(SessionRow).where(SessionRow.user_id == user_id))


async def directory_users_with_sessions(db: AsyncSession) -> list[tuple[str, str]]:
    """(id, user name) of the directory's users who have a session."""
    rows = await db.execute(
        select(UserRow.id, UserRow.username)
        .where(UserRow.source == DIRECTORY_SOURCE)
        .where(UserRow.id.in_(select(SessionRow.user_id)))
        .order_by(UserRow.username)
    )
    return [(user_id, username) for user_id, username in rows.all()]


async def delete_sessions_idle_since(db: AsyncSession, cutoff: float) -> None:
    await db.execute(delete(SessionRow).where(SessionRow.last_seen_at < cutoff))


async def sessions(db: AsyncSession, user_id: str | None) -> list[SessionInfo]:
    """The sessions of a user (None: of everyone), the latest active first."""
    statement = select(SessionRow, UserRow.username).join(UserRow, UserRow.id == SessionRow.user_id)
    if user_id is not None:
        statement = statement.where(SessionRow.user_id == user_id)
    rows = await db.execute(statement.order_by(SessionRow.last_seen_at.desc()))
    return [
        SessionInfo(row.token_hash, username, row.created_at, row.last_seen_at, row.client)
        for row, username in rows.all()
    ]


async def user_row_by_id(db: AsyncSession, user_id: str) -> UserRow | None:
    return await db.get(UserRow, user_id)


async def directory_groups(
    db: AsyncSession, names: frozenset[str] | None = None
) -> list[DirectoryGroupRow]:
    """The groups given a role or a method (only those named, when ``names`` is given)."""
    statement = select(DirectoryGroupRow).order_by(DirectoryGroupRow.name_key)
    if names is not None:
        statement = statement.where(
            DirectoryGroupRow.name_key.in_(sorted(name.casefold() for name in names))
        )
    return list(await db.scalars(statement))


async def directory_group(db: AsyncSession, name: str) -> DirectoryGroupRow | None:
    return await db.get(DirectoryGroupRow, name.casefold())
