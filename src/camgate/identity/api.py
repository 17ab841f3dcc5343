"""Login, logout, the current user; users and roles for administrators."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from camgate.api.deps import SESSION_COOKIE, AdminPrincipal, CurrentPrincipal, ServicesDep
from camgate.api.times import iso
from camgate.audit.models import Actor
from camgate.core.errors import CamgateError, ErrorKind
from camgate.identity.models import (
    DirectoryGroup,
    Permission,
    Principal,
    Role,
    SessionInfo,
    User,
    public_session_id,
)
from camgate.identity.service import (
    SESSION_IDLE_S,
    UNSET,
    Login,
    SecondStep,
    user_changes,
)
from camgate.identity.twostep import TwoStepMethod

log = logging.getLogger(__name__)

public_router = APIRouter(prefix="/api/v1/auth", tags=["auth"])
router = APIRouter(prefix="/api/v1", tags=["users"])


class LoginRequest(BaseModel):
    username: str = Field(min_length=1, max_length=100)
    password: str = Field(min_length=1, max_length=1024)
    reconnect_token: str = Field(
        default="",
        max_length=100,
        description="From the last login's answer: spares the verification code when this "
        "client lost its connection within the reconnection timeout",
    )


class UserOut(BaseModel):
    id: str
    username: str
    role: str
    is_admin: bool
    permissions: list[Permission] = Field(description="What the user may do with their cameras")
    email: str = Field(description="Where e-mailed verification codes go")
    two_step: TwoStepMethod | None = Field(
        description="The user's own verification method; null: as their directory groups say "
        "(none for camgate's own users)"
    )
    totp_enrolled: bool = Field(description="Has added camgate to an authenticator app")
    directory: bool = Field(description="The directory (LDAP) checks the password")

    @classmethod
    def of(cls, user: User) -> UserOut:
        return cls(
            id=user.id,
            username=user.username,
            role=user.role.name,
            is_admin=user.is_admin,
            permissions=[p for p in sorted(Permission) if user.may(p)],
            email=user.email,
            two_step=user.two_step,
            totp_enrolled=user.totp_enrolled,
            directory=user.directory,
        )


class LoginResponse(BaseModel):
    token: str
    user: UserOut
    reconnect_token: str = Field(
        default="",
        description="After a verification code: send it with the next login to reconnect "
        "without a code within the reconnection timeout (empty when not offered)",
    )


class EnrolmentOut(BaseModel):
    secret: str = Field(description="Base32, for typing into an authenticator app")
    uri: str = Field(description="otpauth:// URI")
    qr_svg: str = Field(description="The URI as a QR code (an SVG document)")


class SecondStepOut(BaseModel):
    ticket: str = Field(description="Send it back with the code")
    method: TwoStepMethod
    sent_to: str = Field(description="Where the code was e-mailed, masked")
    code_expires_in_s: int = Field(description="0 for authenticator apps")
    attempts_left: int
    enrolment: EnrolmentOut | None = Field(
        description="Set when the login must first add camgate to an authenticator app"
    )

    @classmethod
    def of(cls, step: SecondStep) -> SecondStepOut:
        enrolment = step.enrolment
        return cls(
            ticket=step.ticket,
            method=step.method,
            sent_to=step.sent_to,
            code_expires_in_s=step.code_expires_in_s,
            attempts_left=step.attempts_left,
            enrolment=EnrolmentOut(
                secret=enrolment.secret, uri=enrolment.uri, qr_svg=enrolment.qr_svg
            )
            if enrolment
            else None,
        )


class CodeRequest(BaseModel):
    ticket: str = Field(min_length=1, max_length=100)
    code: str = Field(min_length=1, max_length=20)


class NewCodeRequest(BaseModel):
    ticket: str = Field(min_length=1, max_length=100)


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
        description="What the role may do with its cameras (the Administrator: all)"
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


def _address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


@public_router.post(
    "/login",
    response_model=LoginResponse,
    responses={
        202: {"model": SecondStepOut, "description": "The password was right; a code is needed"},
        401: {},
        403: {},
        429: {},
        503: {},
    },
)
async def login(
    body: LoginRequest, request: Request, response: Response, services: ServicesDep
) -> LoginResponse | JSONResponse:
    address = _address(request)
    actor = Actor(body.username, address)
    try:
        result = await services.identity.login(
            body.username,
            body.password,
            address=address,
            client=request.headers.get("user-agent", ""),
            reconnect_token=body.reconnect_token,
        )
    except CamgateError as error:
        # A refusal by the rate limit checked nothing: only real attempts are recorded, so a
        # flood does not flood the log.
        if error.kind is ErrorKind.UNAUTHORIZED:
            log.warning("failed login as %r from %s", body.username, address)
            await services.audit.record(actor, "login.failed", body.username)
        raise
    if isinstance(result, SecondStep):
        log.info(
            "password of %s right from %s; waiting for the %s code",
            body.username,
            address,
            result.method,
        )
        return JSONResponse(
            SecondStepOut.of(result).model_dump(mode="json"), status_code=status.HTTP_202_ACCEPTED
        )
    return await _logged_in(result, request, response, services)


@public_router.post(
    "/login/code",
    summary="The second step of a login: the verification code",
    responses={401: {}, 429: {}},
)
async def login_code(
    body: CodeRequest, request: Request, response: Response, services: ServicesDep
) -> LoginResponse:
    address = _address(request)
    try:
        result = await services.identity.verify_code(body.ticket, body.code)
    except CamgateError as error:
        if error.kind is ErrorKind.UNAUTHORIZED:
            log.warning("wrong verification code from %s", address)
            await services.audit.record(Actor("", address), "login.failed", "verification code")
        raise
    return await _logged_in(result, request, response, services)


@public_router.post(
    "/login/new-code",
    status_code=status.HTTP_202_ACCEPTED,
    summary="E-mail a new verification code to a login waiting for one",
    responses={401: {}, 422: {}, 429: {}, 503: {}},
)
async def login_new_code(body: NewCodeRequest, services: ServicesDep) -> SecondStepOut:
    return SecondStepOut.of(await services.identity.new_code(body.ticket))


async def _logged_in(
    result: Login, request: Request, response: Response, services: ServicesDep
) -> LoginResponse:
    await services.logged_in(result, _address(request))
    response.set_cookie(
        SESSION_COOKIE,
        result.token,
        max_age=SESSION_IDLE_S,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/",
    )
    return LoginResponse(
        token=result.token, user=UserOut.of(result.user), reconnect_token=result.reconnect_token
    )


@public_router.post("/logout", status_code=status.HTTP_204_NO_CONTENT)
async def logout(principal: CurrentPrincipal, services: ServicesDep, response: Response) -> None:
    await services.logged_out(principal.session_id)
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
async def add_user(
    body: NewUser, request: Request, admin: AdminPrincipal, services: ServicesDep
) -> UserOut:
    added = await services.identity.add_user(
        body.username, body.password, body.role, actor=admin.user
    )
    await services.audit.record(
        Actor(admin.user.username, _address(request)),
        "user.add",
        added.id,
        user=added.username,
        role=added.role.name,
    )
    return UserOut.of(added)


class UserUpdate(BaseModel):
    email: str | None = Field(default=None, max_length=254, description='"" removes it')
    two_step: TwoStepMethod | None = Field(
        default=None, description="null: as the user's directory groups say"
    )


@router.patch(
    "/users/{username}",
    summary="Set a user's e-mail address and two-step verification method",
    responses={404: {}},
)
async def update_user(
    username: str, body: UserUpdate, request: Request, admin: AdminPrincipal, services: ServicesDep
) -> UserOut:
    two_step: object = body.two_step if "two_step" in body.model_fields_set else UNSET
    before, after = await services.identity.update_user(
        username, email=body.email, two_step=two_step, actor=admin.user
    )
    if changes := user_changes(before, after):
        await services.audit.record(
            Actor(admin.user.username, _address(request)),
            "user.update",
            after.id,
            user=after.username,
            **changes,
        )
    return UserOut.of(after)


@router.delete(
    "/users/{username}/totp",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Forget a user's authenticator app (they add camgate again at their next login)",
    responses={404: {}},
)
async def reset_totp(
    username: str, request: Request, admin: AdminPrincipal, services: ServicesDep
) -> None:
    await services.identity.reset_totp(username, actor=admin.user)
    await services.audit.record(
        Actor(admin.user.username, _address(request)), "user.totp_reset", username
    )


@router.delete("/users/{username}", status_code=status.HTTP_204_NO_CONTENT)
async def remove_user(
    username: str, request: Request, admin: AdminPrincipal, services: ServicesDep
) -> None:
    await services.identity.remove_user(username, actor=admin.user)
    await services.audit.record(
        Actor(admin.user.username, _address(request)), "user.remove", username
    )


@router.get("/roles", tags=["roles"])
async def list_roles(_admin: AdminPrincipal, services: ServicesDep) -> list[RoleOut]:
    return [RoleOut.of(role) for role in await services.identity.roles()]


class NewRole(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    all_cameras: bool = Field(default=False, description="Every camera, also those added later")


@router.post(
    "/roles",
    tags=["roles"],
    status_code=status.HTTP_201_CREATED,
    summary="Add a role (default permissions, no cameras unless all_cameras)",
    responses={409: {}},
)
async def add_role(
    body: NewRole, request: Request, admin: AdminPrincipal, services: ServicesDep
) -> RoleOut:
    role = await services.identity.add_role(
        body.name, all_cameras=body.all_cameras, actor=admin.user
    )
    await services.audit.record(
        Actor(admin.user.username, _address(request)),
        "role.add",
        role.id,
        role=role.name,
        all_cameras=role.all_cameras,
        permissions=sorted(role.permissions),
    )
    return RoleOut.of(role)


@router.delete(
    "/roles/{name}",
    tags=["roles"],
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete a role that no user has (never a built-in one)",
    responses={404: {}, 409: {}},
)
async def remove_role(
    name: str, request: Request, admin: AdminPrincipal, services: ServicesDep
) -> None:
    role = await services.identity.remove_role(name, actor=admin.user)
    await services.audit.record(
        Actor(admin.user.username, _address(request)), "role.remove", role.id, role=role.name
    )


@router.put("/roles/{name}/cameras", tags=["roles"])
async def set_role_cameras(
    name: str, body: RoleCameras, request: Request, admin: AdminPrincipal, services: ServicesDep
) -> RoleOut:
    before, after = await services.identity.set_role_cameras(
        name, set(body.camera_ids), actor=admin.user
    )
    old, new = sorted(before.camera_ids), sorted(after.camera_ids)
    await _audit_role(services, admin, request, "role.cameras", after, old, new)
    return RoleOut.of(after)


async def _audit_role(
    services: ServicesDep,
    admin: Principal,
    request: Request,
    action: str,
    role: Role,
    old: Sequence[str],
    new: Sequence[str],
) -> None:
    """Records a change of a role's cameras or permissions (nothing when nothing changed)."""
    if old != new:
        actor = Actor(admin.user.username, _address(request))
        await services.audit.record(actor, action, role.id, role=role.name, old=old, new=new)


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
    before, after = await services.identity.set_role_permissions(
        name, frozenset(body.permissions), actor=admin.user
    )
    old, new = sorted(before.permissions), sorted(after.permissions)
    await _audit_role(services, admin, request, "role.permissions", after, old, new)
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


