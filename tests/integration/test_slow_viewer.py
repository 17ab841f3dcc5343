"""A viewer that stops reading is skipped to the next keyframe and told, never buffered forever."""

from __future__ import annotations

import asyncio
import json
import socket

import httpx
import websockets

from camgate.media.fmp4 import iter_boxes
from tests.support.media_checks import decode_mp4, wait_for_online
from tests.support.server import RunningServer


def test_stalled_viewer_gets_a_drop_notice_then_a_keyframe(
    server: RunningServer, admin_token: str
) -> None:
    created = httpx.post(
        f"{server.base_url}/api/v1/cameras",
        json={"name": "Big", "urls": ["synthetic:1080p"]},
        headers={"Authorization": f"Bearer {admin_token}"},
    )
    camera_id = created.json()["id"]
    wait_for_online(server.base_url, admin_token, camera_id)

    async def stall_then_read() -> tuple[dict[str, int], list[bytes]]:
        url = f"{server.ws_url}/api/v1/cameras/{camera_id}/live?token={admin_token}"
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)  # before connect: no autotuning
        sock.connect(("127.0.0.1", int(server.base_url.rsplit(":", 1)[1])))
        async with websockets.connect(url, sock=sock, max_queue=1, max_size=None) as ws:
            init_notice = json.loads(await ws.recv())
            init = await ws.recv()
            assert init_notice["type"] == "init" and isinstance(init, bytes)
            await asyncio.sleep(9)  # 4 Mbit/s piles up: socket buffers, then the bounded queue
            for _ in range(2000):
                message = await asyncio.wait_for(ws.recv(), 10)
                if isinstance(message, str) and json.loads(message)["type"] == "drop":
                    after = [await asyncio.wait_for(ws.recv(), 10) for _ in range(5)]
                    return json.loads(message), [init, *after]  # type: ignore[list-item]
        raise AssertionError("no drop notice")

    drop, media = asyncio.run(stall_then_read())
    assert drop["frames"] > 0
    assert all(isinstance(m, bytes) for m in media)
    assert [box for box, _, _ in iter_boxes(media[1])] == ["moof", "mdat"]
    decoded = decode_mp4(b"".join(media))
    assert decoded.first_is_keyframe and decoded.frames == 5
