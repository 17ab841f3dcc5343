"""Controlled playback over the WebSocket, on a synthetic camera's real recordings: pacing,
speeds, pause, seek, stepping, gaps, the end, bad commands, privacy masks and who may watch.

One server records one camera for the whole module: two runs with a gap between them (recording
turned off and on), then recording off, so that the recordings stand still for the tests.
"""

from __future__ import annotations

import asyncio
import io
import itertools
import json
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import numpy as np
import pytest
import websockets
from PIL import Image

from tests.conftest import ADMIN, OPERATOR, login
from tests.support.media_checks import wait_for_online
from tests.support.server import RunningServer, add_user, auth, running_server

FRAME_S = 1 / 30
#: The synthetic camera loops a 2 s clip; reopening it puts a hole of some milliseconds (the
#: time the reopening took) before the clip's first keyframe, on the camera's own timeline.
LOOP_HOLE_S = 0.25
#: The index's times are to the millisecond, and ISO times in messages too.
MS = 0.0021
#: What the synthetic camera records: 360p, a keyframe every second.
SIZE = (640, 360)
GOP_S = 1.0


@dataclass(frozen=True)
class Recorded:
    server: RunningServer
    token: str
    camera_id: str
    #: The two recorded runs, (start, end) in seconds since the epoch.
    runs: list[tuple[float, float]]

    def url(self, **params: object) -> str:
        query = urlencode({"token": self.token, **params})
        return f"{self.server.ws_url}/api/v1/cameras/{self.camera_id}/playback?{query}"

    @property
    def api(self) -> str:
        return f"{self.server.base_url}/api/v1/cameras/{self.camera_id}"


def iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat()


def seconds(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


def set_recording(rec_api: str, token: str, enabled: bool) -> None:
    body = {"enabled": enabled, "stream": 0, "retention_days": 7, "retention_gb": None}
    httpx.put(f"{rec_api}/recording", json=body, headers=auth(token)).raise_for_status()


def runs_of(base: str, token: str, camera_id: str) -> list[tuple[float, float]]:
    body = httpx.get(f"{base}/api/v1/cameras/{camera_id}/recordings", headers=auth(token)).json()
    return [(seconds(i["start"]), seconds(i["end"])) for i in body["intervals"]]


def record_until(base: str, token: str, camera_id: str, runs: int, last_s: float) -> None:
    deadline = time.monotonic() + last_s + 20
    while time.monotonic() < deadline:
        found = runs_of(base, token, camera_id)
        if len(found) == runs and found[-1][1] - found[-1][0] >= last_s:
            return
        time.sleep(0.3)
    raise AssertionError(f"not recorded: {runs_of(base, token, camera_id)}")


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory, clip_cache: Path) -> Iterator[Recorded]:
    data = tmp_path_factory.mktemp("playback") / "data"
    data.mkdir()
    shutil.copytree(clip_cache, data / "cache")
    add_user(data, *ADMIN, "administrator")
    add_user(data, *OPERATOR, "operator")
    with running_server(data, backoff=lambda n: 0.2, segment_s=2) as server:
        base = server.base_url
        token = login(base, *ADMIN)
        created = httpx.post(
            f"{base}/api/v1/cameras",
            json={"name": "Cam A", "urls": ["synthetic:360p"]},
            headers=auth(token),
        )
        camera_id = created.json()["id"]
        wait_for_online(base, token, camera_id)
        api = f"{base}/api/v1/cameras/{camera_id}"
        record_until(base, token, camera_id, runs=1, last_s=5)
        set_recording(api, token, enabled=False)
        time.sleep(2.5)
        set_recording(api, token, enabled=True)
        record_until(base, token, camera_id, runs=2, last_s=4)
        set_recording(api, token, enabled=False)
        yield Recorded(server, token, camera_id, runs_of(base, token, camera_id))


