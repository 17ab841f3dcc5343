"""Verify a camgate native export: python3 verify.py EXPORT.zip [options]

This file is the export's definition and its stand-alone verifier: camgate copies it into every
native export as ``verify.py``. It needs Python 3.9+ and the ``cryptography`` package, nothing
of camgate.

What an export is (a ZIP, members stored uncompressed):

- ``recordings/<camera>/<file>``: the original recording files, byte for byte, or, when the
  export has a password, each encrypted as ``b"CGXENC1\\0" | salt (16 bytes)`` followed by
  AES-256-GCM chunks of ``chunk_size`` plaintext bytes (the last one shorter, possibly empty),
  each ciphertext + 16-byte tag. The chunk nonce is the chunk's index (11 bytes, big-endian) and
  a final-chunk flag byte; the AAD is the 24-byte header. The file's key is
  HKDF-SHA256(scrypt(password, manifest salt), salt=file salt, info=KEY_INFO + archive name).
- ``manifest.json``: the investigation's information, the cameras and their time ranges, the
  size and SHA-256 of every other member (and of each recording's plaintext when encrypted),
  the encryption parameters, and the signer's Ed25519 public key and fingerprint.
- ``manifest.sig``: the Ed25519 signature of the exact bytes of ``manifest.json``.
- ``README.txt`` and this ``verify.py``, listed in the manifest like the recordings.
- The ZIP comment: ``ARCHIVE_COMMENT_PREFIX`` and the base64 Ed25519 signature of
  ``archive_message(SHA-256(the archive up to its comment, comment length read as 0, with each
  member's stored data replaced by the 32-byte SHA-256 of that data)))``. It covers every byte
  of the ZIP's structure, which the members' hashes do not, without hashing the recordings a
  second time.
"""

from __future__ import annotations

import argparse
import base64
import getpass
import hashlib
import hmac
import json
import os
import sys
import time
import zipfile
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

FORMAT = "camgate-native-export"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
SIGNATURE = "manifest.sig"
VERIFIER = "verify.py"
README = "README.txt"
ARCHIVE_COMMENT_PREFIX = b"camgate archive signature v1: "
ARCHIVE_COMMENT_LENGTH = len(ARCHIVE_COMMENT_PREFIX) + 88  # base64 of 64 bytes
ENCRYPTED_MAGIC = b"CGXENC1\0"
ENCRYPTED_HEADER_BYTES = len(ENCRYPTED_MAGIC) + 16
TAG_BYTES = 16
KEY_INFO = b"camgate native export file\0"
_KEY_CHECK_INFO = b"camgate native export password check"
_EOCD_BYTES = 22
_EOCD_MAGIC = b"PK\x05\x06"
_LOCAL_HEADER_BYTES = 30
_LOCAL_HEADER_MAGIC = b"PK\x03\x04"
_BLOCK = 1 << 20
_MAX_MANIFEST_BYTES = 64 << 20
# What a manifest may ask of scrypt and of memory per chunk: a damaged one must not exhaust us.
_LIMITS = {"n": 1 << 20, "r": 16, "p": 16, "chunk_size": 64 << 20}


class Invalid(Exception):
    """Something in the export does not verify; the message says what."""


def fingerprint(public_key: bytes) -> str:
    """SHA-256 of the raw 32-byte Ed25519 public key, hex, in groups of four: ``ab12:cd34:…``."""
    digest = hashlib.sha256(public_key).hexdigest()
    return ":".join(digest[i : i + 4] for i in range(0, len(digest), 4))


def same_fingerprint(a: str, b: str) -> bool:
    """Fingerprints compared as hex digits, whatever their grouping or case."""

    def digits(text: str) -> str:
        return "".join(c for c in text.lower() if c in "0123456789abcdef")

    return digits(a) == digits(b) and len(digits(a)) == 64


def is_recording_name(name: str) -> bool:
    """``recordings/…/<file>``, with nothing that could lead out of a folder it is extracted to
    (on any system)."""
    parts = name.split("/")
    return (
        len(parts) >= 2
        and parts[0] == "recordings"
        and not any(p in ("", ".", "..") or "\\" in p or ":" in p for p in parts)
    )


def archive_message(digest: bytes) -> bytes:
    return b"camgate native export archive v1\0" + digest


