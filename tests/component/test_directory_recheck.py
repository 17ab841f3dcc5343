"""The sessions of directory users follow the directory while they last: a user the directory
no longer has, or whose groups no longer give a role, is logged out at the next check; a
changed role applies to the sessions; an unreachable directory logs nobody out. Against a real
slapd, through camgate's identity service."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from camgate.context import Core, open_core
from camgate.core.errors import CamgateError, ErrorKind
from camgate.identity import service as service_module
from camgate.identity.service import Login
from camgate.identity.twostep import TwoStepMethod
from tests.support.clock import FakeClock
from tests.support.slapd import SlapdDirectory, delete_user, leave_group


@pytest.fixture
async def core(tmp_path: Path, slapd_directory: SlapdDirectory) -> AsyncIterator[Core]:
    """camgate with the directory set up: "operators" → operator (bob is in it, and in
    "guards", which has no role yet)."""
    async with open_core(tmp_path / "data", FakeClock(1_800_000_000.0)) as found:
        await found.settings.patch(
            {
                "directory": {
                    "url": slapd_directory.url,
                    "bind_dn": slapd_directory.service_dn,
                    "bind_password": slapd_directory.service_password,
                    "user_base_dn": slapd_directory.user_base_dn,
                    "group_base_dn": slapd_directory.group_base_dn,
                    "timeout_s": 5,
                },
                "general": {"login_method": "directory"},
            }
        )
        await found.identity.set_group("operators", role="operator", two_step=TwoStepMethod.NONE)
        yield found


async def _login(core: Core, uid: str, slapd: SlapdDirectory) -> str:
    login = await core.identity.login(uid, slapd.password(uid), address="127.0.0.1")
    assert isinstance(login, Login)
    return login.token


async def _ended(core: Core, token: str) -> bool:
    try:
        await core.identity.authenticate(token)
    except CamgateError as error:
        assert error.kind is ErrorKind.UNAUTHORIZED
        return True
    return False


async def test_the_directory_decides_while_the_sessions_last(
    core: Core, slapd_directory: SlapdDirectory
) -> None:
    bob = await _login(core, "bob", slapd_directory)
    sam = await _login(core, "sam(ops)", slapd_directory)
    # Nothing changed: nobody is logged out.
    assert await core.identity.recheck_directory_users() == []
    assert not await _ended(core, bob)
    # A group given another role in camgate: the open session has it.
    await core.identity.set_group("guards", role="administrator", two_step=TwoStepMethod.NONE)
    assert await core.identity.recheck_directory_users() == []
    principal = await core.identity.authenticate(bob)
    assert principal.user.role.name == "administrator"
    # Out of the groups that give a role: logged out.
    leave_group(slapd_directory, "bob", "guards")
    leave_group(slapd_directory, "bob", "operators")
    assert await core.identity.recheck_directory_users() == ["bob"]
    assert await _ended(core, bob) and not await _ended(core, sam)
    # Gone from the directory: logged out.
    delete_user(slapd_directory, "sam(ops)")
    assert await core.identity.recheck_directory_users() == ["sam(ops)"]
    assert await _ended(core, sam)


async def test_an_unreachable_directory_logs_nobody_out(
    core: Core, slapd_directory: SlapdDirectory
) -> None:
    bob = await _login(core, "bob", slapd_directory)
    delete_user(slapd_directory, "bob")
    await core.settings.patch({"directory": {"bind_password": "not-the-service-password"}})
    assert await core.identity.recheck_directory_users() == []
    assert not await _ended(core, bob)


async def test_the_check_runs_by_itself_and_tells_whose_sessions_ended(
    core: Core, slapd_directory: SlapdDirectory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(service_module, "DIRECTORY_RECHECK_S", 0.05)
    bob = await _login(core, "bob", slapd_directory)
    delete_user(slapd_directory, "bob")
    told: asyncio.Queue[list[str]] = asyncio.Queue()
    task = asyncio.create_task(core.identity.run_directory_recheck(told.put))
    try:
        assert await asyncio.wait_for(told.get(), 10) == ["bob"]
    finally:
        task.cancel()
    assert await _ended(core, bob)
