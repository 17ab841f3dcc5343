"""Bookmarks, server status, outputs and events, investigations and exports over the XProtect
Mobile command channel of a running server, driven by the client written from the protocol
notes: the same service, permissions, toggles and audit as the REST API, and an export that
completes and downloads through its link."""

from __future__ import annotations

import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from camgate.identity.models import Permission
from tests.conftest import ADMIN, OPERATOR
from tests.integration.test_investigations_api import (
    mkv_packets,
    patch_settings,
    recorded_range,
    set_data_password,
)
from tests.support.media_checks import wait_for_online
from tests.support.server import RunningServer, auth
from tests.support.xpmobile_client import Answer, XpMobileClient, split_messages

MINE = "00000000-0000-0000-0000-000000000000"
ALL_USERS = "{A3B9C5FB-FAAD-42C8-AB73-B79D6FFFDBC1}"
UNKNOWN = "1b4e28ba-2fa1-11d2-883f-0016d3cca427"


@pytest.fixture
def admin(server: RunningServer) -> Iterator[XpMobileClient]:
    with XpMobileClient(server.base_url) as client:
        yield client.session(*ADMIN)


@pytest.fixture
def operator(server: RunningServer) -> Iterator[XpMobileClient]:
    with XpMobileClient(server.base_url) as client:
        yield client.session(*OPERATOR)


def _api(server: RunningServer) -> str:
    return f"{server.base_url}/api/v1"


def _camera(server: RunningServer, token: str, name: str) -> str:
    answer = httpx.post(
        f"{_api(server)}/cameras",
        json={"name": name, "urls": ["synthetic:360p"]},
        headers=auth(token),
    )
    assert answer.status_code == 201, answer.text
    camera_id: str = answer.json()["id"]
    return camera_id


def _operator_sees(server: RunningServer, token: str, *cameras: str) -> None:
    answer = httpx.put(
        f"{_api(server)}/roles/operator/cameras",
        json={"camera_ids": list(cameras)},
        headers=auth(token),
    )
    assert answer.status_code == 200, answer.text


def _operator_may(server: RunningServer, token: str, permissions: set[Permission]) -> None:
    answer = httpx.put(
        f"{_api(server)}/roles/operator/permissions",
        json={"permissions": sorted(p.value for p in permissions)},
        headers=auth(token),
    )
    assert answer.status_code == 200, answer.text


def _refused(answer: Answer, code: int) -> None:
    assert not answer.ok and answer.error_code == code, answer
    assert answer.error_string


def _payload(answer: Answer, tag: str) -> ET.Element:
    """A payload element the test client does not parse itself (``<ServerStatus>`` …)."""
    command = ET.fromstring(split_messages(answer.raw)[-1]).find("Command")
    assert command is not None
    found = command.find(tag)
    assert found is not None, answer.raw
    return found


def _ms(seconds: float) -> str:
    return str(int(seconds * 1000))


# --- bookmarks -----------------------------------------------------------------------------


