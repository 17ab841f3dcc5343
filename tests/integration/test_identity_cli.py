"""The command line's identity commands: a user's address and two-step verification method,
their authenticator app, directory groups, the login method; and the audit of its changes."""

from __future__ import annotations

import asyncio
from pathlib import Path

from camgate.audit.models import CLI_ADDRESS, AuditQuery
from camgate.audit.service import AuditLog
from camgate.context import open_core
from camgate.core.clock import SystemClock
from tests.integration.test_cli import run


def test_an_administrator_sets_a_users_method_and_address(tmp_path: Path) -> None:
    data = tmp_path / "d"
    assert (
        run(data, "user", "add", "bob", "--password-stdin", stdin="long password 1\n").returncode
        == 0
    )
    done = run(data, "user", "set", "bob", "--email", "bob@example.com", "--two-step", "email")
    assert done.returncode == 0, done.stderr
    assert "bob@example.com" in done.stdout and "email" in done.stdout
    listed = run(data, "user", "list")
    assert "bob@example.com" in listed.stdout and "email" in listed.stdout

    back = run(data, "user", "set", "bob", "--two-step", "groups")
    assert back.returncode == 0 and "as the groups say" in back.stdout

    wrong = run(data, "user", "set", "bob", "--two-step", "sms")
    assert wrong.returncode == 2 and "no_login, none, email, totp, groups" in wrong.stderr
    bad_address = run(data, "user", "set", "bob", "--email", "not an address")
    assert bad_address.returncode == 2 and "e-mail address" in bad_address.stderr
    nobody = run(data, "user", "set", "nobody", "--email", "x@example.com")
    assert nobody.returncode == 1 and "not found" in nobody.stderr


def test_forgetting_an_app_that_was_never_added_is_an_error(tmp_path: Path) -> None:
    data = tmp_path / "d"
    assert (
        run(data, "user", "add", "bob", "--password-stdin", stdin="long password 1\n").returncode
        == 0
    )
    forgot = run(data, "user", "forget-app", "bob")
    assert forgot.returncode == 1 and "authenticator app" in forgot.stderr


def test_groups_and_the_login_method_from_the_command_line(tmp_path: Path) -> None:
    data = tmp_path / "d"
    assert run(data, "login-method").stdout.strip() == "login method: automatic"
    changed = run(data, "login-method", "basic")
    assert changed.returncode == 0 and "basic" in changed.stdout
    assert run(data, "login-method", "windows").returncode == 2

    added = run(data, "group", "set", "Operators", "--role", "operator", "--two-step", "email")
    assert added.returncode == 0, added.stderr
    listed = run(data, "group", "list").stdout
    assert "Operators" in listed and "operator" in listed and "email" in listed
    assert run(data, "group", "set", "x", "--role", "nobody").returncode == 1
    assert run(data, "group", "remove", "operators").returncode == 0
    assert run(data, "group", "remove", "operators").returncode == 1
    no_directory = run(data, "directory-check")
    assert no_directory.returncode == 2 and "no directory is set up" in no_directory.stderr


def test_changes_from_the_command_line_are_audited(tmp_path: Path) -> None:
    data = tmp_path / "d"
    run(data, "user", "add", "bob", "--password-stdin", stdin="long password 1\n")
    run(data, "user", "passwd", "bob", "--password-stdin", stdin="long password 2\n")
    run(data, "camera", "add", "Yard", "--url", "synthetic:360p")
    run(data, "role", "cameras", "operator", "Yard")
    run(data, "camera", "remove", "Yard")
    run(data, "user", "remove", "bob")

    async def actions() -> list[tuple[str, str]]:
        async with open_core(data, SystemClock()) as core:
            entries = await AuditLog(core.sessions, core.clock).search(AuditQuery())
        return [(entry.action, entry.address) for entry in reversed(entries)]

    assert asyncio.run(actions()) == [
        (action, CLI_ADDRESS)
        for action in (
            "user.add",
            "user.password",
            "camera.add",
            "role.cameras",
            "camera.remove",
            "user.remove",
        )
    ]


def test_roles_from_the_command_line(tmp_path: Path) -> None:
    data = tmp_path / "d"
    added = run(data, "role", "add", "guards", "--all-cameras")
    assert added.returncode == 0, added.stderr
    assert "live" in added.stdout and "export" not in added.stdout
    assert "guards" in run(data, "role", "list").stdout
    assert run(data, "role", "add", "guards").returncode == 1
    assert run(data, "role", "remove", "administrator").returncode == 1
    assert run(data, "role", "remove", "guards").returncode == 0
    assert "guards" not in run(data, "role", "list").stdout
