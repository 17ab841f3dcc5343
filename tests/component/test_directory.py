"""The directory client against a real OpenLDAP server (tests/support/slapd.py) on loopback."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from camgate.identity import directory as directory_module
from camgate.identity.directory import Directory, DirectoryAccount, DirectoryUnavailable
from camgate.settings import Directory as DirectorySettings
from tests.support.slapd import (
    GROUPS,
    POSIX_GROUP,
    TWIN_PASSWORD,
    TWIN_UID,
    SlapdDirectory,
    free_port,
    make_ca,
)


@pytest.fixture
def silent_port() -> Iterator[tuple[int, socket.socket]]:
    """A loopback port that takes connections (the kernel's backlog) and never answers."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        listener.setblocking(False)
        yield listener.getsockname()[1], listener


def closed_url() -> str:
    return f"ldap://127.0.0.1:{free_port()}"


def anonymous(slapd: SlapdDirectory, **changes: object) -> DirectorySettings:
    return slapd.settings(bind_dn="", bind_password=SecretStr(""), **changes)


# --- logins ------------------------------------------------------------------------------------


async def test_right_password_gives_the_account_with_mail_and_groups(
    slapd_directory: SlapdDirectory,
) -> None:
    account = await Directory(slapd_directory.settings()).authenticate("alice", "alice-pass-1")
    assert account == DirectoryAccount(
        username="alice",
        dn="uid=alice,ou=people,dc=camgate,dc=test",
        email="alice@camgate.test",
        groups=frozenset({"camgate-admins"}),
    )


async def test_every_user_gets_their_own_mail_and_groups(slapd_directory: SlapdDirectory) -> None:
    directory = Directory(slapd_directory.settings())
    for user in slapd_directory.users:
        account = await directory.authenticate(user.uid, user.password)
        assert account is not None, user.uid
        assert (account.username, account.dn) == (user.uid, user.dn)
        assert account.email == user.mail
        assert account.groups == user.groups


async def test_a_user_in_two_groups_and_one_without_mail(slapd_directory: SlapdDirectory) -> None:
    directory = Directory(slapd_directory.settings())
    bob = await directory.authenticate("bob", "bob-pass-1")
    assert bob is not None
    assert bob.groups == {"operators", "guards"}
    carol = await directory.authenticate("carol", "carol-pass-1")
    assert carol is not None
    assert carol.email == ""
    # guards is a groupOfNames (member), night-shift a groupOfUniqueNames (uniqueMember).
    assert carol.groups == {"guards", "night-shift"}


async def test_the_name_is_spelled_as_the_directory_spells_it(
    slapd_directory: SlapdDirectory,
) -> None:
    account = await Directory(slapd_directory.settings()).authenticate("BoB", "bob-pass-1")
    assert account is not None
    assert account.username == "bob"


async def test_a_name_with_parentheses_logs_in_and_finds_its_groups(
    slapd_directory: SlapdDirectory,
) -> None:
    # Both the typed name and the DN in the group filter must be escaped for this to work.
    account = await Directory(slapd_directory.settings()).authenticate("sam(ops)", "sam-pass-1")
    assert account is not None
    assert account.dn == "uid=sam(ops),ou=people,dc=camgate,dc=test"
    assert account.groups == {"operators"}


async def test_an_account_is_found_without_its_password(slapd_directory: SlapdDirectory) -> None:
    # For checking users who are logged in: the service account finds them and their groups.
    directory = Directory(slapd_directory.settings())
    account = await directory.account("BOB")
    assert account is not None and account.username == "bob"
    assert account.groups == {"operators", "guards"} and account.email == "bob@camgate.test"
    assert await directory.account("nobody") is None
    assert await directory.account(" ") is None


async def test_wrong_password_is_none(slapd_directory: SlapdDirectory) -> None:
    directory = Directory(slapd_directory.settings())
    assert await directory.authenticate("alice", "bob-pass-1") is None
    assert await directory.authenticate("alice", "alice-pass-1 ") is None


async def test_unknown_user_is_none(slapd_directory: SlapdDirectory) -> None:
    directory = Directory(slapd_directory.settings())
    assert await directory.authenticate("mallory", "alice-pass-1") is None
    # The service account is found by its DN, never by the user filter.
    assert await directory.authenticate("camgate-reader", slapd_directory.service_password) is None


async def test_an_ambiguous_name_is_none(slapd_directory: SlapdDirectory) -> None:
    # Two entries have uid=twin: the password would fit either, so neither may log in.
    directory = Directory(slapd_directory.settings())
    assert await directory.authenticate(TWIN_UID, TWIN_PASSWORD) is None


async def test_empty_password_is_none_without_contacting_the_server(
    silent_port: tuple[int, socket.socket],
) -> None:
    port, listener = silent_port
    for url in (closed_url(), f"ldap://127.0.0.1:{port}"):
        settings = DirectorySettings(url=url, user_base_dn="ou=people,dc=camgate,dc=test")
        assert await Directory(settings).authenticate("alice", "") is None
    with pytest.raises(BlockingIOError):
        listener.accept()  # nobody connected


async def test_empty_user_name_is_none_without_contacting_the_server() -> None:
    settings = DirectorySettings(url=closed_url(), user_base_dn="ou=people,dc=camgate,dc=test")
    assert await Directory(settings).authenticate("", "alice-pass-1") is None
    assert await Directory(settings).authenticate("   ", "alice-pass-1") is None


@pytest.mark.parametrize(
    "typed",
    [
        "*",
        "ali*",
        "*)(|(uid=*",
        "admin)(uid=*",
        "alice)(uid=*",
        "\\",
        "alice\\",
        "a\\lice",
        "alice\0",
    ],
)
async def test_filter_syntax_in_the_name_never_matches_another_user(
    slapd_directory: SlapdDirectory, typed: str
) -> None:
    directory = Directory(slapd_directory.settings())
    # alice's own password: an unescaped filter matching her entry would let this in.
    assert await directory.authenticate(typed, "alice-pass-1") is None


# --- who searches ------------------------------------------------------------------------------


async def test_anonymous_search_finds_users(slapd_directory: SlapdDirectory) -> None:
    directory = Directory(anonymous(slapd_directory, group_base_dn=""))
    account = await directory.authenticate("alice", "alice-pass-1")
    assert account is not None
    assert account.email == "alice@camgate.test"
    assert account.groups == frozenset()  # no group_base_dn: no group search
    assert await directory.authenticate("alice", "wrong-password") is None


async def test_groups_are_read_by_the_service_account(slapd_directory: SlapdDirectory) -> None:
    # The test server shows ou=groups to the service account only: searched anonymously, the
    # group base is reported instead of silently giving no groups.
    directory = Directory(anonymous(slapd_directory))
    with pytest.raises(DirectoryUnavailable, match="group") as raised:
        await directory.authenticate("alice", "alice-pass-1")
    assert "anonymous" in str(raised.value)
    service = await Directory(slapd_directory.settings()).authenticate("alice", "alice-pass-1")
    assert service is not None
    assert service.groups == {"camgate-admins"}


async def test_wrong_service_password_is_unavailable(slapd_directory: SlapdDirectory) -> None:
    directory = Directory(slapd_directory.settings(bind_password=SecretStr("not-it")))
    with pytest.raises(DirectoryUnavailable, match="service account") as raised:
        await directory.authenticate("alice", "alice-pass-1")
    assert "not-it" not in str(raised.value)
    with pytest.raises(DirectoryUnavailable):
        await directory.check()
    with pytest.raises(DirectoryUnavailable):
        await directory.group_names()


async def test_service_dn_without_password_is_refused_without_contacting(
    silent_port: tuple[int, socket.socket],
) -> None:
    port, listener = silent_port
    settings = DirectorySettings(
        url=f"ldap://127.0.0.1:{port}",
        bind_dn="cn=camgate-reader,dc=camgate,dc=test",
        user_base_dn="ou=people,dc=camgate,dc=test",
    )
    with pytest.raises(DirectoryUnavailable, match="bind_password"):
        await Directory(settings).check()
    with pytest.raises(BlockingIOError):
        listener.accept()


# --- outages and settings ----------------------------------------------------------------------


async def test_closed_port_is_unavailable_at_once() -> None:
    settings = DirectorySettings(url=closed_url(), user_base_dn="ou=people,dc=camgate,dc=test")
    started = time.monotonic()
    with pytest.raises(DirectoryUnavailable, match="cannot be reached"):
        await Directory(settings).authenticate("alice", "alice-pass-1")
    assert time.monotonic() - started < 2
    with pytest.raises(DirectoryUnavailable):
        await Directory(settings).check()


@pytest.mark.parametrize("scheme", ["ldap", "ldaps"])
async def test_a_silent_server_is_unavailable_after_the_timeout(
    silent_port: tuple[int, socket.socket], scheme: str, tmp_path: Path
) -> None:
    port, _ = silent_port
    ca_file, _ = make_ca(tmp_path)
    settings = DirectorySettings(
        url=f"{scheme}://127.0.0.1:{port}",
        ca_file=str(ca_file),
        user_base_dn="ou=people,dc=camgate,dc=test",
        timeout_s=1,
    )
    started = time.monotonic()
    with pytest.raises(DirectoryUnavailable, match="in time"):
        await Directory(settings).authenticate("alice", "alice-pass-1")
    assert 0.9 < time.monotonic() - started < 3


async def test_the_event_loop_runs_while_the_directory_is_slow(
    silent_port: tuple[int, socket.socket],
) -> None:
    port, _ = silent_port
    settings = DirectorySettings(
        url=f"ldap://127.0.0.1:{port}", user_base_dn="ou=people,dc=camgate,dc=test", timeout_s=1
    )
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.05)
            ticks += 1

    ticker = asyncio.create_task(tick())
    with pytest.raises(DirectoryUnavailable):
        await Directory(settings).authenticate("alice", "alice-pass-1")
    ticker.cancel()
    assert ticks >= 10  # about 20 in the second that the silent server took


