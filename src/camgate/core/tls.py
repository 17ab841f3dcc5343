"""HTTPS certificates: the self-signed one made on first start (HTTPS works before a real one is
installed), and the checks, installation and description of a real one (``camgate cert``)."""

from __future__ import annotations

import datetime
import hashlib
import ipaddress
import os
import socket
import tempfile
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

VALID_DAYS = 825  # the longest validity that Apple's clients accept
#: How long before its expiry camgate starts warning about a certificate.
WARN_DAYS = 30
CERT_FILE = "server.crt"
KEY_FILE = "server.key"


class CertificateProblem(ValueError):
    """A certificate that may not be installed; the message says why."""


@dataclass(frozen=True, slots=True)
class CertificateInfo:
    subject: str
    issuer: str
    #: DNS names and IP addresses it covers.
    names: tuple[str, ...]
    not_before: datetime.datetime
    not_after: datetime.datetime
    #: SHA-256 of the DER certificate, hex in colon-separated pairs (as browsers show it).
    fingerprint: str

    @property
    def self_signed(self) -> bool:
        return self.subject == self.issuer

    def days_left(self, now: datetime.datetime) -> float:
        return (self.not_after - now).total_seconds() / 86400

    def expiry_warning(self, now: datetime.datetime) -> str | None:
        """A warning once the certificate expires within :data:`WARN_DAYS` (or has expired)."""
        days = self.days_left(now)
        if days < 0:
            return f"the HTTPS certificate expired on {self.not_after:%Y-%m-%d}"
        if days < WARN_DAYS:
            return (
                f"the HTTPS certificate expires on {self.not_after:%Y-%m-%d}, in {days:.0f} "
                "days: install a new one with 'camgate cert install'"
            )
        return None

    def covers(self, host: str) -> bool:
        """Whether a client reaching the server as ``host`` accepts the certificate's names
        (a wildcard covers one label, as RFC 6125 says)."""
        host = host.lower().rstrip(".")
        for name in self.names:
            name = name.lower()
            if name == host:
                return True
            if name.startswith("*.") and "." in host and host.split(".", 1)[1] == name[2:]:
                return True
        return False


def describe(pem: bytes) -> CertificateInfo:
    """The first certificate of a PEM file (the server's; a chain may follow it)."""
    try:
        certificate = x509.load_pem_x509_certificates(pem)[0]
    except (ValueError, IndexError) as error:
        raise CertificateProblem("not a PEM certificate") from error
    try:
        alternative = certificate.extensions.get_extension_for_class(
            x509.SubjectAlternativeName
        ).value
        names = [*alternative.get_values_for_type(x509.DNSName)]
        names += [str(ip) for ip in alternative.get_values_for_type(x509.IPAddress)]
    except x509.ExtensionNotFound:
        names = []
    digest = hashlib.sha256(certificate.public_bytes(serialization.Encoding.DER)).hexdigest()
    return CertificateInfo(
        subject=certificate.subject.rfc4514_string(),
        issuer=certificate.issuer.rfc4514_string(),
        names=tuple(names),
        not_before=certificate.not_valid_before_utc,
        not_after=certificate.not_valid_after_utc,
        fingerprint=":".join(digest[i : i + 2] for i in range(0, len(digest), 2)).upper(),
    )


def check_pair(
    cert_pem: bytes, key_pem: bytes, host: str, now: datetime.datetime
) -> CertificateInfo:
    """The certificate, if it may serve HTTPS as ``host``: it matches the key, covers the
    host name and is valid now. Raises :class:`CertificateProblem` with the reason."""
    info = describe(cert_pem)
    try:
        key = serialization.load_pem_private_key(key_pem, password=None)
    except (ValueError, TypeError) as error:
        raise CertificateProblem(
            "the key is not an unencrypted PEM private key (remove its passphrase first)"
        ) from error
    certificate = x509.load_pem_x509_certificates(cert_pem)[0]
    public = serialization.PublicFormat.SubjectPublicKeyInfo
    der = serialization.Encoding.DER
    if key.public_key().public_bytes(der, public) != certificate.public_key().public_bytes(
        der, public
    ):
        raise CertificateProblem("the key does not belong to the certificate")
    if now < info.not_before:
        raise CertificateProblem(f"the certificate is valid only from {info.not_before:%Y-%m-%d}")
    if now >= info.not_after:
        raise CertificateProblem(f"the certificate expired on {info.not_after:%Y-%m-%d}")
    if not info.covers(host):
        covered = ", ".join(info.names) or "no names"
        raise CertificateProblem(f"the certificate does not cover {host!r} (it covers: {covered})")
    return info


def install(folder: Path, cert_pem: bytes, key_pem: bytes) -> tuple[Path, Path]:
    """Replaces the served certificate and key (each written whole, then renamed)."""
    folder.mkdir(parents=True, exist_ok=True)
    cert_path, key_path = folder / CERT_FILE, folder / KEY_FILE
    _replace(key_path, key_pem, 0o600)
    _replace(cert_path, cert_pem, 0o644)
    return cert_path, key_path


def _replace(path: Path, data: bytes, mode: int) -> None:
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}-")
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _names() -> list[x509.GeneralName]:
    host = socket.gethostname()
    names: list[x509.GeneralName] = [x509.DNSName("localhost")]
    if host and host != "localhost":
        names.append(x509.DNSName(host))
    names += [
        x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
        x509.IPAddress(ipaddress.ip_address("::1")),
    ]
    return names


def ensure_self_signed(folder: Path) -> tuple[Path, Path]:
    """The (certificate, key) paths in ``folder``, made first if missing."""
    cert_path, key_path = folder / CERT_FILE, folder / KEY_FILE
    if cert_path.exists() and key_path.exists():
        return cert_path, key_path
    folder.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name(
        [x509.NameAttribute(NameOID.COMMON_NAME, socket.gethostname() or "camgate")]
    )
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=VALID_DAYS))
        .add_extension(x509.SubjectAlternativeName(_names()), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    return cert_path, key_path
