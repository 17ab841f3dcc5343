"""One command as it arrives (:class:`Call`) and the table entry that runs it
(:class:`Command`): what every module of commands shares."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING

from camgate.api.deps import Services
from camgate.cameras.models import Camera
from camgate.core.errors import CamgateError, ErrorKind
from camgate.identity.models import Principal
from camgate.live.access import viewable_camera
from camgate.protocols.xpmobile.connections import Connection, ConnectionTable
from camgate.protocols.xpmobile.crypto import CryptoError, decrypt_text
from camgate.protocols.xpmobile.errors import CommandError, ErrorCode, refusal
from camgate.protocols.xpmobile.messages import Message, Reply, guid

if TYPE_CHECKING:  # the streams' change() takes a Call
    from camgate.protocols.xpmobile.streams import StreamTable

#: The largest picture a client may ask for (as camgate's REST API bounds it).
MAX_WIDTH = 7680
MAX_HEIGHT = 4320
#: JPEG quality when the client sends no ``ComprLevel`` (the protocol's default).
DEFAULT_COMPRESSION = 70


@dataclass(slots=True)
class Call:
    """One command as it arrives, and what it runs against."""

    svc: Services
    table: ConnectionTable
    streams: StreamTable
    request: Message
    address: str
    user_agent: str
    connection: Connection | None = None
    principal: Principal | None = None

    def param(self, name: str) -> str:
        """A required parameter (13 when it is missing)."""
        value = self.request.get(name)
        if value is None or not value.strip():
            raise CommandError(ErrorCode.MISSING_INPUT_PARAMETER, f"{name} is missing")
        return value

    def number(self, name: str, low: int, high: int, default: int | None) -> int | None:
        """An optional whole number within bounds (14 otherwise)."""
        value = self.request.get(name)
        if value is None or not value.strip():
            return default
        try:
            number = int(value)
        except ValueError:
            number = low - 1
        if not low <= number <= high:
            raise CommandError(ErrorCode.WRONG_INPUT_PARAMETER, f"{name} must be {low} to {high}")
        return number

    def whole(self, name: str, low: int, high: int, default: int) -> int:
        """An optional whole number within bounds, ``default`` when it is missing."""
        value = self.number(name, low, high, default)
        assert value is not None  # a default was given
        return value

    def dest_size(
        self, width: int | None = None, height: int | None = None
    ) -> tuple[int | None, int | None]:
        """``DestWidth`` and ``DestHeight`` as camgate's REST API bounds a picture's size; the
        given ones where they are missing."""
        return (
            self.number("DestWidth", 16, MAX_WIDTH, width),
            self.number("DestHeight", 16, MAX_HEIGHT, height),
        )

    def compression(self, default: int = DEFAULT_COMPRESSION) -> int:
        """``ComprLevel``: the JPEG quality, 1–100."""
        return self.whole("ComprLevel", 1, 100, default)

    def secret(self, name: str, longest: int, *, required: bool = True) -> str:
        """A parameter encrypted with the connection's session key (LogIn's credentials, an
        export's password); "" for a missing one that is not ``required``."""
        value = self.request.get(name)
        if not required and (value is None or not value.strip()):
            return ""
        connection = self.current
        try:
            text = decrypt_text(self.param(name), connection.key, connection.padding)
        except CryptoError as error:
            raise CommandError(
                ErrorCode.WRONG_INPUT_PARAMETER, f"{name} cannot be decrypted: {error}"
            ) from None
        if required and not text:
            raise CommandError(ErrorCode.MISSING_INPUT_PARAMETER, f"{name} is empty")
        if len(text) > longest:
            raise CommandError(ErrorCode.INPUT_PARAMETER_TOO_LONG, f"{name} is too long")
        return text

    def guid(self, name: str) -> str:
        try:
            return guid(self.param(name))
        except ValueError:
            raise CommandError(ErrorCode.WRONG_INPUT_PARAMETER, f"{name} is not a GUID") from None

    @property
    def user_principal(self) -> Principal:
        assert self.principal is not None, "a session command ran without a session"
        return self.principal

    @property
    def current(self) -> Connection:
        assert self.connection is not None, "a connection command ran without one"
        return self.connection


class Needs(Enum):
    NOTHING = "nothing"
    #: A ConnectionId from Connect (12 otherwise).
    CONNECTION = "connection"
    #: A logged-in connection (12 when its session ended, 23 before LogIn).
    SESSION = "session"


Handler = Callable[[Call], Awaitable[Reply]]


@dataclass(frozen=True, slots=True)
class Command:
    handler: Handler
    needs: Needs


async def viewable(call: Call, name: str = "CameraId", text: str | None = None) -> Camera:
    """The camera that the parameter ``name`` (or ``text``, one of its values) names, if the
    user may view it: 20 otherwise, whether it exists or not, as the REST API's 404."""
    try:
        camera_id = guid(call.param(name) if text is None else text)
    except ValueError:
        raise CommandError(ErrorCode.WRONG_INPUT_PARAMETER, f"{name} is not a GUID") from None
    try:
        return await viewable_camera(call.svc, call.user_principal, camera_id)
    except CamgateError as error:
        raise refusal(error, {ErrorKind.NOT_FOUND: ErrorCode.UNKNOWN_CAMERA_ID}) from None
