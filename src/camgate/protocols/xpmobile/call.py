"""One command as it arrives (:class:`Call`) and the table entry that runs it
(:class:`Command`): what every module of commands shares."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import Enum

from camgate.api.deps import Services
from camgate.core.errors import CamgateError, ErrorKind
from camgate.identity.models import Principal
from camgate.live.access import viewable_camera
from camgate.protocols.xpmobile.connections import Connection, ConnectionTable
from camgate.protocols.xpmobile.errors import CommandError, ErrorCode, refusal
from camgate.protocols.xpmobile.messages import Message, Reply, guid


@dataclass(slots=True)
class Call:
    """One command as it arrives, and what it runs against."""

    svc: Services
    table: ConnectionTable
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


async def viewable(call: Call) -> str:
    """The ``CameraId`` of a camera the user may view (20 otherwise, whether it exists or not,
    as the REST API's 404)."""
    camera_id = call.guid("CameraId")
    try:
        camera = await viewable_camera(call.svc, call.user_principal, camera_id)
    except CamgateError as error:
        raise refusal(error, {ErrorKind.NOT_FOUND: ErrorCode.UNKNOWN_CAMERA_ID}) from None
    return camera.id
