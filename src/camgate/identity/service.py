"""The identity use cases: users, logins, sessions, media tokens and camera permissions."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import logging
import re
import secrets
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from camgate.core.clock import Clock
from camgate.core.errors import CamgateError, ErrorKind, forbidden, invalid, not_found, unauthorized
from camgate.core.secrets import ServerKey
from camgate.db.tables import DirectoryGroupRow, SessionRow, UserRow
from camgate.identity import delegation, mailer, store, totp
from camgate.identity.directory import Directory, DirectoryAccount, DirectoryUnavailable
from camgate.identity.limiter import Lockout, LoginLimiter
from camgate.identity.models import (
    DirectoryGroup,
    Permission,
    Principal,
    Role,
    SessionInfo,
    User,
)
from camgate.identity.passwords import Passwords, check_password_policy
from camgate.identity.twostep import (
    MAX_PENDING,
    TICKET_S,
    Challenge,
    Challenges,
    CodeCheck,
    ReconnectGrants,
    TwoStepMethod,
    effective_method,
    make_code,
    masked_address,
    same_code,
)
from camgate.settings import LoginMethod, SettingsTree, Smtp

T = TypeVar("T")
log = logging.getLogger(__name__)

#: A session unused for this long ends (the client timeout of U3 governs streams, not logins).
SESSION_IDLE_S = 24 * 3600
#: The sessions of directory users are checked against the directory this often.
DIRECTORY_RECHECK_S = 300.0
#: Write ``last_seen_at`` at most this often, so reads do not become writes.
_TOUCH_EVERY_S = 60.0
#: Signed media tokens (for players that cannot send headers) live this long at most.
MEDIA_TOKEN_S = 12 * 3600
_MAX_NAME = 100
_MAX_GROUP_NAME = 256


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Login:
    token: str
    user: User
    #: After a second step: lets this client reconnect without one for the reconnection timeout.
    reconnect_token: str = ""


@dataclass(frozen=True, slots=True)
class Enrolment:
    """A new authenticator-app secret, shown once at the login that enrols it."""

    secret: str
    uri: str
    qr_svg: str


@dataclass(frozen=True, slots=True)
class SecondStep:
    """The password was right; the login waits for a verification code."""

    ticket: str
    method: TwoStepMethod
    #: Where an e-mailed code went, masked ("" for authenticator apps).
    sent_to: str
    #: Seconds an e-mailed code stays valid (0 for authenticator apps: theirs change by
    #: themselves).
    code_expires_in_s: int
    attempts_left: int
    enrolment: Enrolment | None = None


#: Unset, as opposed to None (which sets a user's method back to "as the groups say").
UNSET: object = object()
#: New e-mailed codes one login may ask for before it must start again.
MAX_NEW_CODES = 5
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


async def _check_group_role(
    db: AsyncSession, actor: User | None, row: DirectoryGroupRow | None
) -> None:
    """A group whose role has more rights than the actor's is not theirs to change."""
    if row is not None and row.role_id is not None:
        current = await store.role_by_id(db, row.role_id)
        if current is not None:
            delegation.check_membership(actor, current)


async def _group(db: AsyncSession, row: DirectoryGroupRow) -> DirectoryGroup:
    role = None if row.role_id is None else await store.role_by_id(db, row.role_id)
    return DirectoryGroup(
        row.name, None if role is None else role.name, TwoStepMethod(row.two_step)
    )


def _apply_account(row: UserRow, account: DirectoryAccount, role_id: str) -> None:
    """A directory user as the directory has them: the role of their groups, their address."""
    row.role_id = role_id
    if account.email:
        row.email = account.email


async def _role_of(db: AsyncSession, groups: list[DirectoryGroupRow]) -> str | None:
    """The role a directory user gets from their groups: the Administrator role when one of
    them has it, else the first (by group name) that has a role."""
    roles = [await store.role_by_id(db, g.role_id) for g in groups if g.role_id is not None]
    found = [role for role in roles if role is not None]
    admin = next((role for role in found if role.administrator), None)
    chosen = admin or (found[0] if found else None)
    return None if chosen is None else chosen.id


def user_changes(before: User, after: User) -> dict[str, dict[str, str | None]]:
    """What ``update_user`` changed, as the audit log records it."""
    return {
        field: {"old": old, "new": new}
        for field, old, new in (
            ("email", before.email, after.email),
            ("two_step", before.two_step, after.two_step),
        )
        if old != new
    }


