"""What an administrator takes away takes effect on open streams within seconds: a camera
removed from a role, a new password (from the command line too), a removed user."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx

from tests.conftest import ADMIN, OPERATOR, login
from tests.integration.test_cli import run
from tests.support.media_checks import wait_for_online
from tests.support.server import RunningServer, auth

#: The server checks open streams against the database every 2 s.
WITHIN_S = 10


@contextmanager
def watching(url: str) -> Iterator[threading.Event]:
    """A player reading a live stream; the event is set when the server ends it."""
    ended = threading.Event()

    def read() -> None:
        try:
            with httpx.stream("GET", url, timeout=30) as response:
                for _ in response.iter_bytes():
                    pass
        except httpx.HTTPError:
            pass
        ended.set()

    thread = threading.Thread(target=read, daemon=True)
    thread.start()
    try:
        yield ended
    finally:
        thread.join(0)


def test_taken_rights_end_open_streams(server: RunningServer) -> None:
    base = f"{server.base_url}/api/v1"
    admin = login(server.base_url, *ADMIN)
    camera = httpx.post(
        f"{base}/cameras", json={"name": "Gate", "urls": ["synthetic:360p"]}, headers=auth(admin)
    ).json()
    cameras = f"{base}/roles/operator/cameras"
    httpx.put(cameras, json={"camera_ids": [camera["id"]]}, headers=auth(admin)).raise_for_status()
    wait_for_online(server.base_url, admin, camera["id"])
    live = f"{base}/cameras/{camera['id']}/live.mp4?token="

    # The role loses the camera.
    operator = login(server.base_url, *OPERATOR)
    with watching(live + operator) as ended:
        time.sleep(1)
        assert not ended.is_set()
        httpx.put(cameras, json={"camera_ids": []}, headers=auth(admin)).raise_for_status()
        assert ended.wait(WITHIN_S), "the stream went on without the camera in the role"
    httpx.put(cameras, json={"camera_ids": [camera["id"]]}, headers=auth(admin)).raise_for_status()

    # A new password, set from the command line while the server runs.
    operator = login(server.base_url, *OPERATOR)
    kept = login(server.base_url, *ADMIN)
    with watching(live + operator) as ended, watching(live + kept) as other:
        time.sleep(1)
        changed = run(
            server.data_dir,
            "user",
            "passwd",
            OPERATOR[0],
            "--password-stdin",
            stdin="a brand new password\n",
        )
        assert changed.returncode == 0, changed.stderr
        assert ended.wait(WITHIN_S), "the stream went on after the password changed"
        assert not other.is_set()  # others watch on
