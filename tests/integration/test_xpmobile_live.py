"""Live video over the XProtect Mobile protocol on a running server, driven by a client and a
frame parser written from the protocol notes: RequestStream, the video channel (push over a
WebSocket and over one long HTTP response, pull), ChangeStream (size, rate, digital zoom),
CloseStream, direct streaming (fMP4) and its fallback to JPEG, the LiveEvents of the feed and
of its recording, and the rules every live stream of camgate follows (the live permission, the
status page, the session's end)."""

from __future__ import annotations

import io
import itertools
import statistics
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import numpy as np
import pytest
from PIL import Image
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import ClientConnection, connect

from camgate.protocols.xpmobile import streams as xpmobile_streams
from tests.conftest import ADMIN, OPERATOR
from tests.integration.test_playback_ws import set_recording
from tests.support.media_checks import decode_mp4, wait_for_online
from tests.support.server import RunningServer, auth
from tests.support.xpmobile_client import XpMobileClient
from tests.support.xpmobile_video import LIVE_FEED, Parsed, parse, parse_all, read_frames

#: The LiveEvents bit of a camera being recorded (the protocol notes, §3).
RECORDING = 0x04

VIDEO = "/XProtectMobile/Video"
#: What the web client library sends (Connection.js requestStream), less the camera and size.
LIBRARY_DEFAULTS = {
    "SignalType": "Live",
    "MethodType": "Push",
    "Fps": 15,
    "ComprLevel": 70,
    "KeyFramesOnly": "No",
    "RequestSize": "Yes",
}


def _api(server: RunningServer) -> str:
    return f"{server.base_url}/api/v1"


def _patch_settings(server: RunningServer, token: str, patch: dict[str, Any]) -> None:
    answer = httpx.patch(f"{_api(server)}/settings", json=patch, headers=auth(token))
    assert answer.status_code == 200, answer.text


@pytest.fixture
def camera(server: RunningServer, admin_token: str) -> str:
    """A 640×360 camera, online, that operators may view. It does not record (a new camera
    records by default: turned off before its first key frame), so that its LiveEvents are
    the feed's alone."""
    answer = httpx.post(
        f"{_api(server)}/cameras",
        json={"name": "Door", "urls": ["synthetic:360p"]},
        headers=auth(admin_token),
    )
    assert answer.status_code == 201, answer.text
    camera_id: str = answer.json()["id"]
    set_recording(f"{_api(server)}/cameras/{camera_id}", admin_token, enabled=False)
    theirs = httpx.put(
        f"{_api(server)}/roles/operator/cameras",
        json={"camera_ids": [camera_id]},
        headers=auth(admin_token),
    )
    assert theirs.status_code == 200, theirs.text
    wait_for_online(server.base_url, admin_token, camera_id)
    return camera_id


@pytest.fixture
def operator(server: RunningServer) -> Iterator[XpMobileClient]:
    with XpMobileClient(server.base_url).session(*OPERATOR) as client:
        yield client


def _request(client: XpMobileClient, camera: str, **params: Any) -> str:
    answer = client.command("RequestStream", CameraId=camera, **{**LIBRARY_DEFAULTS, **params})
    assert answer.ok, answer
    assert answer.param("PTZ") == "No" and answer.param("Playback") == "Yes"
    video_id = answer.param("VideoId")
    assert uuid.UUID(video_id)
    return video_id


def _socket(server: RunningServer, video_id: str, slash: str = "/") -> ClientConnection:
    return connect(f"{server.ws_url}{VIDEO}/{video_id}{slash}", open_timeout=10)


def _jpeg_size(frame: Parsed) -> tuple[int, int]:
    picture = Image.open(io.BytesIO(frame.payload))
    assert picture.format == "JPEG"
    return picture.size