def test_bookmarks_made_found_changed_and_deleted_as_through_the_rest_api(
    server: RunningServer,
    admin_token: str,
    admin: XpMobileClient,
    operator: XpMobileClient,
) -> None:
    front = _camera(server, admin_token, "Front door")
    back = _camera(server, admin_token, "Back door")
    hidden = _camera(server, admin_token, "Vault")
    _operator_sees(server, admin_token, front, back)
    now = time.time()

    suggested = operator.command("RequestBookmarkCreation", CameraId=front)
    assert suggested.ok, suggested
    moment = int(suggested.param("Time"))
    assert abs(moment / 1000 - now) < 30
    assert int(suggested.param("StartTime")) <= moment <= int(suggested.param("EndTime"))
    assert suggested.param("BeforeTime") == suggested.param("AfterTime") == "10"

    made = operator.command(
        "CreateBookmark",
        CameraId=front.upper(),
        Name="Parcel taken",
        Description="a man in a red coat",
        Time=_ms(now - 60),
        StartTime=_ms(now - 63),
        EndTime=_ms(now - 30),
    )
    assert made.ok, made
    first = made.param("BookmarkId")
    [item] = made.items
    assert (item.type, item.id, item.name) == ("Bookmark", first, "Parcel taken")
    assert item.properties["StartTime"] == _ms(now - 63) == item.properties["Time"]
    assert item.properties["EndTime"] == _ms(now - 30)
    assert item.properties["Username"] == OPERATOR[0]
    assert [(c.type, c.id, c.name) for c in item.items] == [("Camera", front, "Front door")]

    # The same bookmark through the REST API: one service.
    rest = httpx.get(f"{_api(server)}/bookmarks/{first}", headers=auth(admin_token)).json()
    assert rest["headline"] == "Parcel taken" and rest["user"] == OPERATOR[0]

    # A single moment, and the protocol's default description.
    moment_only = operator.command("CreateBookmark", CameraId=back, Name="Gate", Time=_ms(now - 10))
    assert moment_only.ok, moment_only
    second = moment_only.param("BookmarkId")
    assert moment_only.items[0].properties["Description"] == "Mobile bookmark"
    assert (
        moment_only.items[0].properties["StartTime"] == moment_only.items[0].properties["EndTime"]
    )
    by_admin = admin.command("CreateBookmark", CameraId=front, Name="Van", Time=_ms(now - 20))
    assert by_admin.ok, by_admin
    third = by_admin.param("BookmarkId")
    # On a camera the operator may not view: never in their answers.
    safe = admin.command("CreateBookmark", CameraId=hidden, Name="Safe", Time=_ms(now - 5))
    assert safe.ok, safe

    latest = operator.command("GetBookmarks", Count=30, MyBookmarks="No")
    assert [i.id for i in latest.items] == [second, third, first]
    assert [i.id for i in operator.command("GetBookmarks", Count=2).items] == [second, third]
    # The next page starts after the bookmark given.
    page = operator.command("GetBookmarks", BookmarkId=third, Count=30)
    assert [i.id for i in page.items] == [first]
    assert [i.id for i in operator.command("GetBookmarks", BookmarkId=first).items] == [first]
    mine = operator.command("GetBookmarks", Count=30, MyBookmarks="Yes")
    assert [i.id for i in mine.items] == [second, first]
    found = operator.command("GetBookmarks", Count=30, Keyword="RED COAT")
    assert [i.id for i in found.items] == [first]
    on_cameras = operator.command("GetBookmarks", Count=30, SearchCameraIds=f"{back},{front}")
    assert [i.id for i in on_cameras.items] == [second, third, first]
    only_back = operator.command("GetBookmarks", Count=30, SearchCameraIds=back)
    assert [i.id for i in only_back.items] == [second]
    window = operator.command(
        "GetBookmarks", Count=30, StartTime=_ms(now - 15), EndTime=_ms(now - 100)
    )
    assert [i.id for i in window.items] == [third, first]
    assert not operator.command("GetBookmarks", Count=30, EndTime=_ms(now + 60)).items

    changed = operator.command(
        "UpdateBookmark", BookmarkId=first, Name="Parcel stolen", Description="seen"
    )
    assert changed.ok, changed
    assert changed.items[0].name == "Parcel stolen"
    assert changed.items[0].properties["Description"] == "seen"
    moved = operator.command("UpdateBookmark", BookmarkId=first, Time=_ms(now - 50))
    assert moved.ok, moved
    assert moved.items[0].properties["StartTime"] == _ms(now - 50)
    assert moved.items[0].properties["EndTime"] == _ms(now - 17)

    # Wrong requests get the protocol's codes.
    _refused(operator.command("UpdateBookmark", BookmarkId=third, Name="mine now"), 25)
    _refused(operator.command("DeleteBookmark", BookmarkId=third), 25)
    _refused(operator.command("GetBookmarks", BookmarkId=UNKNOWN), 21)
    _refused(operator.command("GetBookmarks", BookmarkId="nonsense"), 14)
    _refused(operator.command("GetBookmarks", Count=0), 14)
    _refused(operator.command("CreateBookmark", CameraId=front, Time=_ms(now)), 13)
    _refused(operator.command("CreateBookmark", CameraId=front, Name="x", Time="soon"), 14)
    _refused(operator.command("CreateBookmark", CameraId=UNKNOWN, Name="x", Time=_ms(now)), 20)
    _refused(operator.command("CreateBookmark", VideoId=UNKNOWN, Name="x", Time=_ms(now)), 21)
    _refused(operator.command("RequestBookmarkCreation", CameraId=UNKNOWN), 20)
    _refused(operator.command("RequestBookmarkCreation", CameraId=hidden), 20)
    _refused(operator.command("CreateBookmark", CameraId=hidden, Name="x", Time=_ms(now)), 20)
    outside = operator.command(
        "CreateBookmark", CameraId=front, Name="x", Time=_ms(now), StartTime=_ms(now + 5)
    )
    _refused(outside, 14)
    too_long = operator.command("CreateBookmark", CameraId=front, Name="x" * 101, Time=_ms(now))
    _refused(too_long, 14)

    # The role's permissions, as for the REST API.
    everything_but = set(Permission.role_defaults())
    _operator_may(server, admin_token, everything_but - {Permission.BOOKMARKS_CREATE})
    _refused(operator.command("CreateBookmark", CameraId=front, Name="x", Time=_ms(now)), 25)
    _refused(operator.command("RequestBookmarkCreation", CameraId=front), 25)
    _operator_may(server, admin_token, everything_but - {Permission.BOOKMARKS_EDIT})
    _refused(operator.command("DeleteBookmark", BookmarkId=first), 25)
    _operator_may(server, admin_token, everything_but - {Permission.BOOKMARKS_VIEW})
    _refused(operator.command("GetBookmarks", Count=30), 25)
    _operator_may(server, admin_token, everything_but)

    # The toggle answers first: 24 even to a malformed request.
    patch_settings(server, admin_token, {"general": {"features": {"bookmarks": False}}})
    _refused(operator.command("GetBookmarks", Count=30), 24)
    _refused(operator.command("CreateBookmark", CameraId="nonsense"), 24)
    patch_settings(server, admin_token, {"general": {"features": {"bookmarks": True}}})

    assert operator.command("DeleteBookmark", BookmarkId=first).ok
    _refused(operator.command("GetBookmarks", BookmarkId=first), 21)
    assert admin.command("DeleteBookmark", BookmarkId=second).ok  # an administrator's right
    remaining = admin.command("GetBookmarks", Count=30)
    assert [i.id for i in remaining.items] == [safe.param("BookmarkId"), third]

    # At what a stream shows: its camera, now (live), unless a Time is given.
    wait_for_online(server.base_url, admin_token, front)
    video = operator.command("RequestStream", CameraId=front, MethodType="Pull")
    assert video.ok, video
    video_id = video.param("VideoId")
    seen = operator.command("CreateBookmark", VideoId=video_id, Name="Seen live")
    assert seen.ok, seen
    [live_item] = seen.items
    assert [c.id for c in live_item.items] == [front]
    assert abs(int(live_item.properties["StartTime"]) / 1000 - time.time()) < 30
    earlier = operator.command("CreateBookmark", VideoId=video_id, Name="x", Time=_ms(now - 40))
    assert earlier.ok and earlier.items[0].properties["StartTime"] == _ms(now - 40)
    # Another connection's stream is not theirs.
    _refused(admin.command("CreateBookmark", VideoId=video_id, Name="x"), 21)


