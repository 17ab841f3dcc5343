"""The data protection password: envelope encryption of an investigations folder's data key.

The folder's ``keyring.json`` holds one random 256-bit data key, which encrypts every export
file (:mod:`camgate.investigations.sealed`). The keyring keeps it twice:

- sealed by the server (a :class:`Sealer` the caller passes), so the server works unattended;
- wrapped with AES-256-GCM under a key derived from the data protection password by scrypt, so
  that whoever knows the password can recover the data with the folder alone. With protection
  ``"off"`` (the administrator's explicit choice) this copy is absent.

Changing the password re-wraps the same data key: milliseconds, whatever the folder holds.
"""

from __future__ import annotations

import base64
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

KEYRING_FILE = "keyring.json"
MIN_PASSWORD_LENGTH = 8
DATA_KEY_BYTES = 32
_VERSION = 1
_SCRYPT_N, _SCRYPT_R, _SCRYPT_P = 2**15, 8, 1
# Bounds on what a keyring may ask of scrypt (memory is 128 * n * r bytes, n a power of two).
_SCRYPT_BOUNDS = (("n", 2**20), ("r", 16), ("p", 16))
_SALT_BYTES = 16
_NONCE_BYTES = 12
_WRAP_AAD = b"camgate keyring v1: data key"

Protection = Literal["password", "off"]


class Sealer(Protocol):
    """Seals the data key for the server's unattended use (with a key of the server's own)."""

    def seal(self, secret: bytes) -> str: ...

    def unseal(self, sealed: str) -> bytes: ...


class KeyringError(ValueError):
    """The keyring cannot be used as asked: damaged, no password to unlock it with, or a new
    password that the policy refuses."""


class WrongPassword(KeyringError):
    """The data protection password is not the one the keyring was wrapped with."""


@dataclass(frozen=True, slots=True)
class _Wrapped:
    """The data key wrapped under the password's key, and how to derive that key again."""

    n: int
    r: int
    p: int
    salt: bytes
    nonce: bytes
    ciphertext: bytes


@dataclass(frozen=True, slots=True)
class _Keyring:
    server: str
    wrapped: _Wrapped | None


def check_password(password: str) -> None:
    """Raise KeyringError (a ValueError) unless ``password`` passes the policy."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise KeyringError(
            f"the data protection password must be at least {MIN_PASSWORD_LENGTH} characters long"
        )


def exists(folder: Path) -> bool:
    return (folder / KEYRING_FILE).exists()


def state(folder: Path) -> Protection | None:
    """``"password"``, ``"off"``, or None when the folder has no keyring yet."""
    if not exists(folder):
        return None
    return "off" if _read(folder).wrapped is None else "password"


def create(folder: Path, password: str | None, sealer: Sealer) -> bytes:
    """Create the folder's keyring with a new data key and return it; ``None``: protection off.

    Raises FileExistsError if the folder has a keyring: replacing it would lose the data key.
    """
    if password is not None:
        check_password(password)
    key = os.urandom(DATA_KEY_BYTES)
    folder.mkdir(parents=True, exist_ok=True)
    keyring = _Keyring(sealer.seal(key), None if password is None else _wrap(key, password))
    _write(folder, keyring, replace=False)
    return key


def data_key(folder: Path, sealer: Sealer) -> bytes:
    """The data key, unsealed by the server (no password needed)."""
    key = sealer.unseal(_read(folder).server)
    if len(key) != DATA_KEY_BYTES:
        raise KeyringError(f"{folder / KEYRING_FILE}: the server's copy of the data key is damaged")
    return key


def unlock(folder: Path, password: str) -> bytes:
    """The data key, unwrapped with the password: proves it, and recovers the data without
    the server's key. Raises WrongPassword."""
    wrapped = _read(folder).wrapped
    if wrapped is None:
        raise KeyringError("data protection is off: there is no password to unlock with")
    return _unwrap(wrapped, password)


def change(
    folder: Path, old_password: str | None, new_password: str | None, sealer: Sealer
) -> None:
    """Set a new password (``None``: protection off) for the same data key.

    With a password set, ``old_password`` must be it (WrongPassword otherwise); with protection
    off, ``old_password`` must be None. The server's copy is sealed again with ``sealer``: on a
    server with a new key of its own, ``change(folder, password, password, sealer)`` restores
    unattended use.
    """
    if new_password is not None:
        check_password(new_password)
    keyring = _read(folder)
    if keyring.wrapped is None:
        if old_password is not None:
            raise KeyringError("data protection is off: there is no old password")
        key = data_key(folder, sealer)
    elif old_password is None:
        raise WrongPassword("the current data protection password is required")
    else:
        key = _unwrap(keyring.wrapped, old_password)
    wrapped = None if new_password is None else _wrap(key, new_password)
    _write(folder, _Keyring(sealer.seal(key), wrapped), replace=True)


