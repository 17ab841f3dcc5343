"""The camgate command, as an administrator types it."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

CAMGATE = [sys.executable, "-m", "camgate.cli"]


def run(data_dir: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CAMGATE, "--data-dir", str(data_dir), *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_users_before_any_server_has_started(tmp_path: Path) -> None:
    data = tmp_path / "fresh"
    added = run(
        data,
        "user",
        "add",
        "alice",
        "--role",
        "administrator",
        "--password-stdin",
        stdin="long password 1\n",
    )
    assert added.returncode == 0, added.stderr
    assert (data / "camgate.db").exists()
    listed = run(data, "user", "list")
    assert "alice" in listed.stdout and "administrator" in listed.stdout
    duplicate = run(data, "user", "add", "Alice", "--password-stdin", stdin="long password 2\n")
    assert duplicate.returncode != 0 and "already exists" in duplicate.stderr
    short = run(data, "user", "add", "bob", "--password-stdin", stdin="short\n")
    assert short.returncode == 2 and "at least" in short.stderr
    assert (
        run(
            data, "user", "passwd", "alice", "--password-stdin", stdin="another password\n"
        ).returncode
        == 0
    )
    last_admin = run(data, "user", "remove", "alice")
    assert last_admin.returncode != 0 and "last administrator" in last_admin.stderr


def test_cameras_keep_credentials_out_of_sight(tmp_path: Path) -> None:
    data = tmp_path / "d"
    added = run(
        data,
        "camera",
        "add",
        "Gate",
        "--url",
        "rtsp://127.0.0.1:9/main",
        "--url",
        "rtsp://127.0.0.1:9/sub",
        "--username",
        "viewer",
        "--password-stdin",
        stdin="pa55word\n",
    )
    assert added.returncode == 0, added.stderr
    assert "pa55word" not in added.stdout
    listed = run(data, "camera", "list")
    assert "rtsp://127.0.0.1:9/main" in listed.stdout and "pa55word" not in listed.stdout
    assert b"pa55word" not in (data / "camgate.db").read_bytes()
    moved = run(data, "camera", "add", "Yard", "--url", "rtsp://u:inurl@127.0.0.1:9/x")
    assert moved.returncode == 0 and "moved out" in moved.stdout
    assert "inurl" not in run(data, "camera", "list").stdout
    assert run(data, "role", "cameras", "operator", "Gate").returncode == 0
    assert "Gate" in run(data, "role", "list").stdout
    assert run(data, "camera", "remove", "Gate").returncode == 0
    missing = run(data, "camera", "remove", "Gate")
    assert missing.returncode != 0 and "not found" in missing.stderr
    bad = run(data, "camera", "add", "Bad", "--url", "ftp://x/y")
    assert bad.returncode == 2 and "unsupported" in bad.stderr


def test_a_cameras_recording_settings_change_only_where_told(tmp_path: Path) -> None:
    data = tmp_path / "d"
    streams = ["--url", "rtsp://127.0.0.1:9/a", "--url", "rtsp://127.0.0.1:9/b"]
    added = run(data, "camera", "add", "Gate", *streams)
    assert added.returncode == 0, added.stderr
    shown = run(data, "camera", "recording", "Gate")
    assert shown.stdout.strip() == (
        "Gate: recording on, stream 0, 7 days, no size limit, audio on"
    ), shown.stderr
    # Where recording sound is not allowed: the rest stays as it was.
    quiet = run(data, "camera", "recording", "Gate", "--no-audio", "--gb", "2.5")
    assert quiet.stdout.strip() == "Gate: recording on, stream 0, 7 days, 2.5 GB, audio off"
    unlimited = run(data, "camera", "recording", "Gate", "--days", "0", "--stream", "1")
    assert unlimited.stdout.strip() == (
        "Gate: recording on, stream 1, no age limit, 2.5 GB, audio off"
    )
    wrong = run(data, "camera", "recording", "Gate", "--stream", "2")
    assert wrong.returncode != 0 and "streams 0 to 1" in wrong.stderr
    assert run(data, "camera", "recording", "Nowhere").returncode != 0
    with sqlite3.connect(data / "camgate.db") as db:
        changes = db.execute("SELECT details FROM audit_log WHERE action = 'camera.recording'")
        assert ['"audio": false' in details for (details,) in changes] == [True, True]
