"""Recordings over the XProtect Mobile command channel, on a synthetic camera's real recordings:
GetSequences in a range, counted around a time and within an investigation, GetRecordingTime,
GetThumbnailByTime with every SeekType, and who may ask (25 without the playback permission, 20
for a camera the role does not have; an investigation as the REST API shows it).

One server records one camera for the whole module: two runs with a gap between them, then
recording off, so that the recordings stand still. The REST API's timeline of the same camera
is the truth the protocol's answers are checked against.
"""

from __future__ import annotations

import base64
import io
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from PIL import Image

from tests.conftest import ADMIN, OPERATOR
from tests.support.recorded import Recorded, recorded_camera
from tests.support.server import auth
from tests.support.xpmobile_client import Answer, XpMobileClient, split_messages

#: The synthetic camera: 30 fps, 640×360.
FRAME_S = 1 / 30
#: Times travel as whole milliseconds.
MS = 0.001
HOUR_S = 3600


def millis(t: float) -> int:
    return int(t * 1000)


def sequences(answer: Answer) -> list[tuple[float, float]]:
    """The answer's ``<Sequences>``, as the protocol notes give them: (start, end) in seconds."""
    assert answer.ok, answer
    command = ET.fromstring(split_messages(answer.raw)[-1]).find("Command")
    assert command is not None
    block = command.find("Sequences")
    assert block is not None, answer.raw
    found = []
    for entry in block.iterfind("Sequence"):
        start, end = int(entry.get("StartTime", "")), int(entry.get("EndTime", ""))
        assert entry.get("TimeStamp") == str(start)
        found.append((start / 1000, end / 1000))
    return found


def close(found: list[tuple[float, float]], expected: list[tuple[float, float]]) -> bool:
    """Equal to the millisecond: the protocol's times are whole milliseconds, cut (and floats
    of seconds since 1970 are exact only to about a microsecond)."""
    return len(found) == len(expected) and all(
        abs(a - c) < 1.5 * MS and abs(b - d) < 1.5 * MS
        for (a, b), (c, d) in zip(found, expected, strict=True)
    )


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory, clip_cache: Path) -> Iterator[Recorded]:
    data = tmp_path_factory.mktemp("xpmobile-recordings") / "data"
    with recorded_camera(data, clip_cache, first_s=4, second_s=3) as found:
        yield found


def test_sequences_are_the_timeline_of_the_rest_api(recorded: Recorded) -> None:
    (first, _), (_, last) = recorded.runs
    with XpMobileClient(recorded.server.base_url).session(*ADMIN) as client:

        def ask(**params: object) -> list[tuple[float, float]]:
            params = {"ItemKind": "Camera", "SeqType": "Recording", **params}
            return sequences(client.command("GetSequences", ItemId=recorded.camera_id, **params))

        # As the web client library asks for the sequences of an interval.
        span = int(last - first) + 20
        interval = ask(Time=millis(first - 10), AfterTime=span, AfterCount=10000)
        assert close(interval, recorded.runs), (interval, recorded.runs)
        # Cut to the window asked for.
        middle = (first + recorded.runs[0][1]) / 2
        cut = ask(Time=millis(middle), AfterTime=HOUR_S)
        assert close(cut, [(middle, recorded.runs[0][1]), recorded.runs[1]]), cut
        # Several cameras together (one records nothing): the view's timeline.
        both = sequences(
            client.command(
                "GetSequences",
                ItemId=[recorded.camera_id.upper(), recorded.silent_id],
                Time=millis(first - 10),
                AfterTime=span,
            )
        )
        assert close(both, recorded.runs)
        # Gaps shorter than MinTimeBetweenSequences join the runs into one.
        joined = ask(Time=millis(first - 10), AfterTime=span, MinTimeBetweenSequences=60)
        assert close(joined, [(first, last)])
        assert ask(Time=millis(last + 10), AfterTime=HOUR_S) == []
        # RecordingWithTrigger: camgate records without triggers, so the same stretches.
        assert close(
            ask(SeqType="RecordingWithTrigger", Time=millis(first - 10), AfterTime=span),
            recorded.runs,
        )


