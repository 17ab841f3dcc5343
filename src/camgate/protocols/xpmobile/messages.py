"""The command channel's XML messages: parsing a request, rendering answers. Pure functions.

A request body is one ``<Communication>`` message ended by ``\\r\\n\\r\\n``; an answer body is
zero or more ``<Type>Processing</Type>`` messages and one ``<Type>Response</Type>`` message, each
ended by ``\\r\\n\\r\\n``. The XML comes from anyone who can reach the port: it is parsed with
defusedxml, refusing document types, entities and external references outright (no client of
the protocol sends them).
"""

from __future__ import annotations

import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import defusedxml
import defusedxml.ElementTree as SafeET

from camgate.protocols.xpmobile.errors import CommandError, ErrorCode

#: Ends every message, in both directions.
SEPARATOR = b"\r\n\r\n"
_DECLARATION = '<?xml version="1.0" encoding="utf-8"?>'
#: The namespaces the clients declare on ``<Communication>``; answers declare them too.
_NAMESPACES = (
    ("xmlns:xsi", "http://www.w3.org/2001/XMLSchema-instance"),
    ("xmlns:xsd", "http://www.w3.org/2001/XMLSchema"),
)
#: Parameters one request may carry (a camera list for a playback controller stays far below).
MAX_PARAMS = 1000
_MAX_NAME = 100


class MessageError(CommandError):
    """A body that is not one well-formed request message."""


@dataclass(frozen=True, slots=True)
class Message:
    name: str
    #: Echoed in the answer; the clients count up from 1.
    sequence_id: int
    #: Absent for Connect (and for clients that have not connected).
    connection_id: str | None
    #: A parameter may repeat (several ``CameraId``): every value, in order.
    params: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def get(self, name: str) -> str | None:
        values = self.params.get(name)
        return values[0] if values else None

    def all(self, name: str) -> tuple[str, ...]:
        return self.params.get(name, ())


def _local(tag: object) -> str:
    """An element's name without a namespace (a client may put one on)."""
    text = tag if isinstance(tag, str) else ""
    return text.rpartition("}")[2]


def _child(element: ET.Element, name: str) -> ET.Element | None:
    return next((c for c in element if _local(c.tag) == name), None)


def _text(element: ET.Element | None) -> str:
    return (element.text or "").strip() if element is not None else ""


def _bad(text: str, code: ErrorCode = ErrorCode.BAD_COMMAND_KIND) -> MessageError:
    return MessageError(code, text)


def parse_request(body: bytes) -> Message:
    """The request in ``body``; :class:`MessageError` when it is none (not well-formed XML, a
    document type or entity, no ``<Command>`` or ``<Name>``, a ``<Type>`` other than Request,
    more than one message)."""
    message, _, rest = body.partition(SEPARATOR)
    if rest.strip():
        raise _bad("one message per request")
    try:
        root = SafeET.fromstring(
            message, forbid_dtd=True, forbid_entities=True, forbid_external=True
        )
    except defusedxml.DefusedXmlException as error:
        raise _bad(f"refused XML: {type(error).__name__}") from error
    except ET.ParseError as error:
        raise _bad(f"not well-formed XML: {error}") from error
    if _local(root.tag) != "Communication":
        raise _bad("not a <Communication> message")
    command = _child(root, "Command")
    if command is None:
        raise _bad("no <Command>")
    kind = _text(_child(command, "Type"))
    if kind != "Request":
        raise _bad(
            f"the command's <Type> is {kind or 'missing'}, not Request", ErrorCode.BAD_COMMAND_TYPE
        )
    name = _text(_child(command, "Name"))
    if not name or len(name) > _MAX_NAME:
        raise _bad("no command <Name>")
    try:
        sequence_id = int(command.get("SequenceId", "0"))
    except ValueError as error:
        raise _bad("SequenceId is not a number") from error
    params: dict[str, list[str]] = {}
    inputs = _child(command, "InputParams")
    count = 0
    for param in inputs if inputs is not None else ():
        if _local(param.tag) != "Param":
            continue
        count += 1
        if count > MAX_PARAMS:
            raise _bad("too many parameters", ErrorCode.INPUT_PARAMETER_TOO_LONG)
        key = param.get("Name", "")
        if key:
            params.setdefault(key, []).append(param.get("Value", ""))
    connection_id = _text(_child(root, "ConnectionId")) or None
    return Message(
        name,
        sequence_id,
        connection_id,
        {key: tuple(values) for key, values in params.items()},
    )


