"""A real OpenLDAP server (Debian's slapd) on loopback, with a small directory of test users.

The directory is loaded offline with ``slapadd`` before slapd starts, so a test never races
the loading. slapd listens on two loopback ports: ``ldap://`` (StartTLS offered) and
``ldaps://``, both with a certificate signed by a CA made for this run (``ca_file``).

Access rules, chosen so tests can tell who searched:

* anyone may bind (``auth`` on ``userPassword``); nobody reads a password;
* ``ou=groups`` is readable by the service account only (anonymous sees no groups);
* everything else (people, their mail) is readable by anyone, anonymous included.
"""

from __future__ import annotations

import base64
import contextlib
import datetime
import hashlib
import ipaddress
import os
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import ldap3
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from pydantic import SecretStr

from camgate.settings import Directory as DirectorySettings

SLAPD = "/usr/sbin/slapd"
SLAPADD = "/usr/sbin/slapadd"
SCHEMA_DIR = Path("/etc/ldap/schema")
MODULE_DIR = Path("/usr/lib/ldap")
SCHEMAS = ("core", "cosine", "inetorgperson", "nis")

BASE_DN = "dc=camgate,dc=test"
PEOPLE_DN = f"ou=people,{BASE_DN}"
GROUPS_DN = f"ou=groups,{BASE_DN}"
ROOT_DN = f"cn=admin,{BASE_DN}"
ROOT_PASSWORD = "root-secret-1"
SERVICE_DN = f"cn=camgate-reader,{BASE_DN}"
SERVICE_PASSWORD = "reader-secret-1"
#: The server certificate's name besides 127.0.0.1. It resolves nowhere: reached as "localhost",
#: the server presents a certificate for another name.
SERVER_NAME = "directory.camgate.test"


@dataclass(frozen=True, slots=True)
class DirectoryUser:
    uid: str
    password: str
    mail: str  # "" when the entry has no mail attribute
    groups: frozenset[str]

    @property
    def dn(self) -> str:
        return f"uid={self.uid},{PEOPLE_DN}"


USERS = (
    DirectoryUser("alice", "alice-pass-1", "alice@camgate.test", frozenset({"camgate-admins"})),
    DirectoryUser("bob", "bob-pass-1", "bob@camgate.test", frozenset({"operators", "guards"})),
    # No mail; in a groupOfNames and in a groupOfUniqueNames (the default filter's two halves).
    DirectoryUser("carol", "carol-pass-1", "", frozenset({"guards", "night-shift"})),
    DirectoryUser("dave", "dave-pass-1", "dave@camgate.test", frozenset()),
    # Parentheses in the name and so in the DN: both filters must escape them.
    DirectoryUser("sam(ops)", "sam-pass-1", "sam@camgate.test", frozenset({"operators"})),
)
#: Two entries with this uid (``uid=twin`` and ``cn=twin``): a login as "twin" is ambiguous.
TWIN_UID = "twin"
TWIN_PASSWORD = "twin-pass-1"
#: Every group, each with a member (groupOfNames requires one).
GROUPS = ("camgate-admins", "guards", "night-shift", "operators")
#: A NIS posixGroup with bob as memberUid (a user name, not a DN): no group filter on DNs finds it.
POSIX_GROUP = "nis-staff"


