"""Playback over the XProtect Mobile protocol, on a synthetic camera's real recordings, driven by
a client and a frame parser written from the protocol notes: RequestStream with
SignalType=Playback (paused where it was asked to start), ChangeStream's Speed (1×, 4×, pause,
backward) and every SeekType, the PlaybackEvents extension, and the rules every playback of
camgate follows (the playback permission, the status page, the session's end).

One server records one camera for the whole module: two runs with a gap between them, then
recording off, so that the recordings stand still. The REST API's timeline of the same camera
is the truth the frames' timestamps are checked against.
"""

from __future__ import annotations

import io
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from tests.conftest import ADMIN, OPERATOR
from tests.support.recorded import Recorded, recorded_camera
from tests.support.server import RunningServer, auth
from tests.support.xpmobile_client import XpMobileClient
from tests.support.xpmobile_video import Parsed, parse

VIDEO = "/XProtectMobile/Video"
#: The synthetic camera: 30 fps, 640×360.
FRAME_S = 1 / 30
MS = 0.001
#: The PlaybackEvents bits, from the protocol notes.
STOPPED, FORWARD, BACKWARD = 0x01, 0x02, 0x04
DATABASE_START, DATABASE_END, DATABASE_ERROR = 0x10, 0x20, 0x40
RANGE_NO_DATA, OUT_OF_RANGE = 0x100, 0x200
#: What the web client library's samples send (Samples/lib/js/application.js), less the camera.
SAMPLE = {
    "DestWidth": 400,
    "DestHeight": 300,
    "SignalType": "Playback",
    "MethodType": "Push",
    "Fps": 10,
    "ComprLevel": 71,
    "KeyFramesOnly": "No",
    "RequestSize": "Yes",
    "StreamType": "Transcoded",
}


def millis(t: float) -> int:
    return int(t * 1000)


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory, clip_cache: Path) -> Iterator[Recorded]:
    data = tmp_path_factory.mktemp("xpmobile-playback") / "data"
    # The first run is long enough to play at 4× for 2 s, and some.
    with recorded_camera(data, clip_cache, first_s=9, second_s=4) as found:
        yield found


@pytest.fixture
def admin(recorded: Recorded) -> Iterator[XpMobileClient]:
    with XpMobileClient(recorded.server.base_url).session(*ADMIN) as client:
        yield client


def _request(client: XpMobileClient, camera: str, **params: Any) -> str:
    answer = client.command("RequestStream", CameraId=camera, **{**SAMPLE, **params})
    assert answer.ok, answer
    assert answer.param("Playback") == "Yes"
    return answer.param("VideoId")


def _socket(server: RunningServer, video_id: str) -> ClientConnection:
    return connect(f"{server.ws_url}{VIDEO}/{video_id}/", open_timeout=10)


def _next(socket: ClientConnection, wanted: Callable[[Parsed], bool], within: float = 15) -> Parsed:
    """The next frame that is ``wanted``; keeps the channel alive as the library does."""
    deadline = time.monotonic() + within
    while True:
        assert time.monotonic() < deadline, "no such frame came"
        message = socket.recv(timeout=within)
        assert isinstance(message, bytes), message
        socket.send("")
        frame = parse(message)
        if wanted(frame):
            return frame


def _picture(frame: Parsed) -> bool:
    return bool(frame.payload)


def _events(frame: Parsed) -> int:
    assert frame.playback is not None and frame.live is None, frame
    return frame.playback[0]


def _seconds(frame: Parsed) -> float:
    return frame.timestamp_ms / 1000


def _change(client: XpMobileClient, video_id: str, **params: Any) -> None:
    answer = client.command("ChangeStream", VideoId=video_id, **params)
    assert answer.ok, answer


def _shown_after(
    client: XpMobileClient, socket: ClientConnection, video_id: str, **params: Any
) -> Parsed:
    """The picture that a change of a paused stream shows."""
    _change(client, video_id, **params)
    return _next(socket, _picture)


