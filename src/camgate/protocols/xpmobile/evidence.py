"""GetServerStatus, GetOutputsAndEvents and RequestActivation, and what the evidence commands
(bookmarks.py, investigations.py) share: the protocol's Yes/No and time parameters, and
telling a feature that is turned off (24) from a user who may not use it (25).

GetServerStatus follows the REST API's ``GET /api/v1/status``: administrators only. camgate
has no outputs or events yet: GetOutputsAndEvents answers both groups empty (a client shows
"nothing to trigger", as for a user whose cameras have none), under the actions toggle (24)
and the Actions permission (25); RequestActivation answers 21 for every id, since none
exists.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

from camgate.api.deps import permitted
from camgate.core.errors import CamgateError, ErrorKind
from camgate.identity.models import Permission, User
from camgate.investigations.service import folder_usage
from camgate.protocols.xpmobile.call import Call, Command, Needs, viewable
from camgate.protocols.xpmobile.errors import CommandError, ErrorCode, refusal
from camgate.protocols.xpmobile.messages import Block, Reply
from camgate.protocols.xpmobile.times import parse_time

ACTIONS_OFF = "actions (outputs and events) are turned off on this server"
#: The groups of GetOutputsAndEvents, outputs first (as the clients sort them).
GROUPS = ("Outputs", "Events")
TRIGGER_TYPES = frozenset({"TriggerOutput", "TriggerEvent"})


def flag(call: Call, name: str, default: bool) -> bool:
    """A Yes/No parameter (any case; 14 for other words), ``default`` when absent."""
    value = (call.request.get(name) or "").strip().casefold()
    if not value:
        return default
    if value not in ("yes", "no"):
        raise CommandError(ErrorCode.WRONG_INPUT_PARAMETER, f"{name} must be Yes or No")
    return value == "yes"


def optional_time(call: Call, name: str) -> float | None:
    """The time parameter ``name`` in Unix seconds, None when it is absent or empty."""
    value = call.request.get(name)
    return None if value is None or not value.strip() else parse_time(value, name)


def required_time(call: Call, name: str) -> float:
    """The time parameter ``name`` in Unix seconds (13 when it is missing)."""
    return parse_time(call.param(name), name)


def feature_refusal(
    error: CamgateError,
    turned_off: str,
    overrides: Mapping[ErrorKind, ErrorCode] | None = None,
) -> CommandError:
    """A service's refusal as the protocol's: 24 when it said the feature is turned off (its
    words ``turned_off``), otherwise as ``refusal`` maps it (a missing permission is 25)."""
    if error.kind is ErrorKind.FORBIDDEN and error.detail == turned_off:
        return CommandError(ErrorCode.FEATURE_IS_DISABLED, error.detail)
    return refusal(error, overrides)


def permitted_user(call: Call, permission: Permission) -> User:
    """The user, if their role has ``permission`` (25 with the REST API's words otherwise)."""
    try:
        return permitted(call.user_principal, permission).user
    except CamgateError as error:
        raise refusal(error) from None


# --- server status ---------------------------------------------------------------------------


def server_status(cpu_percent: float, total: int, free: int, recorded: int, exports: int) -> Block:
    """``<ServerStatus>`` as the clients read it: CPU in percent and the recordings disk in
    bytes (what is neither recordings nor exports counts as other use). Pure."""
    other = max(0, total - free - recorded - exports)
    figures = (
        ("RecordingDiskUsageInBytes", recorded),
        ("ExportsDiskUsageInBytes", exports),
        ("OtherDiskUsageInBytes", other),
        ("FreeSpaceInBytes", free),
    )
    disk = tuple(Block(tag, text=str(value)) for tag, value in figures)
    return Block(
        "ServerStatus",
        children=(
            Block("CpuUsage", text=str(round(cpu_percent))),
            Block("DiskUsage", children=disk),
        ),
    )


async def get_server_status(call: Call) -> Reply:
    """The figures of the status service (CPU) and of the recordings' disk, as the REST API's
    status and recording status show them."""
    permitted_user(call, Permission.ADMINISTRATION)
    svc = call.svc
    disk = await svc.recordings.disk()
    recorded = await svc.recordings.recorded_bytes()
    exports = await asyncio.to_thread(folder_usage, svc.investigations.folder)
    cpu = svc.status.status().cpu_percent
    return Reply(blocks=(server_status(cpu, disk.total_bytes, disk.free_bytes, recorded, exports),))


# --- outputs and events ----------------------------------------------------------------------


def _actions(call: Call) -> None:
    if not call.svc.settings.tree.general.features.actions:
        raise CommandError(ErrorCode.FEATURE_IS_DISABLED, ACTIONS_OFF)
    permitted_user(call, Permission.ACTIONS)


async def get_outputs_and_events(call: Call) -> Reply:
    _actions(call)
    if (call.request.get("CameraId") or "").strip():  # empty: every camera's
        await viewable(call)
    return Reply(blocks=tuple(Block("OEHeaderGroup", (("Name", group),)) for group in GROUPS))


async def request_activation(call: Call) -> Reply:
    _actions(call)
    object_id = call.guid("ObjectId")
    trigger = call.param("TriggerType")
    if trigger not in TRIGGER_TYPES:
        raise CommandError(
            ErrorCode.WRONG_INPUT_PARAMETER, "TriggerType must be TriggerOutput or TriggerEvent"
        )
    raise CommandError(
        ErrorCode.UNKNOWN_ITEM_ID, f"no output or event {object_id}: camgate has none yet"
    )


COMMANDS: dict[str, Command] = {
    "GetServerStatus": Command(get_server_status, Needs.SESSION),
    "GetOutputsAndEvents": Command(get_outputs_and_events, Needs.SESSION),
    "RequestActivation": Command(request_activation, Needs.SESSION),
}
