"""The identity use cases: users, logins, sessions, media tokens and camera permissions."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import secrets
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from camgate.core.clock import Clock
from camgate.core.errors import CamgateError, ErrorKind, forbidden, invalid, not_found, unauthorized
from camgate.core.secrets import ServerKey
from camgate.db.tables import SessionRow
from camgate.identity import store
from camgate.identity.limiter import Lockout, LoginLimiter
from camgate.identity.models import Permission, Principal, Role, SessionInfo, User
from camgate.identity.passwords import Passwords, check_password_policy

T = TypeVar("T")

#: A session unused for this long ends (the client timeout of U3 governs streams, not logins).
SESSION_IDLE_S = 24 * 3600
#: Write ``last_seen_at`` at most this often, so reads do not become writes.
_TOUCH_EVERY_S = 60.0
#: Signed media tokens (for players that cannot send headers) live this long at most.
MEDIA_TOKEN_S = 12 * 3600
_MAX_NAME = 100


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Login:
    token: str
    user: User


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
        passwords: Passwords | None = None,
    ) -> None:
        self._db = sessions
        self._clock = clock
        self._key = key
        self._passwords = passwords or Passwords()
        self._limiter = LoginLimiter(clock)
        # Its own threads: the default executor may be busy (demo clips) and logins must not wait.
        self._hashing = ThreadPoolExecutor(max_workers=2, thread_name_prefix="argon2")

    async def _off_loop(self, work: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._hashing, work, *args)

    # --- users -----------------------------------------------------------------------------

    async def add_user(self, username: str, password: str, role_name: str) -> User:
        name = _valid_username(username)
        if reason := check_password_policy(password):
            raise invalid(reason)
        password_hash = await self._off_loop(self._passwords.hash, password)
        async with self._db() as db:
            role = await store.role_by_name(db, role_name)
            if role is None:
                raise not_found(f"role {role_name!r}")
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

    async def remove_user(self, username: str) -> None:
        async with self._db() as db:
            row = await store.user_row_by_name(db, username)
            if row is None:
                raise not_found(f"user {username!r}")
            user = await store.user_by_id(db, row.id)
            if user and user.is_admin and await store.administrators_left(db, row.id) == 0:
                raise CamgateError(ErrorKind.CONFLICT, "cannot remove the last administrator")
            await store.delete_sessions_of(db, row.id)
            await db.delete(row)
            await db.commit()

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

    # --- roles -----------------------------------------------------------------------------

    async def roles(self) -> list[Role]:
        async with self._db() as db:
            return await store.roles(db)

    async def set_role_cameras(self, role_name: str, camera_ids: set[str]) -> Role:
        async with self._db() as db:
            role = await store.role_by_name(db, role_name)
            if role is None:
                raise not_found(f"role {role_name!r}")
            if role.administrator:
                raise invalid("the built-in Administrator role always has every camera")
            await store.set_role_cameras(db, role.id, camera_ids)
            try:
                await db.commit()
            except IntegrityError as error:
                raise not_found("camera") from error
            updated = await store.role_by_id(db, role.id)
        assert updated is not None
        return updated

    async def set_role_permissions(
        self, role_name: str, permissions: frozenset[Permission]
    ) -> tuple[Role, Role]:
        """The role before and after (for the audit log)."""
        async with self._db() as db:
            role = await store.role_by_name(db, role_name)
            if role is None:
                raise not_found(f"role {role_name!r}")
            if role.administrator:
                raise invalid("the built-in Administrator role always has every permission")
            await store.set_role_permissions(db, role.id, permissions)
            await db.commit()
            updated = await store.role_by_id(db, role.id)
        assert updated is not None
        return role, updated

    # --- logins and sessions ---------------------------------------------------------------

    async def login(self, username: str, password: str, *, address: str, client: str = "") -> Login:
        keys = (f"user:{username.casefold()}", f"addr:{address}")
        wait = self._limiter.retry_after(*keys)
        if wait is not None:
            raise CamgateError(
                ErrorKind.RATE_LIMITED, "too many failed logins; try again later", retry_after=wait
            )
        async with self._db() as db:
            row = await store.user_row_by_name(db, username)
            # argon2 takes tens of milliseconds of CPU: off the loop, or every viewer stalls.
            stored = row.password_hash if row else None
            ok = await self._off_loop(self._passwords.verify, stored, password)
            if row is None or not ok:
                self._limiter.failed(*keys)
                raise unauthorized("wrong user name or password")
            self._limiter.succeeded(*keys)
            if self._passwords.needs_rehash(row.password_hash):
                row.password_hash = await self._off_loop(self._passwords.hash, password)
            token = secrets.token_urlsafe(32)
            now = self._clock.now()
            db.add(
                SessionRow(
                    token_hash=token_hash(token),
                    user_id=row.id,
                    created_at=now,
                    last_seen_at=now,
                    client=client[:200],
                )
            )
            await db.commit()
            user = await store.user_by_id(db, row.id)
        assert user is not None
        return Login(token, user)

    def lockouts(self) -> list[Lockout]:
        return self._limiter.lockouts()

    def lift_lockout(self, kind: str, name: str) -> None:
        prefix = {"user": "user:", "address": "addr:"}.get(kind)
        key = f"{prefix}{name.casefold() if kind == 'user' else name}"
        if prefix is None or not self._limiter.lift(key):
            raise not_found("lockout")

    async def sessions(self, user: User, *, everyone: bool = False) -> list[SessionInfo]:
        """The user's sessions, or everyone's for an administrator."""
        if everyone and not user.is_admin:
            raise forbidden("only administrators see everyone's sessions")
        async with self._db() as db:
            return await store.sessions(db, None if everyone else user.id)

    async def end_listed_session(self, user: User, public_id: str) -> SessionInfo:
        """Ends one of the user's sessions (any, for an administrator) named by its listed id;
        returns it so that its streams can be ended too."""
        async with self._db() as db:
            found = await store.sessions(db, None if user.is_admin else user.id)
        session = next((s for s in found if s.id == public_id), None)
        if session is None:
            raise not_found("session")
        await self.end_session(session.session_id)
        return session

    async def end_session(self, session_id: str) -> None:
        """Ends a login (logout, or the client timeout): its token is refused from now on."""
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