def _valid_username(username: str) -> str:
    name = username.strip()
    if (
        not name
        or len(name) > _MAX_NAME
        or any(ch.isspace() or not ch.isprintable() for ch in name)
    ):
        raise invalid("a user name is 1 to 100 printable characters without spaces")
    return name


class IdentityService:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        clock: Clock,
        key: ServerKey,
        settings: Callable[[], SettingsTree],
        *,
        passwords: Passwords | None = None,
        send_code: Callable[[Smtp, str, str], Awaitable[None]] = mailer.send_code,
    ) -> None:
        self._db = sessions
        self._clock = clock
        self._key = key
        self._settings = settings
        self._passwords = passwords or Passwords()
        self._send_code = send_code
        self._limiter = LoginLimiter(clock)
        self._challenges = Challenges()
        self._grants = ReconnectGrants()
        #: The last TOTP time step each user logged in with: a code serves once.
        self._totp_steps: OrderedDict[str, int] = OrderedDict()
        # Its own threads: the default executor may be busy (demo clips) and logins must not wait.
        self._hashing = ThreadPoolExecutor(max_workers=2, thread_name_prefix="argon2")

    async def _off_loop(self, work: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._hashing, work, *args)

    # --- users -----------------------------------------------------------------------------

    async def add_user(
        self, username: str, password: str, role_name: str, *, actor: User | None = None
    ) -> User:
        name = _valid_username(username)
        if reason := check_password_policy(password):
            raise invalid(reason)
        password_hash = await self._off_loop(self._passwords.hash, password)
        async with self._db() as db:
            role = await store.role_by_name(db, role_name)
            if role is None:
                raise not_found(f"role {role_name!r}")
            delegation.check_membership(actor, role)
            user_id = str(uuid.uuid4())
            await store.add_user(db, user_id, name, password_hash, role.id, self._clock.now())
            try:
                await db.commit()
            except IntegrityError as error:
                raise CamgateError(ErrorKind.CONFLICT, f"user {name!r} already exists") from error
            user = await store.user_by_id(db, user_id)
        assert user is not None
        return user

    async def users(self) -> list[User]:
        async with self._db() as db:
            return await store.users(db)

    async def user(self, username: str) -> User:
        async with self._db() as db:
            user = await store.user_by_name(db, username)
        if user is None:
            raise not_found(f"user {username!r}")
        return user

    async def remove_user(self, username: str, *, actor: User | None = None) -> None:
        async with self._db() as db:
            row = await store.user_row_by_name(db, username)
            if row is None:
                raise not_found(f"user {username!r}")
            user = await store.user_by_id(db, row.id)
            if user is not None:
                delegation.check_member(actor, user)
            if user and user.is_admin and await store.administrators_left(db, row.id) == 0:
                raise CamgateError(ErrorKind.CONFLICT, "cannot remove the last administrator")
            await store.delete_sessions_of(db, row.id)
            await db.delete(row)
            await db.commit()
        self._forget_logins_of(row.id)

    def _forget_logins_of(self, user_id: str) -> None:
        self._grants.revoke_user(user_id)
        self._challenges.forget_user(user_id)

    async def set_password(self, username: str, password: str) -> None:
        if reason := check_password_policy(password):
            raise invalid(reason)
        async with self._db() as db:
            row = await store.user_row_by_name(db, username)
            if row is None:
                raise not_found(f"user {username!r}")
            row.password_hash = await self._off_loop(self._passwords.hash, password)
            # A new password ends every session that the old one opened.
            await store.delete_sessions_of(db, row.id)
            await db.commit()
        self._forget_logins_of(row.id)

    async def update_user(
        self,
        username: str,
        *,
        email: str | None = None,
        two_step: object = UNSET,
        actor: User | None = None,
    ) -> tuple[User, User]:
        """Sets a user's e-mail address and verification method (``None``: as their directory
        groups say); the user before and after, for the audit log."""
        if email is not None and email and not _EMAIL.fullmatch(email):
            raise invalid("an e-mail address looks like name@example.com")
        async with self._db() as db:
            row = await store.user_row_by_name(db, username)
            if row is None:
                raise not_found(f"user {username!r}")
            before = await store.user_by_id(db, row.id)
            assert before is not None
            delegation.check_member(actor, before)
            if email is not None:
                row.email = email
            if two_step is not UNSET:
                row.two_step = None if two_step is None else TwoStepMethod(str(two_step)).value
            await db.commit()
            after = await store.user_by_id(db, row.id)
        assert after is not None
        if after.two_step is TwoStepMethod.NO_LOGIN:
            self._forget_logins_of(row.id)
        return before, after

    async def reset_totp(self, username: str, *, actor: User | None = None) -> None:
        """Forgets a user's authenticator app (lost phone): they enrol again at their next
        login."""
        async with self._db() as db:
            row = await store.user_row_by_name(db, username)
            if row is None:
                raise not_found(f"user {username!r}")
            user = await store.user_by_id(db, row.id)
            assert user is not None
            delegation.check_member(actor, user)
            if row.totp_secret is None:
                raise not_found(f"an authenticator app of {username!r}")
            row.totp_secret = None
            await db.commit()
        self._totp_steps.pop(row.id, None)

    # --- roles -----------------------------------------------------------------------------

    async def roles(self) -> list[Role]:
        async with self._db() as db:
            return await store.roles(db)

    async def add_role(
        self, name: str, *, all_cameras: bool = False, actor: User | None = None
    ) -> Role:
        """A new role with the default permissions (those of its maker's, for an administrator
        who is not in the built-in role) and no cameras, unless ``all_cameras``."""
        role_name = name.strip()
        if not role_name or len(role_name) > _MAX_NAME or not role_name.isprintable():
            raise invalid("a role name is 1 to 100 printable characters")
        permissions = Permission.role_defaults()
        if actor is not None and not actor.is_admin:
            permissions &= actor.role.permissions
            if all_cameras and not actor.role.all_cameras:
                raise forbidden("you may give a role only cameras that your role may view")
        role_id = str(uuid.uuid4())
        async with self._db() as db:
            await store.add_role(db, role_id, role_name, all_cameras, permissions)
            try:
                await db.commit()
            except IntegrityError as error:
                raise CamgateError(
                    ErrorKind.CONFLICT, f"role {role_name!r} already exists"
                ) from error
            role = await store.role_by_id(db, role_id)
        assert role is not None
        return role

    async def remove_role(self, name: str, *, actor: User | None = None) -> Role:
        """Deletes a role that no user has any more; its directory groups lose it."""
        async with self._db() as db:
            role = await store.role_by_name(db, name)
            if role is None:
                raise not_found(f"role {name!r}")
            if role.builtin:
                raise CamgateError(ErrorKind.CONFLICT, "a built-in role cannot be deleted")
            delegation.check_grant(actor, role)
            if users := await store.users_with_role(db, role.id):
                raise CamgateError(
                    ErrorKind.CONFLICT,
                    f"{users} user(s) have the role {role.name!r}; give them another role first",
                )
            await store.delete_role(db, role.id)
            await db.commit()
        return role

    async def set_role_cameras(
        self, role_name: str, camera_ids: set[str], *, actor: User | None = None
    ) -> tuple[Role, Role]:
        """The role before and after (for the audit log)."""
        async with self._db() as db:
            role = await store.role_by_name(db, role_name)
            if role is None:
                raise not_found(f"role {role_name!r}")
            if role.administrator:
                raise invalid("the built-in Administrator role always has every camera")
            delegation.check_grant(actor, role, cameras=frozenset(camera_ids))
            await store.set_role_cameras(db, role.id, camera_ids)
            try:
                await db.commit()
            except IntegrityError as error:
                raise not_found("camera") from error
            updated = await store.role_by_id(db, role.id)
        assert updated is not None
        return role, updated

    async def set_role_permissions(
        self,
        role_name: str,
        permissions: frozenset[Permission],
        *,
        actor: User | None = None,
    ) -> tuple[Role, Role]:
        """The role before and after (for the audit log)."""
        async with self._db() as db:
            role = await store.role_by_name(db, role_name)
            if role is None:
                raise not_found(f"role {role_name!r}")
            if role.administrator:
                raise invalid("the built-in Administrator role always has every permission")
            delegation.check_grant(actor, role, permissions=permissions)
            await store.set_role_permissions(db, role.id, permissions)
            await db.commit()
            updated = await store.role_by_id(db, role.id)
        assert updated is not None
        return role, updated

    # --- directory groups --------------------------------------------------------------------

    async def groups(self) -> list[DirectoryGroup]:
        async with self._db() as db:
            return [await _group(db, row) for row in await store.directory_groups(db)]

    async def set_group(
        self,
        name: str,
        *,
        role: str | None,
        two_step: TwoStepMethod,
        actor: User | None = None,
    ) -> tuple[DirectoryGroup | None, DirectoryGroup]:
        """Gives a directory group a role (None: none) and a method; the group before (None
        when it was not listed) and after, for the audit log. Takes effect at each member's
        next login, and for those logged in at the next directory check."""
        group_name = name.strip()
        if not group_name or len(group_name) > _MAX_GROUP_NAME:
            raise invalid(f"a group name is 1 to {_MAX_GROUP_NAME} characters")
        async with self._db() as db:
            role_id = None
            if role is not None:
                found = await store.role_by_name(db, role)
                if found is None:
                    raise not_found(f"role {role!r}")
                delegation.check_membership(actor, found)
                role_id = found.id
            row = await store.directory_group(db, group_name)
            await _check_group_role(db, actor, row)
            before = None if row is None else await _group(db, row)
            if row is None:
                row = DirectoryGroupRow(name=group_name, name_key=group_name.casefold())
                db.add(row)
            row.role_id = role_id
            row.two_step = two_step.value
            await db.commit()
            after = await _group(db, row)
        return before, after

    async def remove_group(self, name: str, *, actor: User | None = None) -> None:
        async with self._db() as db:
            row = await store.directory_group(db, name)
            if row is None:
                raise not_found(f"group {name!r}")
            await _check_group_role(db, actor, row)
            await db.delete(row)
            await db.commit()

    async def directory_group_names(self) -> list[str]:
        """The groups the directory has, for choosing which to give a role."""
        return await self._ask_directory(lambda directory: directory.group_names())

    async def check_directory(self) -> None:
        """Connects to the directory and searches as the service account; raises
        unavailable with the reason."""
        await self._ask_directory(lambda directory: directory.check())

    async def _ask_directory(self, question: Callable[[Directory], Awaitable[T]]) -> T:
        settings = self._settings().directory
        if not settings.url:
            raise invalid("no directory is set up (directory.url)")
        try:
            return await question(Directory(settings))
        except DirectoryUnavailable as error:
            raise CamgateError(ErrorKind.UNAVAILABLE, str(error)) from error

    # --- logins and sessions ---------------------------------------------------------------

    async def login(
        self,
        username: str,
        password: str,
        *,
        address: str,
        client: str = "",
        reconnect_token: str = "",
    ) -> Login | SecondStep:
        """A session for a right password, or a second step to pass first (two-step
        verification); ``reconnect_token`` spares that step for a client that lost its
        connection within the reconnection timeout. The login method decides who checks the
        password: camgate, the directory, or the directory first and then camgate."""
        keys = (f"user:{username.casefold()}", f"addr:{address}")
        self._refuse_if_locked(keys)
        tree = self._settings()
        method = tree.general.login_method
        found: tuple[User, list[TwoStepMethod]] | None = None
        if method is not LoginMethod.BASIC:
            found = await self._directory_login(username, password, tree)
        if found is None and method is not LoginMethod.DIRECTORY:
            user = await self._local_login(username, password)
            found = None if user is None else (user, [])
        if found is None:
            self._limiter.failed(*keys)
            raise unauthorized("wrong user name or password")
        user, groups = found
        return await self._second_step(user, keys, address, client, reconnect_token, groups)

    async def _local_login(self, username: str, password: str) -> User | None:
        async with self._db() as db:
            row = await store.user_row_by_name(db, username)
            local = row is not None and row.source != store.DIRECTORY_SOURCE
            # argon2 takes tens of milliseconds of CPU: off the loop, or every viewer stalls.
            # It runs for unknown names too, so that timing does not tell which names exist.
            stored = row.password_hash if row is not None and local else None
            if row is None or not await self._off_loop(self._passwords.verify, stored, password):
                return None
            if self._passwords.needs_rehash(row.password_hash):
                row.password_hash = await self._off_loop(self._passwords.hash, password)
                await db.commit()
            return await store.user_by_id(db, row.id)

    async def _directory_login(
        self, username: str, password: str, tree: SettingsTree
    ) -> tuple[User, list[TwoStepMethod]] | None:
        """The directory's user (added to camgate, or brought up to date: role from the
        groups, e-mail address) and their groups' methods; None when the directory does not
        know the name and password. With the directory down, automatic login goes on to
        camgate's own users; directory login cannot."""
        if not tree.directory.url:
            if tree.general.login_method is LoginMethod.DIRECTORY:
                raise CamgateError(
                    ErrorKind.UNAVAILABLE, "directory login is chosen but no directory is set up"
                )
            return None
        try:
            account = await Directory(tree.directory).authenticate(username, password)
        except DirectoryUnavailable as error:
            log.warning("the directory cannot check a login: %s", error)
            if tree.general.login_method is LoginMethod.DIRECTORY:
                raise CamgateError(
                    ErrorKind.UNAVAILABLE, "the directory cannot be reached; try again later"
                ) from error
            return None
        return None if account is None else await self._directory_user(account)

    async def recheck_directory_users(self) -> list[str]:
        """Brings the directory's users who are logged in in line with the directory now: the
        role their groups give, their e-mail address; ends the sessions of those whom the
        directory no longer has, or whose groups no longer give a role (their streams end with
        the sessions). With the directory unreachable nothing changes: an outage must not log
        everyone out. The names of the users whose sessions ended."""
        tree = self._settings()
        if not tree.directory.url:
            return []
        async with self._db() as db:
            logged_in = await store.directory_users_with_sessions(db)
        directory = Directory(tree.directory)
        ended: list[str] = []
        for user_id, username in logged_in:
            try:
                account = await directory.account(username)
            except DirectoryUnavailable as error:
                log.warning("the directory cannot check the users logged in: %s", error)
                break
            if not await self._still_allowed(user_id, account):
                log.warning(
                    "the sessions of %s ended: %s",
                    username,
                    "the directory no longer has the user"
                    if account is None
                    else "their directory groups no longer give a role",
                )
                ended.append(username)
        return ended

    async def _still_allowed(self, user_id: str, account: DirectoryAccount | None) -> bool:
        """Applies the account to the user; False (sessions ended) when it gives no role."""
        async with self._db() as db:
            row = await store.user_row_by_id(db, user_id)
            if row is None:  # removed meanwhile, with its sessions
                return True
            groups = [] if account is None else await store.directory_groups(db, account.groups)
            role_id = await _role_of(db, groups)
            if account is None or role_id is None:
                await store.delete_sessions_of(db, user_id)
                await db.commit()
                self._forget_logins_of(user_id)
                return False
            _apply_account(row, account, role_id)
            await db.commit()
        return True

    async def run_directory_recheck(self, on_ended: Callable[[list[str]], Awaitable[None]]) -> None:
        """:meth:`recheck_directory_users` every :data:`DIRECTORY_RECHECK_S`; ``on_ended``
        hears whose sessions ended."""
        while True:
            await asyncio.sleep(DIRECTORY_RECHECK_S)
            try:
                ended = await self.recheck_directory_users()
                if ended:
                    await on_ended(ended)
            except Exception:  # a failed round is logged and tried again
                log.exception("checking the directory's users failed")

    async def _directory_user(
        self, account: DirectoryAccount
    ) -> tuple[User, list[TwoStepMethod]] | None:
        async with self._db() as db:
            groups = await store.directory_groups(db, account.groups)
            role_id = await _role_of(db, groups)
            row = await store.user_row_by_name(db, account.username)
            if row is not None and row.source != store.DIRECTORY_SOURCE:
                # A camgate user of the same name: the directory does not take it over.
                return None
            if role_id is None:
                raise forbidden(
                    "none of your directory groups has a role in camgate; ask the administrator"
                )
            if row is None:
                user_id = str(uuid.uuid4())
                await store.add_user(db, user_id, account.username, "", role_id, self._clock.now())
                row = await store.user_row_by_id(db, user_id)
                assert row is not None
                row.source = store.DIRECTORY_SOURCE
            _apply_account(row, account, role_id)
            await db.commit()
            user = await store.user_by_id(db, row.id)
        assert user is not None
        return user, [TwoStepMethod(group.two_step) for group in groups]

    def _refuse_if_locked(self, keys: tuple[str, ...]) -> None:
        wait = self._limiter.retry_after(*keys)
        if wait is not None:
            raise CamgateError(
                ErrorKind.RATE_LIMITED, "too many failed logins; try again later", retry_after=wait
            )

    async def _second_step(
        self,
        user: User,
        keys: tuple[str, ...],
        address: str,
        client: str,
        reconnect_token: str,
        groups: list[TwoStepMethod] | None = None,
    ) -> Login | SecondStep:
        tab = self._settings().two_step_verification
        method = effective_method(user.two_step, groups or [], enabled=tab.enabled)
        if method is TwoStepMethod.NO_LOGIN:
            raise forbidden("this user may not log in")
        now = self._clock.now()
        if method is TwoStepMethod.NONE:
            self._limiter.succeeded(*keys)
            return await self._open_session(user.id, client, verified=False)
        if reconnect_token and self._grants.take(
            reconnect_token, user.id, now, tab.code.reconnection_timeout_min * 60
        ):
            self._limiter.succeeded(*keys)
            return await self._open_session(user.id, client, verified=True)
        challenge = Challenge(user.id, method, address, client, keys, expires_at=now + TICKET_S)
        if method is TwoStepMethod.EMAIL:
            if not user.email:
                raise forbidden(
                    "two-step verification by e-mail needs an e-mail address for this user; "
                    "ask the administrator"
                )
            challenge.email = user.email
            await self._mail_new_code(challenge)
        else:
            challenge.attempts_left = tab.code.attempts
            if not user.totp_enrolled:
                challenge.enrolling = totp.new_secret()
        ticket = self._challenges.open(challenge)
        return self._shown(ticket, challenge, user.username)

    async def _mail_new_code(self, challenge: Challenge) -> None:
        tab = self._settings().two_step_verification
        code_settings = tab.code
        code = make_code(code_settings.length, code_settings.composition)
        # In force before it is sent: the e-mail may be read, and the code typed, before the
        # mail server has finished answering.
        challenge.new_code(
            code, self._clock.now(), code_settings.expiry_min * 60, code_settings.attempts
        )
        try:
            await self._send_code(tab.smtp, challenge.email, code)
        except mailer.MailError as error:
            challenge.new_code("", self._clock.now(), 0, 0)  # none was sent: none is valid
            raise CamgateError(
                ErrorKind.UNAVAILABLE,
                "the verification code could not be sent; try again later or ask the administrator",
            ) from error

    def _shown(self, ticket: str, challenge: Challenge, username: str) -> SecondStep:
        enrolment = None
        if challenge.enrolling:
            issuer = self._settings().general.server_name
            uri = totp.provisioning_uri(challenge.enrolling, username, issuer)
            enrolment = Enrolment(challenge.enrolling, uri, totp.qr_svg(uri))
        emailed = challenge.method is TwoStepMethod.EMAIL
        return SecondStep(
            ticket,
            challenge.method,
            masked_address(challenge.email) if emailed else "",
            round(challenge.code_expires_at - self._clock.now()) if emailed else 0,
            challenge.attempts_left,
            enrolment,
        )

    async def verify_code(self, ticket: str, code: str) -> Login:
        """The second step of a login: a session for the right code."""
        now = self._clock.now()
        challenge = self._challenges.get(ticket, now)
        if challenge is None:
            raise unauthorized("this login has expired; log in again")
        self._refuse_if_locked(challenge.keys)
        async with self._db() as db:
            row = await store.user_row_by_id(db, challenge.user_id)
        if row is None:
            self._challenges.close(ticket)
            raise unauthorized("this login has expired; log in again")
        step = None
        if challenge.method is TwoStepMethod.EMAIL:
            matches = same_code(code, challenge.code)
        else:
            secret = challenge.enrolling or self._totp_secret(row.id, row.totp_secret)
            step = totp.matching_step(secret, code, now)
            matches = step is not None and step > self._totp_steps.get(row.id, -1)
        outcome = challenge.check(matches, now)
        if outcome is not CodeCheck.RIGHT:
            raise self._refusal(ticket, challenge, outcome)
        self._challenges.close(ticket)
        self._limiter.succeeded(*challenge.keys)
        if step is not None:
            self._used_totp_step(row.id, step)
        if challenge.enrolling:
            await self._save_totp_secret(row.id, challenge.enrolling)
        return await self._open_session(row.id, challenge.client, verified=True)

    def _refusal(self, ticket: str, challenge: Challenge, outcome: CodeCheck) -> CamgateError:
        emailed = challenge.method is TwoStepMethod.EMAIL
        if outcome is CodeCheck.WRONG:
            self._limiter.failed(*challenge.keys)
        if outcome is CodeCheck.WRONG and challenge.attempts_left > 0:
            left = challenge.attempts_left
            detail = f"wrong code; {left} attempt{'s' if left != 1 else ''} left"
        elif outcome is CodeCheck.EXPIRED:
            detail = "the code has expired; ask for a new one"
        elif emailed:
            detail = "wrong code and no attempts left; ask for a new one"
        else:
            self._challenges.close(ticket)
            detail = "wrong code and no attempts left; log in again"
        return CamgateError(
            ErrorKind.UNAUTHORIZED,
            detail,
            extra={"reason": outcome.value, "attempts_left": challenge.attempts_left},
        )

    async def new_code(self, ticket: str) -> SecondStep:
        """Sends a new e-mailed code for a waiting login (the old one stops working)."""
        challenge = self._challenges.get(ticket, self._clock.now())
        if challenge is None:
            raise unauthorized("this login has expired; log in again")
        if challenge.method is not TwoStepMethod.EMAIL:
            raise invalid("an authenticator app makes new codes by itself")
        self._refuse_if_locked(challenge.keys)
        if challenge.new_codes >= MAX_NEW_CODES:
            self._challenges.close(ticket)
            raise unauthorized("too many new codes for one login; log in again")
        challenge.new_codes += 1
        await self._mail_new_code(challenge)
        async with self._db() as db:
            user = await store.user_by_id(db, challenge.user_id)
        return self._shown(ticket, challenge, user.username if user else "")

    def _totp_secret(self, user_id: str, sealed: str | None) -> str:
        if sealed is None:
            raise unauthorized("this login has expired; log in again")
        return self._key.unseal(sealed, context=f"totp/{user_id}")

    def _used_totp_step(self, user_id: str, step: int) -> None:
        self._totp_steps[user_id] = step
        self._totp_steps.move_to_end(user_id)
        if len(self._totp_steps) > MAX_PENDING:
            self._totp_steps.popitem(last=False)

    async def _save_totp_secret(self, user_id: str, secret: str) -> None:
        async with self._db() as db:
            row = await store.user_row_by_id(db, user_id)
            if row is not None:
                row.totp_secret = self._key.seal(secret, context=f"totp/{user_id}")
                await db.commit()

    async def _open_session(self, user_id: str, client: str, *, verified: bool) -> Login:
        token = secrets.token_urlsafe(32)
        now = self._clock.now()
        async with self._db() as db:
            db.add(
                SessionRow(
                    token_hash=token_hash(token),
                    user_id=user_id,
                    created_at=now,
                    last_seen_at=now,
                    client=client[:200],
                )
            )
            await db.commit()
            user = await store.user_by_id(db, user_id)
        assert user is not None
        timeout_min = self._settings().two_step_verification.code.reconnection_timeout_min
        grant = ""
        if verified and timeout_min > 0:
            grant = self._grants.issue(user_id, token_hash(token), now)
        return Login(token, user, grant)

    def lockouts(self) -> list[Lockout]:
        return self._limiter.lockouts()

    def lift_lockout(self, kind: str, name: str) -> None:
        prefix = {"user": "user:", "address": "addr:"}.get(kind)
        key = f"{prefix}{name.casefold() if kind == 'user' else name}"
        if prefix is None or not self._limiter.lift(key):
            raise not_found("lockout")

    async def sessions(self, user: User, *, everyone: bool = False) -> list[SessionInfo]:
        """The user's sessions, or everyone's for an administrator."""
        if everyone and not user.may(Permission.ADMINISTRATION):
            raise forbidden("only administrators see everyone's sessions")
        async with self._db() as db:
            return await store.sessions(db, None if everyone else user.id)

    async def end_listed_session(self, user: User, public_id: str) -> SessionInfo:
        """Ends one of the user's sessions (any, for an administrator) named by its listed id;
        returns it so that its streams can be ended too."""
        async with self._db() as db:
            everyone = user.may(Permission.ADMINISTRATION)
            found = await store.sessions(db, None if everyone else user.id)
        session = next((s for s in found if s.id == public_id), None)
        if session is None:
            raise not_found("session")
        await self.end_session(session.session_id)
        return session

    async def end_session(self, session_id: str) -> None:
        """Ends a login (logout, or by an administrator): its token is refused from now on,
        and reconnecting without the second step is no longer offered."""
        self._grants.revoke_session(session_id)
        await self._delete_session(session_id)

    async def session_went_silent(self, session_id: str) -> None:
        """Ends a login whose client went silent (the client timeout): a client that passed
        two-step verification may reconnect without it within the reconnection timeout."""
        self._grants.went_silent(session_id, self._clock.now())
        await self._delete_session(session_id)

    async def _delete_session(self, session_id: str) -> None:
        async with self._db() as db:
            row = await store.session_by_hash(db, session_id)
            if row is not None:
                await db.delete(row)
                await db.commit()

    async def session_user(self, session_id: str) -> User | None:
        """The user of a session that still stands, None once it ended or its user went.
        Read only, and blind to idleness: a stream being watched is the session's use (the
        client timeout judges that), so checking it neither ends nor prolongs the session."""
        async with self._db() as db:
            row = await store.session_by_hash(db, session_id)
            return None if row is None else await store.user_by_id(db, row.user_id)

    async def authenticate(self, token: str) -> Principal:
        """The principal behind a session token; raises unauthorized otherwise."""
        return await self._principal_for_session(token_hash(token))

    async def _principal_for_session(self, session_id: str) -> Principal:
        now = self._clock.now()
        async with self._db() as db:
            row = await store.session_by_hash(db, session_id)
            if row is None:
                raise unauthorized()
            if now - row.last_seen_at > SESSION_IDLE_S:
                await db.delete(row)
                await db.commit()
                raise unauthorized("the session has expired")
            if now - row.last_seen_at > _TOUCH_EVERY_S:
                row.last_seen_at = now
                await db.commit()
            user = await store.user_by_id(db, row.user_id)
        if user is None:
            raise unauthorized()
        return Principal(user, session_id)

    # --- media tokens ----------------------------------------------------------------------

    def media_token(
        self, principal: Principal, camera_id: str, *, ttl_s: float = MEDIA_TOKEN_S
    ) -> str:
        """A token for one camera's media URLs, valid while the session lives (and ``ttl_s``)."""
        payload = json.dumps(
            {"s": principal.session_id, "c": camera_id, "e": int(self._clock.now() + ttl_s)},
            separators=(",", ":"),
        ).encode()
        signature = self._key.sign(payload)
        encode = base64.urlsafe_b64encode
        return f"m.{encode(payload).decode().rstrip('=')}.{encode(signature).decode().rstrip('=')}"

    async def authenticate_media(self, token: str, camera_id: str) -> Principal:
        """Accepts a session token or a media token for ``camera_id``."""
        if not token.startswith("m."):
            return await self.authenticate(token)
        try:
            _, payload_b64, signature_b64 = token.split(".")
            payload = base64.urlsafe_b64decode(payload_b64 + "=" * (-len(payload_b64) % 4))
            signature = base64.urlsafe_b64decode(signature_b64 + "=" * (-len(signature_b64) % 4))
            claims = json.loads(payload)
        except ValueError as error:
            raise unauthorized("malformed media token") from error
        if not self._key.verify(payload, signature):
            raise unauthorized("invalid media token")
        if claims.get("c") != camera_id or claims.get("e", 0) < self._clock.now():
            raise unauthorized("the media token is expired or for another camera")
        return await self._principal_for_session(str(claims["s"]))

    # --- permissions -----------------------------------------------------------------------

    @staticmethod
    def can_view(user: User, camera_id: str, *, deny_builtin_administrator: bool) -> bool:
        """Whether ``user`` may watch ``camera_id`` (live video, snapshots)."""
        role = user.role
        if role.administrator:
            return not deny_builtin_administrator
        return role.all_cameras or camera_id in role.camera_ids