def _rate(socket: ClientConnection, wall_s: float) -> tuple[float, list[Parsed]]:
    """Plays for ``wall_s``: capture seconds per wall second, and the frames. Measured from the
    fourth frame: the first ones after a change may come late (the pace has them on time)."""
    frames: list[Parsed] = []
    arrived: list[float] = []
    while not arrived or arrived[-1] - arrived[0] < wall_s:
        frames.append(_next(socket, _picture))
        arrived.append(time.monotonic())
    played = _seconds(frames[-1]) - _seconds(frames[3])
    return played / (arrived[-1] - arrived[3]), frames


def _status(recorded: Recorded, user: str) -> int:
    status = httpx.get(f"{recorded.server.base_url}/api/v1/status", headers=auth(recorded.token))
    lines = [line for line in status.json()["users"] if line["user"] == user]
    return sum(line["transcoded_video_streams"] for line in lines)


def test_starts_paused_where_asked_and_plays_either_way(
    recorded: Recorded, admin: XpMobileClient
) -> None:
    (first, first_end), _ = recorded.runs
    asked = first + 1.0
    video_id = _request(admin, recorded.camera_id, SeekType="Time", Time=millis(asked))
    with _socket(recorded.server, video_id) as socket:
        # The first frame tells the state: all of it changed. Paused.
        told = _next(socket, lambda f: True)
        assert told.playback == (STOPPED, STOPPED)
        opening = told if told.payload else _next(socket, _picture)
        # The frame shown at the time asked, its capture time the timestamp.
        assert asked - 2 * FRAME_S <= _seconds(opening) <= asked + MS
        assert _events(opening) == STOPPED
        assert opening.size is not None and opening.size.source == (640, 360)
        # A box the picture fits in, keeping its aspect ratio (even sides).
        width, height = opening.size.dest
        assert width == 400 and abs(height - 225) <= 1 and opening.size.crop == (0, 0, 640, 360)
        assert Image.open(io.BytesIO(opening.payload)).size == (width, height)
        # Paused: frames with only the events, at the position.
        idle = _next(socket, lambda f: True, within=5)
        assert not idle.payload and idle.playback == (STOPPED, 0)
        assert idle.timestamp_ms == opening.timestamp_ms

        _change(admin, video_id, Speed=1.0)
        rate, frames = _rate(socket, 2.0)
        assert 0.7 <= rate <= 1.3, rate
        assert all(_events(f) == FORWARD for f in frames[1:])
        assert [f.timestamp_ms for f in frames] == sorted(f.timestamp_ms for f in frames)

        _change(admin, video_id, Speed=4)
        rate, _ = _rate(socket, 2.0)
        assert 2.8 <= rate <= 5.2, rate

        _change(admin, video_id, Speed=0)
        paused = _next(socket, lambda f: _events(f) & STOPPED != 0)
        stopped_at = paused.timestamp_ms
        idle = _next(socket, lambda f: not f.payload, within=5)
        assert idle.playback == (STOPPED, 0) and idle.timestamp_ms >= stopped_at

        _change(admin, video_id, Speed=-1)
        rate, frames = _rate(socket, 1.5)
        assert -1.3 <= rate <= -0.7, [f.timestamp_ms for f in frames]
        assert all(_events(f) == BACKWARD for f in frames[1:])
        # Backward to the first frame recorded: paused there, DatabaseStart.
        _change(admin, video_id, Speed=-16, SeekType="Time", Time=millis(first + 1.0))
        start = _next(socket, lambda f: _events(f) & DATABASE_START != 0, within=20)
        assert _events(start) & STOPPED
        assert abs(_seconds(start) - first) <= 2 * FRAME_S + MS
        assert admin.command("CloseStream", VideoId=video_id).ok
        assert first_end > first