async def test_a_missing_user_base_is_unavailable(slapd_directory: SlapdDirectory) -> None:
    directory = Directory(slapd_directory.settings(user_base_dn="ou=nobody,dc=camgate,dc=test"))
    with pytest.raises(DirectoryUnavailable, match="ou=nobody"):
        await directory.authenticate("alice", "alice-pass-1")
    with pytest.raises(DirectoryUnavailable, match="user_base_dn"):
        await directory.check()


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"url": ""}, "no directory is configured"),
        ({"url": "http://127.0.0.1:389"}, "is not ldap://"),
        ({"url": "ldap://127.0.0.1:389/dc=camgate?uid"}, "is not ldap://"),
        ({"user_base_dn": ""}, "user_base_dn"),
        ({"user_base_dn": "people"}, "not a valid DN"),
        ({"user_filter": "(uid=alice)"}, r"\{0\}"),
        ({"user_filter": "(&(uid={0})(objectClass=person)"}, "not a valid LDAP filter"),
        ({"group_filter": "member={0})"}, "not a valid LDAP filter"),
    ],
)
async def test_misconfiguration_is_unavailable_with_the_reason(
    slapd_directory: SlapdDirectory, changes: dict[str, object], message: str
) -> None:
    directory = Directory(slapd_directory.settings(**changes))
    with pytest.raises(DirectoryUnavailable, match=message):
        await directory.authenticate("alice", "alice-pass-1")


