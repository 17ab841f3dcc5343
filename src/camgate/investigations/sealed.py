"""Investigation files encrypted at rest, with random access: chunked AES-256-GCM.

Layout (integers big-endian)::

    header   b"CGSEAL1" | chunk shift, 1 byte (chunk size = 2**shift) | file salt, 16 bytes
    chunk i  nonce, 12 bytes | ciphertext of the chunk's plaintext | GCM tag, 16 bytes

Every chunk but the last holds a full chunk of plaintext, so chunk ``i`` sits at a fixed offset
and the plaintext size follows from the file size alone. An empty file is one empty final chunk.
Each chunk's AAD is ``header | i (8 bytes) | final (1 byte)``: a chunk moved to another index or
file, a changed header, or a file cut at a chunk boundary fails authentication. The per-file key
is HKDF-SHA256 of the data key with the file salt, so nonces (random, fresh at every re-seal)
never meet another file's.

:class:`SealedFile` is a seekable file object: muxers and ``zipfile`` seek back to patch headers,
which decrypts, patches and re-seals that chunk. It holds one chunk in memory.
"""

from __future__ import annotations

import io
import os
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer, WriteableBuffer

MAGIC = b"CGSEAL1"
CHUNK_SIZE = 1 << 20
DATA_KEY_BYTES = 32
_HEADER = struct.Struct(">7sB16s")
_CHUNK_AAD = struct.Struct(">QB")
_SALT_BYTES = 16
_NONCE_BYTES = 12
_TAG_BYTES = 16
_OVERHEAD = _NONCE_BYTES + _TAG_BYTES
# 256 B chunks let tests cross many boundaries cheaply; past 16 MiB a chunk is too much memory.
_MIN_SHIFT, _MAX_SHIFT = 8, 24
_HKDF_INFO = b"camgate investigation file"


class SealedError(ValueError):
    """A sealed file is not one, was modified or truncated, or the key is wrong."""


