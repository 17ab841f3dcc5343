"""Recording a synthetic camera: the timeline, playback files with range requests, settings."""

from __future__ import annotations

import io
import time
from datetime import UTC, datetime

import av
import httpx

from camgate.media import h26x
from tests.support.media_checks import wait_for_online
from tests.support.server import RunningServer, auth

#: One frame at 30 fps, plus the jitter of a paced source's wall clock on a busy machine.
FRAME_TOLERANCE_S = 0.1


def iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat()


def add_camera(server: RunningServer, token: str, name: str = "Cam A") -> str:
    response = httpx.post(
        f"{server.base_url}/api/v1/cameras",
        json={"name": name, "urls": ["synthetic:360p"]},
        headers=auth(token),
    )
    assert response.status_code == 201, response.text
    camera_id: str = response.json()["id"]
    wait_for_online(server.base_url, token, camera_id)
    return camera_id


def recorded(
    server: RunningServer, token: str, camera_id: str, seconds: float
) -> list[dict[str, str]]:
    """The intervals, once at least ``seconds`` of video are recorded."""
    deadline = time.monotonic() + seconds + 20
    intervals: list[dict[str, str]] = []
    while time.monotonic() < deadline:
        body = httpx.get(
            f"{server.base_url}/api/v1/cameras/{camera_id}/recordings", headers=auth(token)
        ).json()
        intervals = body["intervals"]
        if intervals and _seconds(intervals[-1]) >= seconds:
            return intervals
        time.sleep(0.5)
    raise AssertionError(f"not {seconds} s recorded: {intervals}")


def _seconds(interval: dict[str, str]) -> float:
    start = datetime.fromisoformat(interval["start"])
    end = datetime.fromisoformat(interval["end"])
    return (end - start).total_seconds()


def capture_times(data: bytes) -> list[float]:
    """The SEI capture time of every frame the MP4 presents (its edit list applied)."""
    times = []
    with av.open(io.BytesIO(data), format="mp4") as container:
        stream = container.streams.video[0]
        for packet in container.demux(stream):
            if packet.size == 0 or packet.pts is None or packet.pts < 0:
                continue
            found = h26x.find_wallclock("h264", bytes(packet))
            assert found is not None
            times.append(found)
    return sorted(times)


def test_a_range_plays_exactly_the_requested_times(server: RunningServer, admin_token: str) -> None:
    camera_id = add_camera(server, admin_token)
    intervals = recorded(server, admin_token, camera_id, 6)
    begin = datetime.fromisoformat(intervals[-1]["start"]).timestamp()
    start, end = begin + 1.3, begin + 4.1
    url = f"{server.base_url}/api/v1/cameras/{camera_id}/playback.mp4"
    response = httpx.get(
        url, params={"start": iso(start), "end": iso(end)}, headers=auth(admin_token)
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "video/mp4"
    times = capture_times(response.content)
    assert abs(times[0] - start) < FRAME_TOLERANCE_S
    assert abs(times[-1] - end) < FRAME_TOLERANCE_S + 1 / 30
    assert len(times) == round((end - start) * 30) or abs(len(times) - (end - start) * 30) <= 2

    # From a gap (before anything was recorded), with no stream named: the recorded stream's
    # first recording.
    first = datetime.fromisoformat(intervals[0]["start"]).timestamp()
    adjacent = httpx.get(
        f"{server.base_url}/api/v1/cameras/{camera_id}/recordings/adjacent",
        params={"time": iso(first - 100), "direction": "next"},
        headers=auth(admin_token),
    )
    assert adjacent.status_code == 200, adjacent.text
    assert abs(datetime.fromisoformat(adjacent.json()["time"]).timestamp() - first) < 0.002


def test_playback_answers_range_requests(server: RunningServer, admin_token: str) -> None:
    camera_id = add_camera(server, admin_token)
    intervals = recorded(server, admin_token, camera_id, 4)
    begin = datetime.fromisoformat(intervals[-1]["start"]).timestamp()
    params = {"start": iso(begin), "end": iso(begin + 3)}
    url = f"{server.base_url}/api/v1/cameras/{camera_id}/playback.mp4"
    whole = httpx.get(url, params=params, headers=auth(admin_token))
    etag = whole.headers["etag"]
    size = len(whole.content)
    assert whole.headers["accept-ranges"] == "bytes"

    part = httpx.get(url, params=params, headers={**auth(admin_token), "Range": "bytes=100-4195"})
    assert part.status_code == 206
    assert part.headers["content-range"] == f"bytes 100-4195/{size}"
    assert part.content == whole.content[100:4196]
    tail = httpx.get(url, params=params, headers={**auth(admin_token), "Range": "bytes=-500"})
    assert tail.content == whole.content[-500:]
    beyond = httpx.get(url, params=params, headers={**auth(admin_token), "Range": f"bytes={size}-"})
    assert beyond.status_code == 416
    assert beyond.headers["content-range"] == f"bytes */{size}"
    cached = httpx.get(url, params=params, headers={**auth(admin_token), "If-None-Match": etag})
    assert cached.status_code == 304

    described = httpx.get(
        f"{server.base_url}/api/v1/cameras/{camera_id}/playback.json",
        params=params,
        headers=auth(admin_token),
    ).json()
    assert described["size"] == size and described["etag"] == etag
    assert described["spans"][0]["at"] <= 0 < described["spans"][0]["at"] + 3


def test_playback_refuses_bad_ranges_and_strangers(
    server: RunningServer, admin_token: str, operator_token: str
) -> None:
    camera_id = add_camera(server, admin_token)
    url = f"{server.base_url}/api/v1/cameras/{camera_id}/playback.mp4"
    now = time.time()
    naive = datetime.now().replace(tzinfo=None).isoformat()
    assert httpx.get(url, params={"start": naive}, headers=auth(admin_token)).status_code == 422
    backwards = {"start": iso(now), "end": iso(now - 10)}
    assert httpx.get(url, params=backwards, headers=auth(admin_token)).status_code == 422
    long_ago = {"start": iso(now - 7200), "end": iso(now - 3600)}
    missing = httpx.get(url, params=long_ago, headers=auth(admin_token))
    assert missing.status_code == 404
    assert "recorded" in missing.json()["detail"]
    assert httpx.get(url, params=long_ago).status_code == 401
    # The operator's role has no cameras: not even the camera's existence is told.
    assert httpx.get(url, params=long_ago, headers=auth(operator_token)).status_code == 404


def test_recording_settings_turn_recording_off(
    server: RunningServer, admin_token: str, operator_token: str
) -> None:
    camera_id = add_camera(server, admin_token)
    url = f"{server.base_url}/api/v1/cameras/{camera_id}/recording"
    settings = httpx.get(url, headers=auth(admin_token)).json()
    assert settings["enabled"] is True and settings["stream"] == 0
    assert settings["retention_days"] == 7 and settings["retention_gb"] is None
    off = {"enabled": False, "stream": 0, "retention_days": 2, "retention_gb": 1.5}
    assert httpx.put(url, json=off, headers=auth(operator_token)).status_code == 403
    changed = httpx.put(url, json=off, headers=auth(admin_token))
    assert changed.status_code == 200, changed.text
    assert changed.json()["state"] == "off"
    assert httpx.put(url, json={**off, "stream": 3}, headers=auth(admin_token)).status_code == 422

    status = httpx.get(f"{server.base_url}/api/v1/recording/status", headers=auth(admin_token))
    assert status.json()["recorders"] == []
    assert status.json()["disk"]["free_bytes"] > 0
