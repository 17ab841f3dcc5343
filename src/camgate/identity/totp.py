"""Codes from authenticator apps (RFC 6238 TOTP), beyond the manual's e-mail codes."""

from __future__ import annotations

import base64
import io
import secrets

import segno
from cryptography.hazmat.primitives.hashes import SHA1
from cryptography.hazmat.primitives.twofactor import InvalidToken
from cryptography.hazmat.primitives.twofactor.totp import TOTP

#: What every authenticator app understands: 6 digits, SHA-1, 30-second steps.
DIGITS = 6
STEP_S = 30
#: 160 bits, RFC 4226's recommended length.
SECRET_BYTES = 20
#: A code of the previous or the next step is accepted too (clocks drift, people type slowly).
DRIFT_STEPS = 1


def new_secret() -> str:
    """A random secret in base32, as the user types it when scanning is not possible."""
    return base64.b32encode(secrets.token_bytes(SECRET_BYTES)).decode()


def _totp(secret: str) -> TOTP:
    # SHA-1 is what RFC 6238 and the apps use; here it is an HMAC, where it is still sound.
    return TOTP(base64.b32decode(secret), DIGITS, SHA1(), STEP_S, enforce_key_length=False)


def provisioning_uri(secret: str, account: str, issuer: str) -> str:
    uri: str = _totp(secret).get_provisioning_uri(account, issuer)
    return uri


def qr_svg(uri: str) -> str:
    """The ``otpauth://`` URI as a QR code, an SVG document for an ``<img>``."""
    code = segno.make(uri, error="m")
    out = io.BytesIO()
    # A stand-alone document (with its namespace): an <img> shows nothing without it.
    code.save(out, kind="svg", scale=4, dark="#000", light="#fff", xmldecl=False, nl=False)
    return out.getvalue().decode()


def matching_step(secret: str, code: str, now: float) -> int | None:
    """The time step whose code ``code`` is (within the drift), or None."""
    typed = code.strip().replace(" ", "")
    if len(typed) != DIGITS or not typed.isdigit():
        return None
    totp = _totp(secret)
    step = int(now // STEP_S)
    for candidate in range(step - DRIFT_STEPS, step + DRIFT_STEPS + 1):
        try:
            totp.verify(typed.encode(), candidate * STEP_S)
        except InvalidToken:
            continue
        return candidate
    return None
