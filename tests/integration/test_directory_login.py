"""Directory login (the manual's "Windows authentication") against a real OpenLDAP server and
a running camgate: the login methods, groups mapped to roles, e-mail addresses from the
directory, a group's two-step verification, and a directory that is down."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.conftest import OPERATOR
from tests.integration.test_cli import run
from tests.support.server import RunningServer, auth, free_port
from tests.support.slapd import SlapdDirectory
from tests.support.smtp import SmtpServer, code_in, smtp_settings


def _directory(slapd: SlapdDirectory, **changes: Any) -> dict[str, Any]:
    return {
        "url": slapd.url,
        "bind_dn": slapd.service_dn,
        "bind_password": slapd.service_password,
        "user_base_dn": slapd.user_base_dn,
        "group_base_dn": slapd.group_base_dn,
        **changes,
    }


@pytest.fixture
def base(server: RunningServer, admin_token: str, slapd_directory: SlapdDirectory) -> str:
    """camgate with the directory set up, "camgate-admins" → administrator and "operators" →
    operator."""
    url = f"{server.base_url}/api/v1"
    patch = {"directory": _directory(slapd_directory)}
    answer = httpx.patch(f"{url}/settings", json=patch, headers=auth(admin_token))
    assert answer.status_code == 200, answer.text
    assert answer.json()["directory"]["bind_password"] != slapd_directory.service_password
    for group, role in (("camgate-admins", "administrator"), ("operators", "operator")):
        put = httpx.put(f"{url}/groups/{group}", json={"role": role}, headers=auth(admin_token))
        assert put.status_code == 200, put.text
    return url


def _login(base: str, username: str, password: str) -> httpx.Response:
    return httpx.post(f"{base}/auth/login", json={"username": username, "password": password})


def _method(base: str, admin_token: str, method: str) -> None:
    patch = {"general": {"login_method": method}}
    assert httpx.patch(f"{base}/settings", json=patch, headers=auth(admin_token)).is_success


def test_directory_users_log_in_with_their_groups_role_and_address(
    base: str, slapd_directory: SlapdDirectory
) -> None:
    alice = _login(base, "alice", slapd_directory.password("alice"))
    assert alice.status_code == 200, alice.text
    user = alice.json()["user"]
    assert user["role"] == "administrator" and user["is_admin"]
    assert user["directory"] is True and user["email"] == "alice@camgate.test"

    # bob is in "operators" (a role) and "guards" (none): the operator role.
    bob = _login(base, "BoB", slapd_directory.password("bob"))
    assert bob.status_code == 200
    assert bob.json()["user"]["username"] == "bob"  # as the directory spells it
    assert bob.json()["user"]["role"] == "operator"

    # dave's groups give no role: the directory knows him, camgate lets him know why not.
    dave = _login(base, "dave", slapd_directory.password("dave"))
    assert dave.status_code == 403 and "ask the administrator" in dave.json()["detail"]
    wrong = _login(base, "alice", "not her password")
    assert wrong.status_code == 401


def test_a_group_losing_its_role_takes_effect_at_the_next_login(
    base: str, admin_token: str, slapd_directory: SlapdDirectory
) -> None:
    assert _login(base, "bob", slapd_directory.password("bob")).status_code == 200
    gone = httpx.delete(f"{base}/groups/operators", headers=auth(admin_token))
    assert gone.status_code == 204
    assert _login(base, "bob", slapd_directory.password("bob")).status_code == 403
    users = httpx.get(f"{base}/users", headers=auth(admin_token)).json()
    assert [u["directory"] for u in users if u["username"] == "bob"] == [True]


def test_the_login_methods(
    server: RunningServer, base: str, admin_token: str, slapd_directory: SlapdDirectory
) -> None:
    # Automatic (the default): the directory first, then camgate's own users.
    assert _login(base, *OPERATOR).status_code == 200
    assert _login(base, "alice", slapd_directory.password("alice")).status_code == 200

    _method(base, admin_token, "directory")
    assert _login(base, *OPERATOR).status_code == 401
    assert _login(base, "alice", slapd_directory.password("alice")).status_code == 200

    _method(base, admin_token, "basic")
    assert _login(base, "alice", slapd_directory.password("alice")).status_code == 401
    assert _login(base, *OPERATOR).status_code == 200


def test_a_directory_that_is_down(
    base: str, admin_token: str, slapd_directory: SlapdDirectory
) -> None:
    down = {"directory": {"url": f"ldap://127.0.0.1:{free_port()}", "timeout_s": 2}}
    assert httpx.patch(f"{base}/settings", json=down, headers=auth(admin_token)).is_success
    # Automatic login goes on to camgate's own users; directory users cannot get in.
    assert _login(base, *OPERATOR).status_code == 200
    assert _login(base, "alice", slapd_directory.password("alice")).status_code == 401
    check = httpx.post(f"{base}/directory/check", headers=auth(admin_token))
    assert check.status_code == 503 and check.json()["detail"]

    _method(base, admin_token, "directory")
    refused = _login(base, "alice", slapd_directory.password("alice"))
    assert refused.status_code == 503 and "directory" in refused.json()["detail"]


def test_a_camgate_user_is_not_taken_over_by_a_directory_account(
    base: str, admin_token: str, slapd_directory: SlapdDirectory
) -> None:
    added = httpx.post(
        f"{base}/users",
        json={"username": "carol", "password": "camgate-carol-1", "role": "operator"},
        headers=auth(admin_token),
    )
    assert added.status_code == 201
    # The directory's carol gets no way into camgate's carol; camgate's password still works.
    assert _login(base, "carol", slapd_directory.password("carol")).status_code == 401
    own = _login(base, "carol", "camgate-carol-1")
    assert own.status_code == 200 and own.json()["user"]["directory"] is False


def test_groups_are_listed_checked_and_audited(
    base: str, admin_token: str, operator_token: str
) -> None:
    names = httpx.get(f"{base}/directory/groups", headers=auth(admin_token))
    assert names.status_code == 200
    assert {"camgate-admins", "guards", "operators"} <= set(names.json())
    assert httpx.post(f"{base}/directory/check", headers=auth(admin_token)).status_code == 204
    groups = httpx.get(f"{base}/groups", headers=auth(admin_token)).json()
    assert groups == [
        {"name": "camgate-admins", "role": "administrator", "two_step": "none"},
        {"name": "operators", "role": "operator", "two_step": "none"},
    ]
    unknown_role = httpx.put(
        f"{base}/groups/guards", json={"role": "nobody"}, headers=auth(admin_token)
    )
    assert unknown_role.status_code == 404
    assert httpx.delete(f"{base}/groups/guards", headers=auth(admin_token)).status_code == 404
    assert httpx.get(f"{base}/groups", headers=auth(operator_token)).status_code == 403
    audited = httpx.get(f"{base}/audit", params={"q": "group.set"}, headers=auth(admin_token))
    assert {entry["target"] for entry in audited.json()} == {"camgate-admins", "operators"}


def test_a_groups_method_sends_the_code_to_the_directorys_address(
    base: str, admin_token: str, slapd_directory: SlapdDirectory, smtp: SmtpServer
) -> None:
    tab = {
        "enabled": True,
        "smtp": smtp_settings(smtp),
    }
    patched = httpx.patch(
        f"{base}/settings", json={"two_step_verification": tab}, headers=auth(admin_token)
    )
    assert patched.is_success
    put = httpx.put(
        f"{base}/groups/operators",
        json={"role": "operator", "two_step": "email"},
        headers=auth(admin_token),
    )
    assert put.status_code == 200
    step = _login(base, "bob", slapd_directory.password("bob"))
    assert step.status_code == 202 and step.json()["sent_to"] == "b***@camgate.test"
    message = smtp.mailbox.wait()
    assert message["To"] == "bob@camgate.test"
    done = httpx.post(
        f"{base}/auth/login/code",
        json={"ticket": step.json()["ticket"], "code": code_in(message)},
    )
    assert done.status_code == 200
    # A method of the user's own wins over the group's.
    own = httpx.patch(f"{base}/users/bob", json={"two_step": "none"}, headers=auth(admin_token))
    assert own.status_code == 200
    assert _login(base, "bob", slapd_directory.password("bob")).status_code == 200


def test_the_command_line_checks_the_directory(server: RunningServer, base: str) -> None:
    checked = run(server.data_dir, "directory-check")
    assert checked.returncode == 0, checked.stderr
    assert "the directory answers" in checked.stdout and "camgate-admins" in checked.stdout