def password_key(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return Scrypt(salt=salt, length=32, n=n, r=r, p=p).derive(password.encode("utf-8"))


def key_check(master: bytes) -> bytes:
    """A value that tells a wrong password from damaged files."""
    return HKDF(hashes.SHA256(), 16, salt=None, info=_KEY_CHECK_INFO).derive(master)


def file_cipher(master: bytes, salt: bytes, name: str) -> AESGCM:
    info = KEY_INFO + name.encode("utf-8")
    return AESGCM(HKDF(hashes.SHA256(), 32, salt=salt, info=info).derive(master))


def chunk_nonce(index: int, final: bool) -> bytes:
    return index.to_bytes(11, "big") + (b"\1" if final else b"\0")


class Decryptor:
    """Decrypts one encrypted recording fed in pieces of any size."""

    def __init__(self, master: bytes, name: str, chunk_size: int) -> None:
        self._master = master
        self._name = name
        self._stored_chunk = chunk_size + TAG_BYTES
        self._pending = bytearray()
        self._header = b""
        self._aead: AESGCM | None = None
        self._index = 0

    def feed(self, data: bytes) -> list[bytes]:
        self._pending += data
        aead = self._aead or self._start()
        plain = []
        # A full chunk is the final one only if nothing follows it.
        while aead is not None and len(self._pending) > self._stored_chunk:
            plain.append(self._open(aead, bytes(self._pending[: self._stored_chunk]), False))
            del self._pending[: self._stored_chunk]
        return plain

    def finish(self) -> bytes:
        aead = self._aead or self._start()
        if aead is None:
            raise Invalid("cut short")
        return self._open(aead, bytes(self._pending), True)

    def _start(self) -> AESGCM | None:
        """The file's cipher, once its header has arrived."""
        if len(self._pending) < ENCRYPTED_HEADER_BYTES:
            return None
        self._header = bytes(self._pending[:ENCRYPTED_HEADER_BYTES])
        if not self._header.startswith(ENCRYPTED_MAGIC):
            raise Invalid("not an encrypted recording")
        salt = self._header[len(ENCRYPTED_MAGIC) :]
        self._aead = file_cipher(self._master, salt, self._name)
        del self._pending[:ENCRYPTED_HEADER_BYTES]
        return self._aead

    def _open(self, aead: AESGCM, sealed: bytes, final: bool) -> bytes:
        try:
            plain = aead.decrypt(chunk_nonce(self._index, final), sealed, self._header)
        except InvalidTag:
            raise Invalid(f"chunk {self._index} does not decrypt") from None
        self._index += 1
        return plain


@dataclass
class Camera:
    id: str
    name: str
    start: float
    end: float


@dataclass
class FileCheck:
    name: str
    ok: bool
    detail: str


@dataclass
class Report:
    path: str
    #: The signer's key fingerprint (None when the manifest could not be read).
    fingerprint: str | None = None
    #: Whether it is the expected one; None when none was given.
    fingerprint_matches: bool | None = None
    encrypted: bool = False
    #: Whether the recordings were decrypted and their plaintext checked.
    decrypted: bool = False
    info: dict[str, Any] = field(default_factory=dict)
    cameras: list[Camera] = field(default_factory=list)
    files: list[FileCheck] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors and all(f.ok for f in self.files)


@dataclass
class _Entry:
    name: str
    size: int
    sha256: str
    recording: bool
    plaintext_size: int | None = None
    plaintext_sha256: str | None = None


@dataclass
class _Encryption:
    salt: bytes
    n: int
    r: int
    p: int
    chunk_size: int
    key_check: bytes


@dataclass
class _Manifest:
    public_key: bytes
    stated_fingerprint: str
    info: dict[str, Any]
    cameras: list[Camera]
    entries: list[_Entry]
    encryption: _Encryption | None


def verify(
    path: Path,
    *,
    password: str | None = None,
    fingerprint: str | None = None,
    extract_to: Path | None = None,
) -> Report:
    """Check everything about an export; a damaged one gives a report with errors, never an
    exception."""
    report = Report(str(path))
    try:
        archive = zipfile.ZipFile(path)
    except Exception as error:  # zipfile raises many kinds on a damaged archive
        report.errors.append(f"the archive is damaged or not a ZIP file: {error}")
        return report
    with archive:
        try:
            manifest = _read_manifest(archive, report, fingerprint)
        except Invalid as error:
            report.errors.append(str(error))
            return report
        try:
            _check_archive_signature(path, manifest.public_key, archive.infolist())
        except (Invalid, OSError) as error:
            report.errors.append(str(error))
        _check_members(archive, manifest, report)
        master = _unlock(manifest, password, report)
        if extract_to is not None and manifest.encryption is not None and master is None:
            report.errors.append("the recordings are encrypted: extracting needs the password")
            extract_to = None
        for entry in manifest.entries:
            report.files.append(_check_entry(archive, entry, manifest, master, extract_to))
        report.decrypted = master is not None
    return report


def _read_manifest(
    archive: zipfile.ZipFile, report: Report, expected_fingerprint: str | None
) -> _Manifest:
    raw = _read_small(archive, MANIFEST)
    signature = _read_small(archive, SIGNATURE)
    try:
        manifest = _parse_manifest(json.loads(raw.decode("utf-8")))
    except (ValueError, KeyError, TypeError) as error:
        raise Invalid(f"{MANIFEST} is damaged: {error!r}") from None
    report.fingerprint = fingerprint(manifest.public_key)
    report.info, report.cameras = manifest.info, manifest.cameras
    report.encrypted = manifest.encryption is not None
    if expected_fingerprint is not None:
        report.fingerprint_matches = same_fingerprint(report.fingerprint, expected_fingerprint)
        if not report.fingerprint_matches:
            report.errors.append(
                f"signed by key {report.fingerprint}, not the expected {expected_fingerprint}"
            )
    if not same_fingerprint(manifest.stated_fingerprint, report.fingerprint):
        report.errors.append(f"{MANIFEST} states a fingerprint that is not its key's")
    try:
        Ed25519PublicKey.from_public_bytes(manifest.public_key).verify(signature, raw)
    except (InvalidSignature, ValueError):
        report.errors.append(f"{SIGNATURE} does not match {MANIFEST}: the manifest was changed")
    return manifest


def _read_small(archive: zipfile.ZipFile, name: str) -> bytes:
    try:
        info = archive.getinfo(name)
    except KeyError:
        raise Invalid(f"{name} is missing: not a camgate native export") from None
    if info.file_size > _MAX_MANIFEST_BYTES:
        raise Invalid(f"{name} is too large")
    try:
        return archive.read(info)
    except Exception as error:  # zipfile raises many kinds on a damaged member
        raise Invalid(f"{name} is damaged: {error}") from None


def _parse_manifest(document: Any) -> _Manifest:
    if document["format"] != FORMAT or document["version"] != FORMAT_VERSION:
        raise ValueError(f"not a {FORMAT} version {FORMAT_VERSION} manifest")
    signer = document["signer"]
    if signer["algorithm"] != "Ed25519":
        raise ValueError("unknown signature algorithm")
    encryption = document["encryption"]
    entries = [_entry(item, recording=False, encrypted=False) for item in document["support"]]
    encrypted = encryption is not None
    entries += [_entry(item, recording=True, encrypted=encrypted) for item in document["files"]]
    cameras = [
        Camera(_text(c["id"]), _text(c["name"]), _number(c["start"]), _number(c["end"]))
        for c in document["cameras"]
    ]
    info = document["info"]
    if not isinstance(info, dict):
        raise TypeError("info is not an object")
    return _Manifest(
        public_key=_unb64(signer["public_key"]),
        stated_fingerprint=_text(signer["fingerprint"]),
        info=info,
        cameras=cameras,
        entries=entries,
        encryption=None if encryption is None else _parse_encryption(encryption),
    )


def _entry(item: Any, *, recording: bool, encrypted: bool) -> _Entry:
    entry = _Entry(_text(item["name"]), _count(item["size"]), _text(item["sha256"]), recording)
    if encrypted:
        entry.plaintext_size = _count(item["plaintext_size"])
        entry.plaintext_sha256 = _text(item["plaintext_sha256"])
    return entry


def _parse_encryption(item: Any) -> _Encryption:
    if item["cipher"] != "AES-256-GCM" or item["kdf"] != "scrypt":
        raise ValueError("unknown cipher or key derivation")
    n, r, p, chunk = (_count(item[k], limit) for k, limit in _LIMITS.items())
    if n < 2 or n & (n - 1) or chunk < 1:
        raise ValueError("bad encryption parameters")
    return _Encryption(_unb64(item["salt"]), n, r, p, chunk, _unb64(item["key_check"]))


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{value!r} is not text")
    return value


def _number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{value!r} is not a number")
    return float(value)


def _count(value: Any, limit: int = 1 << 62) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= limit:
        raise ValueError(f"{value!r} is not a count up to {limit}")
    return value


def _unb64(value: Any) -> bytes:
    return base64.b64decode(_text(value), validate=True)


def _check_archive_signature(path: Path, public_key: bytes, members: list[zipfile.ZipInfo]) -> None:
    """The signature in the ZIP comment, over every byte before it (each member's data
    counted as its SHA-256)."""
    with open(path, "rb") as archive:
        size = archive.seek(0, os.SEEK_END)
        tail = _EOCD_BYTES + ARCHIVE_COMMENT_LENGTH
        archive.seek(max(size - tail, 0))
        end = archive.read(tail)
        length = ARCHIVE_COMMENT_LENGTH.to_bytes(2, "little")
        comment = end[_EOCD_BYTES:]
        if not (end.startswith(_EOCD_MAGIC) and end[20:22] == length):
            raise Invalid("the archive signature is missing: the end of the archive was changed")
        if not comment.startswith(ARCHIVE_COMMENT_PREFIX):
            raise Invalid("the archive signature is missing: the ZIP comment was changed")
        digest = hashlib.sha256()
        position = 0
        archive.seek(0)
        for start, length_ in _data_regions(archive, members):
            if start < position:
                raise Invalid("the archive's members overlap: the archive was changed")
            _copy(archive, start - position, digest.update)
            data = hashlib.sha256()
            _copy(archive, length_, data.update)
            digest.update(data.digest())
            position = start + length_
        _copy(archive, size - ARCHIVE_COMMENT_LENGTH - 2 - position, digest.update)
        digest.update(b"\0\0")
    try:
        signature = base64.b64decode(comment[len(ARCHIVE_COMMENT_PREFIX) :], validate=True)
        key = Ed25519PublicKey.from_public_bytes(public_key)
        key.verify(signature, archive_message(digest.digest()))
    except (InvalidSignature, ValueError):
        raise Invalid("the archive signature does not match: the archive was changed") from None


def _data_regions(archive: IO[bytes], members: list[zipfile.ZipInfo]) -> list[tuple[int, int]]:
    """Where each member's stored data lies: after its local header (30 bytes, its name and
    its extra field), for its compressed size; in the order of the archive."""
    regions = []
    for member in members:
        archive.seek(member.header_offset)
        header = archive.read(_LOCAL_HEADER_BYTES)
        if len(header) != _LOCAL_HEADER_BYTES or not header.startswith(_LOCAL_HEADER_MAGIC):
            raise Invalid(f"{member.filename}: its local header is damaged")
        name_length = int.from_bytes(header[26:28], "little")
        extra_length = int.from_bytes(header[28:30], "little")
        start = member.header_offset + _LOCAL_HEADER_BYTES + name_length + extra_length
        regions.append((start, member.compress_size))
    archive.seek(0)
    return sorted(regions)


def _copy(source: IO[bytes], count: int, sink: Callable[[bytes], object]) -> None:
    while count > 0:
        block = source.read(min(count, _BLOCK))
        if not block:
            raise Invalid("the archive is cut short")
        sink(block)
        count -= len(block)


def _check_members(archive: zipfile.ZipFile, manifest: _Manifest, report: Report) -> None:
    """No member twice, none that the manifest does not list."""
    names = Counter(info.filename for info in archive.infolist())
    listed = {entry.name for entry in manifest.entries} | {MANIFEST, SIGNATURE}
    for name, count in sorted(names.items()):
        if count > 1:
            report.errors.append(f"{name} appears {count} times in the archive")
        if name not in listed:
            report.errors.append(f"{name} is in the archive but not in the manifest")


def _unlock(manifest: _Manifest, password: str | None, report: Report) -> bytes | None:
    e = manifest.encryption
    if e is None or password is None:
        return None
    master = password_key(password, e.salt, e.n, e.r, e.p)
    if not hmac.compare_digest(key_check(master), e.key_check):
        report.errors.append("wrong password: the recordings cannot be decrypted with it")
        return None
    return master


def _check_entry(
    archive: zipfile.ZipFile,
    entry: _Entry,
    manifest: _Manifest,
    master: bytes | None,
    extract_to: Path | None,
) -> FileCheck:
    try:
        info = archive.getinfo(entry.name)
    except KeyError:
        return FileCheck(entry.name, False, "missing from the archive")
    if info.file_size != entry.size:
        return FileCheck(entry.name, False, f"{info.file_size} bytes, expected {entry.size}")
    decryptor = None
    if manifest.encryption is not None and master is not None and entry.recording:
        decryptor = Decryptor(master, entry.name, manifest.encryption.chunk_size)
    try:
        if extract_to is None or not entry.recording:
            _check_content(archive, info, entry, decryptor, lambda piece: None)
            return FileCheck(entry.name, True, _ok_detail(entry, decryptor is not None))
        target = _extract_target(extract_to, entry.name)
        _extract(archive, info, entry, decryptor, target)
        detail = _ok_detail(entry, decryptor is not None)
        return FileCheck(entry.name, True, f"{detail}, extracted to {target}")
    except Invalid as error:
        return FileCheck(entry.name, False, str(error))
    except Exception as error:  # zipfile raises many kinds on a damaged member
        return FileCheck(entry.name, False, f"damaged or unreadable: {error!r}")


def _extract(
    archive: zipfile.ZipFile,
    info: zipfile.ZipInfo,
    entry: _Entry,
    decryptor: Decryptor | None,
    target: Path,
) -> None:
    """Write the recording (decrypted) to ``target`` only if it verifies."""
    partial = target.with_name(target.name + ".partial")
    partial.parent.mkdir(parents=True, exist_ok=True)
    try:
        with open(partial, "wb") as out:
            _check_content(archive, info, entry, decryptor, out.write)
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)


