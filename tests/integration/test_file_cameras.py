"""File cameras (looped in real time) and H.265, offered only to clients that decode it."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx
import websockets

from tests.support.media import write_mp4
from tests.support.media_checks import decode_mp4, read_progressive, wait_for_online
from tests.support.server import RunningServer


def add_file_camera(server: RunningServer, token: str, name: str, path: Path) -> str:
    response = httpx.post(
        f"{server.base_url}/api/v1/cameras",
        json={"name": name, "urls": [str(path)]},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 201, response.text
    camera_id: str = response.json()["id"]
    wait_for_online(server.base_url, token, camera_id)
    return camera_id


def first_message(url: str) -> tuple[str | bytes, int | None]:
    async def receive() -> tuple[str | bytes, int | None]:
        async with websockets.connect(url) as ws:
            message = await asyncio.wait_for(ws.recv(), 10)
            try:
                await asyncio.wait_for(ws.recv(), 10)
            except websockets.ConnectionClosed as closed:
                return message, closed.rcvd.code if closed.rcvd else None
            return message, None

    return asyncio.run(receive())


def test_looped_file_plays_continuously(
    server: RunningServer, admin_token: str, tmp_path: Path
) -> None:
    clip = write_mp4(tmp_path / "clip.mp4", frames=30)  # one second, looped
    camera_id = add_file_camera(server, admin_token, "Clip", clip)
    data = read_progressive(
        f"{server.base_url}/api/v1/cameras/{camera_id}/live.mp4",
        3.5,
        headers={"Authorization": f"Bearer {admin_token}"},
    )
    decoded = decode_mp4(data)
    assert decoded.frames >= 90  # several loops, in real time
    steps = {b - a for a, b in zip(decoded.pts, decoded.pts[1:], strict=False)}
    assert min(steps) > 0  # timestamps continue across the loop


def test_hevc_only_for_clients_that_declare_it(
    server: RunningServer, admin_token: str, tmp_path: Path
) -> None:
    clip = write_mp4(tmp_path / "hevc.mp4", codec="hevc", frames=30)
    camera_id = add_file_camera(server, admin_token, "Hevc", clip)
    listed = httpx.get(
        f"{server.base_url}/api/v1/cameras/{camera_id}",
        headers={"Authorization": f"Bearer {admin_token}"},
    ).json()
    assert listed["streams"][0]["codec"] == "hevc"

    base = f"{server.ws_url}/api/v1/cameras/{camera_id}/live?token={admin_token}"
    transcoded, _ = first_message(base)  # a client that does not declare H.265 gets JPEG
    assert json.loads(transcoded)["reason"] == "codec_unsupported"
    refused = httpx.get(
        f"{server.base_url}/api/v1/cameras/{camera_id}/live.mp4?token={admin_token}"
    )
    assert refused.status_code == 422 and "client decodes" in refused.json()["detail"]
    accepted, _ = first_message(base + "&codecs=h264,hevc")
    notice = json.loads(accepted)
    assert notice["type"] == "init" and notice["mime"].startswith('video/mp4; codecs="hvc1.')

    data = read_progressive(
        f"{server.base_url}/api/v1/cameras/{camera_id}/live.mp4?codecs=hevc&token={admin_token}",
        1.5,
    )
    decoded = decode_mp4(data)
    assert decoded.first_is_keyframe and (decoded.width, decoded.height) == (640, 360)