class SealedFile(io.RawIOBase, BinaryIO):
    """A plaintext view of a sealed file: read, write, seek anywhere, one chunk in memory."""

    def __init__(
        self, fd: int, path: Path, aead: AESGCM, header: bytes, size: int, *, writable: bool
    ) -> None:
        super().__init__()
        self._fd = fd
        self._path = path
        self._aead = aead
        self._header = header
        self._chunk_size = 1 << header[len(MAGIC)]
        self._size = size
        self._pos = 0
        # Plaintext bytes that sealed chunks on disk hold: chunks past it are new.
        self._disk_size = size
        # The chunk on disk sealed as the final one (None before anything is written).
        self._final_on_disk: int | None = None if writable else self._last_index()
        # A file open to write reuses one buffer for its chunk in memory: a new 1 MiB buffer per
        # chunk would cost page faults, half the writing speed.
        self._work = bytearray(self._chunk_size) if writable else None
        # The chunk in memory: chunk _index is _buffer[:_length].
        self._index = -1
        self._buffer: bytes | bytearray = b""
        self._length = 0
        self._dirty = False

    @classmethod
    def create(cls, path: Path, data_key: bytes, *, chunk_size: int = CHUNK_SIZE) -> SealedFile:
        """A new, empty sealed file (replacing any file at ``path``), open to write and read.

        ``close()`` fsyncs the file; a caller that writes under a temporary name renames it and
        fsyncs the directory.
        """
        shift = chunk_size.bit_length() - 1
        if chunk_size != 1 << shift or not _MIN_SHIFT <= shift <= _MAX_SHIFT:
            raise ValueError(
                f"chunk size must be a power of two, 2**{_MIN_SHIFT} to 2**{_MAX_SHIFT}"
            )
        header = _HEADER.pack(MAGIC, shift, os.urandom(_SALT_BYTES))
        aead = _file_cipher(data_key, header)
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            _pwrite_all(fd, 0, header)
        except BaseException:
            os.close(fd)
            raise
        return cls(fd, path, aead, header, 0, writable=True)

    @classmethod
    def open(cls, path: Path, data_key: bytes) -> SealedFile:
        """Open a sealed file to read; its last chunk is authenticated now (truncation)."""
        fd = os.open(path, os.O_RDONLY)
        try:
            header, size = _read_layout(fd, path)
            sealed = cls(fd, path, _file_cipher(data_key, header), header, size, writable=False)
        except BaseException:
            os.close(fd)
            raise
        try:
            # Not _select: an empty file's one chunk holds no plaintext but must authenticate.
            last = sealed._last_index()
            sealed._hold(last, sealed._unseal(last))
        except BaseException:
            sealed.close()
            raise
        return sealed

    @property
    def name(self) -> str:
        return str(self._path)

    @property
    def mode(self) -> str:
        return "rb" if self._work is None else "rb+"

    @property
    def size(self) -> int:
        """The plaintext size."""
        return self._size

    def readable(self) -> bool:
        return True

    def writable(self) -> bool:
        return self._work is not None

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        self._check_open()
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        self._check_open()
        bases = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._size}
        if whence not in bases:
            raise ValueError(f"invalid whence {whence}")
        position = bases[whence] + offset
        if position < 0:
            raise ValueError(f"negative seek position {position}")
        self._pos = position
        return position

    def read(self, size: int | None = -1) -> bytes:
        self._check_open()
        end = self._size if size is None or size < 0 else min(self._size, self._pos + size)
        if end <= self._pos:
            return b""
        data = b"".join(self.pieces(self._pos, end))
        self._pos = end
        return data

    def readinto(self, buffer: WriteableBuffer) -> int:
        view = memoryview(buffer).cast("B")
        data = self.read(len(view))
        view[: len(data)] = data
        return len(data)

    def pieces(self, start: int, end: int) -> Iterator[bytes]:
        """The plaintext ``[start, end)`` (clamped to the size), one piece per chunk."""
        if not 0 <= start <= end:
            raise ValueError(f"bad range [{start}, {end})")
        position, end = start, min(end, self._size)
        while position < end:
            index, within = divmod(position, self._chunk_size)
            self._select(index)
            take = min(end - position, self._length - within)
            if isinstance(self._buffer, bytes) and take == len(self._buffer):
                yield self._buffer
            else:
                yield bytes(memoryview(self._buffer)[within : within + take])
            position += take

    def write(self, data: ReadableBuffer) -> int:
        self._check_open()
        work = self._work
        if work is None:
            raise io.UnsupportedOperation("sealed file opened to read")
        view = memoryview(data).cast("B")
        if not view:
            return 0
        if self._pos > self._size:
            self._fill_zeros()
        # Grow first, so that a chunk left behind by this write is sealed as not the final one.
        self._grow(self._pos + len(view))
        done = 0
        while done < len(view):
            index, within = divmod(self._pos, self._chunk_size)
            self._select(index)
            take = min(len(view) - done, self._chunk_size - within)
            work[within : within + take] = view[done : done + take]
            self._length = max(self._length, within + take)
            self._dirty = True
            self._pos += take
            done += take
        return done

    def flush(self) -> None:
        """Seal the chunk in memory to the file (no fsync: ``close`` does that)."""
        if self._dirty:
            self._seal(self._index, memoryview(self._buffer)[: self._length])
            self._dirty = False
        super().flush()

    def close(self) -> None:
        if self.closed:
            return
        try:
            if self._work is not None:
                self.flush()
                if self._final_on_disk is None:
                    self._seal(0, b"")
                os.fsync(self._fd)
        finally:
            os.close(self._fd)
            super().close()

    def _check_open(self) -> None:
        if self.closed:
            raise ValueError("I/O operation on closed sealed file")

    def _last_index(self) -> int:
        return max(self._size - 1, 0) // self._chunk_size

    def _fill_zeros(self) -> None:
        """Extend the file with zeros up to the position, as regular files do on a seek past
        the end and a write."""
        target = self._pos
        self._pos = self._size
        while self._pos < target:
            self.write(bytes(min(target - self._pos, self._chunk_size)))

    def _grow(self, end: int) -> None:
        if end <= self._size:
            return
        self._size = end
        stale = self._final_on_disk
        if stale is None or stale == self._last_index():
            return
        # The chunk sealed as final no longer is: seal it again, or it would read as truncated.
        if stale == self._index:
            self._dirty = True
        else:
            self._seal(stale, self._unseal(stale))
        self._final_on_disk = None

    def _select(self, index: int) -> None:
        """Make chunk ``index`` the one in memory, sealing the previous one if it changed."""
        if index == self._index:
            return
        self.flush()
        starts_on_disk = index * self._chunk_size < self._disk_size
        self._hold(index, self._unseal(index) if starts_on_disk else b"")

    def _hold(self, index: int, plaintext: bytes) -> None:
        if self._work is None:
            self._buffer = plaintext
        else:
            self._work[: len(plaintext)] = plaintext
            self._buffer = self._work
        self._index, self._length = index, len(plaintext)

    def _chunk_aad(self, index: int, final: bool) -> bytes:
        return self._header + _CHUNK_AAD.pack(index, final)

    def _unseal(self, index: int) -> bytes:
        plain = min(self._chunk_size, self._disk_size - index * self._chunk_size)
        offset = _HEADER.size + index * (self._chunk_size + _OVERHEAD)
        stored = os.pread(self._fd, plain + _OVERHEAD, offset)
        if len(stored) != plain + _OVERHEAD:
            raise SealedError(f"{self._path}: chunk {index} is cut short")
        nonce, sealed = stored[:_NONCE_BYTES], memoryview(stored)[_NONCE_BYTES:]
        aad = self._chunk_aad(index, index == self._final_on_disk)
        try:
            return self._aead.decrypt(nonce, sealed, aad)
        except InvalidTag:
            raise SealedError(
                f"{self._path}: chunk {index} failed authentication"
                " (the file was modified or truncated, or the key is wrong)"
            ) from None

    def _seal(self, index: int, plaintext: bytes | memoryview) -> None:
        final = index == self._last_index()
        nonce = os.urandom(_NONCE_BYTES)
        sealed = self._aead.encrypt(nonce, plaintext, self._chunk_aad(index, final))
        offset = _HEADER.size + index * (self._chunk_size + _OVERHEAD)
        _pwrite_all(self._fd, offset, nonce, sealed)
        self._disk_size = max(self._disk_size, index * self._chunk_size + len(plaintext))
        if final:
            self._final_on_disk = index
        elif self._final_on_disk == index:
            self._final_on_disk = None