def _check_content(
    archive: zipfile.ZipFile,
    info: zipfile.ZipInfo,
    entry: _Entry,
    decryptor: Decryptor | None,
    sink: Callable[[bytes], object],
) -> None:
    """Compare a member with the manifest, passing its (decrypted) content to ``sink``."""
    stored, plain, plain_size = hashlib.sha256(), hashlib.sha256(), 0
    with archive.open(info) as member:
        while block := member.read(_BLOCK):
            stored.update(block)
            for piece in [block] if decryptor is None else decryptor.feed(block):
                plain.update(piece)
                plain_size += len(piece)
                sink(piece)
    if stored.hexdigest() != entry.sha256.lower():
        raise Invalid("its SHA-256 is not the manifest's: the file was changed")
    if decryptor is None:
        return
    piece = decryptor.finish()
    plain.update(piece)
    sink(piece)
    if (
        plain_size + len(piece) != entry.plaintext_size
        or plain.hexdigest() != str(entry.plaintext_sha256).lower()
    ):
        raise Invalid("its decrypted content is not the one the manifest lists")


def _ok_detail(entry: _Entry, decrypted: bool) -> str:
    if not entry.recording or entry.plaintext_sha256 is None:
        return "intact"
    if decrypted:
        return "intact, decrypted and checked"
    return "intact (encrypted: give the password to check the recording itself)"