# --- status, outputs and events ------------------------------------------------------------


def test_server_status_for_administrators_and_no_outputs_or_events(
    server: RunningServer,
    admin_token: str,
    admin: XpMobileClient,
    operator: XpMobileClient,
) -> None:
    status = admin.command("GetServerStatus")
    assert status.ok, status
    element = _payload(status, "ServerStatus")
    assert 0 <= int(element.findtext("CpuUsage", "")) <= 100
    disk = {child.tag: int(child.text or "") for child in element.find("DiskUsage") or []}
    assert set(disk) == {
        "RecordingDiskUsageInBytes",
        "ExportsDiskUsageInBytes",
        "OtherDiskUsageInBytes",
        "FreeSpaceInBytes",
    }
    assert disk["FreeSpaceInBytes"] > 0 and min(disk.values()) >= 0
    # As GET /api/v1/status: administrators only.
    _refused(operator.command("GetServerStatus"), 25)

    camera = _camera(server, admin_token, "Yard")
    _operator_sees(server, admin_token, camera)
    for client in (admin, operator):
        answer = client.command("GetOutputsAndEvents", CameraId="")
        assert answer.ok, answer
        groups = ET.fromstring(split_messages(answer.raw)[-1]).iter("OEHeaderGroup")
        assert [(g.get("Name"), len(g)) for g in groups] == [("Outputs", 0), ("Events", 0)]
    assert operator.command("GetOutputsAndEvents", CameraId=camera).ok
    _refused(operator.command("GetOutputsAndEvents", CameraId=UNKNOWN), 20)
    trigger = {"ObjectId": UNKNOWN, "TriggerType": "TriggerOutput"}
    _refused(operator.command("RequestActivation", **trigger), 21)
    _refused(operator.command("RequestActivation", ObjectId=UNKNOWN, TriggerType="Pull"), 14)
    _refused(operator.command("RequestActivation", TriggerType="TriggerEvent"), 13)

    _operator_may(server, admin_token, set(Permission.role_defaults()) - {Permission.ACTIONS})
    _refused(operator.command("GetOutputsAndEvents", CameraId=""), 25)
    patch_settings(server, admin_token, {"general": {"features": {"actions": False}}})
    _refused(admin.command("GetOutputsAndEvents", CameraId=""), 24)
    _refused(admin.command("RequestActivation", **trigger), 24)