class GroupOut(BaseModel):
    name: str
    role: str | None = Field(description="The role its members log in with (null: none)")
    two_step: TwoStepMethod = Field(description="For members without a method of their own")

    @classmethod
    def of(cls, group: DirectoryGroup) -> GroupOut:
        return cls(name=group.name, role=group.role, two_step=group.two_step)


class GroupIn(BaseModel):
    role: str | None = Field(default=None, max_length=100)
    two_step: TwoStepMethod = TwoStepMethod.NONE


@router.get("/groups", tags=["groups"], summary="The directory groups given a role or a method")
async def list_groups(_admin: AdminPrincipal, services: ServicesDep) -> list[GroupOut]:
    return [GroupOut.of(group) for group in await services.identity.groups()]


@router.put(
    "/groups/{name}",
    tags=["groups"],
    summary="Give a directory group a role and a two-step verification method",
    responses={404: {}},
)
async def set_group(
    name: str, body: GroupIn, request: Request, admin: AdminPrincipal, services: ServicesDep
) -> GroupOut:
    before, after = await services.identity.set_group(
        name, role=body.role, two_step=body.two_step, actor=admin.user
    )
    if before != after:
        old = None if before is None else {"role": before.role, "two_step": before.two_step}
        await services.audit.record(
            Actor(admin.user.username, _address(request)),
            "group.set",
            after.name,
            old=old,
            new={"role": after.role, "two_step": after.two_step},
        )
    return GroupOut.of(after)


@router.delete(
    "/groups/{name}",
    tags=["groups"],
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Forget a directory group (its members no longer get a role from it)",
    responses={404: {}},
)
async def remove_group(
    name: str, request: Request, admin: AdminPrincipal, services: ServicesDep
) -> None:
    await services.identity.remove_group(name, actor=admin.user)
    await services.audit.record(Actor(admin.user.username, _address(request)), "group.remove", name)


@router.get(
    "/directory/groups",
    tags=["groups"],
    summary="The groups the directory has (to choose which to give a role)",
    responses={422: {}, 503: {}},
)
async def directory_groups(_admin: AdminPrincipal, services: ServicesDep) -> list[str]:
    return await services.identity.directory_group_names()


@router.post(
    "/directory/check",
    tags=["groups"],
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Test the directory settings: connect and search as the service account",
    responses={422: {}, 503: {}},
)
async def check_directory(_admin: AdminPrincipal, services: ServicesDep) -> None:
    await services.identity.check_directory()
