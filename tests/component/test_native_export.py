"""The native export, written and then checked by the verifier it ships, as a recipient would."""

from __future__ import annotations

import ast
import hashlib
import json
import os
import shutil
import struct
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from camgate.investigations import verifier
from camgate.investigations.native import NativeCancelled, NativeFile, write_native
from camgate.investigations.sealed import SealedFile, read_range
from camgate.investigations.signing import SigningKey, fingerprint

PASSWORD = "export password 1"
CREATED = 1_767_225_600.0  # 2026-01-01 UTC
#: Sizes that cross the encrypted chunk size (1 MiB) and its edges, and an empty file.
SIZES = {"Front door": [1000, (1 << 20) + 5], "Yard": [0, 1 << 20]}


@pytest.fixture(scope="module")
def signer(tmp_path_factory: pytest.TempPathFactory) -> SigningKey:
    return SigningKey.load_or_create(tmp_path_factory.mktemp("keys") / "signing.key")


@pytest.fixture(scope="module")
def recordings(tmp_path_factory: pytest.TempPathFactory) -> list[NativeFile]:
    folder = tmp_path_factory.mktemp("recordings")
    files = []
    for camera, sizes in SIZES.items():
        for index, size in enumerate(sizes):
            source = folder / f"{camera}-{index}.mp4"
            source.write_bytes(os.urandom(size))
            start = CREATED - 3600 + index * 60
            files.append(
                NativeFile(
                    source=source,
                    archive_name=f"recordings/{camera}/{1000 * int(start)}.mp4",
                    camera_id=camera.lower().replace(" ", "-"),
                    camera_name=camera,
                    start=start,
                    end=start + 60,
                )
            )
    return files


def _export(
    path: Path, files: list[NativeFile], signer: SigningKey, password: str | None = None
) -> list[float]:
    fractions: list[float] = []
    with path.open("wb") as out:
        write_native(
            out,
            files=files,
            info={"investigation": "Break-in", "exported_by": "olivia"},
            signer=signer,
            password=password,
            progress=fractions.append,
            cancelled=lambda: False,
            clock=lambda: CREATED,
        )
    return fractions


@pytest.fixture(scope="module")
def plain_export(
    tmp_path_factory: pytest.TempPathFactory, recordings: list[NativeFile], signer: SigningKey
) -> Path:
    path = tmp_path_factory.mktemp("plain") / "export.zip"
    _export(path, recordings, signer)
    return path


@pytest.fixture(scope="module")
def encrypted_export(
    tmp_path_factory: pytest.TempPathFactory, recordings: list[NativeFile], signer: SigningKey
) -> Path:
    path = tmp_path_factory.mktemp("encrypted") / "export.zip"
    _export(path, recordings, signer, PASSWORD)
    return path


def test_an_export_verifies_and_holds_the_recordings_byte_for_byte(
    plain_export: Path, recordings: list[NativeFile], signer: SigningKey
) -> None:
    report = verifier.verify(plain_export, fingerprint=signer.fingerprint)
    assert report.ok, report.errors
    assert report.fingerprint == fingerprint(signer.public_key_bytes) == signer.fingerprint
    assert report.fingerprint_matches is True
    assert not report.encrypted
    assert report.info == {"investigation": "Break-in", "exported_by": "olivia"}
    assert [(c.id, c.name, c.start, c.end) for c in report.cameras] == [
        ("front-door", "Front door", CREATED - 3600, CREATED - 3600 + 120),
        ("yard", "Yard", CREATED - 3600, CREATED - 3600 + 120),
    ]
    checked = {f.name for f in report.files if f.ok}
    assert checked == {f.archive_name for f in recordings} | {"verify.py", "README.txt"}
    with zipfile.ZipFile(plain_export) as archive:
        assert archive.testzip() is None
        for file in recordings:
            assert archive.read(file.archive_name) == file.source.read_bytes()
        manifest = json.loads(archive.read("manifest.json"))
        assert archive.read("verify.py") == Path(verifier.__file__).read_bytes()
        assert b"verify.py THIS.zip" in archive.read("README.txt")
        assert {i.compress_type for i in archive.infolist()} == {zipfile.ZIP_STORED}
    assert manifest["signer"]["fingerprint"] == signer.fingerprint
    assert manifest["encryption"] is None
    entry = manifest["files"][0]
    assert entry["sha256"] == hashlib.sha256(recordings[0].source.read_bytes()).hexdigest()
    assert entry["size"] == 1000


