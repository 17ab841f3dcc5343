"""Investigations through the API of a running server recording a synthetic camera: exports
in each format round-tripped, downloads resumed, encryption at rest, permissions, the audit."""

from __future__ import annotations

import io
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import av
import httpx
import pytest

from camgate.core.secrets import ServerKey
from camgate.investigations import protection, verifier
from camgate.investigations.keys import SIGNING_KEY_FILE, ServerSealer
from camgate.investigations.signing import SigningKey
from tests.integration.test_recording_api import add_camera, recorded
from tests.support.server import RunningServer, auth

DATA_PASSWORD = "data protection password"
ALL_FORMATS = {"investigations": {"export_formats": {"mkv": True, "avi": True, "native": True}}}


def iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat()


def set_data_password(data_dir: Path) -> None:
    """What ``camgate password`` does on a new server."""
    key = ServerKey.load_or_create(data_dir / "secret.key")
    protection.create(data_dir / "investigations", DATA_PASSWORD, ServerSealer(key))


@pytest.fixture
def protected(server: RunningServer) -> RunningServer:
    """The server, once its administrator has set a data protection password (it may be set
    while the server runs)."""
    set_data_password(server.data_dir)
    return server


def login(server: RunningServer, username: str, password: str) -> str:
    response = httpx.post(
        f"{server.base_url}/api/v1/auth/login", json={"username": username, "password": password}
    )
    response.raise_for_status()
    token: str = response.json()["token"]
    return token


def patch_settings(server: RunningServer, token: str, patch: dict[str, Any]) -> None:
    response = httpx.patch(
        f"{server.base_url}/api/v1/settings",
        json=patch,
        headers={**auth(token), "Content-Type": "application/merge-patch+json"},
    )
    assert response.status_code == 200, response.text


def recorded_range(server: RunningServer, token: str, seconds: float) -> tuple[str, float]:
    camera_id = add_camera(server, token)
    intervals = recorded(server, token, camera_id, seconds + 1)
    begin = datetime.fromisoformat(intervals[-1]["start"]).timestamp()
    return camera_id, begin + 0.5