def _derive(password: str, n: int, r: int, p: int, salt: bytes) -> AESGCM:
    return AESGCM(Scrypt(salt=salt, length=32, n=n, r=r, p=p).derive(password.encode()))


def _wrap(key: bytes, password: str) -> _Wrapped:
    salt, nonce = os.urandom(_SALT_BYTES), os.urandom(_NONCE_BYTES)
    aead = _derive(password, _SCRYPT_N, _SCRYPT_R, _SCRYPT_P, salt)
    return _Wrapped(
        _SCRYPT_N, _SCRYPT_R, _SCRYPT_P, salt, nonce, aead.encrypt(nonce, key, _WRAP_AAD)
    )


def _unwrap(wrapped: _Wrapped, password: str) -> bytes:
    aead = _derive(password, wrapped.n, wrapped.r, wrapped.p, wrapped.salt)
    try:
        return aead.decrypt(wrapped.nonce, wrapped.ciphertext, _WRAP_AAD)
    except InvalidTag:
        raise WrongPassword("wrong data protection password") from None


def _encode(keyring: _Keyring) -> bytes:
    document: dict[str, object] = {
        "version": _VERSION,
        "protection": "off" if keyring.wrapped is None else "password",
        "server": keyring.server,
    }
    if keyring.wrapped is not None:
        w = keyring.wrapped
        document["password"] = {
            "kdf": "scrypt",
            "n": w.n,
            "r": w.r,
            "p": w.p,
            "salt": _b64(w.salt),
            "cipher": "AES-256-GCM",
            "nonce": _b64(w.nonce),
            "wrapped_key": _b64(w.ciphertext),
        }
    return json.dumps(document, indent=2).encode() + b"\n"


def _read(folder: Path) -> _Keyring:
    path = folder / KEYRING_FILE
    try:
        document = json.loads(path.read_bytes())
        if document["version"] != _VERSION:
            raise ValueError(f"unsupported version {document['version']!r}")
        server = document["server"]
        if not isinstance(server, str):
            raise TypeError("server")
        if document["protection"] == "off":
            return _Keyring(server, None)
        if document["protection"] != "password":
            raise ValueError("protection")
        return _Keyring(server, _parse_wrapped(document["password"]))
    except (KeyError, TypeError, ValueError) as error:
        raise KeyringError(f"{path}: damaged keyring ({error})") from None


def _parse_wrapped(entry: dict[str, object]) -> _Wrapped:
    if entry["kdf"] != "scrypt" or entry["cipher"] != "AES-256-GCM":
        raise ValueError("unknown kdf or cipher")
    n, r, p = (_bounded(entry[name], bound) for name, bound in _SCRYPT_BOUNDS)
    if n < 2 or n & (n - 1):
        raise ValueError("scrypt n must be a power of two")
    return _Wrapped(
        n, r, p, _unb64(entry["salt"]), _unb64(entry["nonce"]), _unb64(entry["wrapped_key"])
    )


def _bounded(value: object, bound: int) -> int:
    if not isinstance(value, int) or not 1 <= value <= bound:
        raise ValueError(f"scrypt parameter {value!r} out of range")
    return value


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def _unb64(value: object) -> bytes:
    if not isinstance(value, str):
        raise TypeError("expected base64 text")
    return base64.b64decode(value, validate=True)


def _write(folder: Path, keyring: _Keyring, *, replace: bool) -> None:
    """Write the keyring crash-safely: a 0600 temporary file, fsync, rename, fsync the folder.

    A first keyring is linked into place, never replacing one a concurrent caller made.
    """
    path = folder / KEYRING_FILE
    fd, temporary = tempfile.mkstemp(dir=folder, prefix=".keyring-", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(_encode(keyring))
            out.flush()
            os.fsync(out.fileno())
        if replace:
            os.replace(temporary, path)
        else:
            os.link(temporary, path)
    finally:
        Path(temporary).unlink(missing_ok=True)
    _fsync_dir(folder)


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
