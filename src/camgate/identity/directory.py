"""The directory client behind "directory login" (the manual's "Windows authentication"): checks
a user name and password against an LDAP server or Active Directory and reads the user's mail
and groups.

The usual search-then-bind: bind as the service account (``bind_dn``, or anonymously), find the
one entry matching ``user_filter``, check the password by binding as that entry on a connection
of its own, then read the groups with the service account. ldap3 blocks, so every exchange runs
in a small pool of threads, never on the event loop.
"""

from __future__ import annotations

import ast
import asyncio
import functools
import logging
import re
import ssl
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, ParamSpec, TypeVar
from urllib.parse import urlsplit

import ldap3
from ldap3.core.exceptions import LDAPException, LDAPInvalidDnError, LDAPInvalidFilterError
from ldap3.core.tls import Tls
from ldap3.utils.conv import escape_filter_chars

from camgate.settings import Directory as DirectorySettings

log = logging.getLogger(__name__)

P = ParamSpec("P")
T = TypeVar("T")

#: Shared by every :class:`Directory` (one is made per settings change) and bounded, so a slow
#: directory ties up these threads only, not the event loop's default executor.
_POOL: Final = ThreadPoolExecutor(max_workers=4, thread_name_prefix="directory")

#: Entries per page when reading groups: Active Directory answers at most 1000 per page.
_PAGE_SIZE: Final = 500
_PAGED_RESULTS_OID: Final = "1.2.840.113556.1.4.319"
#: Longer typed names are refused before any search (no directory has such names).
_MAX_USERNAME: Final = 256

# Result codes (RFC 4511) that a bind as the user answers for a refused login, not an outage:
# invalidCredentials (also Active Directory's disabled, locked and expired accounts),
# inappropriateAuthentication, insufficientAccessRights, unwillingToPerform.
_LOGIN_REFUSED: Final = frozenset({48, 49, 50, 53})
_SUCCESS: Final = 0
_SIZE_LIMIT_EXCEEDED: Final = 4
_NO_SUCH_OBJECT: Final = 32

#: What :meth:`Directory.group_names` lists: the group object classes of Active Directory and
#: OpenLDAP. NIS's posixGroup only when ``group_filter`` compares the user name (``{1}``): its
#: memberUid holds user names, never DNs, so otherwise it would offer roles nobody could get.
_ANY_GROUP: Final = (
    "(|(objectClass=group)(objectClass=groupOfNames)(objectClass=groupOfUniqueNames))"
)
_ANY_GROUP_OR_POSIX: Final = f"(|{_ANY_GROUP}(objectClass=posixGroup))"
#: The placeholders of ``group_filter``: {0} the user's DN, {1} the user's name.
_GROUP_PLACEHOLDER: Final = re.compile(r"\{([01])\}")

#: OpenSSL's source position in its messages: noise for an administrator.
_SSL_SOURCE: Final = re.compile(r"\s*\(_ssl\.c:\d+\)")

#: The attribute compared with the typed name in a user filter: "uid" in "(uid={0})".
_FILTERED_ATTRIBUTE: Final = re.compile(r"\(\s*([A-Za-z][A-Za-z0-9-]*(?:;[A-Za-z0-9-]+)*)=\{0\}\)")


@dataclass(frozen=True, slots=True)
class DirectoryAccount:
    #: As the directory spells it (from the attribute the user filter compares), else as typed.
    username: str
    dn: str
    email: str  # "" when the entry has none
    groups: frozenset[str]


class DirectoryUnavailable(Exception):
    """The directory cannot answer (unreachable, TLS refused, misconfigured): not a wrong
    password. The message is for the administrator and never holds a password."""


@dataclass(frozen=True, slots=True)
class _Entry:
    dn: str
    attributes: dict[str, list[str]]

    def first(self, name: str) -> str:
        values = self.attributes.get(name.lower(), [])
        return values[0] if values else ""