def test_every_seek_type_lands_where_it_says(recorded: Recorded, admin: XpMobileClient) -> None:
    (first, first_end), (second, last) = recorded.runs
    gap = (first_end + second) / 2
    middle = (first + first_end) / 2
    video_id = _request(admin, recorded.camera_id, Time=millis(middle))  # SeekType: Time
    with _socket(recorded.server, video_id) as socket:
        at = _seconds(_next(socket, _picture))
        assert middle - 2 * FRAME_S <= at <= middle + MS

        def seek(kind: str, when: float | None = None) -> Parsed:
            params: dict[str, Any] = {"SeekType": kind}
            if when is not None:
                params["Time"] = millis(when)
            return _shown_after(admin, socket, video_id, **params)

        after = seek("NextFrame")
        assert at < _seconds(after) <= at + 2 * FRAME_S + MS
        assert _seconds(seek("PrevFrame")) == at
        assert at < _seconds(seek("TimeAfter", at)) <= at + 2 * FRAME_S + MS
        assert at - 2 * FRAME_S - MS <= _seconds(seek("TimeBefore", at)) < at
        assert _seconds(seek("TimeOrBefore", at)) == at
        assert _seconds(seek("TimeOrAfter", at)) == at
        # Into the gap: Time shows the next recorded frame, saying the time has no data.
        landed = seek("Time", gap)
        assert second - MS <= _seconds(landed) <= second + 2 * FRAME_S
        assert _events(landed) == STOPPED | RANGE_NO_DATA
        assert first_end - 2 * FRAME_S - MS <= _seconds(seek("TimeOrBefore", gap)) <= first_end
        assert second - MS <= _seconds(seek("TimeOrAfter", gap)) <= second + 2 * FRAME_S

        start = seek("DbStart")
        assert abs(_seconds(start) - first) <= 2 * FRAME_S
        assert _events(start) == STOPPED | DATABASE_START
        end = seek("DbEnd")
        assert last - 2 * FRAME_S - MS <= _seconds(end) <= last
        assert _events(end) & DATABASE_END
        # Sequences, as GetSequences gives them: across the gap either way.
        previous = seek("PrevSeq")
        assert abs(_seconds(previous) - first) <= 2 * FRAME_S, (previous, recorded.runs)
        following = seek("NextSeq")
        assert abs(_seconds(following) - second) <= 2 * FRAME_S, (following, recorded.runs)
        # Nothing beyond: the frame shown stays, and the events say so.
        _change(admin, video_id, SeekType="NextSeq")
        nowhere = _next(socket, lambda f: _events(f) & OUT_OF_RANGE != 0)
        assert not nowhere.payload and nowhere.timestamp_ms == following.timestamp_ms
        _change(admin, video_id, SeekType="TimeAfter", Time=millis(last + 60))
        _next(socket, lambda f: _events(f) & OUT_OF_RANGE != 0)

        # Playing on past the last frame: paused there, DatabaseEnd.
        _change(admin, video_id, SeekType="Time", Time=millis(last - 1), Speed=4)
        stopped = _next(socket, lambda f: _events(f) & DATABASE_END != 0, within=20)
        assert _events(stopped) & STOPPED and _seconds(stopped) >= last - 2 * FRAME_S - MS

        for params, code in (
            ({"SeekType": "Sideways"}, 14),
            ({"SeekType": "Time"}, 13),
            ({"SeekType": "Time", "Time": "yesterday"}, 14),
            ({"Speed": "fast"}, 14),
            ({"Speed": "nan"}, 14),
            ({"DestWidth": 4}, 14),
        ):
            assert admin.command("ChangeStream", VideoId=video_id, **params).error_code == code
    assert admin.command("CloseStream", VideoId=video_id).ok


def test_the_picture_changes_as_live_and_fmp4_falls_back_to_jpeg(
    recorded: Recorded, admin: XpMobileClient
) -> None:
    (first, _), _ = recorded.runs
    video_id = _request(
        admin, recorded.camera_id, Time=millis(first + 1), StreamType="FragmentedMP4"
    )
    with _socket(recorded.server, video_id) as socket:
        opening = _next(socket, _picture)
        assert opening.info is not None and opening.info.data_type == "JPEG"
        zoomed = _shown_after(
            admin, socket, video_id, SrcLeft=0, SrcTop=0, SrcRight=320, SrcBottom=180
        )
        assert zoomed.size is not None and zoomed.size.crop == (0, 0, 320, 180)
        assert zoomed.timestamp_ms == opening.timestamp_ms  # paused: the same frame again
        smaller = _shown_after(admin, socket, video_id, DestWidth=160, DestHeight=160)
        assert smaller.size is not None and smaller.size.dest == (160, 90)
        assert Image.open(io.BytesIO(smaller.payload)).size == (160, 90)
    assert admin.command("CloseStream", VideoId=video_id).ok

    # Pull: one frame a request, the frame shown first, then only the events while paused.
    pulled = _request(admin, recorded.camera_id, Time=millis(first + 1), MethodType="Pull")
    url = f"{recorded.server.base_url}{VIDEO}/{pulled}"
    deadline = time.monotonic() + 15
    while not (frame := parse(httpx.post(url).content)).payload:
        assert time.monotonic() < deadline
    assert abs(_seconds(frame) - (first + 1)) <= 2 * FRAME_S + MS
    assert not parse(httpx.post(url).content).payload
    assert admin.command("CloseStream", VideoId=pulled).ok
    assert httpx.post(url).status_code == 410


