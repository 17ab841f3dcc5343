"""One whole session of the XProtect Mobile protocol, as a phone has it, driven by the client
and the frame parser written from the protocol notes: connect, ask for challenges, log in with
an e-mailed verification code, browse the catalogue, take a thumbnail, watch live video as
JPEG and as fMP4, look up and play back a recording, bookmark it, and log out. Every request
after LogIn is signed with a challenge (CHAP). The areas' own modules test each step's
details; this one tests that they hold together on one connection."""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from websockets.sync.client import connect

from tests.conftest import OPERATOR
from tests.integration.test_xpmobile_recordings import sequences
from tests.integration.test_xpmobile_session import enable_two_step
from tests.support.recorded import Recorded, recorded_camera
from tests.support.smtp import SmtpServer, code_in
from tests.support.xpmobile_client import ROOT_FOLDER, XpMobileClient
from tests.support.xpmobile_video import Parsed, read_frames

VIDEO = "/XProtectMobile/Video"
PICTURE = {"DestWidth": 320, "DestHeight": 180, "MethodType": "Push", "Fps": 15}
#: PlaybackEvents bits (the notes): playing forward.
FORWARD = 0x02


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory, clip_cache: Path) -> Iterator[Recorded]:
    data = tmp_path_factory.mktemp("xpmobile-full") / "data"
    with recorded_camera(data, clip_cache, first_s=4, second_s=2) as found:
        yield found


def _stream(
    client: XpMobileClient,
    recorded: Recorded,
    count: int,
    change: dict[str, Any] | None = None,
    **params: Any,
) -> list[Parsed]:
    """``count`` frames of a new stream of the camera (after a ChangeStream with ``change``),
    which is then closed."""
    answer = client.command("RequestStream", CameraId=recorded.camera_id, **PICTURE, **params)
    assert answer.ok, answer
    video_id = answer.param("VideoId")
    with connect(f"{recorded.server.ws_url}{VIDEO}/{video_id}/", open_timeout=10) as socket:
        if change is not None:
            assert client.command("ChangeStream", VideoId=video_id, **change).ok
        frames = read_frames(socket, count)
    assert client.command("CloseStream", VideoId=video_id).ok
    return frames


def _jpeg(frame: Parsed) -> tuple[int, int]:
    picture = Image.open(io.BytesIO(frame.payload))
    assert picture.format == "JPEG"
    return picture.size


def test_a_phone_logs_in_watches_plays_back_bookmarks_and_logs_out(
    recorded: Recorded, smtp: SmtpServer
) -> None:
    enable_two_step(recorded.server, recorded.token, smtp, "email")
    with XpMobileClient(recorded.server.base_url, chap=False) as phone:
        # Connect, then challenges before LogIn (as the web client library does).
        connected = phone.connect()
        assert connected.param("CHAPSupported") == "Yes"
        assert phone.command("RequestChallenges", NumChallenges=100).ok
        assert phone.log_in(*OPERATOR).error_code == 34
        assert phone.command("RequestSecondStepAuthenticationPin").ok
        logged_in = phone.command(
            "VerifySecondStepAuthenticationPin",
            SecondStepAuthenticationPin=code_in(smtp.mailbox.wait(1)),
        )
        assert logged_in.ok, logged_in
        assert logged_in.param("DirectStreamingLive") == "Yes"

        # The catalogue: the camera, in the "All cameras" view.
        views = phone.command("GetViews", ViewId=ROOT_FOLDER)
        assert views.ok and views.sub_items
        tree = phone.command("GetAllViewsAndCameras")
        names = {item.name for item in _walk(tree.items)}
        assert "Cam A" in names
        thumbnail = phone.command(
            "GetThumbnail", CameraId=recorded.camera_id, DestWidth=160, DestHeight=90
        )
        assert thumbnail.ok and thumbnail.thumbnail

        # Live: transcoded JPEG frames, then the camera's own H.264 as fMP4.
        jpeg = _stream(phone, recorded, 3, SignalType="Live", RequestSize="Yes")
        assert all(_jpeg(frame) == (320, 180) for frame in jpeg)
        assert all(frame.live is not None for frame in jpeg)
        direct = _stream(phone, recorded, 3, SignalType="Live", StreamType="FragmentedMP4")
        assert direct[0].info is not None and direct[0].info.data_type == "H264"
        assert direct[0].payload[4:8] == b"ftyp"

        # Playback: the recorded runs, and a few frames of the first one played forward.
        found = sequences(
            phone.command(
                "GetSequences",
                ItemId=recorded.camera_id,
                Time=int(time.time() * 1000),
                BeforeTime=3600_000,
                AfterTime=0,
            )
        )
        assert len(found) == 2
        start = found[0][0]
        played = _stream(
            phone,
            recorded,
            4,
            {"Speed": "1.0"},  # playback starts paused
            SignalType="Playback",
            SeekType="Time",
            Time=int(start * 1000),
        )
        assert all(_jpeg(frame) == (320, 180) for frame in played)
        assert played[-1].playback is not None and played[-1].playback[0] & FORWARD
        assert all(abs(frame.timestamp_ms / 1000 - start) < 10 for frame in played)

        # A bookmark at the start of that run, found again, then removed.
        made = phone.command(
            "CreateBookmark",
            CameraId=recorded.camera_id,
            Name="Delivery",
            Time=int(start * 1000) + 500,
        )
        assert made.ok, made
        listed = phone.command("GetBookmarks", Count=10)
        assert [item.id for item in listed.items] == [made.param("BookmarkId")]
        assert phone.command("DeleteBookmark", BookmarkId=made.param("BookmarkId")).ok

        # Every request since LogIn spent one challenge; unsigned ones are refused.
        assert phone.command("LiveMessage", Challenge="", ChalAnswer="").error_code == 19
        assert phone.command("LiveMessage").ok
        assert phone.command("Disconnect").ok
        assert phone.command("LiveMessage").error_code == 12


def _walk(items: list[Any]) -> Iterator[Any]:
    for item in items:
        yield item
        yield from _walk(item.items)
