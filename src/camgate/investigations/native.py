"""The native export: an investigation's original recording files in a signed ZIP that carries
its own verifier (:mod:`camgate.investigations.verifier`, which defines the format)."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import queue
import struct
import threading
import time
import zipfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import BinaryIO, Protocol

from camgate.investigations import verifier as fmt

#: Bytes read from a recording at a time; also the encrypted chunk size.
CHUNK_SIZE = 1 << 20
_SCRYPT_N, _SCRYPT_R, _SCRYPT_P = 2**15, 8, 1
_SALT_BYTES = 16
_FILE_MODE = 0o644 << 16  # what unzip gives the extracted files

README_TEXT = f"""\
camgate investigation export (native format)

recordings/   the original recording files of the investigation's cameras, unchanged
              (encrypted when the export was made with a password): video segments (.mp4)
              and, when the export included audio, the sound recorded with each (.audio)
{fmt.MANIFEST} the cameras, time ranges, and the size and SHA-256 of every file
{fmt.SIGNATURE}  the manifest's Ed25519 signature by the camgate server that made the export
{fmt.VERIFIER}     checks all of it; the ZIP comment signs the whole archive

To verify (needs Python 3.9+ and the "cryptography" package, 3.1+: pip install cryptography):

    python3 {fmt.VERIFIER} THIS.zip [--password-file F | --password] [--fingerprint FP]

--fingerprint FP   the signing key's fingerprint, as the server's administrator gives it to
                   you by a channel you trust: without it, the verifier proves that the export
                   is intact, not who made it.
--password-file F  the export password (or --password to type it), when the recordings are
                   encrypted: checks them and, with --extract DIR, writes them decrypted.

The exit status is 0 when everything verifies, 1 otherwise. A verify.py taken from an archive
that someone else could have changed may itself be changed: for evidence, use a copy of the
verifier from a source you trust.
"""


#: Chunks read ahead of the writing (1 MiB each).
AHEAD_CHUNKS = 4


class NativeCancelled(Exception):
    """The export was cancelled while it was written."""


class Signer(Protocol):
    @property
    def public_key_bytes(self) -> bytes: ...

    def sign(self, message: bytes) -> bytes: ...


@dataclass(frozen=True, slots=True)
class NativeFile:
    """A recording file to export whole, and what the manifest says of it."""

    source: Path
    #: ``recordings/<camera>/<file name>``
    archive_name: str
    camera_id: str
    camera_name: str
    #: Wall-clock seconds of the file's first and last moments.
    start: float
    end: float
    #: Copy only this many bytes (a segment still being written: what is written of it).
    size: int | None = None
    #: Where the file is once renamed (a segment closed while the export waited).
    renamed: Path | None = None

    def open(self) -> BinaryIO:
        try:
            return self.source.open("rb")
        except FileNotFoundError:
            if self.renamed is None:
                raise
            return self.renamed.open("rb")

    def length(self) -> int:
        with self.open() as source:
            size = os.fstat(source.fileno()).st_size
        return size if self.size is None else min(size, self.size)


def write_native(
    out: BinaryIO,
    *,
    files: Sequence[NativeFile],
    info: dict[str, object],
    signer: Signer,
    password: str | None,
    progress: Callable[[float], None],
    cancelled: Callable[[], bool],
    clock: Callable[[], float] = time.time,
) -> None:
    """Write the export of ``files`` to ``out`` (an empty file that can seek back);
    ``password`` encrypts the recordings.

    ``progress`` gets the fraction of the recordings' bytes copied; NativeCancelled is raised
    when ``cancelled()`` turns true (``out`` then holds a partial archive to delete).
    """
    _check_names(files)
    created = clock()
    encryption = None if password is None else _Encryption.new(password)
    copying = _Copying(sum(f.length() for f in files), progress, cancelled)
    verifier_source = resources.files(__package__).joinpath("verifier.py").read_bytes()
    stream = _ArchiveStream(out)
    with zipfile.ZipFile(stream, "w", compression=zipfile.ZIP_STORED) as archive:
        support = [
            _add_bytes(archive, stream, fmt.README, README_TEXT.encode(), created),
            _add_bytes(archive, stream, fmt.VERIFIER, verifier_source, created),
        ]
        entries = [_add_recording(archive, stream, f, encryption, created, copying) for f in files]
        manifest = _manifest(created, info, files, entries, support, encryption, signer)
        _add_bytes(archive, stream, fmt.MANIFEST, manifest, created)
        _add_bytes(archive, stream, fmt.SIGNATURE, signer.sign(manifest), created)
    _sign_archive(out, stream, signer)
    progress(1.0)


class _ArchiveStream:
    """``out`` for zipfile, forward only and hashed.

    Without ``seek``, zipfile writes each member's sizes after its data (a data descriptor)
    instead of seeking back, so the hash of what passes here is the archive's, for its
    signature, with no second reading of the archive. A member's data is not hashed here: its
    SHA-256, computed anyway for the manifest, stands for it (see verifier.py).
    """

    def __init__(self, out: BinaryIO) -> None:
        self._out = out
        self._digest = hashlib.sha256()
        self._size = 0
        self._in_data = False

    def write(self, data: bytes, /) -> int:
        self._out.write(data)
        if not self._in_data:
            self._digest.update(data)
        self._size += len(data)
        return len(data)

    @contextlib.contextmanager
    def member_data(self, digest: Callable[[], bytes]) -> Iterator[None]:
        """Around the writing of one member's data: ``digest()`` gives its SHA-256 after."""
        self._in_data = True
        try:
            yield
        finally:
            self._in_data = False
        self._digest.update(digest())

    def tell(self) -> int:
        return self._size

    def digest(self) -> bytes:
        return self._digest.digest()

    def flush(self) -> None:
        """Nothing to do: the caller owns ``out``."""

    def close(self) -> None:
        """Nothing to do: the caller owns ``out``."""