def test_sequences_are_counted_on_either_side_of_the_time(recorded: Recorded) -> None:
    (_, first_end), (second, last) = recorded.runs
    gap = (first_end + second) / 2
    inside = (second + last) / 2
    with XpMobileClient(recorded.server.base_url).session(*ADMIN) as client:

        def ask(time: float, **params: object) -> list[tuple[float, float]]:
            answer = client.command(
                "GetSequences", ItemId=recorded.camera_id, Time=millis(time), **params
            )
            return sequences(answer)

        # As the library's previous and next sequence ask (30 days back; up to now).
        assert close(ask(gap, BeforeTime=30 * 86400, BeforeCount=1), [recorded.runs[0]])
        assert close(ask(gap, AfterTime=HOUR_S, AfterCount=1), [recorded.runs[1]])
        assert close(ask(gap, BeforeTime=HOUR_S, AfterTime=HOUR_S), recorded.runs)
        # Within a run: its part on each side counts on that side, and the two are one.
        assert close(ask(inside, BeforeTime=HOUR_S, BeforeCount=1), [(second, inside)])
        assert close(
            ask(inside, BeforeTime=HOUR_S, BeforeCount=2), [recorded.runs[0], (second, inside)]
        )
        assert close(
            ask(inside, BeforeTime=HOUR_S, BeforeCount=1, AfterTime=HOUR_S, AfterCount=1),
            [recorded.runs[1]],
        )
        assert ask(inside, BeforeTime=HOUR_S, BeforeCount=0) == []
        assert ask(inside) == []  # no side asked for


def test_the_recording_time_is_where_recordings_begin_and_end(recorded: Recorded) -> None:
    (first, _), (_, last) = recorded.runs
    with XpMobileClient(recorded.server.base_url).session(*ADMIN) as client:
        start = client.command("GetRecordingTime", CameraId=recorded.camera_id, SeekType="DbStart")
        assert start.ok and abs(int(start.param("Time")) / 1000 - first) <= MS
        end = client.command("GetRecordingTime", CameraId=recorded.camera_id, SeekType="DbEnd")
        assert end.ok and abs(int(end.param("Time")) / 1000 - last) <= MS
        nothing = client.command(
            "GetRecordingTime", CameraId=recorded.silent_id, SeekType="DbStart"
        )
        assert nothing.error_code == 32
        assert client.command("GetRecordingTime", CameraId=recorded.camera_id).error_code == 13
        wrong = client.command("GetRecordingTime", CameraId=recorded.camera_id, SeekType="NextSeq")
        assert wrong.error_code == 14


def _thumbnail(client: XpMobileClient, camera_id: str, time: float, **params: object) -> Answer:
    return client.command("GetThumbnailByTime", CameraId=camera_id, Time=millis(time), **params)


def _stamp(answer: Answer) -> float:
    assert answer.ok, answer
    return int(answer.param("Timestamp")) / 1000


def test_thumbnails_by_time_show_the_recorded_frame(recorded: Recorded) -> None:
    (first, first_end), (second, last) = recorded.runs
    camera = recorded.camera_id
    asked = first + 1.5
    with XpMobileClient(recorded.server.base_url).session(*ADMIN) as client:
        # As the library asks: SeekType Time, a size.
        shown = _thumbnail(client, camera, asked, SeekType="Time", DestWidth=320, DestHeight=180)
        assert asked - 2 * FRAME_S <= _stamp(shown) <= asked + MS
        picture = Image.open(io.BytesIO(base64.b64decode(shown.param("Thumbnail"))))
        assert picture.format == "JPEG" and picture.size == (320, 180)
        assert shown.thumbnail is None  # an output parameter, as the library reads it
        whole = _thumbnail(client, camera, asked, ComprLevel=90)  # SeekType Time by default
        assert Image.open(io.BytesIO(base64.b64decode(whole.param("Thumbnail")))).size == (640, 360)
        assert _stamp(whole) == _stamp(shown)

        # Stepping with the Timestamp answered: the next and the previous frame.
        at = _stamp(shown)
        after = _stamp(_thumbnail(client, camera, at, SeekType="TimeAfter", DestWidth=64))
        assert at < after <= at + 2 * FRAME_S
        before = _stamp(_thumbnail(client, camera, at, SeekType="TimeBefore", DestWidth=64))
        assert at - 2 * FRAME_S <= before < at
        assert _stamp(_thumbnail(client, camera, at, SeekType="TimeOrBefore", DestWidth=64)) == at
        assert _stamp(_thumbnail(client, camera, at, SeekType="TimeOrAfter", DestWidth=64)) == at

        # In the gap: Time lands on the next recorded frame; OrBefore on the last before it.
        gap = (first_end + second) / 2
        landed = _stamp(_thumbnail(client, camera, gap, DestWidth=64))
        assert second - MS <= landed <= second + 2 * FRAME_S
        earlier = _stamp(_thumbnail(client, camera, gap, SeekType="TimeOrBefore", DestWidth=64))
        assert first_end - 2 * FRAME_S <= earlier <= first_end
        # Now (as the library's thumbnail sample asks): the last frame recorded.
        latest = _stamp(_thumbnail(client, camera, last + 60, DestWidth=64))
        assert last - 2 * FRAME_S <= latest <= last

        # Nothing before the first frame, nothing at all from a camera that never recorded.
        assert _thumbnail(client, camera, first, SeekType="TimeBefore").error_code == 32
        assert _thumbnail(client, recorded.silent_id, asked).error_code == 32
        assert _thumbnail(client, camera, asked, SeekType="PrevSeq").error_code == 14
        assert _thumbnail(client, camera, asked, DestWidth=8).error_code == 14
        assert _thumbnail(client, camera, asked, ComprLevel=0).error_code == 14
        assert client.command("GetThumbnailByTime", CameraId=camera, Time="now").error_code == 14
        assert client.command("GetThumbnailByTime", CameraId=camera).error_code == 13


