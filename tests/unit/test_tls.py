"""The checks of ``camgate cert install``: the key, the names, the dates, and the warning a
month before expiry."""

from __future__ import annotations

import datetime
import ipaddress
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from camgate.core import tls

NOW = datetime.datetime(2026, 12, 1, tzinfo=datetime.UTC)
DAY = datetime.timedelta(days=1)


def key_pem(key: ec.EllipticCurvePrivateKey, password: bytes | None = None) -> bytes:
    encryption = (
        serialization.BestAvailableEncryption(password)
        if password
        else serialization.NoEncryption()
    )
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
    )


def make(
    names: list[str],
    *,
    start: datetime.datetime = NOW - DAY,
    end: datetime.datetime = NOW + 90 * DAY,
) -> tuple[bytes, bytes, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])])
    alternative: list[x509.GeneralName] = []
    for name in names:
        try:
            alternative.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            alternative.append(x509.DNSName(name))
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.SubjectAlternativeName(alternative), critical=False)
        .sign(key, hashes.SHA256())
    )
    return certificate.public_bytes(serialization.Encoding.PEM), key_pem(key), key


def test_a_matching_valid_certificate_for_the_host_passes() -> None:
    cert, key, _ = make(["cams.example.org", "192.0.2.7"])
    info = tls.check_pair(cert, key, "cams.example.org", NOW)
    assert info.names == ("cams.example.org", "192.0.2.7")
    assert tls.check_pair(cert, key, "192.0.2.7", NOW) == info
    assert len(info.fingerprint) == 32 * 3 - 1 and info.self_signed
    assert info.expiry_warning(NOW) is None


@pytest.mark.parametrize(
    ("host", "covered"),
    [
        ("a.example.org", True),
        ("A.Example.org.", True),
        ("b.a.example.org", False),
        ("example.org", False),
    ],
)
def test_a_wildcard_covers_one_label(host: str, covered: bool) -> None:
    cert, key, _ = make(["*.example.org"])
    if covered:
        tls.check_pair(cert, key, host, NOW)
    else:
        with pytest.raises(tls.CertificateProblem, match="does not cover"):
            tls.check_pair(cert, key, host, NOW)


def test_what_is_refused_says_why() -> None:
    cert, key, private = make(["cams.example.org"])
    _other_cert, other_key, _ = make(["cams.example.org"])
    with pytest.raises(tls.CertificateProblem, match="does not belong"):
        tls.check_pair(cert, other_key, "cams.example.org", NOW)
    with pytest.raises(tls.CertificateProblem, match="passphrase"):
        tls.check_pair(cert, key_pem(private, b"secret"), "cams.example.org", NOW)
    with pytest.raises(tls.CertificateProblem, match="not a PEM certificate"):
        tls.check_pair(b"garbage", key, "cams.example.org", NOW)
    expired, expired_key, _ = make(["cams.example.org"], start=NOW - 90 * DAY, end=NOW - DAY)
    with pytest.raises(tls.CertificateProblem, match="expired"):
        tls.check_pair(expired, expired_key, "cams.example.org", NOW)
    future, future_key, _ = make(["cams.example.org"], start=NOW + DAY)
    with pytest.raises(tls.CertificateProblem, match="valid only from"):
        tls.check_pair(future, future_key, "cams.example.org", NOW)


def test_a_warning_starts_thirty_days_before_expiry() -> None:
    cert, _key, _ = make(["cams.example.org"], end=NOW + 29 * DAY)
    info = tls.describe(cert)
    warning = info.expiry_warning(NOW)
    assert warning is not None and "in 29 days" in warning
    assert info.expiry_warning(NOW - 2 * DAY) is None
    assert "expired" in (info.expiry_warning(NOW + 30 * DAY) or "")


def test_install_replaces_the_served_pair(tmp_path: Path) -> None:
    tls.ensure_self_signed(tmp_path)
    cert, key, _ = make(["cams.example.org"])
    cert_path, key_path = tls.install(tmp_path, cert, key)
    assert cert_path.read_bytes() == cert and key_path.read_bytes() == key
    assert key_path.stat().st_mode & 0o777 == 0o600
    assert tls.ensure_self_signed(tmp_path) == (cert_path, key_path)  # kept, not remade
    assert sorted(p.name for p in tmp_path.iterdir()) == ["server.crt", "server.key"]