def _status(server: RunningServer, token: str, user: str) -> dict[str, int]:
    """The user's streams on the status page (a line per session: summed)."""
    status = httpx.get(f"{_api(server)}/status", headers=auth(token)).json()
    lines = [line for line in status["users"] if line["user"] == user]
    assert lines, status["users"]
    kinds = ("transcoded_video_streams", "direct_video_streams")
    return {kind: sum(line[kind] for line in lines) for kind in kinds}


def _poll(server: RunningServer, video_id: str) -> httpx.Response:
    return httpx.post(f"{server.base_url}{VIDEO}/{video_id}", headers={"Content-Type": "text/xml"})


def test_transcoded_push_over_a_websocket_changes_and_closes(
    server: RunningServer, admin_token: str, camera: str, operator: XpMobileClient
) -> None:
    assert operator.log_in(*OPERATOR).error_code == 23  # logged in already
    video_id = _request(operator, camera, DestWidth=320, DestHeight=180, ComprLevel=50)
    with _socket(server, video_id) as socket:
        (opening,) = read_frames(socket, 1, with_video=False)
        # The first frame tells the state: all of it changed.
        assert opening.live == (LIVE_FEED, LIVE_FEED)
        first, second, third = read_frames(socket, 3)
        for frame in (first, second, third):
            assert frame.video_id == video_id
            assert frame.size is not None and frame.info is None  # Transcoded: JPEG implied
            assert frame.size.source == (640, 360) and frame.size.crop == (0, 0, 640, 360)
            assert frame.size.dest == (320, 180) and frame.size.resampling == 1_000_000
            assert _jpeg_size(frame) == (320, 180)
            assert abs(frame.timestamp_ms / 1000 - time.time()) < 30
        assert first.number < second.number < third.number
        assert all(frame.live == (LIVE_FEED, 0) for frame in (first, second, third))
        line = _status(server, admin_token, OPERATOR[0])
        assert line["transcoded_video_streams"] == 1 and line["direct_video_streams"] == 0

        # Digital zoom: the top-left quarter of the picture, in its pixels.
        zoom = {"SrcLeft": 0, "SrcTop": 0, "SrcRight": 320, "SrcBottom": 180}
        changed = operator.command("ChangeStream", VideoId=video_id.upper(), **zoom)
        assert changed.ok, changed
        frame = _zoomed(socket, (0, 0, 320, 180))
        assert frame.size is not None and frame.size.dest == (320, 180)
        assert _jpeg_size(frame) == (320, 180)

        resized = operator.command(
            "ChangeStream", VideoId=video_id, DestWidth=160, DestHeight=90, Fps=2
        )
        assert resized.ok, resized
        late = [
            f for f in read_frames(socket, 8) if f.size is not None and f.size.dest == (160, 90)
        ]
        assert late and all(_jpeg_size(f) == (160, 90) for f in late)
        assert all(f.size is not None and f.size.crop == (0, 0, 320, 180) for f in late)
        gaps = [b.timestamp_ms - a.timestamp_ms for a, b in itertools.pairwise(late)]
        if len(gaps) >= 2:
            assert statistics.median(gaps) >= 350  # 2 frames per second, not the camera's rate

        refused = {"DestWidth": 4, "Fps": 0, "ComprLevel": 101, "SrcRight": 0, "KeyFramesOnly": 2}
        for name, value in refused.items():
            assert (
                operator.command("ChangeStream", VideoId=video_id, **{name: value}).error_code == 14
            )
        assert operator.command("ChangeStream", VideoId=str(uuid.uuid4())).error_code == 21
        with XpMobileClient(server.base_url).session(*ADMIN) as other:
            # Another connection's stream is not theirs, whoever they are.
            assert other.command("ChangeStream", VideoId=video_id, Fps=5).error_code == 21
            assert other.command("CloseStream", VideoId=video_id).error_code == 21

        assert operator.command("CloseStream", VideoId=video_id).ok
        with pytest.raises(ConnectionClosed):
            while True:
                socket.recv(timeout=10)
    assert operator.command("CloseStream", VideoId=video_id).error_code == 21
    assert _poll(server, video_id).status_code == 410
    with pytest.raises(InvalidStatus), _socket(server, video_id):
        pass
    time.sleep(0.5)
    assert _status(server, admin_token, OPERATOR[0])["transcoded_video_streams"] == 0