def create(
    server: RunningServer, token: str, camera_ids: list[str], start: float, end: float
) -> dict[str, Any]:
    response = httpx.post(
        f"{server.base_url}/api/v1/investigations",
        json={
            "name": "Broken window",
            "camera_ids": camera_ids,
            "start": iso(start),
            "end": iso(end),
        },
        headers=auth(token),
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def prepare(
    server: RunningServer, token: str, investigation_id: str, **body: Any
) -> dict[str, Any]:
    url = f"{server.base_url}/api/v1/investigations/{investigation_id}/exports"
    started = httpx.post(url, json=body, headers=auth(token))
    assert started.status_code == 202, started.text
    export_id = started.json()["id"]
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        listed = httpx.get(url, headers=auth(token)).json()
        found: dict[str, Any] = next(e for e in listed if e["id"] == export_id)
        assert set(found) >= {"id", "format", "state", "progress", "size"}
        if found["state"] in ("done", "failed"):
            assert found["state"] == "done", found
            return found
        time.sleep(0.2)
    raise AssertionError("the export did not finish")


def download(server: RunningServer, token: str, export_id: str, **headers: str) -> httpx.Response:
    return httpx.get(
        f"{server.base_url}/api/v1/exports/{export_id}/download",
        headers={**auth(token), **headers},
        timeout=60,
    )


def mp4_packets(data: bytes) -> list[bytes]:
    with av.open(io.BytesIO(data), format="mp4") as container:
        return [bytes(p) for p in container.demux(container.streams.video[0]) if p.size]


def mkv_packets(data: bytes) -> list[list[bytes]]:
    with av.open(io.BytesIO(data), format="matroska") as container:
        tracks: list[list[bytes]] = [[] for _ in container.streams.video]
        for packet in container.demux(*container.streams.video):
            if packet.size:
                tracks[packet.stream.index].append(bytes(packet))
        return tracks


def test_an_mkv_export_holds_exactly_the_recorded_packets_and_resumes(
    protected: RunningServer, admin_token: str
) -> None:
    server, token = protected, admin_token
    patch_settings(server, token, ALL_FORMATS)
    camera_id, start = recorded_range(server, token, 5)
    investigation = create(server, token, [camera_id], start, start + 4)
    assert investigation["owner"] == "admin" and investigation["camera_ids"] == [camera_id]
    export = prepare(server, token, investigation["id"], format="mkv")
    assert export["format"] == "mkv" and export["progress"] == 100

    whole = download(server, token, export["id"])
    assert whole.status_code == 200
    assert whole.headers["content-type"] == "video/x-matroska"
    assert "Broken_window-mkv.mkv" in whole.headers["content-disposition"]
    assert len(whole.content) == export["size"]
    playback = httpx.get(
        f"{server.base_url}/api/v1/cameras/{camera_id}/playback.mp4",
        params={"start": iso(start), "end": iso(start + 4)},
        headers=auth(token),
    )
    (track,) = mkv_packets(whole.content)
    assert track == mp4_packets(playback.content)

    # A download cut short resumes where it stopped.
    half = len(whole.content) // 2
    rest = download(server, token, export["id"], Range=f"bytes={half}-")
    assert rest.status_code == 206
    assert (
        rest.headers["content-range"] == f"bytes {half}-{len(whole.content) - 1}/{export['size']}"
    )
    assert whole.content[:half] + rest.content == whole.content

    # At rest, the folder holds none of it in the clear.
    stored = b"".join(
        p.read_bytes() for p in (server.data_dir / "investigations").rglob("*") if p.is_file()
    )
    for packet in track[:: max(1, len(track) // 10)]:
        middle = len(packet) // 2
        assert packet[middle : middle + 32] not in stored

    entries = httpx.get(
        f"{server.base_url}/api/v1/audit", params={"q": investigation["id"]}, headers=auth(token)
    ).json()
    actions = {entry["action"] for entry in entries}
    assert {"investigation.create", "export.prepare"} <= actions
    downloads = httpx.get(
        f"{server.base_url}/api/v1/audit", params={"q": "export.download"}, headers=auth(token)
    ).json()
    assert len(downloads) == 2 and all(e["user"] == "admin" for e in downloads)


def test_a_native_export_verifies_offline_and_a_flipped_byte_does_not(
    protected: RunningServer, admin_token: str, tmp_path: Path
) -> None:
    server, token = protected, admin_token
    patch_settings(server, token, ALL_FORMATS)
    camera_id, start = recorded_range(server, token, 5)
    investigation = create(server, token, [camera_id], start, start + 4)
    fingerprint = SigningKey.load_or_create(server.data_dir / SIGNING_KEY_FILE).fingerprint

    for password in (None, "export password"):
        body: dict[str, Any] = {"format": "native"}
        if password:
            body["password"] = password
        export = prepare(server, token, investigation["id"], **body)
        assert export["password_protected"] is (password is not None)
        path = tmp_path / f"{export['id']}.zip"
        path.write_bytes(download(server, token, export["id"]).content)
        report = verifier.verify(path, password=password, fingerprint=fingerprint)
        assert report.ok, report.errors
        data = bytearray(path.read_bytes())
        data[len(data) // 3] ^= 0x01
        path.write_bytes(bytes(data))
        assert not verifier.verify(path, password=password, fingerprint=fingerprint).ok


def test_an_avi_export_is_reencoded_with_the_chosen_codec(
    protected: RunningServer, admin_token: str
) -> None:
    server, token = protected, admin_token
    patch_settings(
        server,
        token,
        {
            "investigations": {
                "export_formats": {"avi": True},
                "avi_codec": "mjpeg",
                "avi_timestamp": True,
            }
        },
    )
    camera_id, start = recorded_range(server, token, 3)
    investigation = create(server, token, [camera_id], start, start + 2)
    export = prepare(server, token, investigation["id"], format="avi")
    data = download(server, token, export["id"]).content
    with av.open(io.BytesIO(data), format="avi") as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "mjpeg"
        frames = sum(1 for _ in container.decode(stream))
    assert 50 <= frames <= 70  # two seconds at 30 fps, from the keyframe before the start


def test_permissions_visibility_and_deletion(
    protected: RunningServer, admin_token: str, operator_token: str
) -> None:
    server = protected
    base = f"{server.base_url}/api/v1"
    patch_settings(server, admin_token, {"investigations": {"export_formats": {"mkv": True}}})
    camera_id, start = recorded_range(server, admin_token, 3)

    # Without the Export permission: refused, whatever the route.
    assert httpx.get(f"{base}/investigations", headers=auth(operator_token)).status_code == 403
    granted = httpx.put(
        f"{base}/roles/operator/permissions",
        json={"permissions": ["export"]},
        headers=auth(admin_token),
    )
    assert granted.status_code == 200 and granted.json()["permissions"] == ["export"]
    roles = httpx.get(f"{base}/roles", headers=auth(admin_token)).json()
    assert next(r for r in roles if r["name"] == "operator")["permissions"] == ["export"]

    mine = create(server, admin_token, [camera_id], start, start + 2)
    # Others' investigations are hidden while their cameras are.
    patch_settings(server, admin_token, {"investigations": {"view_others": True}})
    assert httpx.get(f"{base}/investigations", headers=auth(operator_token)).json() == []
    viewer = httpx.put(
        f"{base}/roles/operator/cameras",
        json={"camera_ids": [camera_id]},
        headers=auth(admin_token),
    )
    assert viewer.status_code == 200
    patch_settings(server, admin_token, {"investigations": {"view_others": False}})
    # Others' investigations are hidden until the administrator shows them.
    assert httpx.get(f"{base}/investigations", headers=auth(operator_token)).json() == []
    hidden = httpx.get(f"{base}/investigations/{mine['id']}", headers=auth(operator_token))
    assert hidden.status_code == 404
    patch_settings(server, admin_token, {"investigations": {"view_others": True}})
    seen = httpx.get(f"{base}/investigations", headers=auth(operator_token)).json()
    assert [i["id"] for i in seen] == [mine["id"]]
    # Seen, but only its owner (or an administrator) changes it.
    edit = httpx.patch(
        f"{base}/investigations/{mine['id']}", json={"name": "x"}, headers=auth(operator_token)
    )
    assert edit.status_code == 403
    renamed = httpx.patch(
        f"{base}/investigations/{mine['id']}",
        json={"name": "Renamed"},
        headers=auth(admin_token),
    )
    assert renamed.status_code == 200 and renamed.json()["name"] == "Renamed"

    # A format the administrator has not enabled is refused; an enabled one is prepared.
    offered = httpx.get(f"{base}/exports/formats", headers=auth(operator_token))
    assert offered.json() == {"formats": ["mkv"]}
    avi = httpx.post(
        f"{base}/investigations/{mine['id']}/exports",
        json={"format": "avi"},
        headers=auth(operator_token),
    )
    assert avi.status_code == 403 and "avi" in avi.json()["detail"]
    export = prepare(server, operator_token, mine["id"], format="mkv")
    folder = server.data_dir / "investigations" / mine["id"]
    assert len(list(folder.iterdir())) == 1

    # Deleting an export deletes its file; deleting the investigation deletes the rest.
    second = prepare(server, admin_token, mine["id"], format="mkv")
    gone = httpx.delete(
        f"{base}/investigations/{mine['id']}/exports/{export['id']}", headers=auth(operator_token)
    )
    assert gone.status_code == 204
    assert [p.name for p in folder.iterdir()] == [f"{second['id']}.mkv"]
    assert download(server, admin_token, export["id"]).status_code == 404
    deleted = httpx.delete(f"{base}/investigations/{mine['id']}", headers=auth(admin_token))
    assert deleted.status_code == 204
    assert not folder.exists()
    assert download(server, admin_token, second["id"]).status_code == 404

    # Every step is in the audit log, with the changes.
    entries = httpx.get(f"{base}/audit", params={"q": mine["id"]}, headers=auth(admin_token)).json()
    actions = [e["action"] for e in entries]
    for action in (
        "investigation.create",
        "investigation.edit",
        "export.prepare",
        "export.delete",
        "investigation.delete",
    ):
        assert action in actions
    edit_entry = next(e for e in entries if e["action"] == "investigation.edit")
    assert edit_entry["details"]["name"] == {"old": "Broken window", "new": "Renamed"}
    assert httpx.get(f"{base}/audit", headers=auth(operator_token)).status_code == 403


def test_exports_wait_for_a_data_protection_password(
    server: RunningServer, admin_token: str
) -> None:
    patch_settings(server, admin_token, ALL_FORMATS)
    camera_id, start = recorded_range(server, admin_token, 2)
    investigation = create(server, admin_token, [camera_id], start, start + 1)
    refused = httpx.post(
        f"{server.base_url}/api/v1/investigations/{investigation['id']}/exports",
        json={"format": "mkv"},
        headers=auth(admin_token),
    )
    assert refused.status_code == 409
    assert "camgate password" in refused.json()["detail"]
    folder = httpx.patch(
        f"{server.base_url}/api/v1/settings",
        json={"investigations": {"folder": "/tmp/elsewhere"}},
        headers={**auth(admin_token), "Content-Type": "application/merge-patch+json"},
    )
    assert folder.status_code == 422 and "camgate investigations-folder" in folder.text
