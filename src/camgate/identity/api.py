"""Login, logout, the current user; users and roles for administrators."""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status
from pydantic import BaseModel, Field

from camgate.api.deps import SESSION_COOKIE, AdminPrincipal, CurrentPrincipal, ServicesDep
from camgate.api.times import iso
from camgate.audit.models import Actor
from camgate.core.errors import CamgateError, ErrorKind
from camgate.identity.models import Permission, Role, SessionInfo, User, public_session_id
from camgate.identity.service import SESSION_IDLE_S, token_hash

log = logging.getLogger(__name__)

public_router = APIRouter(prefix="/api/v1/auth", tags=["auth"])
router = APIRouter(prefix="/api/v1", tags=["users"])


class LoginRequest(BaseModel):
    username: str = Field(min_length=1, max_length=100)
    password: str = Field(min_length=1, max_length=1024)


class UserOut(BaseModel):
    id: str
    username: str
    role: str
    is_admin: bool
    permissions: list[Permission] = Field(description="What the user may do beyond viewing")

    @classmethod
    def of(cls, user: User) -> UserOut:
        return cls(
            id=user.id,
            username=user.username,
            role=user.role.name,
            is_admin=user.is_admin,
            permissions=[p for p in sorted(Permission) if user.may(p)],
        )


class LoginResponse(BaseModel):
    token: str
    user: UserOut


class NewUser(BaseModel):
    username: str = Field(min_length=1, max_length=100)
    password: str = Field(min_length=1, max_length=1024)
    role: str = "operator"


class RoleOut(BaseModel):
    id: str
    name: str
    builtin: bool
    administrator: bool
    all_cameras: bool
    camera_ids: list[str]
    permissions: list[Permission] = Field(
        description="What the role may do beyond viewing its cameras (the Administrator: all)"
    )

    @classmethod
    def of(cls, role: Role) -> RoleOut:
        return cls(
            id=role.id,
            name=role.name,
            builtin=role.builtin,
            administrator=role.administrator,
            all_cameras=role.all_cameras,
            camera_ids=sorted(role.camera_ids),
            permissions=sorted(Permission) if role.administrator else sorted(role.permissions),
        )


class RoleCameras(BaseModel):
    camera_ids: list[str] = Field(max_length=10_000)


@public_router.post("/login", responses={401: {}, 429: {}})
async def login(
    body: LoginRequest, request: Request, response: Response, services: ServicesDep
) -> LoginResponse:
    address = request.client.host if request.client else "unknown"
    actor = Actor(body.username, address)
    try:
        result = await services.identity.login(
            body.username,
            body.password,
            address=address,
            client=request.headers.get("user-agent", ""),
        )
    except CamgateError as error:
        # A refusal by the rate limit checked nothing: only real attempts are recorded, so a
        # flood does not flood the log.
        if error.kind is ErrorKind.UNAUTHORIZED:
            log.warning("failed login as %r from %s", body.username, address)
            await services.audit.record(actor, "login.failed", body.username)
        raise
    log.info("login of %s from %s", result.user.username, address)
    await services.audit.record(actor, "login", result.user.id)
    now = services.clock.monotonic()
    services.liveness.seen(token_hash(result.token), result.user.username, now)
    response.set_cookie(
        SESSION_COOKIE,
        result.token,
        max_age=SESSION_IDLE_S,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/",
    )
    return LoginResponse(token=result.token, user=UserOut.of(result.user))


@public_router.post("/logout", status_code=status.HTTP_204_NO_CONTENT)
async def logout(principal: CurrentPrincipal, services: ServicesDep, response: Response) -> None:
    await services.identity.end_session(principal.session_id)
    services.liveness.forget(principal.session_id)
    services.viewers.end_session(principal.session_id)  # its open streams end with it
    response.delete_cookie(SESSION_COOKIE, path="/")


class KeepaliveOut(BaseModel):
    #: A session silent for longer than this ends; signal every third of it.
    timeout_s: int


@public_router.post("/keepalive", summary="Tell the server that this client is still running")
async def keepalive(_principal: CurrentPrincipal, services: ServicesDep) -> KeepaliveOut:
    # Authenticating the request is the sign of life (every request counts as one).
    return KeepaliveOut(timeout_s=services.settings.tree.connectivity.client_timeout_s)


@public_router.get("/me")
async def me(principal: CurrentPrincipal) -> UserOut:
    return UserOut.of(principal.user)


@router.get("/users", tags=["users"])
async def list_users(_admin: AdminPrincipal, services: ServicesDep) -> list[UserOut]:
    return [UserOut.of(user) for user in await services.identity.users()]


