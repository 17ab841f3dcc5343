"""Identity values passed between the store, the service and the adapters."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

ADMINISTRATOR_ROLE_ID = "00000000-0000-0000-0000-000000000001"


class Permission(StrEnum):
    """What a role may do beyond viewing its cameras (the built-in Administrator may do all)."""

    #: Investigations and their exports (the manual's Export permission).
    EXPORT = "export"


@dataclass(frozen=True, slots=True)
class Role:
    id: str
    name: str
    builtin: bool
    administrator: bool
    all_cameras: bool
    camera_ids: frozenset[str]
    permissions: frozenset[Permission] = frozenset()


@dataclass(frozen=True, slots=True)
class User:
    id: str
    username: str
    role: Role
    created_at: float

    @property
    def is_admin(self) -> bool:
        return self.role.administrator

    def may(self, permission: Permission) -> bool:
        return self.role.administrator or permission in self.role.permissions


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated user and the session that proves it."""

    user: User
    session_id: str


#: Hex digits of a session's hash shown as its id: enough to tell sessions apart, never enough
#: to stand for the session.
SESSION_ID_DIGITS = 16


def public_session_id(session_id: str) -> str:
    return session_id[:SESSION_ID_DIGITS]


@dataclass(frozen=True, slots=True)
class SessionInfo:
    """A login as its user sees it in a list."""

    #: The internal id (the token's hash): for ending it; never shown.
    session_id: str
    username: str
    created_at: float
    last_seen_at: float
    client: str

    @property
    def id(self) -> str:
        return public_session_id(self.session_id)
