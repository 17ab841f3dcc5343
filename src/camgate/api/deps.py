"""The service container and the authentication dependencies used by every router."""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException, Request, WebSocket
from starlette.requests import HTTPConnection

from camgate.admin.service import SettingsService
from camgate.audit.models import Actor
from camgate.audit.service import AuditLog
from camgate.bookmarks.service import BookmarkService
from camgate.cameras.service import CameraService
from camgate.core.clock import Clock
from camgate.core.errors import forbidden, unauthorized
from camgate.identity.liveness import Liveness
from camgate.identity.models import Permission, Principal, User
from camgate.identity.service import IdentityService, Login, token_hash
from camgate.investigations.service import InvestigationService
from camgate.live.hls import HlsOutputs
from camgate.live.limiting import Limits
from camgate.live.runtime import LiveRuntime
from camgate.live.viewers import ViewerRegistry
from camgate.media.transcode import TranscoderRegistry
from camgate.recording.service import RecordingService
from camgate.settings import ServerSettings
from camgate.status.service import StatusService
from camgate.views.service import ViewService

log = logging.getLogger(__name__)

SESSION_COOKIE = "camgate_session"


@dataclass(frozen=True, slots=True)
class Services:
    """Everything a request handler may use; built by the app's lifespan."""

    server: ServerSettings
    clock: Clock
    identity: IdentityService
    cameras: CameraService
    runtime: LiveRuntime
    hls: HlsOutputs
    viewers: ViewerRegistry
    status: StatusService
    transcoders: TranscoderRegistry
    limits: Limits
    settings: SettingsService
    views: ViewService
    recordings: RecordingService
    liveness: Liveness
    bookmarks: BookmarkService
    audit: AuditLog
    investigations: InvestigationService

    def can_view(self, user: User, camera_id: str) -> bool:
        """Whether ``user`` may watch ``camera_id`` with the settings in force."""
        deny = self.settings.tree.general.features.deny_builtin_administrator
        return IdentityService.can_view(user, camera_id, deny_builtin_administrator=deny)

    def heard_from(self, principal: Principal) -> Principal:
        """Records a sign of life of the principal's session (the client timeout, U3)."""
        self.liveness.seen(principal.session_id, principal.user.username, self.clock.monotonic())
        return principal

    async def logged_in(self, login: Login, address: str, **details: str) -> str:
        """Records a login however it came (the log, the audit entry, the session's first sign
        of life); its session id."""
        user = login.user
        via = f" ({details['protocol']})" if "protocol" in details else ""
        log.info("login of %s from %s%s", user.username, address, via)
        await self.audit.record(Actor(user.username, address), "login", user.id, **details)
        session_id = token_hash(login.token)
        self.liveness.seen(session_id, user.username, self.clock.monotonic())
        return session_id

    async def logged_out(self, session_id: str) -> None:
        """Ends a session as a logout does: the session, its sign-of-life record and its open
        streams."""
        await self.identity.end_session(session_id)
        self.liveness.forget(session_id)
        self.viewers.end_session(session_id)


def services(connection: HTTPConnection) -> Services:
    # Shared by the HTTP and the HTTPS server of one process, so it lives on the app's state.
    found = getattr(connection.app.state, "services", None)
    if not isinstance(found, Services):
        raise HTTPException(503, "camgate is starting")
    return found


def _bearer(connection: HTTPConnection) -> str | None:
    header = connection.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value:
        return value.strip()
    return connection.cookies.get(SESSION_COOKIE)


async def current_principal(request: Request) -> Principal:
    token = _bearer(request)
    if token is None:
        raise unauthorized()
    svc = services(request)
    return svc.heard_from(await svc.identity.authenticate(token))


async def media_principal(connection: HTTPConnection, camera_id: str) -> Principal:
    """Media URLs also take ``?token=`` (a session token or a media token for the camera)."""
    token = _bearer(connection) or connection.query_params.get("token")
    if token is None:
        raise unauthorized()
    svc = services(connection)
    return svc.heard_from(await svc.identity.authenticate_media(token, camera_id))


async def websocket_principal(websocket: WebSocket, camera_id: str) -> Principal:
    return await media_principal(websocket, camera_id)


#: Why a user is refused a feature (403): the role they have lacks its permission.
REFUSALS = {
    Permission.LIVE: "your role may not watch live video",
    Permission.PLAYBACK: "your role may not play back recordings",
    Permission.EXPORT: "preparing video evidence needs the Export permission",
    Permission.BOOKMARKS_VIEW: "your role may not see bookmarks",
    Permission.BOOKMARKS_CREATE: "your role may not add bookmarks",
    Permission.BOOKMARKS_EDIT: "your role may not change or delete bookmarks",
    Permission.ACTIONS: "your role may not trigger actions",
    Permission.INCOMING_AUDIO: "your role may not listen to the cameras' audio",
    Permission.PUSH_TO_TALK: "your role may not talk through the cameras' speakers",
    Permission.VIDEO_PUSH: "your role may not push video",
    Permission.ADMINISTRATION: "administrators only",
}


def permitted(principal: Principal, permission: Permission) -> Principal:
    """The principal, if their role has ``permission``; 403 with the reason otherwise."""
    if not principal.user.may(permission):
        raise forbidden(REFUSALS[permission])
    return principal


class Require:
    """A dependency: the logged-in principal, if their role has ``permission`` (403 otherwise).
    Routes declare it, so that the permission matrix reads who may use them from the route
    table."""

    def __init__(self, permission: Permission) -> None:
        self.permission = permission

    async def __call__(
        self, principal: Annotated[Principal, Depends(current_principal)]
    ) -> Principal:
        return permitted(principal, self.permission)

    def __repr__(self) -> str:
        return f"require({self.permission.value!r})"


class RequireMedia(Require):
    """As :class:`Require`, for a media route that also takes ``?token=`` (``media_principal``)."""

    async def __call__(  # type: ignore[override]
        self, connection: HTTPConnection, camera_id: str
    ) -> Principal:
        return permitted(await media_principal(connection, camera_id), self.permission)

    def __repr__(self) -> str:
        return f"require_media({self.permission.value!r})"


@functools.cache
def require(permission: Permission) -> Require:
    """The dependency of a route that needs ``permission`` (one object per permission, so that
    FastAPI runs it once per request however often it is declared)."""
    return Require(permission)


@functools.cache
def require_media(permission: Permission) -> RequireMedia:
    return RequireMedia(permission)


#: The administrators' routes (settings, users, roles, cameras, status, audit, lockouts): the
#: built-in Administrator role, and any role given ``administration``.
require_admin = require(Permission.ADMINISTRATION)

ServicesDep = Annotated[Services, Depends(services)]
CurrentPrincipal = Annotated[Principal, Depends(current_principal)]
AdminPrincipal = Annotated[Principal, Depends(require_admin)]


def actor(principal: Principal, request: Request) -> Actor:
    """Who did what a request asked, as the audit log names them."""
    return Actor(principal.user.username, request.client.host if request.client else "")


LivePrincipal = Annotated[Principal, Depends(require(Permission.LIVE))]
#: For a media route with required query parameters: authenticates before they are validated,
#: so that a caller without credentials learns nothing but 401.
MediaPrincipal = Annotated[Principal, Depends(media_principal)]
#: The same, for recorded video: with the role's ``playback`` permission (403 otherwise).
PlaybackPrincipal = Annotated[Principal, Depends(require_media(Permission.PLAYBACK))]