class Client:
    """The test's side of the protocol."""

    def __init__(self, ws: websockets.ClientConnection) -> None:
        self.ws = ws

    async def send(self, **command: object) -> None:
        await self.ws.send(json.dumps(command))

    async def message(self) -> dict[str, Any]:
        received = await asyncio.wait_for(self.ws.recv(), 10)
        assert isinstance(received, str), "binary data without its frame message"
        message: dict[str, Any] = json.loads(received)
        return message

    async def frame(self) -> tuple[dict[str, Any], bytes]:
        """The next message, which must be a frame, and its JPEG."""
        message = await self.message()
        assert message["type"] == "frame", message
        jpeg = await asyncio.wait_for(self.ws.recv(), 10)
        assert isinstance(jpeg, bytes)
        return message, jpeg

    async def until(self, kind: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """Read up to the next message of ``kind``; the frames on the way."""
        frames = []
        while True:
            message = await self.message()
            if message["type"] == kind:
                return message, frames
            if message["type"] == "playback":
                continue
            assert message["type"] == "frame", message
            frames.append(message)
            assert isinstance(await asyncio.wait_for(self.ws.recv(), 10), bytes)

    async def quiet(self, seconds: float) -> bool:
        """Whether nothing comes for ``seconds``."""
        try:
            await asyncio.wait_for(self.ws.recv(), seconds)
        except TimeoutError:
            return True
        return False


def picture(jpeg: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(jpeg))
    image.load()  # decodes the whole JPEG: a broken one raises
    return image


def play(url: str, scenario: Any) -> Any:
    async def run() -> Any:
        async with websockets.connect(url) as ws:
            return await scenario(Client(ws))

    return asyncio.run(run())


def test_playing_starts_at_the_time_asked_and_paces_frames_in_real_time(
    recorded: Recorded,
) -> None:
    start = recorded.runs[0][0] + 0.5  # in the first GOP: no loop hole before it

    async def scenario(client: Client) -> tuple[Any, ...]:
        notice = await client.message()
        first, jpeg = await client.frame()
        state = await client.message()
        began = time.monotonic()
        frames = [(await client.frame())[0] for _ in range(30)]
        took = time.monotonic() - began
        async with httpx.AsyncClient() as http:
            status = await http.get(
                f"{recorded.server.base_url}/api/v1/status", headers=auth(recorded.token)
            )
        return notice, first, jpeg, state, frames, took, status.json()

    notice, first, jpeg, state, frames, took, status = play(
        recorded.url(start=iso(start), width=320), scenario
    )
    assert notice == {
        "type": "playback",
        "camera_id": recorded.camera_id,
        "stream_id": notice["stream_id"],
        "width": 320,
        "height": 180,
        "fps": 30,
        "quality": 75,
    }
    assert start - FRAME_S - MS < seconds(first["time"]) <= start + MS
    assert picture(jpeg).size == (320, 180)
    assert state == {"type": "state", "state": "playing", "speed": 1.0, "time": first["time"]}
    for a, b in itertools.pairwise([first, *frames]):
        step = seconds(b["time"]) - seconds(a["time"])
        assert abs(step - FRAME_S) < MS or (b["keyframe"] and FRAME_S < step < LOOP_HOLE_S)
    assert 0.8 < took < 1.6  # 30 frames at 30 fps, paced
    assert sum(f["keyframe"] for f in frames) == 1  # one second: one keyframe
    # The playback counts as a viewer.
    assert sum(user["transcoded_video_streams"] for user in status["users"]) == 1


def test_above_four_times_only_keyframes_come(recorded: Recorded) -> None:
    start = recorded.runs[0][0] + 0.5

    async def scenario(client: Client) -> tuple[list[dict[str, Any]], float]:
        await client.until("state")
        began = time.monotonic()
        frames = [(await client.frame())[0] for _ in range(3)]
        return frames, time.monotonic() - began

    frames, took = play(recorded.url(start=iso(start), speed=8), scenario)
    assert all(f["keyframe"] for f in frames)
    times = [seconds(f["time"]) for f in frames]
    assert all(GOP_S - MS < b - a < GOP_S + LOOP_HOLE_S for a, b in itertools.pairwise(times))
    assert took < 0.6  # a second of video every eighth of a second


def test_pause_seek_and_step_show_exactly_the_frames_asked_for(recorded: Recorded) -> None:
    start = recorded.runs[0][0] + 0.5

    async def scenario(client: Client) -> dict[str, Any]:
        await client.until("state")
        await client.send(type="play", speed=8)
        await client.until("state")
        keyframe, _ = await client.frame()
        await client.send(type="pause")
        paused, _ = await client.until("state")
        nothing_while_paused = await client.quiet(0.7)

        wanted = seconds(keyframe["time"]) + 0.3456
        await client.send(type="seek", time=iso(wanted))
        sought, sought_jpeg = await client.frame()
        after_seek = await client.message()
        await client.send(type="step", frames=1)
        ahead, _ = await client.frame()
        await client.message()
        await client.send(type="step", frames=-1)
        back, back_jpeg = await client.frame()
        await client.message()

        await client.send(type="seek", time=keyframe["time"])
        on_key, _ = await client.frame()
        await client.message()
        await client.send(type="step", frames=-1)
        before_key, before_key_jpeg = await client.frame()
        step_state = await client.message()
        await client.send(type="seek", time=iso(seconds(before_key["time"]) + 0.01))
        again, again_jpeg = await client.frame()
        await client.message()
        await client.send(type="step", frames=1)
        forward, _ = await client.frame()
        return locals()

    seen = play(recorded.url(start=iso(start)), scenario)
    assert seen["keyframe"]["keyframe"] is True
    assert seen["paused"]["state"] == "paused" and seen["nothing_while_paused"]
    sought = seconds(seen["sought"]["time"])
    assert seen["wanted"] - FRAME_S - MS < sought <= seen["wanted"] + MS
    assert seen["after_seek"] == {**seen["paused"], "time": seen["sought"]["time"]}
    assert abs(seconds(seen["ahead"]["time"]) - sought - FRAME_S) < MS
    assert seen["back"]["time"] == seen["sought"]["time"]
    assert seen["back_jpeg"] == seen["sought_jpeg"]
    assert seen["on_key"] == seen["keyframe"]
    # Back across a GOP: the previous GOP decoded from its keyframe, to the same picture.
    assert seen["before_key"]["keyframe"] is False
    before_key = seconds(seen["before_key"]["time"])
    assert seconds(seen["keyframe"]["time"]) - LOOP_HOLE_S < before_key
    assert before_key < seconds(seen["keyframe"]["time"]) - FRAME_S + MS
    assert seen["step_state"]["state"] == "paused"
    assert seen["again"]["time"] == seen["before_key"]["time"]
    assert seen["again_jpeg"] == seen["before_key_jpeg"]
    assert picture(seen["again_jpeg"]).size == SIZE
    assert seen["forward"] == seen["keyframe"]  # and no frame between the two


def test_a_gap_is_reported_and_skipped(recorded: Recorded) -> None:
    (_, gap_from), (gap_to, _) = recorded.runs

    async def scenario(client: Client) -> tuple[Any, ...]:
        await client.until("state")
        await client.send(type="play", speed=4)
        await client.until("state")
        gap, frames = await client.until("gap")
        after, _ = await client.frame()
        await client.send(type="pause")
        await client.until("state")
        await client.send(type="seek", time=iso(gap_from + 1))
        sought_gap = await client.message()
        sought, _ = await client.frame()
        return gap, frames, after, sought_gap, sought

    gap, frames, after, sought_gap, sought = play(recorded.url(start=iso(gap_from - 1)), scenario)
    assert abs(seconds(gap["from"]) - gap_from) < MS
    assert abs(seconds(gap["to"]) - gap_to) < MS
    assert seconds(frames[-1]["time"]) < gap_from
    assert after["time"] == gap["to"] and after["keyframe"] is True
    assert sought_gap["type"] == "gap" and sought_gap["to"] == gap["to"]
    assert abs(seconds(sought_gap["from"]) - (gap_from + 1)) < MS
    assert sought["time"] == gap["to"]


def test_the_end_is_reported_and_playback_pauses_there(recorded: Recorded) -> None:
    end = recorded.runs[-1][1]

    async def scenario(client: Client) -> tuple[Any, ...]:
        await client.until("state")
        finished, _ = await client.until("end")
        paused = await client.message()
        await client.send(type="step", frames=1)
        again = await client.message()
        await client.message()
        await client.send(type="seek", time=iso(end + 60))
        last, _ = await client.frame()
        past = await client.message()
        await client.message()
        await client.send(type="seek", time=iso(end - 2))
        earlier, _ = await client.frame()
        return finished, paused, again, last, past, earlier

    finished, paused, again, last, past, earlier = play(
        recorded.url(start=iso(end - 0.3), speed=2), scenario
    )
    assert end - FRAME_S - MS < seconds(finished["time"]) < end
    assert paused == {"type": "state", "state": "paused", "speed": 2.0, "time": finished["time"]}
    assert again == finished
    assert last["time"] == finished["time"] and past == finished
    assert end - 2 - LOOP_HOLE_S < seconds(earlier["time"]) <= end - 2 + MS


def test_bad_commands_are_answered_and_the_connection_stays(recorded: Recorded) -> None:
    async def scenario(client: Client) -> list[dict[str, Any]]:
        await client.until("state")
        await client.send(type="pause")
        await client.until("state")
        for bad in ("nonsense", '{"type":"rewind"}', '{"type":"play","speed":100}'):
            await client.ws.send(bad)
        answers = [await client.message() for _ in range(3)]
        await client.send(type="keepalive")
        await client.send(type="play", speed=0.25)
        answers.append(await client.message())
        return answers

    answers = play(recorded.url(start=iso(recorded.runs[0][0] + 1)), scenario)
    assert [a["type"] for a in answers] == ["error", "error", "error", "state"]
    assert "JSON" in answers[0]["detail"] and "rewind" in answers[1]["detail"]
    assert "speed" in answers[2]["detail"]
    assert answers[3]["state"] == "playing" and answers[3]["speed"] == 0.25


def test_a_masked_camera_plays_masked_frames_only(recorded: Recorded) -> None:
    masks = {"masks": [{"x": 0.0, "y": 0.0, "width": 0.5, "height": 0.5}]}
    headers = auth(recorded.token)
    start, end = recorded.runs[0][0] + 1, recorded.runs[0][0] + 3
    files = {"start": iso(start), "end": iso(end)}
    assert httpx.get(f"{recorded.api}/playback.mp4", params=files, headers=headers).is_success
    httpx.put(f"{recorded.api}/privacy-masks", json=masks, headers=headers).raise_for_status()
    try:
        for name in ("playback.mp4", "playback.json"):
            refused = httpx.get(f"{recorded.api}/{name}", params=files, headers=headers)
            assert refused.status_code == 403 and "privacy masks" in refused.json()["detail"]

        async def scenario(client: Client) -> list[bytes]:
            await client.message()
            first = (await client.frame())[1]
            await client.message()
            return [first, *[(await client.frame())[1] for _ in range(4)]]

        for jpeg in play(recorded.url(start=iso(start)), scenario):
            pixels = np.asarray(picture(jpeg).convert("L"))
            assert pixels[:178, :318].max() <= 16  # the masked quarter is black
            assert pixels[182:, 322:].max() > 16
    finally:
        httpx.put(f"{recorded.api}/privacy-masks", json={"masks": []}, headers=headers)


def test_with_direct_streaming_off_playback_files_are_refused(recorded: Recorded) -> None:
    settings = f"{recorded.server.base_url}/api/v1/settings"
    headers = auth(recorded.token)
    off = {"performance": {"direct_streaming": False}}
    httpx.patch(settings, json=off, headers=headers).raise_for_status()
    try:
        params = {"start": iso(recorded.runs[0][0] + 1), "end": iso(recorded.runs[0][0] + 2)}
        refused = httpx.get(f"{recorded.api}/playback.mp4", params=params, headers=headers)
        assert refused.status_code == 403 and "turned off" in refused.json()["detail"]
    finally:
        on = {"performance": {"direct_streaming": True}}
        httpx.patch(settings, json=on, headers=headers).raise_for_status()


def close_code(url: str) -> tuple[dict[str, Any], int | None]:
    async def connect() -> tuple[dict[str, Any], int | None]:
        async with websockets.connect(url) as ws:
            message = json.loads(await asyncio.wait_for(ws.recv(), 10))
            with pytest.raises(websockets.ConnectionClosed):
                await asyncio.wait_for(ws.recv(), 10)
            return message, ws.close_code

    return asyncio.run(connect())


def test_who_may_not_watch_and_what_is_not_asked_right_is_refused(recorded: Recorded) -> None:
    start = iso(recorded.runs[0][0] + 1)
    base = f"{recorded.server.ws_url}/api/v1/cameras"
    operator = login(recorded.server.base_url, *OPERATOR)
    stranger = f"{base}/{recorded.camera_id}/playback?" + urlencode({"token": operator})
    assert close_code(f"{stranger}&start={start}")[1] == 4404  # may not view: as if unknown
    assert close_code(f"{base}/{recorded.camera_id}/playback?start={start}")[1] == 4401
    assert close_code(recorded.url(start=start).replace(recorded.camera_id, "nope"))[1] == 4404
    missing, code = close_code(recorded.url())
    assert code == 4422 and "start is required" in missing["detail"]
    assert close_code(recorded.url(start="2026-12-02T16:00:00"))[1] == 4422
    assert close_code(recorded.url(start=start, speed=32))[1] == 4422
    nothing, code = close_code(recorded.url(start=start, stream="not-recorded"))
    assert code == 4404 and "recorded video" in nothing["detail"]


def test_the_session_ending_ends_its_playback(recorded: Recorded) -> None:
    token = login(recorded.server.base_url, *ADMIN)
    url = recorded.url(start=iso(recorded.runs[0][0] + 1)).replace(recorded.token, token)

    async def watch_then_log_out() -> int | None:
        async with websockets.connect(url) as ws:
            await ws.recv()
            async with httpx.AsyncClient() as http:
                response = await http.post(
                    f"{recorded.server.base_url}/api/v1/auth/logout", headers=auth(token)
                )
                assert response.status_code == 204
            with pytest.raises(websockets.ConnectionClosed):
                for _ in range(1000):
                    await asyncio.wait_for(ws.recv(), 10)
            return ws.close_code

    assert asyncio.run(watch_then_log_out()) == 4401


def test_playing_near_now_follows_the_recording_being_written(recorded: Recorded) -> None:
    """Last in the module: it records a third run (the tests above count two)."""
    base, token = recorded.server.base_url, recorded.token
    set_recording(recorded.api, token, enabled=True)
    try:
        record_until(base, token, recorded.camera_id, runs=3, last_s=2)
        connected = time.time()

        async def scenario(client: Client) -> list[dict[str, Any]]:
            await client.until("state")
            messages = []
            deadline = time.monotonic() + 3
            while time.monotonic() < deadline:
                message = await client.message()
                messages.append(message)
                if message["type"] == "frame":
                    await client.ws.recv()
            return messages

        messages = play(recorded.url(start=iso(connected - 1.5)), scenario)
    finally:
        set_recording(recorded.api, token, enabled=False)
    assert not [m for m in messages if m["type"] in ("end", "gap", "error")], messages
    # Frames went on past what was recorded when playback started (a GOP or so before then).
    assert max(seconds(m["time"]) for m in messages) > connected + 1