class Directory:
    def __init__(self, settings: DirectorySettings) -> None:
        self._settings = settings
        self._name_attribute = _filtered_attribute(settings.user_filter)
        self._tls_context: ssl.SSLContext | None = None

    async def authenticate(self, username: str, password: str) -> DirectoryAccount | None:
        """The account, or None for an unknown user or a wrong password. Raises
        :class:`DirectoryUnavailable` when the directory cannot tell."""
        # An LDAP bind with a DN and no password is an "unauthenticated bind" that many servers
        # answer with success: an empty password must never reach the server.
        if not password or not username.strip() or len(username) > _MAX_USERNAME:
            return None
        return await self._run(self._lookup, username, password)

    async def account(self, username: str) -> DirectoryAccount | None:
        """The account as the directory has it now (its groups, its mail), found by the
        service account without a password: for checking users who are logged in. None when
        the directory no longer has the name (or ``user_filter`` no longer matches it, as it
        may exclude disabled accounts). Raises :class:`DirectoryUnavailable`."""
        if not username.strip() or len(username) > _MAX_USERNAME:
            return None
        return await self._run(self._lookup, username, None)

    async def group_names(self) -> list[str]:
        """Every group under ``group_base_dn``, sorted: for mapping groups to roles."""
        return await self._run(self._group_names)

    async def check(self) -> None:
        """For an administrator's "test connection": connects, binds as the service account and
        looks for the base DNs. Raises :class:`DirectoryUnavailable` with the reason."""
        await self._run(self._check)

    async def _run(self, work: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(_POOL, functools.partial(work, *args, **kwargs))

    # --- the blocking work, in _POOL's threads ------------------------------------------------

    def _lookup(self, username: str, password: str | None) -> DirectoryAccount | None:
        """The account, if the directory has it and (unless ``password`` is None) the password
        binds as it."""
        self._require_user_settings()
        attributes = [self._settings.mail_attribute]
        if self._name_attribute:
            attributes.append(self._name_attribute)
        with self._service() as connection:
            user = self._find_user(connection, username, attributes)
            if user is None:
                return None
            if password is not None and not self._password_matches(user.dn, password):
                return None
            spelled = self._spelling(user, username)
            groups = self._groups_of(connection, user.dn, spelled)
        return DirectoryAccount(
            username=spelled,
            dn=user.dn,
            email=user.first(self._settings.mail_attribute),
            groups=groups,
        )

    def _group_names(self) -> list[str]:
        base = self._settings.group_base_dn
        if not base:
            return []
        name = self._settings.group_name_attribute
        classes = _ANY_GROUP_OR_POSIX if "{1}" in self._settings.group_filter else _ANY_GROUP
        with self._service() as connection:
            entries = self._search(connection, base, classes, [name])
        return sorted({value for entry in entries if (value := entry.first(name))})

    def _check(self) -> None:
        self._require_user_settings()
        bases = {
            "user_base_dn": self._settings.user_base_dn,
            "group_base_dn": self._settings.group_base_dn,
        }
        with self._service() as connection:
            for setting, base in bases.items():
                if base and not self._exists(connection, base):
                    raise DirectoryUnavailable(f"{setting} {_missing(base, self._reader)}")

    @property
    def _reader(self) -> str:
        """Who searches, for messages."""
        bind_dn = self._settings.bind_dn
        return f"the service account {bind_dn}" if bind_dn else "an anonymous search"

    # --- steps ----------------------------------------------------------------------------------

    def _find_user(
        self, connection: ldap3.Connection, username: str, attributes: list[str]
    ) -> _Entry | None:
        # Escaped, so "*", "(" or "\" typed at login are matched literally, never as filter syntax.
        query = self._settings.user_filter.replace("{0}", escape_filter_chars(username))
        entries = self._search(
            connection, self._settings.user_base_dn, query, attributes, size_limit=2, paged=False
        )
        if len(entries) > 1:
            log.warning(
                "directory: several entries match the user name %r; login refused", username
            )
        return entries[0] if len(entries) == 1 else None

    def _password_matches(self, dn: str, password: str) -> bool:
        # A connection of its own: the service connection keeps its identity for the group search.
        with self._connection(dn, password) as connection:
            if connection.bind():
                return True
            code = connection.result.get("result")
            if code in _LOGIN_REFUSED:
                return False
            raise DirectoryUnavailable(
                f"the directory answered a login with {_describe(connection.result)}"
            )

    def _groups_of(self, connection: ldap3.Connection, dn: str, username: str) -> frozenset[str]:
        base = self._settings.group_base_dn
        if not base:
            return frozenset()
        # DNs and names hold characters that are filter syntax ("(", "\", "*"): escaped like a
        # typed name, in one pass (a DN may hold "{1}" itself).
        values = {"0": escape_filter_chars(dn), "1": escape_filter_chars(username)}
        query = _GROUP_PLACEHOLDER.sub(lambda found: values[found[1]], self._settings.group_filter)
        name = self._settings.group_name_attribute
        entries = self._search(connection, base, query, [name])
        return frozenset(value for entry in entries if (value := entry.first(name)))

    def _exists(self, connection: ldap3.Connection, dn: str) -> bool:
        try:
            connection.search(dn, "(objectClass=*)", ldap3.BASE, attributes=[], size_limit=1)
        except LDAPInvalidDnError as error:
            raise DirectoryUnavailable(f"{dn!r} is not a valid DN") from error
        return bool(connection.result.get("result") == _SUCCESS)

    def _spelling(self, user: _Entry, typed: str) -> str:
        """The name as the directory spells it: the value of the filtered attribute equal to the
        typed name (case and spaces aside), else its only value, else the typed name."""
        values = (
            user.attributes.get(self._name_attribute.lower(), []) if self._name_attribute else []
        )
        wanted = typed.strip().casefold()
        same = [value for value in values if value.strip().casefold() == wanted]
        if same:
            return same[0]
        return values[0] if len(values) == 1 else typed

    # --- LDAP plumbing ----------------------------------------------------------------------------

    def _search(
        self,
        connection: ldap3.Connection,
        base: str,
        query: str,
        attributes: list[str],
        *,
        size_limit: int = 0,
        paged: bool = True,
    ) -> list[_Entry]:
        """Every entry found, page after page (Active Directory caps a page at 1000)."""
        entries: list[_Entry] = []
        cookie: bytes | None = None
        while True:
            try:
                connection.search(
                    base,
                    query,
                    ldap3.SUBTREE,
                    attributes=attributes,
                    size_limit=size_limit,
                    time_limit=self._settings.timeout_s,
                    paged_size=_PAGE_SIZE if paged else None,
                    paged_cookie=cookie,
                )
            except LDAPInvalidFilterError as error:
                # Typed names are escaped, so only the settings' filters can be at fault.
                raise DirectoryUnavailable(
                    f"{query!r} is not a valid LDAP filter: check user_filter and group_filter"
                ) from error
            except LDAPInvalidDnError as error:
                raise DirectoryUnavailable(f"{base!r} is not a valid DN") from error
            _raise_for_search(connection.result, base, self._reader)
            if connection.result.get("result") == _SIZE_LIMIT_EXCEEDED and not size_limit:
                log.warning("directory: the server's size limit cut the search under %r", base)
            entries += [_entry(item) for item in connection.response or [] if _is_entry(item)]
            cookie = _next_cookie(connection.result) if paged else None
            if not cookie:
                return entries

    @contextmanager
    def _service(self) -> Iterator[ldap3.Connection]:
        """A connection bound as the service account (or anonymous when ``bind_dn`` is empty)."""
        bind_dn = self._settings.bind_dn
        password = self._settings.bind_password.get_secret_value()
        if bind_dn and not password:
            # The unauthenticated-bind pitfall again: a DN without a password proves nothing.
            raise DirectoryUnavailable("bind_dn is set but bind_password is empty")
        with self._connection(bind_dn or None, password or None) as connection:
            if not connection.bind():
                raise DirectoryUnavailable(
                    f"the directory refused the service account {bind_dn or '(anonymous)'}: "
                    f"{_describe(connection.result)}"
                )
            yield connection

    @contextmanager
    def _connection(self, user: str | None, password: str | None) -> Iterator[ldap3.Connection]:
        """An open (not yet bound) connection, TLS already set up; ldap3's errors become
        :class:`DirectoryUnavailable`."""
        settings = self._settings
        scheme, host, port = _endpoint(settings.url)
        tls = (
            _VerifyingTls(self._context(), host)
            if scheme == "ldaps" or settings.start_tls
            else None
        )
        server = ldap3.Server(
            host,
            port=port,
            use_ssl=scheme == "ldaps",
            tls=tls,
            get_info=ldap3.NONE,  # no schema download: one round trip less per login
            connect_timeout=settings.timeout_s,
        )
        connection = ldap3.Connection(
            server,
            user=user,
            password=password,
            authentication=ldap3.SIMPLE if user else ldap3.ANONYMOUS,
            receive_timeout=settings.timeout_s,
            read_only=True,
            raise_exceptions=False,  # results are read from connection.result
            # Active Directory answers searches at a domain's root with references to other
            # partitions; following them would contact other servers, with our credentials.
            auto_referrals=False,
        )
        try:
            connection.open()
            if settings.start_tls and scheme == "ldap":
                connection.start_tls()
            yield connection
        except LDAPException as error:
            raise DirectoryUnavailable(
                _scrub(f"the directory at {host}:{port} {_explain(error)}", password)
            ) from error
        finally:
            _close(connection)

    def _context(self) -> ssl.SSLContext:
        """Certificates and host names verified, against ``ca_file`` or the system's CAs."""
        if self._tls_context is None:
            ca_file = self._settings.ca_file
            if ca_file and not Path(ca_file).is_file():
                raise DirectoryUnavailable(f"ca_file {ca_file!r} is not a readable file")
            try:
                self._tls_context = ssl.create_default_context(cafile=ca_file or None)
            except (ssl.SSLError, OSError) as error:
                raise DirectoryUnavailable(
                    f"ca_file {ca_file!r} is not a PEM certificate file: {error}"
                ) from None
        return self._tls_context

    def _require_user_settings(self) -> None:
        if not self._settings.user_base_dn:
            raise DirectoryUnavailable("user_base_dn is not set")
        if "{0}" not in self._settings.user_filter:
            # Without it every login would match the same entries, whatever name was typed.
            raise DirectoryUnavailable("user_filter must contain {0} (the typed user name)")


class _VerifyingTls(Tls):
    """ldap3's TLS, but with Python's own verification: ldap3 turns the context's host name
    check off and does its own with ssl.match_hostname (deprecated, gone in Python 3.12), and
    sends no SNI. Here OpenSSL checks the chain and the name during the handshake."""

    def __init__(self, context: ssl.SSLContext, host: str) -> None:
        super().__init__(validate=ssl.CERT_REQUIRED)
        self._tls_context = context
        self._host = host

    def wrap_socket(self, connection: Any, do_handshake: bool = False) -> None:
        # ldap3 calls this for ldaps:// when opening and for StartTLS, then uses connection.socket.
        connection.socket = self._tls_context.wrap_socket(
            connection.socket, server_hostname=self._host, do_handshake_on_connect=True
        )


# --- helpers ----------------------------------------------------------------------------------


def _endpoint(url: str) -> tuple[str, str, int]:
    """(scheme, host, port) of ldap://host[:port] or ldaps://host[:port]."""
    if not url:
        raise DirectoryUnavailable("no directory is configured (the URL is empty)")
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        port, parts = None, None
    if (
        parts is None
        or parts.scheme.lower() not in ("ldap", "ldaps")
        or not parts.hostname
        or parts.path not in ("", "/")
        or parts.query
        or parts.username is not None
    ):
        raise DirectoryUnavailable(
            f"the URL {url!r} is not ldap://host[:port] or ldaps://host[:port]"
        )
    scheme = parts.scheme.lower()
    return scheme, parts.hostname, port or (636 if scheme == "ldaps" else 389)


def _filtered_attribute(user_filter: str) -> str:
    """The attribute a user filter compares with the typed name ("" when there is none)."""
    found = _FILTERED_ATTRIBUTE.search(user_filter)
    return found.group(1) if found else ""


def _is_entry(item: dict[str, Any]) -> bool:
    # Skips searchResRef: references to other servers (Active Directory's partitions).
    return item.get("type") == "searchResEntry"


def _entry(item: dict[str, Any]) -> _Entry:
    """Values decoded from the raw bytes: without the schema ldap3 cannot type them anyway."""
    raw: dict[str, list[bytes]] = item.get("raw_attributes") or {}
    attributes = {
        name.lower(): [value.decode("utf-8", "replace") for value in values]
        for name, values in raw.items()
    }
    return _Entry(dn=str(item["dn"]), attributes=attributes)


def _next_cookie(result: dict[str, Any]) -> bytes | None:
    control = (result.get("controls") or {}).get(_PAGED_RESULTS_OID) or {}
    cookie = (control.get("value") or {}).get("cookie")
    return bytes(cookie) if cookie else None


def _raise_for_search(result: dict[str, Any], base: str, reader: str) -> None:
    code = result.get("result")
    # sizeLimitExceeded: the user search asks for 2 entries at most, to see ambiguous names.
    if code in (_SUCCESS, _SIZE_LIMIT_EXCEEDED):
        return
    if code == _NO_SUCH_OBJECT:
        raise DirectoryUnavailable(_missing(base, reader))
    raise DirectoryUnavailable(f"searching {base!r} failed: {_describe(result)}")


def _missing(base: str, reader: str) -> str:
    # Servers answer "no such object" for what the reader may not see, too (OpenLDAP's ACLs).
    return f"{base!r} is not in the directory, or {reader} may not read it"


def _describe(result: dict[str, Any]) -> str:
    text = f"{result.get('description', 'error')} ({result.get('result')})"
    message = str(result.get("message") or "").strip()
    return f"{text}: {message}" if message else text


def _explain(error: LDAPException) -> str:
    """What went wrong, with a hint for the usual causes."""
    text = _reason(error)
    if "CERTIFICATE_VERIFY_FAILED" in text:
        return (
            f"presented a certificate that is not trusted ({text}): set ca_file to the PEM of "
            "the CA that signed it, and use a host name that the certificate names"
        )
    if "timed out" in text.lower():
        return f"did not answer in time ({text})"
    if "ssl" in text.lower():
        return f"failed the TLS handshake ({text}): is the port an ldaps:// one?"
    return f"cannot be reached: {text}"


def _reason(error: LDAPException) -> str:
    """ldap3's message, unwrapped: it nests reasons in tuple reprs, as in ("('reason',)",)."""
    text = str(error) or type(error).__name__
    for _ in range(4):
        try:
            value = ast.literal_eval(text)  # literals only: never runs anything
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            break
        if not (isinstance(value, tuple) and value and isinstance(value[0], str)):
            break
        text = value[0]
    return _SSL_SOURCE.sub("", text)


def _scrub(text: str, secret: str | None) -> str:
    """Belt and braces: no library message may carry a password into a log or a reply."""
    return text.replace(secret, "***") if secret else text


def _close(connection: ldap3.Connection) -> None:
    with suppress(LDAPException):  # closing a broken connection: nothing left to do
        connection.unbind()
