"""The investigation commands as an administrator types them: the data protection password,
the investigations folder, and verifying a native export."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from pathlib import Path

from camgate.context import open_core
from camgate.core.clock import SystemClock
from camgate.core.secrets import ServerKey
from camgate.db.tables import InvestigationRow
from camgate.investigations import protection
from camgate.investigations.keys import SIGNING_KEY_FILE
from camgate.investigations.native import NativeFile, write_native
from camgate.investigations.signing import SigningKey
from camgate.recording.service import RecordingsLock
from camgate.settings import recordings_dir
from tests.integration.test_cli import run

FIRST = "first data password"
SECOND = "second data password"


def audit_actions(data: Path) -> list[tuple[str, str]]:
    with sqlite3.connect(data / "camgate.db") as db:
        rows = db.execute("SELECT action, details FROM audit_log ORDER BY id").fetchall()
    return [(action, details) for action, details in rows]


def test_the_data_protection_password_is_set_changed_and_turned_off(tmp_path: Path) -> None:
    data = tmp_path / "d"
    folder = data / "investigations"
    first = run(data, "password", "--stdin", stdin=f"{FIRST}\n")
    assert first.returncode == 0, first.stderr
    assert "Keep this password safe" in first.stderr
    assert protection.state(folder) == "password"
    data_key = protection.unlock(folder, FIRST)

    wrong = run(data, "password", "--stdin", stdin=f"not the password\n{SECOND}\n")
    assert wrong.returncode == 2 and "password" in wrong.stderr
    short = run(data, "password", "--stdin", stdin=f"{FIRST}\nshort\n")
    assert short.returncode == 2 and "at least 8" in short.stderr

    changed = run(data, "password", "--stdin", stdin=f"{FIRST}\n{SECOND}\n")
    assert changed.returncode == 0, changed.stderr
    # Only the wrapping changed: the same data key opens the same files.
    assert protection.unlock(folder, SECOND) == data_key

    off = run(data, "password", "--off", "--stdin", "--yes", stdin=f"{SECOND}\n")
    assert off.returncode == 0, off.stderr
    assert "will not be encrypted" in off.stderr
    assert protection.state(folder) == "off"
    changes = [json.loads(d) for a, d in audit_actions(data) if a == "protection.change"]
    assert [(c["old"], c["new"]) for c in changes] == [
        (None, "password"),
        ("password", "password"),
        ("password", "off"),
    ]
    assert FIRST not in (data / "camgate.db").read_text(errors="replace")


def _add_investigation(data: Path, folder: Path, investigation_id: str) -> Path:
    async def work() -> None:
        async with open_core(data, SystemClock()) as core, core.sessions() as db:
            db.add(
                InvestigationRow(
                    id=investigation_id,
                    name=investigation_id,
                    owner_id=None,
                    owner="alice",
                    start=0.0,
                    end=60.0,
                    folder=str(folder),
                    created_at=0.0,
                    updated_at=0.0,
                )
            )
            await db.commit()

    asyncio.run(work())
    export = folder / investigation_id / "export.mkv"
    export.parent.mkdir(parents=True)
    export.write_bytes(b"sealed bytes")
    return export


def _folders(data: Path) -> dict[str, str]:
    with sqlite3.connect(data / "camgate.db") as db:
        return dict(db.execute("SELECT id, folder FROM investigations").fetchall())


def test_the_investigations_folder_moves_deletes_or_keeps_the_old_ones(tmp_path: Path) -> None:
    data = tmp_path / "d"
    assert run(data, "password", "--stdin", stdin=f"{FIRST}\n").returncode == 0
    old = (data / "investigations").resolve()
    _add_investigation(data, old, "a")

    # Never under a running server: it holds its folder.
    lock = RecordingsLock(recordings_dir(data))
    assert lock.acquire()
    try:
        busy = run(data, "investigations-folder", str(tmp_path / "x"), "--old", "move")
        assert busy.returncode == 1 and "stop it" in busy.stderr
    finally:
        lock.release()

    moved_to = (tmp_path / "moved").resolve()
    moved = run(data, "investigations-folder", str(moved_to), "--old", "move")
    assert moved.returncode == 0, moved.stderr
    assert (moved_to / "a" / "export.mkv").read_bytes() == b"sealed bytes"
    assert not (old / "a").exists() and not protection.exists(old)
    assert protection.unlock(moved_to, FIRST)  # the keyring came along
    assert _folders(data) == {"a": str(moved_to)}

    kept_in = (tmp_path / "kept").resolve()
    kept = run(data, "investigations-folder", str(kept_in), "--old", "keep")
    assert kept.returncode == 0, kept.stderr
    assert (moved_to / "a" / "export.mkv").exists()  # left where it was, no longer shown
    assert _folders(data) == {"a": str(moved_to)}
    assert protection.unlock(kept_in, FIRST) == protection.unlock(moved_to, FIRST)

    _add_investigation(data, kept_in, "b")
    deleted = run(data, "investigations-folder", str(tmp_path / "third"), "--old", "delete")
    assert deleted.returncode == 0, deleted.stderr
    assert not (kept_in / "b").exists()
    assert _folders(data) == {"a": str(moved_to)}
    assert [a for a, _ in audit_actions(data)].count("investigations.folder") == 3

    same = run(data, "investigations-folder", str(tmp_path / "third"), "--old", "move")
    assert same.returncode == 2 and "already" in same.stderr


def test_verify_checks_an_export_against_this_servers_key(tmp_path: Path) -> None:
    data = tmp_path / "d"
    data.mkdir()
    ServerKey.load_or_create(data / "secret.key")
    signer = SigningKey.load_or_create(data / SIGNING_KEY_FILE)
    recording = tmp_path / "1000.mp4"
    recording.write_bytes(bytes(range(256)) * 64)
    export = tmp_path / "export.zip"
    for password in (None, "export password"):
        with export.open("wb") as out:
            write_native(
                out,
                files=[NativeFile(recording, "recordings/Gate/1000.mp4", "g", "Gate", 1.0, 2.0)],
                info={"investigation": "Gate"},
                signer=signer,
                password=password,
                progress=lambda fraction: None,
                cancelled=lambda: False,
            )
        args = ["verify", str(export)] + (["--password-stdin"] if password else [])
        checked = run(data, *args, stdin=f"{password}\n" if password else "")
        assert checked.returncode == 0, checked.stdout + checked.stderr
        assert signer.fingerprint in checked.stdout and "Gate" in checked.stdout

    other = run(data, "verify", str(export), "--fingerprint", "00" * 32, stdin="")
    assert other.returncode == 1
    damaged = bytearray(export.read_bytes())
    damaged[len(damaged) // 2] ^= 0x80
    export.write_bytes(bytes(damaged))
    assert run(data, "verify", str(export)).returncode == 1
