"""The pure parts of the XProtect Mobile evidence commands: bookmark and investigation items,
``<Exports>`` and ``<ServerStatus>`` as rendered on the wire, export types and states, the
search of several cameras."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from camgate.bookmarks.models import Bookmark
from camgate.investigations.models import Export, ExportFormat, ExportState, Investigation
from camgate.protocols.xpmobile import bookmarks, evidence, investigations
from camgate.protocols.xpmobile.errors import CommandError, ErrorCode
from camgate.protocols.xpmobile.messages import SEPARATOR, Block, Reply, render_response

CAMERA = "6f1c1c3e-7a52-4b8e-9f58-2f1d4a0b9c11"
OTHER_CAMERA = "0b7c5c1e-3d2a-4e1f-8a9b-1c2d3e4f5a6b"


def _command(reply: Reply) -> ET.Element:
    body = render_response("Cmd", 3, "conn", reply)
    assert body.endswith(SEPARATOR)
    command = ET.fromstring(body[: -len(SEPARATOR)]).find("Command")
    assert command is not None and command.findtext("Result") == "OK"
    return command


def _bookmark(bookmark_id: str, start: float, camera_id: str = CAMERA) -> Bookmark:
    return Bookmark(bookmark_id, camera_id, start, start + 20, "Door", "opened", "u1", "olivia")


def _investigation() -> Investigation:
    return Investigation(
        "9d0f6a4c-1b2e-4c3d-8e9f-0a1b2c3d4e5f",
        "Broken window",
        (CAMERA, OTHER_CAMERA),
        1_700_000_000.0,
        1_700_000_060.5,
        "admin",
        "u0",
        1.0,
        1.0,
    )


def _export(state: ExportState, progress: int, **changes: object) -> Export:
    fields: dict[str, object] = {
        "id": "1e2d3c4b-5a69-4788-9a0b-c1d2e3f4a5b6",
        "investigation_id": _investigation().id,
        "format": ExportFormat.MKV,
        "state": state,
        "progress": progress,
        "size": 0,
        "error": "",
        "include_audio": False,
        "password_protected": False,
        "download_name": "Broken_window-mkv.mkv",
        "requested_by": "admin",
        "created_at": 1_700_000_100.25,
        "finished_at": None,
    }
    fields.update(changes)
    return Export(**fields)  # type: ignore[arg-type]


def test_a_bookmark_item_carries_what_the_clients_read() -> None:
    item = bookmarks.bookmark_item(_bookmark("b1", 1_700_000_000.123), "Front door")
    command = _command(Reply(items=(item,)))
    element = command.find("Items/Item")
    assert element is not None
    assert element.attrib == {"Type": "Bookmark", "Id": "b1", "Name": "Door"}
    properties = element.find("Properties")
    assert properties is not None
    assert properties.attrib == {
        "Description": "opened",
        "Reference": "b1",
        "Time": "1700000000123",
        "StartTime": "1700000000123",
        "EndTime": "1700000020123",
        "CameraId": CAMERA,
        "Username": "olivia",
    }
    camera = element.find("Items/Item")
    assert camera is not None and camera.attrib == {
        "Type": "Camera",
        "Id": CAMERA,
        "Name": "Front door",
    }


def test_several_cameras_searches_merge_newest_first_up_to_the_limit() -> None:
    first = [_bookmark("a3", 30), _bookmark("a1", 10)]
    second = [_bookmark("b4", 40, OTHER_CAMERA), _bookmark("b2", 20, OTHER_CAMERA)]
    merged = bookmarks.newest_first([first, second], 3)
    assert [b.id for b in merged] == ["b4", "a3", "b2"]
    assert bookmarks.newest_first([[], []], 5) == []


def test_search_camera_ids_are_a_comma_list_of_guids() -> None:
    text = f" {CAMERA.upper()} ,{{{OTHER_CAMERA}}},,{CAMERA}"
    assert bookmarks.search_cameras(text) == [CAMERA, OTHER_CAMERA]
    assert bookmarks.search_cameras(None) == []
    with pytest.raises(CommandError) as wrong:
        bookmarks.search_cameras(f"{CAMERA},not-a-guid")
    assert wrong.value.code is ErrorCode.WRONG_INPUT_PARAMETER
    with pytest.raises(CommandError) as long:
        bookmarks.search_cameras(",".join([CAMERA] * (bookmarks.MAX_SEARCH_CAMERAS + 1)))
    assert long.value.code is ErrorCode.INPUT_PARAMETER_TOO_LONG


def test_the_server_status_block_as_the_library_reads_it() -> None:
    block = evidence.server_status(12.6, total=1000, free=300, recorded=500, exports=50)
    status = _command(Reply(blocks=(block,))).find("ServerStatus")
    assert status is not None
    assert status.findtext("CpuUsage") == "13"
    disk = status.find("DiskUsage")
    assert disk is not None
    assert {child.tag: child.text for child in disk} == {
        "RecordingDiskUsageInBytes": "500",
        "ExportsDiskUsageInBytes": "50",
        "OtherDiskUsageInBytes": "150",
        "FreeSpaceInBytes": "300",
    }
    # Exports on another disk than the recordings: other use is never negative.
    other = evidence.server_status(0, total=100, free=90, recorded=5, exports=50)
    assert other.children[1].children[2].text == "0"


def test_export_states_are_progress_then_101_or_minus_1() -> None:
    assert investigations.export_state(_export(ExportState.QUEUED, 0)) == 0
    assert investigations.export_state(_export(ExportState.RUNNING, 42)) == 42
    assert investigations.export_state(_export(ExportState.RUNNING, 100)) == 100
    assert investigations.export_state(_export(ExportState.DONE, 100)) == 101
    assert investigations.export_state(_export(ExportState.FAILED, 30)) == -1


def test_an_export_element_as_the_library_reads_it() -> None:
    export = _export(ExportState.DONE, 100, size=1234, finished_at=1_700_000_200.0)
    block = investigations.export_block(export, _investigation())
    exports = _command(Reply(blocks=(Block("Exports", children=(block,)),)))
    element = exports.find("Exports/Export")
    assert element is not None
    assert element.attrib == {
        "ExportId": export.id,
        "InvestigationId": export.investigation_id,
        "Name": "Broken window",
        "Type": "MKV",
        "Size": "1234",
        "State": "101",
        "StartTime": "1700000000000",
        "EndTime": "1700000060500",
        "QueuedTime": "1700000100250",
        "Username": "admin",
        "FileName": "Broken_window-mkv.mkv",
        "CompletedTime": "1700000200000",
    }
    failed = investigations.export_block(
        _export(ExportState.FAILED, 10, error="disk full"), _investigation()
    )
    assert ("Error", "disk full") in failed.attributes
    assert all(name != "CompletedTime" for name, _ in failed.attributes)


def test_an_empty_exports_block_is_still_there() -> None:
    command = _command(Reply(blocks=(Block("Exports"),)))
    assert command.find("Exports") is not None and len(command.find("Exports") or []) == 0


def test_export_types_map_to_camgate_formats() -> None:
    assert investigations.export_format("db", "ExportType") is ExportFormat.NATIVE
    assert investigations.export_format(" AVI ", "ExportType") is ExportFormat.AVI
    assert investigations.export_format("Mkv", "ExportType") is ExportFormat.MKV
    with pytest.raises(CommandError) as wrong:
        investigations.export_format("Jpeg", "Type")
    assert wrong.value.code is ErrorCode.WRONG_INPUT_PARAMETER and "Type" in wrong.value.text


def test_an_investigation_item_nests_its_cameras() -> None:
    item = investigations.investigation_item(_investigation(), {CAMERA: "Front door"})
    element = _command(Reply(items=(item,))).find("Items/Item")
    assert element is not None
    assert element.attrib["Type"] == "Investigation" and element.attrib["Name"] == "Broken window"
    properties = element.find("Properties")
    assert properties is not None
    assert properties.attrib == {
        "State": "Saved",
        "StartTime": "1700000000000",
        "EndTime": "1700000060500",
        "Username": "admin",
    }
    cameras = [(c.get("Id"), c.get("Name")) for c in element.iterfind("Items/Item")]
    # A camera removed since keeps its place, without a name.
    assert cameras == [(CAMERA, "Front door"), (OTHER_CAMERA, "")]


def test_a_download_token_is_never_a_cameras() -> None:
    scope = investigations.download_scope(CAMERA)
    assert scope != CAMERA and scope.endswith(CAMERA)