def test_playback_follows_the_rules_of_playback(recorded: Recorded) -> None:
    base = recorded.server.base_url
    (first, _), _ = recorded.runs
    permissions = f"{base}/api/v1/roles/operator/permissions"
    roles = httpx.get(f"{base}/api/v1/roles", headers=auth(recorded.token)).json()
    held = next(role["permissions"] for role in roles if role["name"] == "operator")
    assert "playback" in held
    with XpMobileClient(base).session(*OPERATOR) as client:
        assert (
            client.command("RequestStream", CameraId=str(uuid.uuid4()), **SAMPLE).error_code == 20
        )
        assert (
            client.command("RequestStream", CameraId=recorded.silent_id, **SAMPLE).error_code == 32
        )
        for params, code in (
            ({"SeekType": "NextSeq", "Time": millis(first)}, 14),
            ({"SeekType": "TimeBefore", "Time": millis(first)}, 32),
            ({"SeekType": "TimeAfter"}, 13),
            ({"StreamType": "Native"}, 1),
        ):
            answer = client.command(
                "RequestStream", CameraId=recorded.camera_id, **{**SAMPLE, **params}
            )
            assert answer.error_code == code, (params, answer)

        video_id = _request(client, recorded.camera_id)  # at now: the last frame recorded
        with _socket(recorded.server, video_id) as socket:
            latest = _next(socket, _picture)
            assert abs(_seconds(latest) - recorded.runs[-1][1]) <= 2 * FRAME_S + MS
            assert _events(latest) == STOPPED | DATABASE_END
            assert _status(recorded, OPERATOR[0]) == 1
            # The role loses playback: the stream ends, new ones are refused.
            without = [name for name in held if name != "playback"]
            taken = httpx.put(
                permissions, json={"permissions": without}, headers=auth(recorded.token)
            )
            assert taken.status_code == 200, taken.text
            try:
                with pytest.raises(ConnectionClosed) as closed:
                    while True:
                        socket.recv(timeout=15)
                assert "play back" in (closed.value.rcvd.reason if closed.value.rcvd else "")
                refused = client.command("RequestStream", CameraId=recorded.camera_id, **SAMPLE)
                assert refused.error_code == 25
                unknown = client.command("RequestStream", CameraId=str(uuid.uuid4()), **SAMPLE)
                assert unknown.error_code == 25  # before the camera is looked up
            finally:
                given = httpx.put(
                    permissions, json={"permissions": held}, headers=auth(recorded.token)
                )
                assert given.status_code == 200, given.text

    # Disconnect ends the connection's playback streams with its session.
    with XpMobileClient(base).session(*ADMIN) as client:
        video_id = _request(client, recorded.camera_id, Time=millis(first + 1))
        with _socket(recorded.server, video_id) as socket:
            _next(socket, _picture)
            assert _status(recorded, ADMIN[0]) == 1
            assert client.command("Disconnect").ok
            with pytest.raises(ConnectionClosed):
                while True:
                    socket.recv(timeout=10)
    assert _status(recorded, ADMIN[0]) == 0


# --- playback controllers (synced playback) ----------------------------------------------------


def _played(socket: ClientConnection, until: float) -> list[tuple[float, float]]:
    """(arrival, capture time) of each picture until one captured at ``until`` or later."""
    seen: list[tuple[float, float]] = []
    while not seen or seen[-1][1] < until:
        frame = _next(socket, _picture, within=20)
        seen.append((time.monotonic(), _seconds(frame)))
    return seen