def guid(text: str) -> str:
    """A GUID as camgate writes ids (lower case, no braces); ``ValueError`` when it is none.
    The clients write them in either case, some with braces."""
    return str(uuid.UUID(text.strip()))


def yes(value: bool) -> str:
    """The protocol's booleans."""
    return "Yes" if value else "No"


@dataclass(frozen=True, slots=True)
class Item:
    """An ``<Item>`` of a tree (``<Items>``) or of a flat list (``<SubItems>``)."""

    type: str
    id: str
    name: str
    #: Rendered as the attributes of a ``<Properties/>`` child (in trees only).
    properties: tuple[tuple[str, str], ...] = ()
    items: tuple[Item, ...] = ()


@dataclass(frozen=True, slots=True)
class Block:
    """A payload element of its own shape (``<ServerStatus>``, ``<Exports>``,
    ``<OEHeaderGroup>``): rendered as given, attributes, text and children."""

    tag: str
    attributes: tuple[tuple[str, str], ...] = ()
    text: str | None = None
    children: tuple[Block, ...] = ()


@dataclass(frozen=True, slots=True)
class Reply:
    """What a command answers when it succeeds."""

    #: ``<OutputParams>``: a name may repeat.
    params: Sequence[tuple[str, str]] = ()
    #: ``<Items>``: a tree (GetAllViewsAndCameras).
    items: tuple[Item, ...] | None = None
    #: ``<SubItems>``: the children of one item (GetViews).
    sub_items: tuple[Item, ...] | None = None
    #: ``<Thumbnail>``: a base64 JPEG.
    thumbnail: str | None = None
    #: Other payload elements, after those above.
    blocks: tuple[Block, ...] = ()


def _tree(parent: ET.Element, items: Sequence[Item], *, nested: bool) -> None:
    for item in items:
        element = ET.SubElement(
            parent, "Item", {"Type": item.type, "Id": item.id, "Name": item.name}
        )
        if not nested:
            continue
        if item.properties:
            ET.SubElement(element, "Properties", dict(item.properties))
        if item.items:
            _tree(ET.SubElement(element, "Items"), item.items, nested=True)


def _block(parent: ET.Element, block: Block) -> None:
    element = ET.SubElement(parent, block.tag, dict(block.attributes))
    element.text = block.text
    for child in block.children:
        _block(element, child)


def _message(
    name: str,
    sequence_id: int,
    connection_id: str | None,
    kind: str,
    fill: Callable[[ET.Element], None] | None = None,
) -> bytes:
    root = ET.Element("Communication", dict(_NAMESPACES))
    if connection_id:
        ET.SubElement(root, "ConnectionId").text = connection_id
    command = ET.SubElement(root, "Command", {"SequenceId": str(sequence_id)})
    ET.SubElement(command, "Type").text = kind
    ET.SubElement(command, "Name").text = name
    if fill is not None:
        fill(command)
    return (_DECLARATION + ET.tostring(root, encoding="unicode")).encode() + SEPARATOR


def render_processing(name: str, sequence_id: int, connection_id: str | None) -> bytes:
    """An interim message: the command is being worked on (for clients that asked for them)."""
    return _message(name, sequence_id, connection_id, "Processing")


def render_response(
    name: str,
    sequence_id: int,
    connection_id: str | None,
    outcome: Reply | CommandError,
) -> bytes:
    """The final message: the reply, or the refusal with its code and words."""

    def fill(command: ET.Element) -> None:
        params = outcome.params
        outputs = ET.SubElement(command, "OutputParams")
        for key, value in params:
            ET.SubElement(outputs, "Param", {"Name": key, "Value": value})
        if isinstance(outcome, Reply):
            if outcome.items is not None:
                _tree(ET.SubElement(command, "Items"), outcome.items, nested=True)
            if outcome.sub_items is not None:
                _tree(ET.SubElement(command, "SubItems"), outcome.sub_items, nested=False)
            if outcome.thumbnail is not None:
                ET.SubElement(command, "Thumbnail").text = outcome.thumbnail
            for block in outcome.blocks:
                _block(command, block)
            ET.SubElement(command, "Result").text = "OK"
        else:
            ET.SubElement(command, "Result").text = "Error"
            ET.SubElement(command, "ErrorCode").text = str(int(outcome.code))
            ET.SubElement(command, "ErrorString").text = outcome.text

    return _message(name, sequence_id, connection_id, "Response", fill)
