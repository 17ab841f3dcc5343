"""The live API end to end: a real server, a synthetic camera, real H.264 decoded back."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest
import websockets

from camgate.media import h26x
from camgate.media.fmp4 import iter_boxes
from tests.conftest import login
from tests.support.media_checks import decode_mp4, read_progressive, wait_for_online
from tests.support.server import RunningServer, auth


@pytest.fixture
def camera_id(server: RunningServer, admin_token: str) -> str:
    response = httpx.post(
        f"{server.base_url}/api/v1/cameras",
        json={"name": "Cam A", "urls": ["synthetic:360p"]},
        headers=auth(admin_token),
    )
    assert response.status_code == 201, response.text
    camera_id: str = response.json()["id"]
    wait_for_online(server.base_url, admin_token, camera_id)
    return camera_id


def test_health_needs_no_login(server: RunningServer) -> None:
    response = httpx.get(f"{server.base_url}/api/v1/health")
    assert response.status_code == 200


def test_login_logout_and_cookie(server: RunningServer) -> None:
    bad = httpx.post(
        f"{server.base_url}/api/v1/auth/login", json={"username": "admin", "password": "nope"}
    )
    assert bad.status_code == 401
    assert bad.headers["content-type"] == "application/problem+json"
    unknown = httpx.post(
        f"{server.base_url}/api/v1/auth/login", json={"username": "ghost", "password": "nope"}
    )
    assert unknown.status_code == 401
    with httpx.Client(base_url=server.base_url) as client:
        good = client.post(
            "/api/v1/auth/login", json={"username": "ADMIN", "password": "admin-password-1"}
        )
        assert good.status_code == 200
        assert "httponly" in good.headers["set-cookie"].lower()
        assert "samesite=strict" in good.headers["set-cookie"].lower()
        assert client.get("/api/v1/auth/me").json()["username"] == "admin"
        assert client.post("/api/v1/auth/logout").status_code == 204
        assert client.get("/api/v1/auth/me").status_code == 401
    token = good.json()["token"]
    assert httpx.get(f"{server.base_url}/api/v1/auth/me", headers=auth(token)).status_code == 401


def test_failed_logins_are_rate_limited(server: RunningServer) -> None:
    for _ in range(5):
        httpx.post(
            f"{server.base_url}/api/v1/auth/login", json={"username": "olivia", "password": "x"}
        )
    limited = httpx.post(
        f"{server.base_url}/api/v1/auth/login",
        json={"username": "olivia", "password": "operator-password-1"},
    )
    assert limited.status_code == 429
    assert int(limited.headers["retry-after"]) > 0


def test_camera_listing(server: RunningServer, admin_token: str, camera_id: str) -> None:
    cameras = httpx.get(f"{server.base_url}/api/v1/cameras", headers=auth(admin_token)).json()
    assert [c["name"] for c in cameras] == ["Cam A"]
    stream = cameras[0]["streams"][0]
    assert stream["codec"] == "h264"
    assert (stream["width"], stream["height"]) == (640, 360)
    assert 25 <= stream["fps"] <= 35
    assert set(cameras[0]) >= {"id", "name", "status", "streams"}


def test_progressive_mp4_decodes_from_a_keyframe(
    server: RunningServer, admin_token: str, camera_id: str
) -> None:
    data = read_progressive(
        f"{server.base_url}/api/v1/cameras/{camera_id}/live.mp4", 2.5, headers=auth(admin_token)
    )
    decoded = decode_mp4(data)
    assert decoded.first_is_keyframe
    assert decoded.frames >= 45
    assert (decoded.width, decoded.height) == (640, 360)
    assert decoded.pts == sorted(decoded.pts)


def test_websocket_sends_init_then_fragments(
    server: RunningServer, admin_token: str, camera_id: str
) -> None:
    async def session() -> tuple[list[object], float]:
        url = f"{server.ws_url}/api/v1/cameras/{camera_id}/live?token={admin_token}"
        messages: list[object] = []
        async with websockets.connect(url) as ws:
            while len(messages) < 40:
                messages.append(await asyncio.wait_for(ws.recv(), 5))
        return messages, 0.0

    messages, _ = asyncio.run(session())
    notice = json.loads(messages[0])  # type: ignore[arg-type]
    assert notice["type"] == "init"
    assert notice["mime"].startswith('video/mp4; codecs="avc1.')
    assert (notice["width"], notice["height"]) == (640, 360)
    init = messages[1]
    assert isinstance(init, bytes)
    assert [box for box, _, _ in iter_boxes(init)] == ["ftyp", "moov"]
    fragments = [m for m in messages[2:] if isinstance(m, bytes)]
    assert fragments
    for fragment in fragments:
        assert [box for box, _, _ in iter_boxes(fragment)] == ["moof", "mdat"]
    decoded = decode_mp4(init + b"".join(fragments))
    assert decoded.first_is_keyframe and decoded.frames == len(fragments)
    # Each synthetic frame carries its capture time.
    mdat = next((start, size) for box, start, size in iter_boxes(fragments[0]) if box == "mdat")
    sample = fragments[0][mdat[0] + 8 : mdat[0] + mdat[1]]
    assert h26x.find_wallclock("h264", sample) is not None


def test_hls_playlist_and_media_decode(
    server: RunningServer, admin_token: str, camera_id: str
) -> None:
    base = f"{server.base_url}/api/v1/cameras/{camera_id}/"
    playlist = httpx.get(base + f"live.m3u8?token={admin_token}", timeout=10).text
    assert playlist.startswith("#EXTM3U")
    assert "#EXT-X-PART-INF" in playlist
    msn = int(
        next(
            line.split(":")[1]
            for line in playlist.splitlines()
            if line.startswith("#EXT-X-MEDIA-SEQUENCE")
        )
    )
    # A blocking reload for the next segment returns once it is complete.
    reloaded = httpx.get(base + f"live.m3u8?token={admin_token}&_HLS_msn={msn + 1}", timeout=10)
    assert reloaded.status_code == 200, reloaded.text
    assert f"segment/{msn + 1}.m4s" in reloaded.text
    too_far = httpx.get(base + f"live.m3u8?token={admin_token}&_HLS_msn={msn + 9}", timeout=10)
    assert too_far.status_code == 422
    lines = reloaded.text.splitlines()
    init_uri = next(
        line.split('URI="')[1].rstrip('"') for line in lines if line.startswith("#EXT-X-MAP")
    )
    segments = [line for line in lines if line and not line.startswith("#")]
    assert segments and all("token=" in uri for uri in segments)
    init = httpx.get(base + init_uri).content
    media = httpx.get(base + segments[-1]).content
    decoded = decode_mp4(init + media)
    assert decoded.first_is_keyframe
    assert decoded.frames >= 25


def test_snapshot_is_a_jpeg_of_the_stream(
    server: RunningServer, admin_token: str, camera_id: str
) -> None:
    from io import BytesIO

    from PIL import Image

    response = httpx.get(
        f"{server.base_url}/api/v1/cameras/{camera_id}/snapshot.jpg", headers=auth(admin_token)
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/jpeg"
    assert Image.open(BytesIO(response.content)).size == (640, 360)


def test_media_token_for_players(server: RunningServer, admin_token: str, camera_id: str) -> None:
    issued = httpx.post(
        f"{server.base_url}/api/v1/cameras/{camera_id}/media-token", headers=auth(admin_token)
    ).json()
    data = read_progressive(server.base_url + issued["urls"]["mp4"], 1.5)
    assert decode_mp4(data).frames > 0
    forged = issued["token"][:-3] + ("AAA" if not issued["token"].endswith("AAA") else "BBB")
    response = httpx.get(
        f"{server.base_url}/api/v1/cameras/{camera_id}/snapshot.jpg?token={forged}"
    )
    assert response.status_code == 401


def test_operator_sees_only_granted_cameras(
    server: RunningServer, admin_token: str, operator_token: str, camera_id: str
) -> None:
    base = server.base_url
    assert httpx.get(f"{base}/api/v1/cameras", headers=auth(operator_token)).json() == []
    hidden = httpx.get(
        f"{base}/api/v1/cameras/{camera_id}/snapshot.jpg", headers=auth(operator_token)
    )
    assert hidden.status_code == 404
    granted = httpx.put(
        f"{base}/api/v1/roles/operator/cameras",
        json={"camera_ids": [camera_id]},
        headers=auth(admin_token),
    )
    assert granted.status_code == 200
    visible = httpx.get(f"{base}/api/v1/cameras", headers=auth(operator_token)).json()
    assert [c["id"] for c in visible] == [camera_id]
    assert (
        httpx.get(
            f"{base}/api/v1/cameras/{camera_id}/snapshot.jpg", headers=auth(operator_token)
        ).status_code
        == 200
    )
    # Operators do not administer.
    assert httpx.get(f"{base}/api/v1/settings", headers=auth(operator_token)).status_code == 403
    assert (
        httpx.post(
            f"{base}/api/v1/cameras",
            json={"name": "x", "urls": ["synthetic:360p"]},
            headers=auth(operator_token),
        ).status_code
        == 403
    )


def test_bad_camera_urls_are_refused_clearly(server: RunningServer, admin_token: str) -> None:
    for url in ["rtsp://", "http://example.invalid/x", "/no/such/file.mp4", "synthetic:4k"]:
        response = httpx.post(
            f"{server.base_url}/api/v1/cameras",
            json={"name": "bad", "urls": [url]},
            headers=auth(admin_token),
        )
        assert response.status_code == 422, url
        assert response.json()["detail"]


def test_unreachable_camera_reports_offline(server: RunningServer, admin_token: str) -> None:
    from tests.support.media_checks import wait_for_status
    from tests.support.server import free_port

    response = httpx.post(
        f"{server.base_url}/api/v1/cameras",
        json={"name": "Gone", "urls": [f"rtsp://user:secret@127.0.0.1:{free_port()}/x"]},
        headers=auth(admin_token),
    )
    assert response.status_code == 201
    camera = wait_for_status(server.base_url, admin_token, response.json()["id"], "offline")
    detail = camera["streams"][0]["detail"]  # type: ignore[index]
    assert detail and "secret" not in detail
    listing = httpx.get(f"{server.base_url}/api/v1/cameras", headers=auth(admin_token)).text
    assert "secret" not in listing


def test_login_token_works_again_after_a_new_login(server: RunningServer) -> None:
    first = login(server.base_url, "admin", "admin-password-1")
    second = login(server.base_url, "admin", "admin-password-1")
    assert first != second
    assert httpx.get(f"{server.base_url}/api/v1/auth/me", headers=auth(first)).status_code == 200


def test_logout_ends_the_sessions_open_streams(
    server: RunningServer, admin_token: str, camera_id: str
) -> None:
    async def watch_then_log_out() -> int | None:
        url = f"{server.ws_url}/api/v1/cameras/{camera_id}/live?token={admin_token}"
        async with websockets.connect(url) as ws:
            await ws.recv()
            async with httpx.AsyncClient() as client:
                response = await client.post(
                    f"{server.base_url}/api/v1/auth/logout", headers=auth(admin_token)
                )
                assert response.status_code == 204
            try:
                for _ in range(300):  # about 10 s of video: the stream should end long before
                    await asyncio.wait_for(ws.recv(), 10)
            except websockets.ConnectionClosed as closed:
                return closed.rcvd.code if closed.rcvd else None
        return None

    assert asyncio.run(watch_then_log_out()) == 4401