def plaintext_size(path: Path) -> int:
    """The plaintext size of a sealed file, from its header and size (nothing is decrypted)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        return _read_layout(fd, path)[1]
    finally:
        os.close(fd)


def read_range(path: Path, data_key: bytes, start: int, end: int) -> Iterator[bytes]:
    """The plaintext ``[start, end)`` of a sealed file (clamped to its size), decrypting only
    the chunks it spans plus the last one. Opening errors raise here, before iteration."""
    sealed = SealedFile.open(path, data_key)
    return _pieces_then_close(sealed, start, end)


def _pieces_then_close(sealed: SealedFile, start: int, end: int) -> Iterator[bytes]:
    with sealed:
        yield from sealed.pieces(start, end)


def _file_cipher(data_key: bytes, header: bytes) -> AESGCM:
    if len(data_key) != DATA_KEY_BYTES:
        raise ValueError(f"the data key must be {DATA_KEY_BYTES} bytes")
    salt = header[-_SALT_BYTES:]
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=_HKDF_INFO)
    return AESGCM(hkdf.derive(data_key))


def _read_layout(fd: int, path: Path) -> tuple[bytes, int]:
    """The header of a sealed file and its plaintext size."""
    header = os.pread(fd, _HEADER.size, 0)
    if len(header) != _HEADER.size or not header.startswith(MAGIC):
        raise SealedError(f"{path}: not a sealed camgate file")
    shift = header[len(MAGIC)]
    if not _MIN_SHIFT <= shift <= _MAX_SHIFT:
        raise SealedError(f"{path}: bad chunk size in the header")
    stored = os.fstat(fd).st_size - _HEADER.size
    full, rest = divmod(stored, (1 << shift) + _OVERHEAD)
    if rest == 0 and full > 0:
        return header, full << shift
    if rest < _OVERHEAD:
        raise SealedError(f"{path}: truncated (its size is not a whole number of chunks)")
    return header, (full << shift) + rest - _OVERHEAD


def _pwrite_all(fd: int, offset: int, *parts: bytes) -> None:
    """Write ``parts`` at ``offset`` in one call, without joining them (a copy), then the rest
    of a short write."""
    written = os.pwritev(fd, parts, offset)
    if written == sum(len(part) for part in parts):
        return
    rest = memoryview(b"".join(parts))[written:]
    while rest:
        offset += written
        written = os.pwrite(fd, rest, offset)
        rest = rest[written:]