def free_port() -> int:
    """As tests.support.server's, without importing the whole app (and its dependencies)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def available() -> bool:
    return all(Path(tool).exists() for tool in (SLAPD, SLAPADD)) and all(
        (SCHEMA_DIR / f"{name}.schema").exists() for name in SCHEMAS
    )


@dataclass(frozen=True, slots=True)
class SlapdDirectory:
    """What a test needs to reach the running slapd."""

    url: str  # ldap://127.0.0.1:PORT (StartTLS offered)
    ldaps_url: str  # ldaps://127.0.0.1:PORT
    ca_file: str  # PEM of the CA that signed the server certificate
    base_dn: str
    user_base_dn: str
    group_base_dn: str
    root_dn: str  # bypasses the access rules: for tests that change the data
    root_password: str
    service_dn: str
    service_password: str
    users: tuple[DirectoryUser, ...]

    def user(self, uid: str) -> DirectoryUser:
        return next(user for user in self.users if user.uid == uid)

    def password(self, uid: str) -> str:
        return self.user(uid).password

    def settings(self, **changes: object) -> DirectorySettings:
        """Settings that reach this server with the service account; ``changes`` override."""
        values: dict[str, object] = {
            "url": self.url,
            "bind_dn": self.service_dn,
            "bind_password": SecretStr(self.service_password),
            "user_base_dn": self.user_base_dn,
            "group_base_dn": self.group_base_dn,
            "timeout_s": 5,
        }
        values.update(changes)
        return DirectorySettings.model_validate(values)


def _ssha(password: str) -> str:
    """userPassword as {SSHA}, as a real directory stores it (slapd checks it at bind)."""
    salt = os.urandom(8)
    digest = hashlib.sha1(password.encode() + salt).digest()
    return "{SSHA}" + base64.b64encode(digest + salt).decode()


def _user_ldif(user: DirectoryUser) -> str:
    lines = [
        f"dn: {user.dn}",
        "objectClass: inetOrgPerson",
        f"uid: {user.uid}",
        f"cn: {user.uid}",
        f"sn: {user.uid}",
        f"userPassword: {_ssha(user.password)}",
    ]
    if user.mail:
        lines.append(f"mail: {user.mail}")
    return "\n".join(lines)


def _group_ldif(name: str, members: list[str]) -> str:
    # night-shift is a groupOfUniqueNames (uniqueMember), the others groupOfNames (member).
    unique = name == "night-shift"
    kind, attribute = (
        ("groupOfUniqueNames", "uniqueMember") if unique else ("groupOfNames", "member")
    )
    lines = [f"dn: cn={name},{GROUPS_DN}", f"objectClass: {kind}", f"cn: {name}"]
    lines += [f"{attribute}: {member}" for member in members]
    return "\n".join(lines)


def _ldif() -> str:
    entries = [
        f"dn: {BASE_DN}\nobjectClass: dcObject\nobjectClass: organization\ndc: camgate\no: camgate",
        f"dn: {PEOPLE_DN}\nobjectClass: organizationalUnit\nou: people",
        f"dn: {GROUPS_DN}\nobjectClass: organizationalUnit\nou: groups",
        f"dn: {SERVICE_DN}\nobjectClass: organizationalRole\nobjectClass: simpleSecurityObject\n"
        f"cn: camgate-reader\nuserPassword: {_ssha(SERVICE_PASSWORD)}",
        *(_user_ldif(user) for user in USERS),
        f"dn: uid={TWIN_UID},{PEOPLE_DN}\nobjectClass: inetOrgPerson\nuid: {TWIN_UID}\n"
        f"cn: {TWIN_UID}\nsn: one\nuserPassword: {_ssha(TWIN_PASSWORD)}",
        f"dn: cn={TWIN_UID},{PEOPLE_DN}\nobjectClass: inetOrgPerson\nuid: {TWIN_UID}\n"
        f"cn: {TWIN_UID}\nsn: two\nuserPassword: {_ssha(TWIN_PASSWORD)}",
    ]
    for group in GROUPS:
        members = [user.dn for user in USERS if group in user.groups]
        entries.append(_group_ldif(group, members))
    entries.append(
        f"dn: cn={POSIX_GROUP},{GROUPS_DN}\nobjectClass: posixGroup\ncn: {POSIX_GROUP}\n"
        "gidNumber: 5000\nmemberUid: bob"
    )
    return "\n\n".join(entries) + "\n"


@contextlib.contextmanager
def _as_root(directory: SlapdDirectory) -> Iterator[ldap3.Connection]:
    connection = ldap3.Connection(
        ldap3.Server(directory.url), directory.root_dn, directory.root_password, auto_bind=True
    )
    try:
        yield connection
    finally:
        connection.unbind()


def leave_group(directory: SlapdDirectory, uid: str, group: str) -> None:
    """Takes a user out of a groupOfNames, as the directory's administrator would."""
    with _as_root(directory) as connection:
        member = directory.user(uid).dn
        connection.modify(f"cn={group},{GROUPS_DN}", {"member": [(ldap3.MODIFY_DELETE, [member])]})
        assert connection.result["result"] == 0, connection.result


def delete_user(directory: SlapdDirectory, uid: str) -> None:
    """Deletes a user's entry (their groups keep naming them, as LDAP allows)."""
    with _as_root(directory) as connection:
        connection.delete(directory.user(uid).dn)
        assert connection.result["result"] == 0, connection.result