def test_the_fingerprint_is_sha256_of_the_public_key_in_groups(signer: SigningKey) -> None:
    digest = hashlib.sha256(signer.public_key_bytes).hexdigest()
    assert signer.fingerprint.replace(":", "") == digest
    assert len(signer.fingerprint.split(":")) == 16
    assert verifier.same_fingerprint(signer.fingerprint.upper(), digest)


def test_the_signing_key_is_kept(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "signing.key"
    first = SigningKey.load_or_create(path)
    assert SigningKey.load_or_create(path).public_key_bytes == first.public_key_bytes
    assert path.stat().st_mode & 0o777 == 0o600
    assert [p.name for p in path.parent.iterdir()] == ["signing.key"]


def test_a_password_encrypts_the_recordings(
    encrypted_export: Path, recordings: list[NativeFile], tmp_path: Path
) -> None:
    with zipfile.ZipFile(encrypted_export) as archive:
        stored = archive.read(recordings[1].archive_name)
    assert recordings[1].source.read_bytes()[:64] not in stored
    without = verifier.verify(encrypted_export)
    assert without.ok and without.encrypted and not without.decrypted
    report = verifier.verify(encrypted_export, password=PASSWORD, extract_to=tmp_path)
    assert report.ok, (report.errors, report.files)
    assert report.decrypted
    for file in recordings:
        assert (tmp_path / file.archive_name).read_bytes() == file.source.read_bytes()


def test_a_wrong_password_fails(encrypted_export: Path, tmp_path: Path) -> None:
    report = verifier.verify(encrypted_export, password="not the password", extract_to=tmp_path)
    assert not report.ok
    assert any("wrong password" in error for error in report.errors)
    assert list(tmp_path.iterdir()) == []


def test_another_signer_fails_the_fingerprint(
    tmp_path: Path, recordings: list[NativeFile], signer: SigningKey
) -> None:
    other = SigningKey.load_or_create(tmp_path / "other.key")
    path = tmp_path / "export.zip"
    _export(path, recordings[:1], other)
    assert verifier.verify(path).ok
    report = verifier.verify(path, fingerprint=signer.fingerprint)
    assert not report.ok
    assert report.fingerprint == other.fingerprint
    assert report.fingerprint_matches is False


def _regions(path: Path) -> dict[str, list[int]]:
    """Offsets worth flipping: every byte of the ZIP's structure (headers, data descriptors,
    central directory, end records, comment) and the first, middle and last of each member."""
    size = path.stat().st_size
    with path.open("rb") as file, zipfile.ZipFile(path) as archive:
        members: dict[str, range] = {}
        for info in archive.infolist():
            file.seek(info.header_offset + 26)
            name_length, extra_length = struct.unpack("<HH", file.read(4))
            start = info.header_offset + 30 + name_length + extra_length
            members[info.filename] = range(start, start + info.compress_size)
    regions = {
        f"{name} data": sorted({r.start, (r.start + r.stop) // 2, r.stop - 1} if r else set())
        for name, r in members.items()
    }
    structure: list[int] = []
    position = 0
    for r in sorted(members.values(), key=lambda r: r.start):
        structure += range(position, r.start)
        position = r.stop
    regions["structure"] = structure + list(range(position, size))
    return regions


@pytest.fixture(scope="module")
def small_exports(
    tmp_path_factory: pytest.TempPathFactory, recordings: list[NativeFile], signer: SigningKey
) -> dict[str, Path]:
    """Exports of two small recordings (one empty): every structure byte can be flipped."""
    folder = tmp_path_factory.mktemp("small")
    files = [f for f in recordings if f.source.stat().st_size <= 1000]
    paths = {"plain": folder / "plain.zip", "encrypted": folder / "encrypted.zip"}
    _export(paths["plain"], files, signer)
    _export(paths["encrypted"], files, signer, PASSWORD)
    return paths


def test_the_flips_cover_every_member_and_the_structure(small_exports: dict[str, Path]) -> None:
    regions = _regions(small_exports["plain"])
    for name in ("manifest.json", "manifest.sig", "verify.py", "README.txt"):
        assert regions[f"{name} data"], name
    # Six local headers and data descriptors, six central directory entries, the end record.
    assert len(regions["structure"]) > 6 * 46 + 6 * 46 + 22 + verifier.ARCHIVE_COMMENT_LENGTH


@pytest.mark.parametrize("kind", ["plain", "encrypted"])
def test_any_flipped_byte_fails_verification_without_crashing(
    kind: str, small_exports: dict[str, Path], tmp_path: Path
) -> None:
    original = small_exports[kind]
    assert verifier.verify(original).ok
    data = original.read_bytes()
    tampered = tmp_path / "tampered.zip"
    for region, offsets in _regions(original).items():
        for offset in offsets:
            flipped = bytearray(data)
            # One bit, or all eight: a flag or a field's value changes either way.
            flipped[offset] ^= 0x01 if offset % 2 else 0xFF
            tampered.write_bytes(flipped)
            report = verifier.verify(tampered)
            assert not report.ok, (region, offset)
            assert verifier.describe(report).endswith("NOT VERIFIED\n")


def test_a_flipped_encrypted_byte_fails_decryption(
    encrypted_export: Path, recordings: list[NativeFile], tmp_path: Path
) -> None:
    data = bytearray(encrypted_export.read_bytes())
    with zipfile.ZipFile(encrypted_export) as archive:
        info = archive.getinfo(recordings[1].archive_name)
    data[info.header_offset + 200] ^= 0x10
    tampered = tmp_path / "tampered.zip"
    tampered.write_bytes(data)
    report = verifier.verify(tampered, password=PASSWORD, extract_to=tmp_path / "out")
    assert not report.ok
    bad = [f for f in report.files if not f.ok]
    assert [f.name for f in bad] == [recordings[1].archive_name]
    assert not (tmp_path / "out" / recordings[1].archive_name).exists()


@pytest.mark.parametrize("password", [None, PASSWORD])
def test_zip64_archives_verify(
    password: str | None,
    tmp_path: Path,
    recordings: list[NativeFile],
    signer: SigningKey,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An export over 4 GiB, in miniature: zipfile's limit lowered as CPython's own tests do."""
    path = tmp_path / "export.zip"
    with monkeypatch.context() as patched:
        patched.setattr(zipfile, "ZIP64_LIMIT", 1000)
        _export(path, recordings, signer, password)
    assert b"PK\x06\x06" in path.read_bytes()[-1000:]  # the zip64 end record
    report = verifier.verify(path, password=password)
    assert report.ok, (report.errors, report.files)


def test_an_unlisted_member_fails(plain_export: Path, tmp_path: Path) -> None:
    path = tmp_path / "export.zip"
    shutil.copyfile(plain_export, path)
    with zipfile.ZipFile(path, "a") as archive:
        archive.writestr("recordings/extra.mp4", b"planted")
    report = verifier.verify(path)
    assert not report.ok
    assert any("recordings/extra.mp4" in error for error in report.errors)


def test_not_an_export(tmp_path: Path) -> None:
    path = tmp_path / "export.zip"
    path.write_bytes(b"not a zip at all")
    assert not verifier.verify(path).ok
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("hello.txt", b"hello")
    report = verifier.verify(path)
    assert not report.ok
    assert any("manifest.json is missing" in error for error in report.errors)


def test_written_through_a_sealed_file(
    tmp_path: Path, recordings: list[NativeFile], signer: SigningKey
) -> None:
    key = os.urandom(32)
    sealed = tmp_path / "export.cgx"
    with SealedFile.create(sealed, key) as out:
        write_native(
            out,
            files=recordings,
            info={},
            signer=signer,
            password=None,
            progress=lambda fraction: None,
            cancelled=lambda: False,
        )
    plain = tmp_path / "export.zip"
    plain.write_bytes(b"".join(read_range(sealed, key, 0, 1 << 40)))
    assert verifier.verify(plain).ok


def test_progress_and_cancellation(
    tmp_path: Path, recordings: list[NativeFile], signer: SigningKey
) -> None:
    fractions = _export(tmp_path / "export.zip", recordings, signer)
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    calls: list[float] = []
    with tmp_path.joinpath("cancelled.zip").open("wb") as out, pytest.raises(NativeCancelled):
        write_native(
            out,
            files=recordings,
            info={},
            signer=signer,
            password=None,
            progress=calls.append,
            cancelled=lambda: len(calls) >= 2,
        )


def test_archive_names_are_checked(
    tmp_path: Path, recordings: list[NativeFile], signer: SigningKey
) -> None:
    for name in ["manifest.json", "recordings/../x.mp4", "recordings/a\\b.mp4"]:
        bad = NativeFile(recordings[0].source, name, "c", "Camera", 0.0, 1.0)
        with pytest.raises(ValueError, match="archive name"):
            _export(tmp_path / "export.zip", [bad], signer)
    with pytest.raises(ValueError, match="same archive name"):
        _export(tmp_path / "export.zip", [recordings[0], recordings[0]], signer)


def test_the_verifier_needs_only_the_standard_library_and_cryptography() -> None:
    tree = ast.parse(Path(verifier.__file__).read_text())
    modules = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0 and node.module is not None
            modules.add(node.module.split(".")[0])
    assert modules - set(sys.stdlib_module_names) == {"cryptography"}


def _run_shipped_verifier(
    export: Path, folder: Path, *args: str
) -> subprocess.CompletedProcess[str]:
    with zipfile.ZipFile(export) as archive:
        (folder / "verify.py").write_bytes(archive.read("verify.py"))
    return subprocess.run(
        [sys.executable, str(folder / "verify.py"), str(export), *args],
        capture_output=True,
        text=True,
        cwd=folder,
        timeout=60,
        check=False,
    )


def test_the_shipped_verifier_runs_on_its_own(
    encrypted_export: Path, signer: SigningKey, tmp_path: Path
) -> None:
    password_file = tmp_path / "password.txt"
    password_file.write_text(PASSWORD + "\n")
    ok = _run_shipped_verifier(
        encrypted_export,
        tmp_path,
        "--password-file",
        str(password_file),
        "--fingerprint",
        signer.fingerprint,
    )
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "VERIFIED" in ok.stdout and "Yard" in ok.stdout
    assert "the expected key" in ok.stdout

    password_file.write_text("not the password")
    wrong = _run_shipped_verifier(encrypted_export, tmp_path, "--password-file", str(password_file))
    assert wrong.returncode == 1
    assert "wrong password" in wrong.stdout

    tampered = tmp_path / "tampered.zip"
    data = bytearray(encrypted_export.read_bytes())
    data[len(data) // 2] ^= 0x01
    tampered.write_bytes(data)
    bad = _run_shipped_verifier(tampered, tmp_path)
    assert bad.returncode == 1
    assert "NOT VERIFIED" in bad.stdout


def test_a_segment_being_written_is_exported_as_far_as_it_was_written(
    tmp_path: Path, signer: SigningKey
) -> None:
    """The open part: only its written bytes, and from its final name once it closed."""
    closed = tmp_path / "2000.mp4"
    closed.write_bytes(b"x" * 3000)
    growing = NativeFile(
        source=tmp_path / "2000.mp4.partial",
        archive_name="recordings/Yard/2000.mp4",
        camera_id="yard",
        camera_name="Yard",
        start=CREATED,
        end=CREATED + 2,
        size=1000,
        renamed=closed,
    )
    path = tmp_path / "export.zip"
    _export(path, [growing], signer)
    with zipfile.ZipFile(path) as archive:
        assert archive.read("recordings/Yard/2000.mp4") == b"x" * 1000
    assert verifier.verify(path).ok