# --- investigations and exports ------------------------------------------------------------


def _exports(client: XpMobileClient, export_id: str) -> list[dict[str, str]]:
    answer = client.command("GetExport", ExportId=export_id)
    assert answer.ok, answer
    return [dict(e.attrib) for e in _payload(answer, "Exports").iter("Export")]


def _prepared(client: XpMobileClient, export_id: str) -> dict[str, str]:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        [export] = _exports(client, export_id)
        assert export["State"] != "-1", export
        assert 0 <= int(export["State"]) <= 101
        if export["State"] == "101":
            return export
        time.sleep(0.3)
    raise AssertionError("the export did not finish")


def _audit(server: RunningServer, token: str, action: str) -> list[dict[str, Any]]:
    entries = httpx.get(
        f"{_api(server)}/audit", params={"q": action, "limit": 100}, headers=auth(token)
    ).json()
    return [e for e in entries if e["action"] == action]


def test_investigations_and_an_export_downloaded_through_its_link(
    server: RunningServer,
    admin_token: str,
    admin: XpMobileClient,
    operator: XpMobileClient,
) -> None:
    set_data_password(server.data_dir)
    patch_settings(server, admin_token, {"investigations": {"export_formats": {"mkv": True}}})
    # LogIn offers the formats turned on to a role with the Export permission.
    with XpMobileClient(server.base_url) as fresh:
        assert fresh.connect().ok
        flags = fresh.log_in(*ADMIN).params
        assert (flags["ExportToMkv"], flags["ExportToAvi"], flags["ExportToDb"]) == (
            ["Yes"],
            ["No"],
            ["No"],
        )
        assert fresh.connect().ok
        assert fresh.log_in(*OPERATOR).params["ExportToMkv"] == ["No"]
    # An operator's role lacks the Export permission until an administrator grants it.
    _refused(operator.command("GetInvestigation", ItemId=MINE), 25)
    _refused(operator.command("CreateInvestigation", Name="x"), 25)

    camera, start = recorded_range(server, admin_token, 5)
    made = admin.command(
        "CreateInvestigation",
        Name="Broken window",
        StartTime=_ms(start),
        EndTime=_ms(start + 4),
        State="New",
        CameraId=[camera],
    )
    assert made.ok, made
    investigation = made.param("ItemId")
    [item] = made.items
    assert (item.type, item.id, item.name) == ("Investigation", investigation, "Broken window")
    assert item.properties["StartTime"] == _ms(start)
    assert [c.id for c in item.items] == [camera]
    rest = httpx.get(f"{_api(server)}/investigations/{investigation}", headers=auth(admin_token))
    assert rest.json()["name"] == "Broken window"
    created = _audit(server, admin_token, "investigation.create")
    assert [e["target"] for e in created] == [investigation]
    assert created[0]["address"] == "127.0.0.1"

    for item_id in (MINE, ALL_USERS, investigation):
        listed = admin.command("GetInvestigation", ItemId=item_id)
        assert [i.id for i in listed.items] == [investigation], item_id
    renamed = admin.command("UpdateInvestigationData", ItemId=investigation, Name="Window")
    assert renamed.ok and renamed.items[0].name == "Window"
    narrowed = admin.command(
        "UpdateInvestigation", ItemId=investigation, EndTime=_ms(start + 3), CameraId=camera
    )
    assert narrowed.ok, narrowed
    assert narrowed.items[0].properties["EndTime"] == _ms(start + 3)
    assert admin.command("CancelInvestigationUpdate", ItemId=investigation).ok
    _refused(admin.command("GetInvestigation", ItemId=UNKNOWN), 21)
    _refused(admin.command("CreateInvestigation", Name="x", StartTime=_ms(start)), 13)
    bad_span = admin.command(
        "CreateInvestigation", Name="x", StartTime=_ms(start), EndTime=_ms(start), CameraId=camera
    )
    _refused(bad_span, 14)
    unknown_camera = admin.command(
        "CreateInvestigation", Name="x", StartTime="1", EndTime="2000", CameraId=UNKNOWN
    )
    _refused(unknown_camera, 20)

    # Others' investigations stay hidden while "view others" is off.
    _operator_may(server, admin_token, set(Permission.role_defaults()) | {Permission.EXPORT})
    assert operator.command("GetInvestigation", ItemId=ALL_USERS).items == []
    _refused(operator.command("GetInvestigation", ItemId=investigation), 21)
    patch_settings(server, admin_token, {"investigations": {"view_others": True}})
    _operator_sees(server, admin_token, camera)
    others = operator.command("GetInvestigation", ItemId=ALL_USERS)
    assert [i.id for i in others.items] == [investigation]
    assert operator.command("GetInvestigation", ItemId=MINE).items == []
    # Only its owner or an administrator changes it.
    _refused(operator.command("UpdateInvestigationData", ItemId=investigation, Name="x"), 25)
    patch_settings(server, admin_token, {"investigations": {"view_others": False}})

    # Formats the administrator has not enabled are turned off.
    avi = admin.command("StartInvestigationExport", InvestigationId=investigation, ExportType="AVI")
    _refused(avi, 24)
    started = admin.command(
        "StartInvestigationExport",
        InvestigationId=investigation,
        ExportType="MKV",
        IncludeAudio="No",
    )
    assert started.ok, started
    export_id = started.param("ExportId")
    export = _prepared(admin, export_id)
    assert export["Type"] == "MKV" and export["InvestigationId"] == investigation
    assert int(export["Size"]) > 0 and export["Username"] == ADMIN[0]
    assert [e["ExportId"] for e in _exports(admin, MINE)] == [export_id]
    assert [e["ExportId"] for e in _exports(admin, ALL_USERS)] == [export_id]
    assert _exports(operator, ALL_USERS) == []
    _refused(admin.command("GetExport", ExportId=UNKNOWN), 21)

    linked = admin.command(
        "CreateExportDownloadLink", ExportId=export_id, InvestigationId=investigation, Type="MKV"
    )
    assert linked.ok, linked
    link = linked.param("ExportLink")
    assert not link.startswith("/")
    url = f"{server.base_url}/{link}"
    whole = httpx.get(url, timeout=60)  # no headers: as a browser navigates to it
    assert whole.status_code == 200, whole.text
    assert len(whole.content) == int(export["Size"])
    assert "attachment" in whole.headers["content-disposition"]
    assert mkv_packets(whole.content)[0]
    part = httpx.get(url, headers={"Range": "bytes=10-19"})
    assert part.status_code == 206 and part.content == whole.content[10:20]
    downloads = _audit(server, admin_token, "export.download")
    assert {e["details"]["bytes"] for e in downloads} == {"all", "10-19"}
    # The link authorises that download only.
    assert httpx.get(url.replace(export_id, investigation)).status_code == 401
    assert httpx.get(url[: url.index("?")]).status_code == 401
    assert httpx.get(url[:-3] + "abc").status_code == 401
    _refused(admin.command("CreateExportDownloadLink", ExportId=export_id, Type="DB"), 21)
    _refused(admin.command("CreateExportDownloadLink", ExportId=UNKNOWN), 21)

    # A native export with a password, encrypted as LogIn's credentials are.
    patch_settings(server, admin_token, {"investigations": {"export_formats": {"native": True}}})
    protected = admin.command(
        "StartInvestigationExport",
        InvestigationId=investigation,
        ExportType="DB",
        Password=admin.encrypt("evidence password"),
    )
    assert protected.ok, protected
    native = _prepared(admin, protected.param("ExportId"))
    assert native["Type"] == "DB"
    short = admin.command(
        "StartInvestigationExport",
        InvestigationId=investigation,
        ExportType="DB",
        Password=admin.encrypt("short"),
    )
    _refused(short, 14)
    _refused(
        admin.command(
            "StartInvestigationExport",
            InvestigationId=investigation,
            ExportType="DB",
            Password="not encrypted",
        ),
        14,
    )
    assert admin.command(
        "DeleteInvestigationExport", InvestigationId=investigation, ExportType="DB"
    ).ok
    assert [e["Type"] for e in _exports(admin, ALL_USERS)] == ["MKV"]
    _refused(
        admin.command("DeleteInvestigationExport", InvestigationId=investigation, ExportType="DB"),
        21,
    )
    assert [e["target"] for e in _audit(server, admin_token, "export.delete")]

    # Investigations turned off: 24 before anything else.
    patch_settings(server, admin_token, {"investigations": {"enabled": False}})
    _refused(admin.command("GetInvestigation", ItemId=MINE), 24)
    _refused(admin.command("GetExport", ExportId="nonsense"), 24)
    assert httpx.get(url).status_code == 403
    patch_settings(server, admin_token, {"investigations": {"enabled": True}})

    assert admin.command("DeleteInvestigation", ItemId=investigation).ok
    _refused(admin.command("GetInvestigation", ItemId=investigation), 21)
    assert admin.command("GetInvestigation", ItemId=MINE).items == []
    assert httpx.get(url).status_code == 404
