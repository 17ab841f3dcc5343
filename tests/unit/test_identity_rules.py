from __future__ import annotations

from camgate.core.redact import redact_url, strip_credentials, with_credentials
from camgate.identity.limiter import LoginLimiter
from camgate.identity.models import Role, User
from camgate.identity.passwords import Passwords, check_password_policy
from camgate.identity.service import IdentityService
from tests.support.clock import FakeClock


def _user(role: Role) -> User:
    return User("u", "someone", role, 0.0)


ADMIN = Role("1", "administrator", True, True, True, frozenset())
OPERATOR = Role("2", "operator", False, False, False, frozenset({"cam-a"}))
EVERYTHING = Role("3", "guards", False, False, True, frozenset())


def test_operator_sees_only_granted_cameras() -> None:
    assert IdentityService.can_view(_user(OPERATOR), "cam-a", deny_builtin_administrator=False)
    assert not IdentityService.can_view(_user(OPERATOR), "cam-b", deny_builtin_administrator=False)
    assert IdentityService.can_view(_user(EVERYTHING), "cam-b", deny_builtin_administrator=False)


def test_deny_builtin_administrator_toggle() -> None:
    assert IdentityService.can_view(_user(ADMIN), "cam-b", deny_builtin_administrator=False)
    assert not IdentityService.can_view(_user(ADMIN), "cam-b", deny_builtin_administrator=True)
    assert IdentityService.can_view(_user(OPERATOR), "cam-a", deny_builtin_administrator=True)


def test_limiter_blocks_after_five_failures_and_lifts_after_the_window() -> None:
    clock = FakeClock()
    limiter = LoginLimiter(clock, max_failures=5, window_s=300)
    for _ in range(4):
        limiter.failed("user:a", "addr:x")
    assert limiter.retry_after("user:a", "addr:x") is None
    limiter.failed("user:a", "addr:x")
    wait = limiter.retry_after("user:a", "addr:y")
    assert wait is not None and 299 <= wait <= 300
    clock.t += 301
    assert limiter.retry_after("user:a", "addr:x") is None


def test_passwords_verify_and_unknown_users_fail() -> None:
    passwords = Passwords()
    hashed = passwords.hash("correct horse")
    assert passwords.verify(hashed, "correct horse")
    assert not passwords.verify(hashed, "wrong")
    assert not passwords.verify(None, "camgate-dummy-password")


def test_password_policy() -> None:
    assert check_password_policy("short")
    assert check_password_policy(" padded password ")
    assert check_password_policy("long enough") is None


def test_credentials_leave_urls() -> None:
    bare, user, password = strip_credentials("rtsp://admin:s3cr%40t@10.0.0.5:554/Streaming/101")
    assert bare == "rtsp://10.0.0.5:554/Streaming/101"
    assert (user, password) == ("admin", "s3cr%40t")
    assert "s3cr" not in redact_url("rtsp://admin:s3cret@cam/x")
    assert with_credentials("rtsp://cam/x", "a b", "p@ss") == "rtsp://a%20b:p%40ss@cam/x"


def test_lockouts_are_listed_and_lifted_one_key_at_a_time() -> None:
    clock = FakeClock()
    limiter = LoginLimiter(clock, max_failures=2, window_s=60)
    limiter.failed("user:a", "addr:x")
    assert limiter.lockouts() == []
    clock.t += 10
    limiter.failed("user:a", "addr:x")
    locked = limiter.lockouts()
    assert [(lockout.kind, lockout.name) for lockout in locked] == [("user", "a"), ("address", "x")]
    assert all(49 <= lockout.seconds_left <= 50 for lockout in locked)
    assert limiter.lift("user:a") and not limiter.lift("user:a")
    assert limiter.retry_after("user:a") is None
    assert limiter.retry_after("user:a", "addr:x") is not None  # the address is still locked
