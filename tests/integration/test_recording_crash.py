"""SIGKILL while recording a synthetic and an RTSP camera: nothing indexed is lost, the gap shows,
and ``camgate check`` finds the recordings clean after the restart."""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import httpx

from tests.conftest import ADMIN, login
from tests.integration.test_recording_api import capture_times, iso
from tests.integration.test_serve import started
from tests.support import rtsp
from tests.support.media_checks import decode_mp4, wait_for_online
from tests.support.server import auth, free_port

SEGMENT_S = 4
#: What a SIGKILL may cost: the GOP in progress (1 s) and the one the recorder was handing over.
MAX_LOSS_S = 2.5
#: A paced source stamps the time it sends a frame: on a busy machine, up to ~0.1 s late.
JITTER_S = 0.15
#: Less than a GOP (1 s) and more than the pauses of a paced source on a busy machine.
LOST_GOP_S = 0.4


def _intervals(base: str, token: str, camera_id: str) -> list[tuple[float, float]]:
    body = httpx.get(f"{base}/api/v1/cameras/{camera_id}/recordings", headers=auth(token)).json()
    return [
        (
            datetime.fromisoformat(i["start"]).timestamp(),
            datetime.fromisoformat(i["end"]).timestamp(),
        )
        for i in body["intervals"]
    ]


def _wait_recorded(
    base: str, token: str, camera_id: str, seconds: float, since: float = 0.0
) -> None:
    """Until the camera's last recording, begun after ``since``, is ``seconds`` long."""
    deadline = time.monotonic() + seconds + 30
    while time.monotonic() < deadline:
        intervals = _intervals(base, token, camera_id)
        if (
            intervals
            and intervals[-1][0] > since
            and intervals[-1][1] - intervals[-1][0] >= seconds
        ):
            return
        time.sleep(0.25)
    raise AssertionError(f"{camera_id} did not record {seconds} s")


def _serve_args(data_dir: Path, port: int) -> list[str]:
    return [
        "--data-dir",
        str(data_dir),
        "serve",
        "--host",
        "127.0.0.1",
        "--http-port",
        str(port),
        "--https-port",
        "0",
        "--segment-seconds",
        str(SEGMENT_S),
    ]


def test_sigkill_loses_seconds_not_recordings(data_dir: Path, rtsp_camera: rtsp.RtspCamera) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with started(_serve_args(data_dir, port)) as (process, _):
        token = login(base, *ADMIN)
        cameras = {}
        for name, url in (("Cam A", "synthetic:360p"), ("Door", rtsp_camera.url)):
            made = httpx.post(
                f"{base}/api/v1/cameras", json={"name": name, "urls": [url]}, headers=auth(token)
            )
            cameras[name] = made.json()["id"]
            wait_for_online(base, token, cameras[name])
        for camera_id in cameras.values():
            _wait_recorded(base, token, camera_id, 2 * SEGMENT_S + SEGMENT_S / 2)
        killed_at = time.time()
        os.kill(process.pid, signal.SIGKILL)
        process.wait(10)
    partials = list((data_dir / "recordings").rglob("*.mp4.partial"))
    assert len(partials) == 2, "each camera was in the middle of a segment"

    with started(_serve_args(data_dir, port)):
        token = login(base, *ADMIN)
        for camera_id in cameras.values():
            wait_for_online(base, token, camera_id)
            _wait_recorded(base, token, camera_id, 2, since=killed_at)
        for name, camera_id in cameras.items():
            (first, second) = _intervals(base, token, camera_id)[-2:]
            assert killed_at - MAX_LOSS_S < first[1] <= killed_at, name
            assert second[0] > killed_at, f"{name}: the gap is on the timeline"

        # Across the segment boundaries of the first run, and up to the kill.
        synthetic = cameras["Cam A"]
        first = _intervals(base, token, synthetic)[0]
        start, end = first[0] + SEGMENT_S - 1.5, first[1] - 0.2
        url = f"{base}/api/v1/cameras/{synthetic}/playback.mp4"
        video = httpx.get(url, params={"start": iso(start), "end": iso(end)}, headers=auth(token))
        times = capture_times(video.content)
        assert abs(times[0] - start) < JITTER_S and abs(times[-1] - end) < JITTER_S
        # A lost GOP would leave a second without frames; the synthetic clip's loop (every 2 s)
        # and a busy machine leave pauses of a few frames.
        assert max(b - a for a, b in itertools.pairwise(times)) < LOST_GOP_S
        door = _intervals(base, token, cameras["Door"])[0]
        params = {"start": iso(door[0]), "end": iso(door[1])}
        clip = httpx.get(
            f"{base}/api/v1/cameras/{cameras['Door']}/playback.mp4",
            params=params,
            headers=auth(token),
        )
        assert decode_mp4(clip.content).frames >= 2 * SEGMENT_S * 25

    checked = subprocess.run(
        [sys.executable, "-m", "camgate.cli", "--data-dir", str(data_dir), "check"],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "the recordings match the index" in checked.stdout
    assert not list((data_dir / "recordings").rglob("*.partial"))
