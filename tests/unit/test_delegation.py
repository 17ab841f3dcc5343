"""What a role given administration may grant (ADR 0013): never more than it has."""

from __future__ import annotations

import pytest

from camgate.core.errors import CamgateError
from camgate.identity.delegation import check_grant, check_member, check_membership
from camgate.identity.models import Permission, Role, User

DEFAULTS = Permission.role_defaults()
ADMIN_ROLE = Role("a", "administrator", True, True, True, frozenset(), frozenset())
SUPERVISORS = Role(
    "s",
    "supervisors",
    False,
    False,
    False,
    frozenset({"c1", "c2"}),
    DEFAULTS | {Permission.ADMINISTRATION},
)
GUARDS = Role("g", "guards", False, False, False, frozenset({"c1"}), frozenset({Permission.LIVE}))
EVERYWHERE = Role("e", "everywhere", False, False, True, frozenset(), frozenset({Permission.LIVE}))
EXPORTERS = Role("x", "exporters", False, False, False, frozenset(), frozenset({Permission.EXPORT}))


def user(role: Role, name: str = "sam") -> User:
    return User(f"id-{name}", name, role, 0.0)


SAM = user(SUPERVISORS)


def refused(check: object, *args: object, **kwargs: object) -> str:
    with pytest.raises(CamgateError) as error:
        check(*args, **kwargs)  # type: ignore[operator]
    return error.value.detail


def test_the_builtin_administrator_and_the_command_line_may_do_anything() -> None:
    for actor in (None, user(ADMIN_ROLE, "admin")):
        check_grant(actor, GUARDS, permissions=frozenset(Permission), cameras=frozenset({"c9"}))
        check_membership(actor, ADMIN_ROLE)
        check_member(actor, user(ADMIN_ROLE, "other"))


def test_a_delegate_gives_only_what_its_role_has() -> None:
    check_grant(SAM, GUARDS, permissions=frozenset({Permission.LIVE, Permission.PLAYBACK}))
    check_grant(SAM, GUARDS, cameras=frozenset({"c1", "c2"}))
    assert "export" in refused(check_grant, SAM, GUARDS, permissions=frozenset({Permission.EXPORT}))
    assert "cameras" in refused(check_grant, SAM, GUARDS, cameras=frozenset({"c3"}))
    assert "own role" in refused(check_grant, SAM, SUPERVISORS, permissions=DEFAULTS)
    # A role with more than the delegate's is not the delegate's to change at all.
    assert refused(check_grant, SAM, EVERYWHERE, permissions=frozenset())
    assert refused(check_grant, SAM, EXPORTERS, permissions=frozenset())


def test_a_delegate_puts_users_only_in_roles_within_its_own() -> None:
    check_membership(SAM, GUARDS)
    check_membership(SAM, SUPERVISORS)
    for role in (ADMIN_ROLE, EVERYWHERE, EXPORTERS):
        assert "no more rights" in refused(check_membership, SAM, role)


def test_a_delegate_changes_only_users_within_its_rights() -> None:
    check_member(SAM, user(GUARDS, "gus"))
    check_member(SAM, SAM)
    assert refused(check_member, SAM, user(ADMIN_ROLE, "admin"))
    assert refused(check_member, SAM, user(EXPORTERS, "xena"))