def test_thumbnails_of_a_masked_camera_are_masked(recorded: Recorded) -> None:
    api = f"{recorded.server.base_url}/api/v1/cameras/{recorded.camera_id}/privacy-masks"
    masks = {"masks": [{"x": 0.0, "y": 0.0, "width": 0.5, "height": 0.5}]}
    headers = auth(recorded.token)
    httpx.put(api, json=masks, headers=headers).raise_for_status()
    try:
        with XpMobileClient(recorded.server.base_url).session(*ADMIN) as client:
            shown = _thumbnail(client, recorded.camera_id, recorded.runs[0][0] + 1)
        assert shown.ok, shown
        jpeg = base64.b64decode(shown.param("Thumbnail"))
        pixels = np.asarray(Image.open(io.BytesIO(jpeg)).convert("L"))
        assert pixels[:178, :318].max() <= 16  # the masked quarter is black
        assert pixels[182:, 322:].max() > 16
    finally:
        httpx.put(api, json={"masks": []}, headers=headers).raise_for_status()


def test_wrong_sequence_requests_get_clear_codes(recorded: Recorded) -> None:
    camera, time = recorded.camera_id, millis(recorded.runs[0][0])
    with XpMobileClient(recorded.server.base_url).session(*ADMIN) as client:

        def code(**params: object) -> int:
            return client.command("GetSequences", **params).error_code

        assert code(Time=time, AfterTime=60) == 13  # no ItemId
        assert code(ItemId=camera, AfterTime=60) == 13  # no Time
        assert code(ItemId=camera, Time="yesterday") == 14
        assert code(ItemId=camera, Time=time, AfterTime=-1) == 14
        assert code(ItemId="not-a-guid", Time=time) == 14
        assert code(ItemId=camera, Time=time, SeqType="Motion") == 24  # camgate has no motion
        assert code(ItemId=camera, Time=time, SeqType="Sound") == 14
        assert code(ItemId=camera, Time=time, ItemKind="Microphone") == 21
        assert code(ItemId=camera, Time=time, InvestigationId=str(uuid.uuid4())) == 21
        assert code(ItemId=camera, Time=time, InvestigationId="not-a-guid") == 14
        assert code(ItemId=[str(uuid.uuid4()) for _ in range(101)], Time=time) == 43


def test_recordings_need_the_playback_permission_and_a_camera_of_the_role(
    recorded: Recorded,
) -> None:
    api = f"{recorded.server.base_url}/api/v1/roles/operator"
    admin = auth(recorded.token)
    camera, time = recorded.camera_id, millis(recorded.runs[0][0] + 1)
    sequences_of = {"Time": time, "AfterTime": 60}
    only = httpx.put(f"{api}/cameras", json={"camera_ids": [camera]}, headers=admin)
    assert only.status_code == 200
    with XpMobileClient(recorded.server.base_url).session(*OPERATOR) as client:
        assert sequences(client.command("GetSequences", ItemId=camera, **sequences_of))
        assert client.command("GetRecordingTime", CameraId=camera, SeekType="DbEnd").ok
        assert client.command("GetThumbnailByTime", CameraId=camera, Time=time).ok
        # Not a camera of the role, or none at all: 20, as the REST API's 404.
        for other in (recorded.silent_id, str(uuid.uuid4())):
            both = [camera, other]
            assert client.command("GetSequences", ItemId=both, **sequences_of).error_code == 20
            asked = client.command("GetRecordingTime", CameraId=other, SeekType="DbEnd")
            assert asked.error_code == 20
            assert client.command("GetThumbnailByTime", CameraId=other, Time=time).error_code == 20

        taken = httpx.put(f"{api}/permissions", json={"permissions": ["live"]}, headers=admin)
        assert taken.status_code == 200
        try:
            # Refused before the camera is looked up: an unknown one is 25 too.
            for target in (camera, str(uuid.uuid4())):
                refused = client.command("GetSequences", ItemId=target, **sequences_of)
                assert refused.error_code == 25
                asked = client.command("GetRecordingTime", CameraId=target, SeekType="DbStart")
                assert asked.error_code == 25
                thumbnail = client.command("GetThumbnailByTime", CameraId=target, Time=time)
                assert thumbnail.error_code == 25
        finally:
            given = {"permissions": ["live", "playback"]}
            assert httpx.put(f"{api}/permissions", json=given, headers=admin).status_code == 200


