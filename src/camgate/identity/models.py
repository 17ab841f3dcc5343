"""Identity values passed between the store, the service and the adapters."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from camgate.identity.twostep import TwoStepMethod

ADMINISTRATOR_ROLE_ID = "00000000-0000-0000-0000-000000000001"


class Permission(StrEnum):
    """What a role may do with its cameras, feature by feature (the built-in Administrator may
    do all). Which cameras a role sees is its camera list; these say what it may do there."""

    #: Live video of its cameras: every live route (WebSocket, MP4, HLS, MJPEG, snapshots).
    LIVE = "live"
    #: Recorded video: the timeline, playback files and the playback WebSocket.
    PLAYBACK = "playback"
    #: Investigations and their exports (the manual's Export permission).
    EXPORT = "export"
    #: See bookmarks (list, search, open).
    BOOKMARKS_VIEW = "bookmarks_view"
    #: Add bookmarks.
    BOOKMARKS_CREATE = "bookmarks_create"
    #: Change and delete bookmarks (one's own; every one with administration too).
    BOOKMARKS_EDIT = "bookmarks_edit"
    #: Trigger outputs and user events (A1).
    ACTIONS = "actions"
    #: Hear the cameras' microphones (L7).
    INCOMING_AUDIO = "incoming_audio"
    #: Speak through the cameras' speakers (L8).
    PUSH_TO_TALK = "push_to_talk"
    #: Stream a phone's camera into the system on a video push channel (V2).
    VIDEO_PUSH = "video_push"
    #: Settings, users, roles, cameras, status, the audit log, everyone's sessions, lockouts.
    ADMINISTRATION = "administration"

    @classmethod
    def role_defaults(cls) -> frozenset[Permission]:
        """What a role other than the built-in Administrator gets when it is made, and what
        every role of a version without feature permissions could do: all but the manual's
        Export permission and administration, which an administrator grants on purpose."""
        return frozenset(cls) - {cls.EXPORT, cls.ADMINISTRATION}


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
    #: Where two-step verification codes go by e-mail ("" when none is known).
    email: str = ""
    #: The user's own verification method; None: as their directory groups say (or none).
    two_step: TwoStepMethod | None = None
    #: Whether the user has added camgate to an authenticator app.
    totp_enrolled: bool = False
    #: Whether the directory (LDAP) checks the password, rather than camgate.
    directory: bool = False

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


@dataclass(frozen=True, slots=True)
class DirectoryGroup:
    """A directory group that the administrator gave a role or a verification method: its
    members log in with the role (and the method, unless they have their own)."""

    name: str
    role: str | None
    two_step: TwoStepMethod
