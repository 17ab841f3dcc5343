"""Identity values passed between the store, the service and the adapters."""

from __future__ import annotations

from dataclasses import dataclass

ADMINISTRATOR_ROLE_ID = "00000000-0000-0000-0000-000000000001"


@dataclass(frozen=True, slots=True)
class Role:
    id: str
    name: str
    builtin: bool
    administrator: bool
    all_cameras: bool
    camera_ids: frozenset[str]


@dataclass(frozen=True, slots=True)
class User:
    id: str
    username: str
    role: Role
    created_at: float

    @property
    def is_admin(self) -> bool:
        return self.role.administrator


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated user and the session that proves it."""

    user: User
    session_id: str
