"""A real RTSP camera with a microphone, recorded by a running server: an AVI export asked with
audio has the camera's sound, in sync with its picture; without, none; and an administrator may
stop recording a camera's audio (ADR 0016)."""

from __future__ import annotations

import io
import itertools
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import av
import httpx
import numpy as np
import pytest

from camgate.media.audio import sidecar_path
from tests.conftest import ADMIN, login, need
from tests.integration.test_investigations_api import (
    create,
    download,
    patch_settings,
    prepare,
    set_data_password,
)
from tests.integration.test_recording_api import recorded
from tests.support import rtsp
from tests.support.media_checks import wait_for_online
from tests.support.server import RunningServer, auth, free_port, running_server

pytestmark = pytest.mark.rtsp

TONE_HZ = 440


@pytest.fixture
def microphone() -> Iterator[rtsp.RtspCamera]:
    need(rtsp.available(), "Debian's GStreamer RTSP server (make system-deps)")
    camera = rtsp.RtspCamera(free_port(), audio="pcmu")
    camera.start()
    try:
        yield camera
    finally:
        camera.stop()


@pytest.fixture
def short_segments(data_dir: Path) -> Iterator[tuple[RunningServer, str]]:
    """A server whose segments last 2 s (a change of the recorder shows in a new one soon),
    and an administrator's token."""
    with running_server(data_dir, backoff=lambda n: 0.2, segment_s=2) as running:
        set_data_password(running.data_dir)
        yield running, login(running.base_url, *ADMIN)


def _add(server: RunningServer, token: str, url: str) -> str:
    response = httpx.post(
        f"{server.base_url}/api/v1/cameras",
        json={"name": "Gate", "urls": [url]},
        headers=auth(token),
    )
    assert response.status_code == 201, response.text
    camera_id: str = response.json()["id"]
    wait_for_online(server.base_url, token, camera_id)
    return camera_id


def _dominant_hz(samples: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
    return float(np.fft.rfftfreq(len(samples), 1 / rate)[spectrum.argmax()])


def _avi(data: bytes) -> tuple[float, av.AudioCodecContext | None, np.ndarray]:
    """The video's length, the audio's decoder (None: no audio) and its samples (mono)."""
    with av.open(io.BytesIO(data), format="avi") as container:
        video = container.streams.video[0]
        frames = sum(1 for _ in container.decode(video))
        assert video.average_rate is not None
        seconds = frames / float(video.average_rate)
    with av.open(io.BytesIO(data), format="avi") as container:
        if not container.streams.audio:
            return seconds, None, np.zeros(0)
        stream = container.streams.audio[0]
        chunks = [f.to_ndarray().astype(np.float64)[0] for f in container.decode(stream)]
        return seconds, stream.codec_context, np.concatenate(chunks)


def test_an_avi_export_has_the_cameras_sound_when_asked(
    short_segments: tuple[RunningServer, str], microphone: rtsp.RtspCamera
) -> None:
    server, token = short_segments
    patch_settings(server, token, {"investigations": {"export_formats": {"avi": True}}})
    camera_id = _add(server, token, microphone.url)
    start = datetime.fromisoformat(recorded(server, token, camera_id, 5)[-1]["start"]).timestamp()
    start += 1
    investigation = create(server, token, [camera_id], start, start + 3)

    export = prepare(server, token, investigation["id"], format="avi", include_audio=True)
    seconds, audio, samples = _avi(download(server, token, export["id"]).content)
    assert audio is not None, "no audio stream"
    assert audio.name.startswith("mp3")  # FFmpeg's MP3 decoder: mp3float
    assert abs(len(samples) / audio.sample_rate - seconds) < 0.2  # as long as the picture
    assert abs(_dominant_hz(samples, audio.sample_rate) - TONE_HZ) < 5
    assert np.sqrt(np.mean(samples**2)) > 0.1  # a tone at half volume, not silence

    silent = prepare(server, token, investigation["id"], format="avi", include_audio=False)
    assert _avi(download(server, token, silent["id"]).content)[1] is None


def test_an_administrator_may_stop_recording_a_cameras_audio(
    short_segments: tuple[RunningServer, str], microphone: rtsp.RtspCamera
) -> None:
    server, token = short_segments
    camera_id = _add(server, token, microphone.url)
    recorded(server, token, camera_id, 1)
    url = f"{server.base_url}/api/v1/cameras/{camera_id}/recording"
    assert httpx.get(url, headers=auth(token)).json()["audio"] is True
    listed = httpx.get(f"{server.base_url}/api/v1/cameras", headers=auth(token)).json()
    assert [s["audio"] for c in listed for s in c["streams"]] == ["pcm_mulaw"]
    assert any(server.data_dir.rglob("*.audio"))

    changed = httpx.put(url, json={"audio": False}, headers=auth(token))
    assert changed.status_code == 200, changed.text
    assert changed.json()["audio"] is False
    audit = httpx.get(
        f"{server.base_url}/api/v1/audit", params={"q": "camera.recording"}, headers=auth(token)
    ).json()
    assert [(e["user"], e["target"], e["details"]["audio"]) for e in audit] == [
        ("admin", camera_id, False)
    ]
    before = _starts(server)
    deadline = time.monotonic() + 15
    new: dict[str, Path] = {}
    while time.monotonic() < deadline and len(new) < 2:
        time.sleep(0.5)
        new = {start: path for start, path in _starts(server).items() if start not in before}
    assert len(new) >= 2, "the recorder went on with new segments"
    assert not [p for p in new.values() if sidecar_path(p).exists()]


def _starts(server: RunningServer) -> dict[str, Path]:
    """The segments (closed or not) by their start, the part of their name that stays."""
    return {p.name.split(".")[0]: p for p in server.data_dir.rglob("*.mp4*")}


def test_a_demo_cameras_beep_is_heard_once_per_loop(
    short_segments: tuple[RunningServer, str],
) -> None:
    """The built-in camera's microphone beeps as each 2 s loop starts: recorded, exported."""
    server, token = short_segments
    patch_settings(server, token, {"investigations": {"export_formats": {"avi": True}}})
    camera_id = _add(server, token, "synthetic:360p")
    start = datetime.fromisoformat(recorded(server, token, camera_id, 7)[-1]["start"]).timestamp()
    investigation = create(server, token, [camera_id], start + 1, start + 6)
    export = prepare(server, token, investigation["id"], format="avi", include_audio=True)
    _seconds, audio, samples = _avi(download(server, token, export["id"]).content)
    assert audio is not None and audio.sample_rate == 16_000
    window = audio.sample_rate // 100
    loud = [
        index / 100
        for index in range(len(samples) // window)
        if np.sqrt(np.mean(samples[index * window : (index + 1) * window] ** 2)) > 0.1
    ]
    onsets = loud[:1] + [t for before, t in itertools.pairwise(loud) if t - before > 0.5]
    assert len(onsets) >= 2, loud
    assert all(abs(b - a - 2.0) < 0.1 for a, b in itertools.pairwise(onsets)), onsets
    rate = audio.sample_rate
    beep = samples[round(onsets[0] * rate) : round((onsets[0] + 0.08) * rate)]
    assert abs(_dominant_hz(beep, audio.sample_rate) - 1000) < 20