def _extract_target(root: Path, name: str) -> Path:
    if not is_recording_name(name):
        raise Invalid(f"{name!r} is not a safe name to extract")
    return root.joinpath(*name.split("/"))


def main(argv: list[str]) -> int:
    """Print a report; exit status 0 when everything verifies, 1 otherwise."""
    parser = argparse.ArgumentParser(
        prog="verify.py", description="Verify a camgate native export (signature, every file)."
    )
    parser.add_argument("export", type=Path, help="the export's .zip file")
    secret = parser.add_mutually_exclusive_group()
    secret.add_argument("--password-file", type=Path, help="a file holding the export password")
    secret.add_argument("--password", action="store_true", help="ask for the export password")
    parser.add_argument(
        "--fingerprint", help="the signing key fingerprint the export must have been signed with"
    )
    parser.add_argument("--extract", type=Path, help="write the verified recordings here")
    args = parser.parse_args(argv)
    password = None
    if args.password_file is not None:
        password = args.password_file.read_text(encoding="utf-8").rstrip("\r\n")
    elif args.password:
        password = getpass.getpass("Export password: ")
    report = verify(
        args.export, password=password, fingerprint=args.fingerprint, extract_to=args.extract
    )
    sys.stdout.write(describe(report))
    return 0 if report.ok else 1