class _Copying:
    """Progress by bytes read from the recordings, and the cancellation check."""

    def __init__(
        self, total: int, progress: Callable[[float], None], cancelled: Callable[[], bool]
    ) -> None:
        self._total = total
        self._done = 0
        self._progress = progress
        self._cancelled = cancelled

    def advance(self, count: int) -> None:
        if self._cancelled():
            raise NativeCancelled
        self._done += count
        self._progress(min(1.0, self._done / self._total) if self._total else 0.0)


@dataclass(frozen=True, slots=True)
class _Encryption:
    """The export's password key (derived once per export) and its manifest entry."""

    master: bytes
    salt: bytes

    @classmethod
    def new(cls, password: str) -> _Encryption:
        salt = os.urandom(_SALT_BYTES)
        return cls(fmt.password_key(password, salt, _SCRYPT_N, _SCRYPT_R, _SCRYPT_P), salt)

    def parameters(self) -> dict[str, object]:
        return {
            "cipher": "AES-256-GCM",
            "kdf": "scrypt",
            "n": _SCRYPT_N,
            "r": _SCRYPT_R,
            "p": _SCRYPT_P,
            "salt": _b64(self.salt),
            "chunk_size": CHUNK_SIZE,
            "key_check": _b64(fmt.key_check(self.master)),
        }

    def stored_size(self, size: int) -> int:
        chunks = max(1, -(-size // CHUNK_SIZE))
        return fmt.ENCRYPTED_HEADER_BYTES + size + chunks * fmt.TAG_BYTES

    def encrypt(self, name: str, chunks: Iterator[bytes]) -> Iterator[bytes]:
        """The stored form of a recording given in ``CHUNK_SIZE`` pieces (the last shorter)."""
        salt = os.urandom(_SALT_BYTES)
        header = fmt.ENCRYPTED_MAGIC + salt
        aead = fmt.file_cipher(self.master, salt, name)
        yield header
        # One chunk behind the reader: only the end of the file tells which chunk is final.
        index, pending = 0, next(chunks, b"")
        for chunk in chunks:
            yield aead.encrypt(fmt.chunk_nonce(index, False), pending, header)
            index, pending = index + 1, chunk
        yield aead.encrypt(fmt.chunk_nonce(index, True), pending, header)


def _check_names(files: Sequence[NativeFile]) -> None:
    names = [f.archive_name for f in files]
    if len(set(names)) != len(names):
        raise ValueError("two recordings have the same archive name")
    for name in names:
        if not fmt.is_recording_name(name):
            raise ValueError(f"bad archive name {name!r}: expected recordings/<camera>/<file>")


def _member(name: str, created: float, size: int) -> zipfile.ZipInfo:
    member = zipfile.ZipInfo(name, time.gmtime(created)[:6])
    member.external_attr = _FILE_MODE
    # zipfile decides on zip64 fields from the size announced here.
    member.file_size = size
    return member


def _add_bytes(
    archive: zipfile.ZipFile, stream: _ArchiveStream, name: str, data: bytes, created: float
) -> dict[str, object]:
    digest = hashlib.sha256(data)
    with (
        archive.open(_member(name, created, len(data)), "w") as member,
        stream.member_data(digest.digest),
    ):
        member.write(data)
    return {"name": name, "size": len(data), "sha256": digest.hexdigest()}


def _add_recording(
    archive: zipfile.ZipFile,
    stream: _ArchiveStream,
    file: NativeFile,
    encryption: _Encryption | None,
    created: float,
    copying: _Copying,
) -> dict[str, object]:
    with file.open() as source:
        size = os.fstat(source.fileno()).st_size
        if file.size is not None:
            size = min(size, file.size)
        plain = _Hashed(_read_chunks(source, size, copying))
        chunks: Iterator[bytes] = _ahead(iter(plain))
        # Unencrypted, the stored bytes are the plaintext: one hash for both.
        stored, stored_size = plain, size
        if encryption is not None:
            stored = _Hashed(encryption.encrypt(file.archive_name, chunks))
            stored_size = encryption.stored_size(size)
            chunks = iter(stored)
        with (
            archive.open(_member(file.archive_name, created, stored_size), "w") as member,
            stream.member_data(stored.digest.digest),
        ):
            for chunk in chunks:
                member.write(chunk)
    entry: dict[str, object] = {
        "name": file.archive_name,
        "camera_id": file.camera_id,
        "start": file.start,
        "end": file.end,
        "size": stored.size,
        "sha256": stored.digest.hexdigest(),
    }
    if encryption is not None:
        entry["plaintext_size"] = plain.size
        entry["plaintext_sha256"] = plain.digest.hexdigest()
    return entry


def _read_chunks(source: BinaryIO, size: int, copying: _Copying) -> Iterator[bytes]:
    # A buffered file's read(n) returns n bytes until the end: full chunks, as encrypt needs.
    left = size
    while left > 0 and (chunk := source.read(min(CHUNK_SIZE, left))):
        left -= len(chunk)
        copying.advance(len(chunk))
        yield chunk


def _ahead(chunks: Iterator[bytes]) -> Iterator[bytes]:
    """The chunks, produced (read and hashed) by a thread of its own while the ones before
    are encrypted and written here: hashlib and file reads release the GIL, so two cores
    share the work. At most :data:`AHEAD_CHUNKS` wait; an error in the thread is raised here."""
    waiting: queue.Queue[bytes | BaseException | None] = queue.Queue(AHEAD_CHUNKS)
    stop = threading.Event()

    def put(item: bytes | BaseException | None) -> bool:
        while not stop.is_set():
            try:
                waiting.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for chunk in chunks:
                if not put(chunk):
                    return
            put(None)
        except BaseException as error:  # handed to the consumer, which raises it
            put(error)

    producer = threading.Thread(target=produce, name="export-read", daemon=True)
    producer.start()
    try:
        while (item := waiting.get()) is not None:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        producer.join()


class _Hashed:
    """Chunks passed on, hashed and counted on the way."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self.digest = hashlib.sha256()
        self.size = 0

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self._chunks:
            self.digest.update(chunk)
            self.size += len(chunk)
            yield chunk


def _manifest(
    created: float,
    info: dict[str, object],
    files: Sequence[NativeFile],
    entries: list[dict[str, object]],
    support: list[dict[str, object]],
    encryption: _Encryption | None,
    signer: Signer,
) -> bytes:
    public_key = signer.public_key_bytes
    document = {
        "format": fmt.FORMAT,
        "version": fmt.FORMAT_VERSION,
        "created": created,
        "created_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(created)),
        "info": info,
        "cameras": _cameras(files),
        "files": entries,
        "support": support,
        "encryption": None if encryption is None else encryption.parameters(),
        "signer": {
            "algorithm": "Ed25519",
            "public_key": _b64(public_key),
            "fingerprint": fmt.fingerprint(public_key),
        },
    }
    text = json.dumps(document, indent=2, ensure_ascii=False, allow_nan=False)
    return (text + "\n").encode()


@dataclass(slots=True)
class _CameraSpan:
    name: str
    start: float
    end: float
    files: int


def _cameras(files: Sequence[NativeFile]) -> list[dict[str, object]]:
    """Each camera once, in the order of its first file, with the time its files cover."""
    spans: dict[str, _CameraSpan] = {}
    for f in files:
        span = spans.setdefault(f.camera_id, _CameraSpan(f.camera_name, f.start, f.end, 0))
        span.start, span.end = min(span.start, f.start), max(span.end, f.end)
        span.files += 1
    return [
        {"id": camera_id, "name": s.name, "start": s.start, "end": s.end, "files": s.files}
        for camera_id, s in spans.items()
    ]


def _sign_archive(out: BinaryIO, stream: _ArchiveStream, signer: Signer) -> None:
    """Put the archive's signature in its ZIP comment.

    The archive ends with its end record, whose last field is the comment's length, written 0:
    that is what the signature covers; the length is then set and the comment appended.
    """
    signature = signer.sign(fmt.archive_message(stream.digest()))
    comment = fmt.ARCHIVE_COMMENT_PREFIX + base64.b64encode(signature)
    out.seek(stream.tell() - 2)
    out.write(struct.pack("<H", len(comment)) + comment)


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()
