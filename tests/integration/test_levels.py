"""Limitation levels on a real server: load readings from a fake probe move transcoded viewers."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import httpx
import websockets

from tests.conftest import ADMIN, login
from tests.support.media_checks import wait_for_online
from tests.support.server import RunningServer, auth, running_server

LEVEL2 = {"enabled": True, "cpu_threshold_pct": 50, "max_fps": 5}
LEVEL2_SIZE = {"width": 320, "height": 180}


class FakeProbe:
    """The CPU usage the status sampler reads: set by the test."""

    def __init__(self) -> None:
        self.percent = 10.0

    def __call__(self) -> float:
        return self.percent


async def next_notice(ws: websockets.ClientConnection) -> dict[str, object]:
    """The next ``transcoded`` notice, skipping JPEG frames and other messages."""
    while True:
        message = await ws.recv()
        if isinstance(message, str):
            notice: dict[str, object] = json.loads(message)
            if notice["type"] == "transcoded":
                return notice


def level_now(server: RunningServer, token: str) -> int:
    level: int = httpx.get(f"{server.base_url}/api/v1/status", headers=auth(token)).json()["level"]
    return level


def test_load_over_a_threshold_steps_viewers_down_and_back_up(data_dir: Path) -> None:
    probe = FakeProbe()
    with running_server(data_dir, cpu_percent=probe) as server:
        base = server.base_url
        token = login(base, *ADMIN)
        patch = {"performance": {"level2": {**LEVEL2, "max_resolution": LEVEL2_SIZE}}}
        assert httpx.patch(f"{base}/api/v1/settings", json=patch, headers=auth(token)).is_success
        camera = httpx.post(
            f"{base}/api/v1/cameras",
            json={"name": "Cam A", "urls": ["synthetic:720p"]},
            headers=auth(token),
        ).json()
        wait_for_online(base, token, camera["id"])
        url = (
            f"{server.ws_url}/api/v1/cameras/{camera['id']}/live"
            f"?transcode=1&width=640&height=360&fps=15&token={token}"
        )

        async def watch() -> list[tuple[dict[str, object], int]]:
            seen = []
            async with websockets.connect(url) as ws:
                first = await asyncio.wait_for(next_notice(ws), 10)
                seen.append((first, level_now(server, token)))
                probe.percent = 80.0  # more than 5 % over level 2's 50 %
                down = await asyncio.wait_for(next_notice(ws), 15)  # one sampling period: 5 s
                seen.append((down, level_now(server, token)))
                probe.percent = 30.0  # more than 5 % under: back up after 10 s there
                started = time.monotonic()
                up = await asyncio.wait_for(next_notice(ws), 30)
                seen.append((up, round(time.monotonic() - started)))
            return seen

        (first, level1), (down, level2), (up, waited) = asyncio.run(watch())

    assert level1 == 1 and (first["width"], first["height"], first["fps"]) == (640, 360, 15)
    assert first["reason"] == "requested"
    assert level2 == 2 and (down["width"], down["height"], down["fps"]) == (320, 180, 5)
    assert (up["width"], up["height"], up["fps"]) == (640, 360, 15)
    assert waited >= 10  # the recovery wait: no flapping between levels