def _zoomed(socket: ClientConnection, crop: tuple[int, int, int, int]) -> Parsed:
    for frame in read_frames(socket, 20):
        if frame.size is not None and frame.size.crop == crop:
            return frame
    raise AssertionError(f"no frame of the crop {crop}")


def test_pull_and_push_over_http(
    server: RunningServer, camera: str, operator: XpMobileClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    pulled = _request(operator, camera, MethodType="Pull", Fps=1, DestWidth=160, DestHeight=90)
    deadline = time.monotonic() + 20
    while True:
        answer = _poll(server, pulled)
        assert answer.status_code == 200
        assert answer.headers["content-type"] == "application/octet-stream"
        frame = parse(answer.content)
        if frame.payload:
            break
        assert frame.live is not None and time.monotonic() < deadline
    assert _jpeg_size(frame) == (160, 90)
    # At once again: nothing new (one frame per second), only the events.
    empty = parse(_poll(server, pulled).content)
    assert empty.payload == b"" and empty.live == (LIVE_FEED, 0) and empty.number > frame.number
    # The URL with the trailing slash, as the library's PullConnection writes it.
    slash = httpx.post(f"{server.base_url}{VIDEO}/{{{pulled.upper()}}}/")
    assert slash.status_code == 200 and parse(slash.content).video_id == pulled
    with pytest.raises(InvalidStatus), _socket(server, pulled):
        pass  # a pull stream has no push channel

    pushed = _request(operator, camera, DestWidth=320, DestHeight=180, RequestSize="No")
    frames: list[Parsed] = []
    with httpx.stream("GET", f"{server.base_url}{VIDEO}/{pushed}", timeout=10) as response:
        assert response.status_code == 200
        rest = b""
        for chunk in response.iter_bytes():
            found, rest = parse_all(rest + chunk)
            frames += [frame for frame in found if frame.payload]
            if len(frames) >= 3:
                break
    assert all(f.size is None and _jpeg_size(f) == (320, 180) for f in frames)
    assert httpx.post(f"{server.base_url}{VIDEO}/{uuid.uuid4()}").status_code == 410
    assert httpx.post(f"{server.base_url}{VIDEO}/not-a-guid/").status_code == 410

    # A stream that nobody reads (the pull client went away) ends.
    monkeypatch.setattr(xpmobile_streams, "UNREAD_S", 1.0)
    monkeypatch.setattr(xpmobile_streams, "UNREAD_CHECK_S", 0.2)
    forgotten = _request(operator, camera, MethodType="Pull")
    time.sleep(2.5)
    assert operator.command("CloseStream", VideoId=forgotten).error_code == 21
    assert _poll(server, forgotten).status_code == 410


def test_direct_streaming_sends_fmp4_and_falls_back_to_jpeg(
    server: RunningServer, admin_token: str, camera: str, operator: XpMobileClient
) -> None:
    with XpMobileClient(server.base_url) as client:
        assert client.connect().ok
        flags = client.log_in(*OPERATOR)
        assert flags.param("TranscodedStreamingAvailable") == "Yes"
        assert flags.param("DirectStreamingLive") == "Yes"

    direct = {"StreamType": "FragmentedMP4", "FragmentDurationMs": 350}
    video_id = _request(operator, camera, DestWidth=320, DestHeight=180, **direct)
    with _socket(server, video_id, slash="") as socket:  # the newer library: no slash
        frames = read_frames(socket, 12)
        line = _status(server, admin_token, OPERATOR[0])
        assert line["direct_video_streams"] == 1
    first = frames[0]
    assert first.info is not None and first.info.data_type == "H264" and first.info.key_frame
    assert first.payload[4:8] == b"ftyp"  # self-initialising: the init segment first
    assert first.info.profile in (66, 77, 100) and first.info.level > 0
    assert all(f.info is not None and f.info.data_type == "H264" for f in frames)
    assert all(f.payload[4:8] == b"moof" for f in frames[1:])
    assert first.size is not None and first.size.source == (640, 360)  # the camera's own
    decoded = decode_mp4(b"".join(frame.payload for frame in frames))
    assert decoded.first_is_keyframe and (decoded.width, decoded.height) == (640, 360)
    assert decoded.frames >= 12

    # Direct streaming turned off: the same request gets JPEG frames that say so.
    _patch_settings(server, admin_token, {"performance": {"direct_streaming": False}})
    _assert_jpeg_fallback(server, operator, camera, direct)
    _patch_settings(server, admin_token, {"performance": {"direct_streaming": True}})
    masks = {"masks": [{"x": 0.0, "y": 0.0, "width": 0.5, "height": 0.5}]}
    masked = httpx.put(
        f"{_api(server)}/cameras/{camera}/privacy-masks", json=masks, headers=auth(admin_token)
    )
    assert masked.status_code == 200
    frame = _assert_jpeg_fallback(server, operator, camera, direct)
    picture = Image.open(io.BytesIO(frame.payload)).convert("L")
    assert np.asarray(picture.crop((2, 2, 158, 88))).max() <= 16  # the masked quarter: black


def _assert_jpeg_fallback(
    server: RunningServer, client: XpMobileClient, camera: str, direct: dict[str, Any]
) -> Parsed:
    video_id = _request(client, camera, DestWidth=320, DestHeight=180, **direct)
    with _socket(server, video_id) as socket:
        (frame,) = read_frames(socket, 1)
    assert frame.info is not None and frame.info.data_type == "JPEG" and frame.info.key_frame
    assert _jpeg_size(frame) == (320, 180)
    return frame


def _until_events(socket: ClientConnection, wanted: int) -> tuple[Parsed, list[Parsed]]:
    """The first frame whose LiveEvents are ``wanted``, and the frames before it."""
    before: list[Parsed] = []
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        (frame,) = read_frames(socket, 1, with_video=False)
        assert frame.live is not None, frame
        if frame.live[0] == wanted:
            return frame, before
        before.append(frame)
    raise AssertionError(f"no LiveEvents {wanted:#x} in 20 s: {[f.live for f in before]}")


def _recorder_state(server: RunningServer, token: str, camera: str) -> str:
    answer = httpx.get(f"{_api(server)}/cameras/{camera}/recording", headers=auth(token))
    assert answer.status_code == 200, answer.text
    state: str = answer.json()["state"]
    return state


def test_live_events_say_whether_the_camera_is_recorded(
    server: RunningServer, admin_token: str, camera: str, operator: XpMobileClient
) -> None:
    recording_api = f"{_api(server)}/cameras/{camera}"
    video_id = _request(operator, camera, DestWidth=160, DestHeight=90)
    with _socket(server, video_id) as socket:
        # Not recorded: the feed alone, on every frame.
        assert all(frame.live == (LIVE_FEED, 0) for frame in read_frames(socket, 3)[1:])

        set_recording(recording_api, admin_token, enabled=True)
        started, waiting = _until_events(socket, LIVE_FEED | RECORDING)
        # The frame that says it first says that it changed; those before it did not.
        assert started.live == (LIVE_FEED | RECORDING, RECORDING)
        assert all(frame.live == (LIVE_FEED, 0) for frame in waiting)
        assert _recorder_state(server, admin_token, camera) == "recording"
        after = read_frames(socket, 3)
        assert all(frame.live == (LIVE_FEED | RECORDING, 0) for frame in after)

        # A direct (fMP4) stream of the same camera says so too.
        direct = _request(operator, camera, StreamType="FragmentedMP4")
        with _socket(server, direct) as fragments:
            (frame,) = read_frames(fragments, 1)
            assert frame.info is not None and frame.info.data_type == "H264"
            assert frame.live == (LIVE_FEED | RECORDING, LIVE_FEED | RECORDING)

        set_recording(recording_api, admin_token, enabled=False)
        stopped, _ = _until_events(socket, LIVE_FEED)
        assert stopped.live == (LIVE_FEED, RECORDING)


def test_streams_follow_the_rules_of_live_video(
    server: RunningServer, admin_token: str, camera: str
) -> None:
    gone = httpx.post(
        f"{_api(server)}/cameras",
        json={"name": "Gone", "urls": ["rtsp://127.0.0.1:9/none"]},
        headers=auth(admin_token),
    ).json()["id"]
    theirs = httpx.put(
        f"{_api(server)}/roles/operator/cameras",
        json={"camera_ids": [camera, gone]},
        headers=auth(admin_token),
    )
    assert theirs.status_code == 200
    with XpMobileClient(server.base_url).session(*OPERATOR) as client:
        # Playback (test_xpmobile_playback.py) of a camera that recorded nothing.
        assert (
            client.command("RequestStream", CameraId=camera, SignalType="Playback").error_code == 32
        )
        assert client.command("RequestStream", CameraId=camera, SignalType="Upload").error_code == 1
        assert client.command("RequestStream", CameraId=camera, StreamType="Native").error_code == 1
        for name, value in {
            "MethodType": "Carrier pigeon",
            "StreamType": "Holographic",
            "ByteOrder": "Middle",
            "DestHeight": 9000,
            "FragmentDurationMs": -1,
        }.items():
            assert (
                client.command("RequestStream", CameraId=camera, **{name: value}).error_code == 14
            )
        assert client.command("RequestStream").error_code == 13
        assert client.command("RequestStream", CameraId=str(uuid.uuid4())).error_code == 20
        assert client.command("RequestStream", CameraId=gone).error_code == 17

        # Network byte order, for the native clients that ask for it.
        network = _request(client, camera, ByteOrder="Network", MethodType="Pull")
        deadline = time.monotonic() + 20
        while not (frame := parse(_poll(server, network).content, little_endian=False)).payload:
            assert time.monotonic() < deadline
        assert frame.video_id == network and frame.size is not None
        assert client.command("CloseStream", VideoId=network).ok

        # The role loses live video: open streams end, new ones are refused.
        video_id = _request(client, camera)
        with _socket(server, video_id) as socket:
            read_frames(socket, 1)
            taken = httpx.put(
                f"{_api(server)}/roles/operator/permissions",
                json={"permissions": ["playback"]},
                headers=auth(admin_token),
            )
            assert taken.status_code == 200
            with pytest.raises(ConnectionClosed) as closed:
                while True:
                    socket.recv(timeout=15)
            assert "live" in (closed.value.rcvd.reason if closed.value.rcvd else "")
        assert client.command("RequestStream", CameraId=camera).error_code == 25
        assert client.command("RequestStream", CameraId=str(uuid.uuid4())).error_code == 25

    # Disconnect ends the connection's streams with its session.
    with XpMobileClient(server.base_url).session(*ADMIN) as client:
        pushed = _request(client, camera)
        pulled = _request(client, camera, MethodType="Pull")
        with _socket(server, pushed) as socket:
            read_frames(socket, 1)
            assert _status(server, admin_token, ADMIN[0])["transcoded_video_streams"] == 2
            assert client.command("Disconnect").ok
            with pytest.raises(ConnectionClosed):
                while True:
                    socket.recv(timeout=10)
        assert _poll(server, pulled).status_code == 410
    assert _status(server, admin_token, ADMIN[0])["transcoded_video_streams"] == 0