def _at(seen: list[tuple[float, float]], moment: float) -> float:
    """The capture time a stream showed at ``moment`` (monotonic)."""
    shown = [captured for arrived, captured in seen if arrived <= moment]
    return shown[-1] if shown else seen[0][1]


def test_a_playback_controller_plays_its_streams_as_one(
    recorded: Recorded, admin: XpMobileClient
) -> None:
    (first, first_end), (second, _) = recorded.runs
    start = first_end - 1.5
    created = admin.command("CreatePlaybackController", SeekType="Time", Time=millis(start))
    assert created.ok, created
    controller = created.param("PlaybackControllerId")
    server = recorded.server
    with _socket(server, controller) as clock:
        told = _next(clock, lambda f: True)
        assert not told.payload and told.playback == (STOPPED, STOPPED)
        assert told.timestamp_ms == millis(start)
        one = _request(admin, recorded.camera_id, PlaybackControllerId=controller)
        two = _request(admin, recorded.camera_id, PlaybackControllerId=controller, DestWidth=200)
        with _socket(server, one) as a, _socket(server, two) as b:
            # Both start where the controller is, paused.
            for socket in (a, b):
                opening = _next(socket, _picture)
                assert abs(_seconds(opening) - start) <= 2 * FRAME_S + MS
                assert _events(opening) == STOPPED
            # The controller plays, pauses and seeks them; the streams themselves do not.
            assert admin.command("ChangeStream", VideoId=one, Speed=1).error_code == 23
            assert admin.command("ChangeStream", VideoId=one, DestWidth=320).ok
            relative = admin.command(
                "ChangeMultipleStreams", PlaybackControllerId=controller, SeekType="NextSeq"
            )
            assert relative.error_code == 14
            played = admin.command(
                "ChangeMultipleStreams", PlaybackControllerId=controller, Speed=1
            )
            assert played.ok, played
            # Both play the same moments, and wait out the gap between the runs for the
            # clock instead of jumping it (the streams are read side by side).
            with ThreadPoolExecutor(2) as pool:
                seen_a, seen_b = pool.map(lambda s: _played(s, second + 0.5), (a, b))
            for seen in (seen_a, seen_b):
                before, after = next(
                    (seen[i], seen[i + 1]) for i in range(len(seen) - 1) if seen[i + 1][1] >= second
                )
                assert before[1] < first_end + MS
                waited = after[0] - before[0]
                assert waited >= 0.6 * (second - before[1]), (waited, second - before[1])
            overlap = (max(seen_a[3][0], seen_b[3][0]), min(seen_a[-1][0], seen_b[-1][0]))
            for moment in (overlap[0], sum(overlap) / 2, overlap[1]):
                assert abs(_at(seen_a, moment) - _at(seen_b, moment)) < 0.75, moment
            # The controller's own channel tells its time and that it plays.
            ticking = _next(clock, lambda f: f.playback is not None and f.playback[0] == FORWARD)
            assert not ticking.payload

            # A seek of all of them, paused there (ChangeStream with the controller's id).
            sought = admin.command(
                "ChangeStream", VideoId=controller, SeekType="Time", Time=millis(first + 1), Speed=0
            )
            assert sought.ok, sought
            for socket in (a, b):
                landed = _next(socket, lambda f: _picture(f) and _seconds(f) < first + 2)
                assert abs(_seconds(landed) - (first + 1)) <= 2 * FRAME_S + MS
            # A new controller closes the connection's old ones, and their streams.
            newer = admin.command("CreatePlaybackController")
            assert newer.ok
            for video_id in (controller, one, two):
                assert admin.command("CloseStream", VideoId=video_id).error_code == 21
            assert admin.command("CloseStream", VideoId=newer.param("PlaybackControllerId")).ok
    unknown = admin.command("ChangeMultipleStreams", PlaybackControllerId=str(uuid.uuid4()))
    assert unknown.error_code == 21
    flags = XpMobileClient(recorded.server.base_url)
    with flags:
        assert flags.connect().ok
        assert flags.log_in(*ADMIN).param("MultiCameraPlayback") == "Yes"