def _investigation(recorded: Recorded, camera_ids: list[str], start: float, end: float) -> str:
    """An investigation of the administrator's, made with the REST API."""
    made = httpx.post(
        f"{recorded.server.base_url}/api/v1/investigations",
        json={
            "name": "Broken window",
            "camera_ids": camera_ids,
            "start": datetime.fromtimestamp(start, UTC).isoformat(),
            "end": datetime.fromtimestamp(end, UTC).isoformat(),
        },
        headers=auth(recorded.token),
    )
    assert made.status_code == 201, made.text
    investigation_id: str = made.json()["id"]
    return investigation_id


def _patch(recorded: Recorded, path: str, body: dict[str, Any]) -> None:
    url = f"{recorded.server.base_url}/api/v1/{path}"
    method = httpx.patch if path == "settings" else httpx.put
    answer = method(url, json=body, headers=auth(recorded.token))
    assert answer.status_code == 200, answer.text


def test_sequences_of_an_investigation_are_cut_to_its_span(recorded: Recorded) -> None:
    (first, first_end), (second, last) = recorded.runs
    start, end = first + 1, second + 1
    camera = recorded.camera_id
    investigation = _investigation(recorded, [camera], start, end)
    with XpMobileClient(recorded.server.base_url).session(*ADMIN) as client:

        def ask(**params: object) -> list[tuple[float, float]]:
            answer = client.command(
                "GetSequences", ItemId=camera, InvestigationId=investigation, **params
            )
            return sequences(answer)

        # As the web client library asks for an interval's sequences: from before the
        # investigation to after it, what it covers only.
        span = int(last - first) + 20
        within = [(start, first_end), (second, end)]
        interval = ask(Time=millis(first - 10), AfterTime=span, AfterCount=10000, ItemKind="Camera")
        assert close(interval, within), (interval, within)
        # Backward from after it; counted from the time asked about, inside it.
        assert close(ask(Time=millis(last + 10), BeforeTime=span), within)
        gap = (first_end + second) / 2
        assert close(ask(Time=millis(gap), BeforeTime=HOUR_S, BeforeCount=1), within[:1])
        assert close(ask(Time=millis(gap), AfterTime=HOUR_S, AfterCount=1), within[1:])
        # Without it, the same question is answered from the whole timeline.
        whole = client.command("GetSequences", ItemId=camera, Time=millis(gap), AfterTime=HOUR_S)
        assert close(sequences(whole), recorded.runs[1:])
        assert ask(Time=millis(end + 1), AfterTime=HOUR_S) == []

        def code(**params: object) -> int:
            params = {"ItemId": camera, "Time": millis(first), "AfterTime": 60, **params}
            return client.command("GetSequences", **params).error_code

        # A camera that is not the investigation's (recorded or not, known or not): 21.
        assert code(ItemId=recorded.silent_id, InvestigationId=investigation) == 21
        assert code(ItemId=[camera, str(uuid.uuid4())], InvestigationId=investigation) == 21
        assert code(ItemId="not-a-guid", InvestigationId=investigation) == 14

        _patch(recorded, "settings", {"investigations": {"enabled": False}})
        try:
            assert code(InvestigationId=investigation) == 24
            assert code() == 0  # without one: recordings, not investigations
        finally:
            _patch(recorded, "settings", {"investigations": {"enabled": True}})


def test_an_investigation_that_is_not_the_users_to_see_is_unknown(recorded: Recorded) -> None:
    (first, _), (_, last) = recorded.runs
    camera = recorded.camera_id
    investigation = _investigation(recorded, [camera], first, last)
    asked = {"ItemId": camera, "Time": millis(first), "AfterTime": HOUR_S}
    with XpMobileClient(recorded.server.base_url).session(*OPERATOR) as client:
        # The operator role may play the camera back, but has no Export permission.
        assert sequences(client.command("GetSequences", **asked))
        refused = client.command("GetSequences", InvestigationId=investigation, **asked)
        assert refused.error_code == 25, refused
        _patch(
            recorded, "roles/operator/permissions", {"permissions": ["live", "playback", "export"]}
        )
        try:
            # The administrator's investigation, with others' hidden: as unknown as none.
            hidden = client.command("GetSequences", InvestigationId=investigation, **asked)
            assert hidden.error_code == 21, hidden
            unknown = client.command("GetSequences", InvestigationId=str(uuid.uuid4()), **asked)
            assert unknown.error_code == 21 and unknown.error_string == hidden.error_string
            _patch(recorded, "settings", {"investigations": {"view_others": True}})
            try:
                shown = client.command("GetSequences", InvestigationId=investigation, **asked)
                assert close(sequences(shown), recorded.runs), shown
            finally:
                _patch(recorded, "settings", {"investigations": {"view_others": False}})
        finally:
            _patch(recorded, "roles/operator/permissions", {"permissions": ["live", "playback"]})