def describe(report: Report) -> str:
    """The report as text for a person."""
    lines = [f"camgate native export: {report.path}"]
    if report.fingerprint is not None:
        lines.append(f"Signed by key: {report.fingerprint} ({_fingerprint_note(report)})")
    if report.info:
        lines.append("Export:")
        lines += [f"  {key}: {_show(value)}" for key, value in report.info.items()]
    if report.cameras:
        lines.append("Cameras:")
        lines += [
            f"  {c.name} ({c.id}): {_time(c.start)} to {_time(c.end)}" for c in report.cameras
        ]
    if report.files:
        lines.append("Files:")
        lines += [f"  {'ok ' if f.ok else 'BAD'}  {f.name}: {f.detail}" for f in report.files]
    if report.errors:
        lines.append("Errors:")
        lines += [f"  - {error}" for error in report.errors]
    lines.append("Result: " + ("VERIFIED" if report.ok else "NOT VERIFIED"))
    return "\n".join(lines) + "\n"


def _fingerprint_note(report: Report) -> str:
    if report.fingerprint_matches is None:
        return "not compared: pass --fingerprint to check who signed it"
    return "the expected key" if report.fingerprint_matches else "NOT the expected key"


def _show(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _time(seconds: float) -> str:
    try:
        return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(seconds))
    except (OverflowError, OSError, ValueError):
        return repr(seconds)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
