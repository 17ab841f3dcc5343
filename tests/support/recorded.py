"""A server whose camera has recordings that stand still: two runs with a gap between them,
then recording off; and a second camera that records nothing. For the modules that check
answers about recordings against the REST API's timeline of the same camera."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.conftest import ADMIN, OPERATOR, login
from tests.integration.test_playback_ws import record_until, runs_of, set_recording
from tests.support.media_checks import wait_for_online
from tests.support.server import RunningServer, add_user, auth, running_server


@dataclass(frozen=True)
class Recorded:
    server: RunningServer
    token: str
    camera_id: str
    #: A camera that records nothing (its address leads nowhere).
    silent_id: str
    #: The two recorded runs, (start, end) in seconds since the epoch, as the REST API says.
    runs: list[tuple[float, float]]


@contextmanager
def recorded_camera(
    data: Path, clip_cache: Path, *, first_s: float, second_s: float
) -> Iterator[Recorded]:
    """The server, once the runs (at least ``first_s`` and ``second_s`` long) are recorded.
    The operator role has both cameras."""
    data.mkdir()
    shutil.copytree(clip_cache, data / "cache")
    add_user(data, *ADMIN, "administrator")
    add_user(data, *OPERATOR, "operator")
    with running_server(data, backoff=lambda n: 0.2, segment_s=2) as server:
        base = server.base_url
        token = login(base, *ADMIN)
        cameras = f"{base}/api/v1/cameras"
        created = httpx.post(
            cameras, json={"name": "Cam A", "urls": ["synthetic:360p"]}, headers=auth(token)
        )
        camera_id = created.json()["id"]
        silent = httpx.post(
            cameras,
            json={"name": "Silent", "urls": ["rtsp://127.0.0.1:9/none"]},
            headers=auth(token),
        ).json()["id"]
        theirs = httpx.put(
            f"{base}/api/v1/roles/operator/cameras",
            json={"camera_ids": [camera_id, silent]},
            headers=auth(token),
        )
        assert theirs.status_code == 200, theirs.text
        wait_for_online(base, token, camera_id)
        api = f"{cameras}/{camera_id}"
        record_until(base, token, camera_id, runs=1, last_s=first_s)
        set_recording(api, token, enabled=False)
        time.sleep(2.5)  # the gap
        set_recording(api, token, enabled=True)
        record_until(base, token, camera_id, runs=2, last_s=second_s)
        set_recording(api, token, enabled=False)
        yield Recorded(server, token, camera_id, silent, runs_of(base, token, camera_id))