# --- group names and "test connection" ---------------------------------------------------------


async def test_group_names_lists_every_group(slapd_directory: SlapdDirectory) -> None:
    names = await Directory(slapd_directory.settings()).group_names()
    assert names == sorted(GROUPS)  # not the posixGroup: its members are no DNs
    assert POSIX_GROUP not in names


async def test_group_names_reads_every_page(
    slapd_directory: SlapdDirectory, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Active Directory returns 1000 entries per page at most: the cookie must be followed.
    monkeypatch.setattr(directory_module, "_PAGE_SIZE", 1)
    assert await Directory(slapd_directory.settings()).group_names() == sorted(GROUPS)
    account = await Directory(slapd_directory.settings()).authenticate("bob", "bob-pass-1")
    assert account is not None
    assert account.groups == {"operators", "guards"}


async def test_posix_groups_are_found_by_the_user_name(slapd_directory: SlapdDirectory) -> None:
    # NIS groups name their members by user name (memberUid): {1} in the filter.
    settings = slapd_directory.settings(
        group_filter="(|(member={0})(uniqueMember={0})(memberUid={1}))"
    )
    account = await Directory(settings).authenticate("BOB", "bob-pass-1")
    assert account is not None
    assert account.groups == {"operators", "guards", POSIX_GROUP}
    # Compared as the directory spells the name, and listed for roles to be given to them.
    assert await Directory(settings).group_names() == sorted({*GROUPS, POSIX_GROUP})
    carol = await Directory(settings).account("carol")
    assert carol is not None and POSIX_GROUP not in carol.groups


async def test_group_names_without_a_group_base_is_empty(slapd_directory: SlapdDirectory) -> None:
    assert await Directory(slapd_directory.settings(group_base_dn="")).group_names() == []


async def test_check_passes_with_the_service_account(slapd_directory: SlapdDirectory) -> None:
    await Directory(slapd_directory.settings()).check()
    await Directory(anonymous(slapd_directory, group_base_dn="")).check()


async def test_check_names_a_wrong_group_base(slapd_directory: SlapdDirectory) -> None:
    for base, message in [("ou=teams,dc=camgate,dc=test", "group_base_dn"), ("teams", "valid DN")]:
        with pytest.raises(DirectoryUnavailable, match=message):
            await Directory(slapd_directory.settings(group_base_dn=base)).check()


async def test_check_names_what_the_reader_cannot_see(slapd_directory: SlapdDirectory) -> None:
    with pytest.raises(DirectoryUnavailable, match=r"group_base_dn .* anonymous search"):
        await Directory(anonymous(slapd_directory)).check()


# --- TLS ---------------------------------------------------------------------------------------


async def test_ldaps_with_the_directory_ca(slapd_directory: SlapdDirectory) -> None:
    settings = slapd_directory.settings(
        url=slapd_directory.ldaps_url, ca_file=slapd_directory.ca_file
    )
    directory = Directory(settings)
    account = await directory.authenticate("bob", "bob-pass-1")
    assert account is not None
    assert account.groups == {"operators", "guards"}
    await directory.check()


async def test_start_tls_with_the_directory_ca(slapd_directory: SlapdDirectory) -> None:
    settings = slapd_directory.settings(start_tls=True, ca_file=slapd_directory.ca_file)
    account = await Directory(settings).authenticate("carol", "carol-pass-1")
    assert account is not None
    assert account.groups == {"guards", "night-shift"}


@pytest.mark.parametrize("start_tls", [False, True])
async def test_an_untrusted_certificate_is_refused(
    slapd_directory: SlapdDirectory, start_tls: bool, tmp_path: Path
) -> None:
    other_ca, _ = make_ca(tmp_path, "some other CA")
    url = slapd_directory.url if start_tls else slapd_directory.ldaps_url
    for ca_file in ("", str(other_ca)):  # the system's CAs, then a CA that did not sign it
        settings = slapd_directory.settings(url=url, start_tls=start_tls, ca_file=ca_file)
        with pytest.raises(DirectoryUnavailable, match="ca_file") as raised:
            await Directory(settings).authenticate("bob", "bob-pass-1")
        assert "bob-pass-1" not in str(raised.value)


async def test_a_certificate_for_another_name_is_refused(slapd_directory: SlapdDirectory) -> None:
    # The certificate names 127.0.0.1 and directory.camgate.test, not localhost.
    url = slapd_directory.ldaps_url.replace("127.0.0.1", "localhost")
    settings = slapd_directory.settings(url=url, ca_file=slapd_directory.ca_file)
    with pytest.raises(DirectoryUnavailable, match="Hostname mismatch"):
        await Directory(settings).check()


async def test_a_ca_file_that_is_not_pem_is_unavailable(
    slapd_directory: SlapdDirectory, tmp_path: Path
) -> None:
    junk = tmp_path / "ca.pem"
    junk.write_text("not a certificate\n")
    for ca_file in (str(junk), str(tmp_path / "missing.pem")):
        settings = slapd_directory.settings(url=slapd_directory.ldaps_url, ca_file=ca_file)
        with pytest.raises(DirectoryUnavailable, match="ca_file"):
            await Directory(settings).check()


async def test_ldaps_on_a_plain_port_is_unavailable(slapd_directory: SlapdDirectory) -> None:
    url = slapd_directory.url.replace("ldap://", "ldaps://")
    settings = slapd_directory.settings(url=url, ca_file=slapd_directory.ca_file)
    with pytest.raises(DirectoryUnavailable, match="TLS"):
        await Directory(settings).check()
