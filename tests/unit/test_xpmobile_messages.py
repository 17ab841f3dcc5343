"""The command channel's messages: requests as the notes spell them are read, answers are framed
with ``\\r\\n\\r\\n`` (several per body), and hostile XML is refused cleanly."""

from __future__ import annotations

import asyncio
import re
import xml.etree.ElementTree as ET
from typing import Any, cast

import pytest

from camgate.protocols.xpmobile.call import Call
from camgate.protocols.xpmobile.commands import execute
from camgate.protocols.xpmobile.connections import ConnectionTable
from camgate.protocols.xpmobile.errors import CommandError, ErrorCode
from camgate.protocols.xpmobile.messages import (
    Item,
    Reply,
    guid,
    parse_request,
    render_processing,
    render_response,
)
from camgate.protocols.xpmobile.streams import StreamTable

HEAD = (
    '<?xml version="1.0" encoding="utf-8"?><Communication '
    'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
    'xmlns:xsd="http://www.w3.org/2001/XMLSchema">'
)


def _request(inner: str, connection: str = "") -> bytes:
    return (HEAD + connection + inner + "</Communication>\r\n\r\n").encode()


def _command(name: str, params: str = "", kind: str = "Request", sequence: int = 7) -> str:
    return (
        f'<Command SequenceId="{sequence}"><Type>{kind}</Type><Name>{name}</Name>'
        f"<InputParams>{params}</InputParams></Command>"
    )


def test_a_request_as_the_web_client_writes_it() -> None:
    # The web client closes ConnectionId with "</ConnectionId >", and escapes values.
    body = _request(
        _command(
            "GetThumbnail",
            '<Param Name="CameraId" Value="A" /><Param Name="CameraId" Value="B" />'
            '<Param Name="Text" Value="a &amp; &quot;b&quot; &lt;c&#10;d" />'
            '<Param Name="Empty" Value="" />',
        ),
        "<ConnectionId>6F9619FF-8B86-D011-B42D-00CF4FC964FF</ConnectionId >",
    )
    message = parse_request(body)
    assert message.name == "GetThumbnail" and message.sequence_id == 7
    assert message.connection_id == "6F9619FF-8B86-D011-B42D-00CF4FC964FF"
    assert message.all("CameraId") == ("A", "B") and message.get("CameraId") == "A"
    assert message.get("Text") == 'a & "b" <c\nd'
    assert message.get("Empty") == "" and message.get("Missing") is None


def test_connect_has_no_connection_id_and_the_separator_is_optional() -> None:
    message = parse_request(_request(_command("Connect")).removesuffix(b"\r\n\r\n"))
    assert message.connection_id is None and message.params == {}


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"", ErrorCode.BAD_COMMAND_KIND),
        (b"<Communication><Command>", ErrorCode.BAD_COMMAND_KIND),
        (b"not xml at all", ErrorCode.BAD_COMMAND_KIND),
        (_request(""), ErrorCode.BAD_COMMAND_KIND),
        (_request(_command("")), ErrorCode.BAD_COMMAND_KIND),
        (_request(_command("Connect", kind="Response")), ErrorCode.BAD_COMMAND_TYPE),
        (_request(_command("Connect", kind="")), ErrorCode.BAD_COMMAND_TYPE),
        (b"<?xml version='1.0'?><Other/>", ErrorCode.BAD_COMMAND_KIND),
        (_request(_command("Connect")) + _request(_command("Connect")), ErrorCode.BAD_COMMAND_KIND),
        (
            _request(_command("Connect").replace('SequenceId="7"', 'SequenceId="x"')),
            ErrorCode.BAD_COMMAND_KIND,
        ),
    ],
)
def test_what_is_not_one_request_is_refused(body: bytes, code: ErrorCode) -> None:
    with pytest.raises(CommandError) as refused:
        parse_request(body)
    assert refused.value.code is code


XXE = b"""<?xml version="1.0"?>
<!DOCTYPE Communication [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<Communication><Command SequenceId="1"><Type>Request</Type><Name>&secret;</Name></Command>
</Communication>\r\n\r\n"""

BOMB = (
    b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    + b"".join(
        f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">'.encode()
        for i in range(1, 10)
    )
    + b']><Communication><Command SequenceId="1"><Type>Request</Type>'
    b"<Name>&lol9;</Name></Command></Communication>\r\n\r\n"
)

DTD_ONLY = b"""<?xml version="1.0"?><!DOCTYPE Communication SYSTEM "http://127.0.0.1:9/x.dtd">
<Communication><Command SequenceId="1"><Type>Request</Type><Name>Connect</Name></Command>
</Communication>\r\n\r\n"""


