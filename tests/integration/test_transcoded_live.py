"""Transcoded live video: JPEG within the limits, shared transcoders, the fallback cases."""

from __future__ import annotations

import asyncio
import json
import time
from io import BytesIO

import httpx
import numpy as np
import pytest
import websockets
from PIL import Image

from tests.support.media_checks import wait_for_online
from tests.support.server import RunningServer, auth


@pytest.fixture
def camera_id(server: RunningServer, admin_token: str) -> str:
    response = httpx.post(
        f"{server.base_url}/api/v1/cameras",
        json={"name": "Cam A", "urls": ["synthetic:720p", "synthetic:360p"]},
        headers=auth(admin_token),
    )
    camera_id: str = response.json()["id"]
    camera = wait_for_online(server.base_url, admin_token, camera_id)
    deadline = time.monotonic() + 20
    while not all(s["width"] for s in camera["streams"]):  # type: ignore[union-attr]
        assert time.monotonic() < deadline
        time.sleep(0.2)
        camera = httpx.get(
            f"{server.base_url}/api/v1/cameras/{camera_id}", headers=auth(admin_token)
        ).json()
    return camera_id


def mjpeg_parts(url: str, seconds: float) -> list[bytes]:
    """The JPEGs of a multipart/x-mixed-replace response read for ``seconds``."""
    data = b""
    deadline = time.monotonic() + seconds
    with httpx.stream("GET", url, timeout=10) as response:
        assert response.status_code == 200, response.read()
        assert response.headers["content-type"].startswith("multipart/x-mixed-replace")
        for chunk in response.iter_bytes():
            data += chunk
            if time.monotonic() > deadline:
                break
    parts = []
    for part in data.split(b"--camgateframe\r\n")[1:]:
        head, _, body = part.partition(b"\r\n\r\n")
        length = int(head.split(b"Content-Length: ")[1].split(b"\r\n")[0])
        if len(body) >= length:
            parts.append(body[:length])
    return parts


def ws_messages(url: str, count: int) -> list[str | bytes]:
    async def receive() -> list[str | bytes]:
        async with websockets.connect(url) as ws:
            return [await asyncio.wait_for(ws.recv(), 15) for _ in range(count)]

    return asyncio.run(receive())


def size(jpeg: bytes) -> tuple[int, int]:
    return Image.open(BytesIO(jpeg)).size


def test_mjpeg_at_the_size_and_rate_asked(
    server: RunningServer, admin_token: str, camera_id: str
) -> None:
    url = f"{server.base_url}/api/v1/cameras/{camera_id}/live.mjpeg"
    parts = mjpeg_parts(f"{url}?width=320&fps=5&quality=60&token={admin_token}", 3.2)
    assert 10 <= len(parts) <= 20  # about 5 per second (the first at once)
    assert {size(part) for part in parts} == {(320, 180)}


def test_websocket_jpeg_when_asked_and_when_direct_is_off(
    server: RunningServer, admin_token: str, camera_id: str
) -> None:
    base = f"{server.ws_url}/api/v1/cameras/{camera_id}/live?token={admin_token}"
    messages = ws_messages(base + "&transcode=1&width=320&fps=10", 4)
    notice = json.loads(messages[0])
    assert notice == {
        "type": "transcoded",
        "reason": "requested",
        "width": 320,
        "height": 180,
        "fps": 10.0,
        "quality": 75,
    }
    jpegs = [m for m in messages[1:] if isinstance(m, bytes)]
    assert jpegs and all(size(m) == (320, 180) for m in jpegs)

    httpx.patch(
        f"{server.base_url}/api/v1/settings",
        json={"performance": {"direct_streaming": False}},
        headers=auth(admin_token),
    ).raise_for_status()
    fallback = json.loads(ws_messages(base, 1)[0])
    assert (fallback["type"], fallback["reason"]) == ("transcoded", "direct_disabled")
    for direct in ("live.mp4", "live.m3u8"):
        refused = httpx.get(
            f"{server.base_url}/api/v1/cameras/{camera_id}/{direct}", headers=auth(admin_token)
        )
        assert refused.status_code == 403 and "turned off" in refused.json()["detail"]


def test_client_reported_fallback(server: RunningServer, admin_token: str, camera_id: str) -> None:
    base = f"{server.ws_url}/api/v1/cameras/{camera_id}/live?token={admin_token}"
    notice = json.loads(ws_messages(base + "&fallback=not_started", 1)[0])
    assert notice["reason"] == "not_started"
    direct = json.loads(ws_messages(base, 1)[0])
    assert direct["type"] == "init"


