"""The client timeout (U3) on a real server: silent sessions end, living ones stay."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import socket
import threading
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
import websockets

from tests.conftest import ADMIN, login
from tests.support.media_checks import wait_for_online
from tests.support.server import RunningServer, auth

TIMEOUT_S = 2


@contextlib.contextmanager
def stalled_websocket(server: RunningServer, path: str) -> Iterator[socket.socket]:
    """A WebSocket whose client vanished: it was opened, then nothing is ever read from it."""
    address = urlsplit(server.base_url)
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect((address.hostname, address.port))
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        (
            f"GET {path} HTTP/1.1\r\nHost: {address.netloc}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    head = b""
    while b"\r\n\r\n" not in head:
        head += sock.recv(1)
    assert head.startswith(b"HTTP/1.1 101"), head
    try:
        yield sock
    finally:
        sock.close()


@contextlib.contextmanager
def player(url: str) -> Iterator[list[int]]:
    """A player that reads a progressive stream and never says anything (VLC, say)."""
    received = [0]
    stop = threading.Event()

    def read() -> None:
        with httpx.stream("GET", url, timeout=10) as response:
            for chunk in response.iter_bytes():
                received[0] += len(chunk)
                if stop.is_set():
                    return

    thread = threading.Thread(target=read, daemon=True)
    thread.start()
    try:
        yield received
    finally:
        stop.set()
        thread.join(10)


def test_silent_sessions_end_and_their_streams_close(server: RunningServer) -> None:
    base = server.base_url
    admin = login(base, *ADMIN)
    patch = {"connectivity": {"client_timeout_s": TIMEOUT_S}}
    assert httpx.patch(f"{base}/api/v1/settings", json=patch, headers=auth(admin)).is_success
    camera = httpx.post(
        f"{base}/api/v1/cameras",
        json={"name": "Big", "urls": ["synthetic:1080p"]},
        headers=auth(admin),
    ).json()
    wait_for_online(base, admin, camera["id"])
    quiet, kept, watching = (login(base, *ADMIN) for _ in range(3))
    live = f"/api/v1/cameras/{camera['id']}"
    keepalive = httpx.post(f"{base}/api/v1/auth/keepalive", headers=auth(kept))
    assert keepalive.json() == {"timeout_s": TIMEOUT_S}

    with (
        stalled_websocket(server, f"{live}/live?token={quiet}"),
        player(f"{base}{live}/live.mp4?token={watching}") as received,
    ):
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            for token in (admin, kept):
                httpx.post(f"{base}/api/v1/auth/keepalive", headers=auth(token))
            status = httpx.get(f"{base}/api/v1/status", headers=auth(admin)).json()
            # The quiet session's line leaves the table with its stream; the player watches on.
            streams = sorted(u["direct_video_streams"] for u in status["users"])
            if status["sessions_timed_out"] and streams == [0, 0, 1]:
                break
            time.sleep(0.5)
        assert status["sessions_timed_out"] == 1 and streams == [0, 0, 1], status
        seen = received[0]
        for _ in range(2 * TIMEOUT_S + 3):  # longer than the timeout, the others signalling
            for token in (admin, kept):
                httpx.post(f"{base}/api/v1/auth/keepalive", headers=auth(token))
            time.sleep(0.5)
        assert received[0] > seen

    assert httpx.get(f"{base}/api/v1/auth/me", headers=auth(quiet)).status_code == 401
    assert httpx.get(f"{base}/api/v1/auth/me", headers=auth(watching)).status_code == 200
    assert httpx.get(f"{base}/api/v1/auth/me", headers=auth(kept)).status_code == 200
    metrics = httpx.get(f"{base}/metrics", headers=auth(admin)).text
    assert "camgate_sessions_timed_out_total 1.0" in metrics


def test_a_silent_session_with_an_offline_camera_is_closed_with_4401(
    server: RunningServer,
) -> None:
    """No video flows to prove the client is there: only its own signs of life count."""
    base = server.base_url
    admin = login(base, *ADMIN)
    patch = {"connectivity": {"client_timeout_s": TIMEOUT_S}}
    assert httpx.patch(f"{base}/api/v1/settings", json=patch, headers=auth(admin)).is_success
    camera = httpx.post(
        f"{base}/api/v1/cameras",
        json={"name": "Gone", "urls": ["rtsp://127.0.0.1:9/none"]},
        headers=auth(admin),
    ).json()
    quiet, talking = (login(base, *ADMIN) for _ in range(2))
    url = f"{server.ws_url}/api/v1/cameras/{camera['id']}/live?token="

    async def watch() -> tuple[int | None, int | None]:
        async with (
            websockets.connect(url + quiet) as silent,
            websockets.connect(url + talking) as alive,
        ):

            async def say_hello() -> None:
                while True:
                    await alive.send('{"type": "keepalive"}')
                    await asyncio.sleep(0.5)

            hello = asyncio.create_task(say_hello())
            with contextlib.suppress(websockets.ConnectionClosed):
                while True:
                    await asyncio.wait_for(silent.recv(), TIMEOUT_S + 5)
            still_open = alive.close_code
            hello.cancel()
            return silent.close_code, still_open

    closed, alive_code = asyncio.run(watch())
    assert closed == 4401 and alive_code is None
    assert httpx.get(f"{base}/api/v1/auth/me", headers=auth(quiet)).status_code == 401
    assert httpx.get(f"{base}/api/v1/auth/me", headers=auth(talking)).status_code == 200
