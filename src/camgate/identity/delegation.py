"""What an administrator whose role is not the built-in Administrator may grant (ADR 0013): the
administration permission lets them administer, never give more than their own role has.

Pure checks, each raising forbidden; ``actor`` None is the ``camgate`` command, run by whoever
owns the server, and is trusted like the built-in Administrator."""

from __future__ import annotations

from camgate.core.errors import forbidden
from camgate.identity.models import Permission, Role, User


def _trusted(actor: User | None) -> bool:
    return actor is None or actor.is_admin


def _within(role: Role, mine: Role) -> bool:
    """Whether ``role`` has no more rights than ``mine``."""
    if role.administrator:
        return False
    if role.all_cameras and not mine.all_cameras:
        return False
    cameras_ok = mine.all_cameras or role.camera_ids <= mine.camera_ids
    return cameras_ok and role.permissions <= mine.permissions


def check_grant(
    actor: User | None,
    role: Role,
    *,
    permissions: frozenset[Permission] | None = None,
    cameras: frozenset[str] | None = None,
) -> None:
    """Changing a role's permissions or cameras: never one's own role, and only what one has."""
    if actor is None or _trusted(actor):
        return
    if role.id == actor.role.id:
        raise forbidden("administrators do not change their own role")
    if not _within(role, actor.role):
        raise forbidden(
            "this role has rights that your role has not; only the Administrator role changes it"
        )
    if permissions is not None and (added := permissions - actor.role.permissions):
        raise forbidden(f"your role has no {', '.join(sorted(added))} to give")
    mine = actor.role
    if cameras is not None and not mine.all_cameras and not cameras <= mine.camera_ids:
        raise forbidden("you may give a role only cameras that your role may view")


def check_membership(actor: User | None, role: Role) -> None:
    """Putting a user or a directory group into ``role``: no role with more rights than one's
    own."""
    if actor is None or _trusted(actor):
        return
    if not _within(role, actor.role):
        raise forbidden("you may put users only in roles with no more rights than yours")


def check_member(actor: User | None, user: User) -> None:
    """Changing or removing a user: not one whose role has more rights than one's own."""
    if actor is None or _trusted(actor):
        return
    if not _within(user.role, actor.role):
        raise forbidden("only the Administrator role changes users with more rights than yours")