@pytest.mark.parametrize("body", [XXE, BOMB, DTD_ONLY], ids=["xxe", "entity-bomb", "dtd"])
def test_hostile_xml_is_refused_cleanly(body: bytes) -> None:
    with pytest.raises(CommandError) as refused:
        parse_request(body)
    assert refused.value.code is ErrorCode.BAD_COMMAND_KIND
    assert "refused XML" in refused.value.text


def test_too_many_parameters_are_refused() -> None:
    params = '<Param Name="CameraId" Value="x" />' * 1001
    with pytest.raises(CommandError) as refused:
        parse_request(_request(_command("GetViews", params)))
    assert refused.value.code is ErrorCode.INPUT_PARAMETER_TOO_LONG


def test_guids_are_read_in_any_case_and_with_braces() -> None:
    expected = "1926418b-893e-4ad6-a258-fb4a9ab57453"
    assert guid("1926418B-893E-4AD6-A258-FB4A9AB57453") == expected
    assert guid("{1926418b-893e-4ad6-a258-fb4a9ab57453}") == expected
    with pytest.raises(ValueError):
        guid("all-cameras")


def _messages(body: bytes) -> list[dict[str, Any]]:
    """A small reader of answer bodies, written from the notes: split at the separator, then
    read each message's command."""
    assert body.endswith(b"\r\n\r\n")
    found = []
    for part in body.split(b"\r\n\r\n")[:-1]:
        assert part.startswith(b"<?xml")
        command = ET.fromstring(part).find("Command")
        assert command is not None
        found.append(
            {
                "type": command.findtext("Type"),
                "name": command.findtext("Name"),
                "sequence": command.get("SequenceId"),
                "params": [(p.get("Name"), p.get("Value")) for p in command.iter("Param")],
                "result": command.findtext("Result"),
                "code": command.findtext("ErrorCode"),
                "text": command.findtext("ErrorString"),
                "command": command,
            }
        )
    return found


def test_answers_are_framed_and_several_share_a_body() -> None:
    body = (
        render_processing("GetThumbnail", 3, "c-1")
        + render_processing("GetThumbnail", 3, "c-1")
        + render_response("GetThumbnail", 3, "c-1", Reply(thumbnail="/9j/4AAQ"))
    )
    processing, again, final = _messages(body)
    assert processing["type"] == again["type"] == "Processing" and processing["result"] is None
    assert final["type"] == "Response" and final["name"] == "GetThumbnail"
    assert final["sequence"] == "3" and final["result"] == "OK" and final["code"] is None
    assert final["command"].findtext("Thumbnail") == "/9j/4AAQ"
    assert re.match(rb'<\?xml version="1.0" encoding="utf-8"\?><Communication ', body)


def test_a_refusal_carries_its_code_words_and_params() -> None:
    refusal = CommandError(
        ErrorCode.SECOND_STEP_AUTHENTICATION_REQUIRED,
        'a "code" <is> & needed',
        params=[("SecondStepAuthenticationProvider", "Email")],
    )
    (answer,) = _messages(render_response("LogIn", 2, None, refusal))
    assert answer["result"] == "Error" and answer["code"] == "34"
    assert answer["text"] == 'a "code" <is> & needed'
    assert answer["params"] == [("SecondStepAuthenticationProvider", "Email")]
    (gone,) = _messages(render_response("X", 1, None, CommandError(ErrorCode.WRONG_ID, "gone")))
    assert gone["code"] == "12" and gone["text"] == "Wrong connection ID"


def test_items_nest_and_sub_items_stay_flat() -> None:
    camera = Item("Camera", "c1", 'Door "A" & <B>', (("Live", "Yes"),))
    view = Item("View", "v1", "View", items=(camera,))
    tree = Item("Folder", "f1", "Root", items=(view,))
    reply = Reply(params=[("Repeated", "1"), ("Repeated", "2")], items=(tree,), sub_items=(view,))
    (answer,) = _messages(render_response("GetAllViewsAndCameras", 1, None, reply))
    command = answer["command"]
    assert answer["params"] == [("Repeated", "1"), ("Repeated", "2")]
    shown = command.find("Items/Item/Items/Item/Items/Item")
    assert shown is not None and shown.get("Name") == 'Door "A" & <B>'
    properties = shown.find("Properties")
    assert properties is not None and properties.get("Live") == "Yes"
    flat = command.find("SubItems/Item")
    assert flat is not None and flat.get("Id") == "v1" and flat.find("Items") is None


def test_an_unknown_command_is_not_implemented() -> None:
    message = parse_request(_request(_command("StartTeleport")))
    call = Call(cast(Any, None), ConnectionTable(), StreamTable(), message, "127.0.0.1", "")
    with pytest.raises(CommandError) as refused:
        asyncio.run(execute(call))
    assert refused.value.code is ErrorCode.NOT_IMPLEMENTED
