"""The data protection keyring: one data key, wrapped by the password and sealed by the server."""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path
from typing import Any

import pytest

from camgate.investigations import protection
from camgate.investigations.protection import KeyringError, WrongPassword

PASSWORD = "correct horse"


class XorSealer:
    """A stand-in for the server's sealer: reversible, and not the identity."""

    def __init__(self, mask: int = 0x5A) -> None:
        self._mask = mask

    def seal(self, secret: bytes) -> str:
        return base64.b64encode(bytes(b ^ self._mask for b in secret)).decode()

    def unseal(self, sealed: str) -> bytes:
        return bytes(b ^ self._mask for b in base64.b64decode(sealed))


SEALER = XorSealer()


def _keyring(folder: Path) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((folder / protection.KEYRING_FILE).read_text())
    return document


def test_create_with_a_password(tmp_path: Path) -> None:
    assert not protection.exists(tmp_path)
    assert protection.state(tmp_path) is None
    key = protection.create(tmp_path, PASSWORD, SEALER)
    assert len(key) == 32
    assert protection.exists(tmp_path)
    assert protection.state(tmp_path) == "password"
    assert protection.data_key(tmp_path, SEALER) == key
    assert protection.unlock(tmp_path, PASSWORD) == key
    stored = (tmp_path / protection.KEYRING_FILE).read_bytes()
    assert key not in stored and base64.b64encode(key) not in stored
    assert (tmp_path / protection.KEYRING_FILE).stat().st_mode & 0o777 == 0o600
    scrypt = _keyring(tmp_path)["password"]
    assert (scrypt["kdf"], scrypt["n"], scrypt["r"], scrypt["p"]) == ("scrypt", 2**15, 8, 1)
    assert [p.name for p in tmp_path.iterdir()] == [protection.KEYRING_FILE]


def test_wrong_password(tmp_path: Path) -> None:
    protection.create(tmp_path, PASSWORD, SEALER)
    with pytest.raises(WrongPassword):
        protection.unlock(tmp_path, "incorrect horse")


def test_protection_off(tmp_path: Path) -> None:
    key = protection.create(tmp_path, None, SEALER)
    assert protection.state(tmp_path) == "off"
    assert _keyring(tmp_path)["protection"] == "off"
    assert "password" not in _keyring(tmp_path)
    assert protection.data_key(tmp_path, SEALER) == key
    with pytest.raises(KeyringError, match="off"):
        protection.unlock(tmp_path, PASSWORD)


def test_a_keyring_is_never_replaced_by_create(tmp_path: Path) -> None:
    key = protection.create(tmp_path, PASSWORD, SEALER)
    with pytest.raises(FileExistsError):
        protection.create(tmp_path, None, SEALER)
    assert protection.data_key(tmp_path, SEALER) == key
    assert [p.name for p in tmp_path.iterdir()] == [protection.KEYRING_FILE]


def test_password_policy(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="at least 8 characters"):
        protection.create(tmp_path, "short", SEALER)
    assert not protection.exists(tmp_path)
    protection.create(tmp_path, PASSWORD, SEALER)
    with pytest.raises(ValueError, match="at least 8 characters"):
        protection.change(tmp_path, PASSWORD, "1234567", SEALER)
    protection.change(tmp_path, PASSWORD, "12345678", SEALER)
    protection.unlock(tmp_path, "12345678")


def test_change_rewraps_the_same_key_and_touches_nothing_else(tmp_path: Path) -> None:
    key = protection.create(tmp_path, PASSWORD, SEALER)
    export = tmp_path / "case-1" / "export.cgx"
    export.parent.mkdir()
    export.write_bytes(os.urandom(1000))
    before = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in [export]}
    old_salt = _keyring(tmp_path)["password"]["salt"]

    protection.change(tmp_path, PASSWORD, "a new password", SEALER)

    assert protection.unlock(tmp_path, "a new password") == key
    assert protection.data_key(tmp_path, SEALER) == key
    assert _keyring(tmp_path)["password"]["salt"] != old_salt
    with pytest.raises(WrongPassword):
        protection.unlock(tmp_path, PASSWORD)
    assert {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in [export]} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["case-1", protection.KEYRING_FILE]
    assert (tmp_path / protection.KEYRING_FILE).stat().st_mode & 0o777 == 0o600


def test_change_needs_the_right_old_password(tmp_path: Path) -> None:
    protection.create(tmp_path, PASSWORD, SEALER)
    before = (tmp_path / protection.KEYRING_FILE).read_bytes()
    with pytest.raises(WrongPassword):
        protection.change(tmp_path, "incorrect horse", "a new password", SEALER)
    with pytest.raises(WrongPassword):
        protection.change(tmp_path, None, None, SEALER)
    assert (tmp_path / protection.KEYRING_FILE).read_bytes() == before


def test_turning_protection_off_and_on_again(tmp_path: Path) -> None:
    key = protection.create(tmp_path, PASSWORD, SEALER)
    protection.change(tmp_path, PASSWORD, None, SEALER)
    assert protection.state(tmp_path) == "off"
    assert protection.data_key(tmp_path, SEALER) == key
    with pytest.raises(KeyringError, match="no old password"):
        protection.change(tmp_path, PASSWORD, PASSWORD, SEALER)

    protection.change(tmp_path, None, "another password", SEALER)
    assert protection.state(tmp_path) == "password"
    assert protection.unlock(tmp_path, "another password") == key


def test_a_damaged_keyring_is_reported(tmp_path: Path) -> None:
    protection.create(tmp_path, PASSWORD, SEALER)
    path = tmp_path / protection.KEYRING_FILE
    document = _keyring(tmp_path)
    document["password"]["n"] = 3
    path.write_text(json.dumps(document))
    with pytest.raises(KeyringError, match="damaged"):
        protection.unlock(tmp_path, PASSWORD)
    path.write_text("{")
    with pytest.raises(KeyringError, match="damaged"):
        protection.state(tmp_path)


def test_a_tampered_wrapped_key_reads_as_a_wrong_password(tmp_path: Path) -> None:
    protection.create(tmp_path, PASSWORD, SEALER)
    path = tmp_path / protection.KEYRING_FILE
    document = _keyring(tmp_path)
    wrapped = bytearray(base64.b64decode(document["password"]["wrapped_key"]))
    wrapped[0] ^= 1
    document["password"]["wrapped_key"] = base64.b64encode(wrapped).decode()
    path.write_text(json.dumps(document))
    with pytest.raises(WrongPassword):
        protection.unlock(tmp_path, PASSWORD)


def test_a_new_server_key_gets_the_data_key_back_with_the_password(tmp_path: Path) -> None:
    key = protection.create(tmp_path, PASSWORD, SEALER)
    new_server = XorSealer(0x33)
    assert protection.data_key(tmp_path, new_server) != key
    protection.change(tmp_path, PASSWORD, PASSWORD, new_server)
    assert protection.data_key(tmp_path, new_server) == key