@router.post("/users", status_code=status.HTTP_201_CREATED)
async def add_user(body: NewUser, _admin: AdminPrincipal, services: ServicesDep) -> UserOut:
    return UserOut.of(await services.identity.add_user(body.username, body.password, body.role))


@router.delete("/users/{username}", status_code=status.HTTP_204_NO_CONTENT)
async def remove_user(username: str, _admin: AdminPrincipal, services: ServicesDep) -> None:
    await services.identity.remove_user(username)


@router.get("/roles", tags=["roles"])
async def list_roles(_admin: AdminPrincipal, services: ServicesDep) -> list[RoleOut]:
    return [RoleOut.of(role) for role in await services.identity.roles()]


@router.put("/roles/{name}/cameras", tags=["roles"])
async def set_role_cameras(
    name: str, body: RoleCameras, _admin: AdminPrincipal, services: ServicesDep
) -> RoleOut:
    return RoleOut.of(await services.identity.set_role_cameras(name, set(body.camera_ids)))


class RolePermissions(BaseModel):
    permissions: list[Permission] = Field(max_length=len(Permission))


@router.put("/roles/{name}/permissions", tags=["roles"], summary="Set exactly a role's permissions")
async def set_role_permissions(
    name: str,
    body: RolePermissions,
    request: Request,
    admin: AdminPrincipal,
    services: ServicesDep,
) -> RoleOut:
    before, after = await services.identity.set_role_permissions(name, frozenset(body.permissions))
    if before.permissions != after.permissions:
        address = request.client.host if request.client else ""
        await services.audit.record(
            Actor(admin.user.username, address),
            "role.permissions",
            after.id,
            role=after.name,
            old=sorted(before.permissions),
            new=sorted(after.permissions),
        )
    return RoleOut.of(after)


class SessionOut(BaseModel):
    id: str
    user: str
    created: str = Field(description="UTC, ISO 8601")
    last_seen: str = Field(
        description="UTC, ISO 8601 (to the minute: it is not written more often)"
    )
    client: str = Field(description="The client's User-Agent at login")
    current: bool = Field(description="The session of this request")

    @classmethod
    def of(cls, session: SessionInfo, current: str) -> SessionOut:
        return cls(
            id=session.id,
            user=session.username,
            created=iso(session.created_at),
            last_seen=iso(session.last_seen_at),
            client=session.client,
            current=session.id == public_session_id(current),
        )


@router.get("/sessions", tags=["sessions"], summary="Your logins (everyone's with all=true)")
async def list_sessions(
    principal: CurrentPrincipal,
    services: ServicesDep,
    everyone: Annotated[bool, Query(alias="all")] = False,
) -> list[SessionOut]:
    found = await services.identity.sessions(principal.user, everyone=everyone)
    return [SessionOut.of(session, principal.session_id) for session in found]


@router.delete(
    "/sessions/{session_id}",
    tags=["sessions"],
    status_code=status.HTTP_204_NO_CONTENT,
    summary="End a login and its open streams (yours; anyone's for an administrator)",
    responses={404: {}},
)
async def end_session(
    session_id: str, request: Request, principal: CurrentPrincipal, services: ServicesDep
) -> None:
    ended = await services.identity.end_listed_session(principal.user, session_id)
    services.liveness.forget(ended.session_id)
    services.viewers.end_session(ended.session_id)
    address = request.client.host if request.client else ""
    await services.audit.record(
        Actor(principal.user.username, address), "session.end", ended.id, user=ended.username
    )


class LockoutOut(BaseModel):
    kind: str = Field(description="user or address")
    name: str
    seconds_left: float = Field(description="Until a login may be tried again")


@router.get("/lockouts", tags=["users"], summary="Accounts and addresses locked out now")
async def list_lockouts(_admin: AdminPrincipal, services: ServicesDep) -> list[LockoutOut]:
    return [
        LockoutOut(kind=lockout.kind, name=lockout.name, seconds_left=round(lockout.seconds_left))
        for lockout in services.identity.lockouts()
    ]


@router.delete(
    "/lockouts/{kind}/{name}",
    tags=["users"],
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Lift a lockout: the account or address may try again at once",
    responses={404: {}},
)
async def lift_lockout(
    kind: str, name: str, request: Request, admin: AdminPrincipal, services: ServicesDep
) -> None:
    services.identity.lift_lockout(kind, name)
    address = request.client.host if request.client else ""
    await services.audit.record(
        Actor(admin.user.username, address), "lockout.lift", f"{kind}:{name}"
    )
