"""A real RTSP camera on loopback: pull its cable and plug it back."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest
import websockets

from tests.support import rtsp
from tests.support.media_checks import (
    decode_mp4,
    read_progressive,
    wait_for_online,
    wait_for_status,
)
from tests.support.server import RunningServer

pytestmark = pytest.mark.rtsp


def test_rtsp_camera_goes_offline_and_resumes_by_itself(
    server: RunningServer, admin_token: str, rtsp_camera: rtsp.RtspCamera
) -> None:
    headers = {"Authorization": f"Bearer {admin_token}"}
    created = httpx.post(
        f"{server.base_url}/api/v1/cameras",
        json={"name": "Gate", "urls": [rtsp_camera.url]},
        headers=headers,
    )
    assert created.status_code == 201, created.text
    camera_id = created.json()["id"]
    listed = wait_for_online(server.base_url, admin_token, camera_id)
    assert listed["streams"][0]["codec"] == "h264"  # type: ignore[index]

    data = read_progressive(
        f"{server.base_url}/api/v1/cameras/{camera_id}/live.mp4", 2.0, headers=headers
    )
    decoded = decode_mp4(data)
    assert decoded.first_is_keyframe and decoded.frames > 10
    assert (decoded.width, decoded.height) == (640, 360)

    async def next_notice(ws: websockets.ClientConnection, wanted: str) -> dict[str, str]:
        while True:
            message = await asyncio.wait_for(ws.recv(), 30)
            if isinstance(message, str):
                notice = json.loads(message)
                if wanted in (notice["type"], notice.get("status")):
                    return dict(notice)

    async def watch() -> list[str]:
        """A viewer that stays connected while the camera goes away and comes back."""
        url = f"{server.ws_url}/api/v1/cameras/{camera_id}/live?token={admin_token}"
        async with websockets.connect(url) as ws:
            await next_notice(ws, "init")
            assert isinstance(await ws.recv(), bytes)
            await asyncio.to_thread(rtsp_camera.stop)
            offline = await next_notice(ws, "offline")
            await asyncio.to_thread(rtsp_camera.start)
            await next_notice(ws, "init")
            init, fragment = await ws.recv(), await ws.recv()
            assert isinstance(init, bytes) and isinstance(fragment, bytes)
            assert decode_mp4(init + fragment).first_is_keyframe
            return ["offline", offline.get("detail", ""), "resumed"]

    events = asyncio.run(watch())
    assert events[0] == "offline" and events[1]  # a reason is given
    assert events[-1] == "resumed"
    wait_for_status(server.base_url, admin_token, camera_id, "online")
