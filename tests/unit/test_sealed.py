"""Sealed files: a plaintext file's behaviour, with every change to the stored bytes detected."""

from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path

import av
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from camgate.investigations.sealed import (
    CHUNK_SIZE,
    SealedError,
    SealedFile,
    plaintext_size,
    read_range,
)

KEY = bytes(range(32))
SMALL = 256
HEADER = 24
STORED_CHUNK = SMALL + 28


def _seal(path: Path, data: bytes, chunk_size: int = CHUNK_SIZE) -> None:
    with SealedFile.create(path, KEY, chunk_size=chunk_size) as sealed:
        sealed.write(data)


def _unseal(path: Path, key: bytes = KEY) -> bytes:
    with SealedFile.open(path, key) as sealed:
        return sealed.read()


@pytest.mark.parametrize(
    "size", [0, 1, CHUNK_SIZE - 1, CHUNK_SIZE, CHUNK_SIZE + 1, CHUNK_SIZE * 7 // 2]
)
def test_round_trip(tmp_path: Path, size: int) -> None:
    data = os.urandom(size)
    path = tmp_path / "file"
    _seal(path, data)
    assert plaintext_size(path) == size
    assert _unseal(path) == data
    with SealedFile.open(path, KEY) as sealed:
        assert sealed.size == size
        assert not sealed.writable()
        assert sealed.seek(0, io.SEEK_END) == size


def test_written_in_small_pieces_reads_back_in_other_pieces(tmp_path: Path) -> None:
    data = os.urandom(5 * SMALL + 17)
    path = tmp_path / "file"
    with SealedFile.create(path, KEY, chunk_size=SMALL) as sealed:
        for start in range(0, len(data), 7):
            sealed.write(data[start : start + 7])
    with SealedFile.open(path, KEY) as sealed:
        pieces = iter(lambda: sealed.read(13), b"")
        assert b"".join(pieces) == data
        buffer = bytearray(100)
        sealed.seek(SMALL - 50)
        assert sealed.readinto(buffer) == 100
        assert buffer == data[SMALL - 50 : SMALL + 50]


_OPS = st.lists(
    st.one_of(
        st.tuples(st.just("write"), st.integers(0, 6 * SMALL), st.binary(max_size=3 * SMALL)),
        st.tuples(st.just("read"), st.integers(0, 6 * SMALL), st.integers(-1, 3 * SMALL)),
        st.tuples(st.just("flush"), st.just(0), st.just(0)),
    ),
    max_size=25,
)


@settings(max_examples=150, deadline=None)
@given(ops=_OPS)
def test_random_seeks_writes_and_reads_behave_like_bytes_io(
    tmp_path_factory: pytest.TempPathFactory, ops: list[tuple[str, int, object]]
) -> None:
    path = tmp_path_factory.mktemp("sealed") / "file"
    model = io.BytesIO()
    with SealedFile.create(path, KEY, chunk_size=SMALL) as sealed:
        for op, position, argument in ops:
            if op == "flush":
                sealed.flush()
                continue
            assert sealed.seek(position) == model.seek(position)
            if op == "write":
                assert isinstance(argument, bytes)
                assert sealed.write(argument) == model.write(argument)
            else:
                assert isinstance(argument, int)
                assert sealed.read(argument) == model.read(argument)
            assert sealed.tell() == model.tell()
            assert sealed.size == len(model.getbuffer())
    assert plaintext_size(path) == len(model.getbuffer())
    assert _unseal(path) == model.getvalue()


def test_zipfile_seeking_back_to_patch_headers(tmp_path: Path) -> None:
    members = {f"m{i}": os.urandom(i * 300) for i in range(6)}
    path = tmp_path / "archive"
    with (
        SealedFile.create(path, KEY, chunk_size=1024) as sealed,
        zipfile.ZipFile(sealed, "w") as archive,
    ):
        for name, data in members.items():
            with archive.open(name, "w") as member:
                member.write(data)
    with SealedFile.open(path, KEY) as sealed, zipfile.ZipFile(sealed) as archive:
        assert archive.testzip() is None
        assert {name: archive.read(name) for name in archive.namelist()} == members


@pytest.mark.parametrize("container", ["matroska", "avi"])
def test_pyav_muxers_write_and_read_through_it(tmp_path: Path, container: str) -> None:
    path = tmp_path / "video"
    with SealedFile.create(path, KEY, chunk_size=4096) as out, av.open(out, "w", container) as mux:
        stream = mux.add_stream("mpeg4", rate=25)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        for index in range(30):
            image = np.full((48, 64, 3), index * 8, np.uint8)
            mux.mux(stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")))
        mux.mux(stream.encode(None))
    with SealedFile.open(path, KEY) as source, av.open(source, "r") as demux:
        assert container in demux.format.name
        assert len(list(demux.decode(video=0))) == 30


def test_read_range_equals_slices(tmp_path: Path) -> None:
    data = os.urandom(4 * SMALL + 10)
    path = tmp_path / "file"
    _seal(path, data, SMALL)
    for start, end in [(0, 0), (0, 1), (5, SMALL), (SMALL, 2 * SMALL + 1), (3, len(data) + 99)]:
        assert b"".join(read_range(path, KEY, start, end)) == data[start:end]
    assert all(len(piece) <= SMALL for piece in read_range(path, KEY, 0, len(data)))
    with pytest.raises(ValueError, match="bad range"):
        list(read_range(path, KEY, 10, 5))


def test_the_stored_bytes_show_no_plaintext(tmp_path: Path) -> None:
    pattern = b"CAMGATE-KNOWN-PLAINTEXT"
    path = tmp_path / "file"
    _seal(path, pattern * 100_000)
    stored = path.read_bytes()
    assert pattern[:8] not in stored
    assert oct(path.stat().st_mode & 0o777) == oct(0o600)


def _sealed_chunks(tmp_path: Path) -> tuple[Path, bytes]:
    """A sealed file of three full chunks and a 100-byte one, and its stored bytes."""
    path = tmp_path / "file"
    _seal(path, os.urandom(3 * SMALL + 100), SMALL)
    return path, path.read_bytes()


def _rejected(path: Path, stored: bytes) -> None:
    path.write_bytes(stored)
    with pytest.raises(SealedError):
        _unseal(path)


#: Bytes to flip: the magic, chunk shift and salt, then each chunk's nonce, ciphertext and tag.
_LAST_CHUNK = 100 + 28
_FLIPS = [0, 7, 8, HEADER - 1] + [
    HEADER + index * STORED_CHUNK + within
    for index, length in enumerate([STORED_CHUNK] * 3 + [_LAST_CHUNK])
    for within in (0, 11, 12, length - 17, length - 1)
]


@pytest.mark.parametrize("offset", _FLIPS)
def test_a_flipped_byte_anywhere_is_detected(tmp_path: Path, offset: int) -> None:
    path, stored = _sealed_chunks(tmp_path)
    tampered = bytearray(stored)
    tampered[offset] ^= 0x01
    _rejected(path, bytes(tampered))


@pytest.mark.parametrize("cut", [1, 27, 28, 100, STORED_CHUNK, 3 * STORED_CHUNK])
def test_truncation_is_detected(tmp_path: Path, cut: int) -> None:
    path, stored = _sealed_chunks(tmp_path)
    _rejected(path, stored[: len(stored) - cut])


def test_a_file_cut_to_its_header_is_rejected(tmp_path: Path) -> None:
    path, stored = _sealed_chunks(tmp_path)
    _rejected(path, stored[:HEADER])
    _rejected(path, b"")


def test_swapped_chunks_are_detected(tmp_path: Path) -> None:
    path, stored = _sealed_chunks(tmp_path)
    chunks = [stored[HEADER + i * STORED_CHUNK : HEADER + (i + 1) * STORED_CHUNK] for i in (0, 1)]
    swapped = stored[:HEADER] + chunks[1] + chunks[0] + stored[HEADER + 2 * STORED_CHUNK :]
    path.write_bytes(swapped)
    with SealedFile.open(path, KEY) as sealed, pytest.raises(SealedError, match="chunk 0"):
        sealed.read(10)


def test_a_chunk_from_another_file_is_detected(tmp_path: Path) -> None:
    _, other_stored = _sealed_chunks(tmp_path)
    path = tmp_path / "mixed"
    _seal(path, os.urandom(3 * SMALL + 100), SMALL)
    stored = path.read_bytes()
    mixed = stored[: HEADER + STORED_CHUNK] + other_stored[HEADER + STORED_CHUNK :]
    _rejected(path, mixed)


def test_an_empty_file_with_a_moved_final_flag_is_detected(tmp_path: Path) -> None:
    full = tmp_path / "full"
    _seal(full, os.urandom(2 * SMALL), SMALL)
    path = tmp_path / "file"
    # The first chunk of a longer file is a whole chunk, but not sealed as the final one.
    _rejected(path, full.read_bytes()[: HEADER + STORED_CHUNK])


def test_the_wrong_key_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "file"
    _seal(path, b"")
    with pytest.raises(SealedError, match="key is wrong"):
        _unseal(path, bytes(32))


def test_not_a_sealed_file(tmp_path: Path) -> None:
    path = tmp_path / "file"
    path.write_bytes(b"PK\x03\x04" + bytes(100))
    with pytest.raises(SealedError, match="not a sealed"):
        plaintext_size(path)


def test_rewriting_a_chunk_uses_a_fresh_nonce(tmp_path: Path) -> None:
    path = tmp_path / "file"
    with SealedFile.create(path, KEY, chunk_size=SMALL) as sealed:
        sealed.write(bytes(SMALL + 1))
        sealed.flush()
        first = path.read_bytes()[HEADER : HEADER + STORED_CHUNK]
        sealed.seek(0)
        sealed.write(bytes(1))
        sealed.seek(SMALL)
        sealed.read(1)
    assert path.read_bytes()[HEADER : HEADER + 12] != first[:12]


def test_reading_only_file_refuses_writes(tmp_path: Path) -> None:
    path = tmp_path / "file"
    _seal(path, b"abc")
    with SealedFile.open(path, KEY) as sealed, pytest.raises(io.UnsupportedOperation):
        sealed.write(b"x")
    with pytest.raises(ValueError, match="32 bytes"):
        SealedFile.create(tmp_path / "other", b"short")
    assert not (tmp_path / "other").exists()