def test_level_one_limits_every_output(
    server: RunningServer, admin_token: str, camera_id: str
) -> None:
    httpx.patch(
        f"{server.base_url}/api/v1/settings",
        json={
            "performance": {
                "level1": {"max_fps": 4, "max_resolution": {"width": 320, "height": 180}}
            }
        },
        headers=auth(admin_token),
    ).raise_for_status()
    url = f"{server.ws_url}/api/v1/cameras/{camera_id}/live?token={admin_token}"
    notice = json.loads(ws_messages(url + "&transcode=1&width=1280&fps=30", 1)[0])
    assert (notice["width"], notice["height"], notice["fps"]) == (320, 180, 4.0)
    snapshot = httpx.get(
        f"{server.base_url}/api/v1/cameras/{camera_id}/snapshot.jpg?width=1280",
        headers=auth(admin_token),
    )
    assert size(snapshot.content) == (320, 180)


def test_snapshot_sizes(server: RunningServer, admin_token: str, camera_id: str) -> None:
    url = f"{server.base_url}/api/v1/cameras/{camera_id}/snapshot.jpg"
    assert size(httpx.get(url, headers=auth(admin_token)).content) == (1280, 720)
    small = httpx.get(url + "?width=320&quality=50", headers=auth(admin_token)).content
    assert size(small) == (320, 180)


def test_ten_viewers_share_one_transcoder(
    server: RunningServer, admin_token: str, camera_id: str
) -> None:
    url = (
        f"{server.ws_url}/api/v1/cameras/{camera_id}/live?token={admin_token}"
        "&transcode=1&width=320&fps=5"
    )

    async def watch() -> tuple[dict[str, object], list[int]]:
        sockets = [await websockets.connect(url) for _ in range(10)]
        try:
            received = []
            for ws in sockets:
                messages = [await asyncio.wait_for(ws.recv(), 15) for _ in range(3)]
                received.append(sum(isinstance(m, bytes) for m in messages))
            async with httpx.AsyncClient() as client:
                status = await client.get(
                    f"{server.base_url}/api/v1/status", headers=auth(admin_token)
                )
            return status.json(), received
        finally:
            for ws in sockets:
                await ws.close()

    status, received = asyncio.run(watch())
    assert received == [2] * 10
    assert status["transcoders"] == 1
    (admin,) = status["users"]  # type: ignore[misc]
    assert admin["transcoded_video_streams"] == 10
    time.sleep(1)
    after = httpx.get(f"{server.base_url}/api/v1/status", headers=auth(admin_token)).json()
    assert after["transcoders"] == 0  # stopped after the last viewer left


def test_privacy_masks_force_transcoding_and_are_black(
    server: RunningServer, admin_token: str, operator_token: str, camera_id: str
) -> None:
    base = f"{server.base_url}/api/v1/cameras/{camera_id}"
    masks = {"masks": [{"x": 0.0, "y": 0.0, "width": 0.5, "height": 0.5}]}
    assert (
        httpx.put(f"{base}/privacy-masks", json=masks, headers=auth(operator_token)).status_code
        == 403
    )
    bad = {"masks": [{"x": 0.5, "y": 0.0, "width": 0.0, "height": 0.5}]}
    assert (
        httpx.put(f"{base}/privacy-masks", json=bad, headers=auth(admin_token)).status_code == 422
    )
    changed = httpx.put(f"{base}/privacy-masks", json=masks, headers=auth(admin_token))
    assert changed.status_code == 200 and changed.json()["privacy_masks"] == masks["masks"]

    ws = f"{server.ws_url}/api/v1/cameras/{camera_id}/live?token={admin_token}&width=320"
    messages = ws_messages(ws, 3)
    assert json.loads(messages[0])["reason"] == "privacy_mask"
    for message in (m for m in messages[1:] if isinstance(m, bytes)):
        picture = Image.open(BytesIO(message)).convert("L")
        assert np.asarray(picture.crop((2, 2, 158, 88))).max() <= 16  # the masked quarter
    snapshot = Image.open(
        BytesIO(httpx.get(f"{base}/snapshot.jpg", headers=auth(admin_token)).content)
    )
    assert np.asarray(snapshot.convert("L").crop((4, 4, 636, 356))).max() <= 16
    assert httpx.get(f"{base}/live.mp4", headers=auth(admin_token)).status_code == 403
    assert httpx.get(f"{base}/live.m3u8", headers=auth(admin_token)).status_code == 403

    httpx.put(
        f"{base}/privacy-masks", json={"masks": []}, headers=auth(admin_token)
    ).raise_for_status()
    assert json.loads(ws_messages(ws, 1)[0])["type"] == "init"  # direct again