def _slapd_conf(folder: Path, tls: tuple[Path, Path, Path]) -> str:
    ca, cert, key = tls
    includes = "\n".join(f"include {SCHEMA_DIR / name}.schema" for name in SCHEMAS)
    return f"""\
{includes}
modulepath {MODULE_DIR}
moduleload back_mdb
pidfile {folder}/slapd.pid
argsfile {folder}/slapd.args
TLSCACertificateFile {ca}
TLSCertificateFile {cert}
TLSCertificateKeyFile {key}

database mdb
maxsize 16777216
suffix "{BASE_DN}"
rootdn "{ROOT_DN}"
rootpw {ROOT_PASSWORD}
directory {folder}/db

access to attrs=userPassword
    by anonymous auth
    by * none
access to dn.subtree="{GROUPS_DN}"
    by dn.exact="{SERVICE_DN}" read
    by * none
access to *
    by * read
"""


# --- certificates (as camgate.core.tls makes its own: EC P-256, SHA-256) ----------------------


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def make_ca(folder: Path, name: str = "camgate test directory CA") -> tuple[Path, Path]:
    """A self-signed CA: (certificate, key) PEM files in ``folder``."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    folder.mkdir(parents=True, exist_ok=True)
    cert_path, key_path = folder / "ca.crt", folder / "ca.key"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(_key_pem(key))
    key_path.chmod(0o600)
    return cert_path, key_path


def _server_certificate(folder: Path, ca_cert: Path, ca_key: Path) -> tuple[Path, Path]:
    """The server's certificate for 127.0.0.1 and :data:`SERVER_NAME`, signed by the CA."""
    issuer = x509.load_pem_x509_certificate(ca_cert.read_bytes())
    signer = serialization.load_pem_private_key(ca_key.read_bytes(), password=None)
    assert isinstance(signer, ec.EllipticCurvePrivateKey)
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    names: list[x509.GeneralName] = [
        x509.DNSName(SERVER_NAME),
        x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
    ]
    certificate = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, SERVER_NAME)]))
        .issuer_name(issuer.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(signer.public_key()), critical=False
        )
        .sign(signer, hashes.SHA256())
    )
    cert_path, key_path = folder / "server.crt", folder / "server.key"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(_key_pem(key))
    key_path.chmod(0o600)
    return cert_path, key_path


# --- the server --------------------------------------------------------------------------------


def _load(folder: Path, conf: Path) -> None:
    ldif = folder / "data.ldif"
    ldif.write_text(_ldif())
    (folder / "db").mkdir()
    done = subprocess.run(
        [SLAPADD, "-q", "-f", str(conf), "-l", str(ldif)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"slapadd failed: {done.stderr.strip()}")


def _wait_listening(process: subprocess.Popen[bytes], ports: list[int], log: Path) -> None:
    deadline = time.monotonic() + 15
    pending = list(ports)
    while pending:
        if process.poll() is not None:
            raise RuntimeError(f"slapd exited ({process.returncode}): {log.read_text()[-2000:]}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"slapd did not listen in time: {log.read_text()[-2000:]}")
        with socket.socket() as probe:
            probe.settimeout(0.5)
            if probe.connect_ex(("127.0.0.1", pending[0])) == 0:
                pending.pop(0)
                continue
        time.sleep(0.05)


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


@contextlib.contextmanager
def running_slapd(folder: Path | None = None) -> Iterator[SlapdDirectory]:
    """slapd in the foreground on two free loopback ports, stopped (and its files removed, when
    ``folder`` is None) at the end."""
    with contextlib.ExitStack() as stack:
        if folder is None:
            folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="slapd-")))
        folder.mkdir(parents=True, exist_ok=True)
        ca_cert, ca_key = make_ca(folder / "ca")
        cert, key = _server_certificate(folder, ca_cert, ca_key)
        conf = folder / "slapd.conf"
        conf.write_text(_slapd_conf(folder, (ca_cert, cert, key)))
        _load(folder, conf)
        port, tls_port = free_port(), free_port()
        log = folder / "slapd.log"
        urls = f"ldap://127.0.0.1:{port}/ ldaps://127.0.0.1:{tls_port}/"
        with log.open("wb") as out:
            # -d 0: stay in the foreground (no fork), so the process is ours to stop.
            process = subprocess.Popen(
                [SLAPD, "-f", str(conf), "-h", urls, "-d", "0"],
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        stack.callback(_stop, process)
        _wait_listening(process, [port, tls_port], log)
        yield SlapdDirectory(
            url=f"ldap://127.0.0.1:{port}",
            ldaps_url=f"ldaps://127.0.0.1:{tls_port}",
            ca_file=str(ca_cert),
            base_dn=BASE_DN,
            user_base_dn=PEOPLE_DN,
            group_base_dn=GROUPS_DN,
            root_dn=ROOT_DN,
            root_password=ROOT_PASSWORD,
            service_dn=SERVICE_DN,
            service_password=SERVICE_PASSWORD,
            users=USERS,
        )
