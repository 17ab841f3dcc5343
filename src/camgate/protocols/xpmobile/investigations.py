"""Investigations and their exports over the protocol, on camgate's investigation service with
the REST API's rules (ADR 0011): investigations turned off answer 24, a role without the
Export permission 25 (the service's own refusals, told apart by their words); an export format
the administrator has not enabled is turned off too (24). The service audits every change as
for the REST API, with the client's address.

The protocol's special ids: ``ItemId``/``ExportId`` zero means "mine", ``{A3B9C5FB-…}`` every
one the user may see (others' only while "view investigations made by other users" is on, as
the service decides). A camgate investigation has no draft state: it is saved as it is made
or changed (``State`` reads Saved), and CancelInvestigationUpdate has nothing to undo.

Downloads: CreateExportDownloadLink answers a server-relative link to
``/XProtectMobile/Export/<ExportId>`` with a media token that authorises that export only, for
``LINK_S`` and while the session lasts. The route serves the file as the REST API's download
does (the same function: ranges, audit).
"""

from __future__ import annotations

from collections.abc import Mapping

from fastapi import APIRouter, Request, Response

from camgate.api.deps import media_principal, services
from camgate.core.errors import CamgateError, ErrorKind
from camgate.identity.models import User
from camgate.investigations.api import serve_download
from camgate.investigations.models import (
    MAX_PASSWORD,
    Export,
    ExportFormat,
    ExportState,
    Investigation,
)
from camgate.investigations.service import TURNED_OFF
from camgate.protocols.xpmobile.call import Call, Command, Needs
from camgate.protocols.xpmobile.errors import CommandError, ErrorCode
from camgate.protocols.xpmobile.evidence import feature_refusal, flag, optional_time, required_time
from camgate.protocols.xpmobile.messages import Block, Item, Reply, guid
from camgate.protocols.xpmobile.times import render_time

MINE = "00000000-0000-0000-0000-000000000000"
ALL_USERS = "a3b9c5fb-faad-42c8-ab73-b79d6fffdbc1"
#: ``ExportType`` (and ``Type``) of each export format.
TYPES = {ExportFormat.NATIVE: "DB", ExportFormat.AVI: "AVI", ExportFormat.MKV: "MKV"}
FORMATS = {name: export_format for export_format, name in TYPES.items()}
#: ``State`` of an export: 0–100 is its progress; these mark the ends.
DONE = 101
FAILED = -1
SAVED = "Saved"
#: How long a download link works (a resumed download asks again within it).
LINK_S = 600
DOWNLOAD_PATH = "/XProtectMobile/Export"
_CAMERA_UNKNOWN = {ErrorKind.NOT_FOUND: ErrorCode.UNKNOWN_CAMERA_ID}
#: Too many exports under way: a client should try later, not think the server is down.
_BUSY = {ErrorKind.UNAVAILABLE: ErrorCode.NOT_ALLOWED_IN_THIS_STATE}

router = APIRouter(tags=["xpmobile"], include_in_schema=False)


def investigation_item(investigation: Investigation, cameras: Mapping[str, str]) -> Item:
    """An investigation as the clients read it, its cameras nested. Pure."""
    return Item(
        "Investigation",
        investigation.id,
        investigation.name,
        properties=(
            ("State", SAVED),
            ("StartTime", render_time(investigation.start)),
            ("EndTime", render_time(investigation.end)),
            ("Username", investigation.owner),
        ),
        items=tuple(
            Item("Camera", camera_id, cameras.get(camera_id, ""))
            for camera_id in investigation.camera_ids
        ),
    )


def export_state(export: Export) -> int:
    """``State``: the progress in percent while queued or running, 101 once done, -1 failed."""
    if export.state is ExportState.DONE:
        return DONE
    if export.state is ExportState.FAILED:
        return FAILED
    return min(100, export.progress)


def export_block(export: Export, investigation: Investigation) -> Block:
    """An ``<Export>`` of ``<Exports>``; times as the investigation's span. Pure."""
    attributes = [
        ("ExportId", export.id),
        ("InvestigationId", export.investigation_id),
        ("Name", investigation.name),
        ("Type", TYPES[export.format]),
        ("Size", str(export.size)),
        ("State", str(export_state(export))),
        ("StartTime", render_time(investigation.start)),
        ("EndTime", render_time(investigation.end)),
        ("QueuedTime", render_time(export.created_at)),
        ("Username", export.requested_by),
        ("FileName", export.download_name),
    ]
    if export.finished_at is not None:
        attributes.append(("CompletedTime", render_time(export.finished_at)))
    if export.error:
        attributes.append(("Error", export.error))
    return Block("Export", tuple(attributes))


def export_format(text: str, name: str) -> ExportFormat:
    """``DB``, ``AVI`` or ``MKV`` (any case; 14 otherwise). Pure."""
    found = FORMATS.get(text.strip().upper())
    if found is None:
        raise CommandError(ErrorCode.WRONG_INPUT_PARAMETER, f"{name} must be DB, AVI or MKV")
    return found


def download_scope(export_id: str) -> str:
    """What a download link's media token is for: never a camera's id."""
    return f"export:{export_id}"


def _refused(
    error: CamgateError, overrides: Mapping[ErrorKind, ErrorCode] | None = None
) -> CommandError:
    return feature_refusal(error, TURNED_OFF, overrides)


def _usable(call: Call) -> User:
    """Investigations on and the Export permission, checked before the parameters, as the
    REST API's dependency does."""
    user = call.user_principal.user
    try:
        call.svc.investigations.require_use(user)
    except CamgateError as error:
        raise _refused(error) from None
    return user


def _cameras(call: Call) -> list[str]:
    values = call.request.all("CameraId")
    if not values:
        raise CommandError(ErrorCode.MISSING_INPUT_PARAMETER, "CameraId is missing")
    try:
        return [guid(value) for value in values]
    except ValueError:
        raise CommandError(ErrorCode.WRONG_INPUT_PARAMETER, "a CameraId is not a GUID") from None


async def _camera_names(call: Call) -> dict[str, str]:
    return {camera.id: camera.name for camera in await call.svc.cameras.list()}


async def _saved(call: Call, investigation: Investigation) -> Reply:
    item = investigation_item(investigation, await _camera_names(call))
    return Reply(
        params=(("ItemId", investigation.id), ("InvestigationId", investigation.id)),
        items=(item,),
    )


# --- investigations --------------------------------------------------------------------------


async def get_investigation(call: Call) -> Reply:
    user = _usable(call)
    item_id = call.guid("ItemId")
    service = call.svc.investigations
    try:
        if item_id in (MINE, ALL_USERS):
            found = await service.visible_to(user)
            if item_id == MINE:
                found = [i for i in found if i.owner_id == user.id]
        else:
            found = [await service.get(user, item_id)]
    except CamgateError as error:
        raise _refused(error) from None
    names = await _camera_names(call)
    return Reply(items=tuple(investigation_item(i, names) for i in found))


async def create_investigation(call: Call) -> Reply:
    user = _usable(call)
    name = call.param("Name")
    start = required_time(call, "StartTime")
    end = required_time(call, "EndTime")
    cameras = _cameras(call)
    try:
        investigation = await call.svc.investigations.create(
            user, call.address, name=name, camera_ids=cameras, start=start, end=end
        )
    except CamgateError as error:
        raise _refused(error, _CAMERA_UNKNOWN) from None
    return await _saved(call, investigation)


async def update_investigation(call: Call) -> Reply:
    """Changes the fields sent: ``Name``, ``StartTime``, ``EndTime``, the ``CameraId`` list."""
    user = _usable(call)
    item_id = call.guid("ItemId")
    cameras = _cameras(call) if call.request.all("CameraId") else None
    start = optional_time(call, "StartTime")
    end = optional_time(call, "EndTime")
    try:
        investigation = await call.svc.investigations.update(
            user,
            call.address,
            item_id,
            name=call.request.get("Name") or None,
            camera_ids=cameras,
            start=start,
            end=end,
        )
    except CamgateError as error:
        raise _refused(error) from None
    return await _saved(call, investigation)


async def update_investigation_data(call: Call) -> Reply:
    """The name only (``State`` is not kept): the span and cameras stay."""
    user = _usable(call)
    item_id = call.guid("ItemId")
    try:
        investigation = await call.svc.investigations.update(
            user, call.address, item_id, name=call.request.get("Name") or None
        )
    except CamgateError as error:
        raise _refused(error) from None
    return await _saved(call, investigation)


async def delete_investigation(call: Call) -> Reply:
    user = _usable(call)
    item_id = call.guid("ItemId")
    try:
        await call.svc.investigations.delete(user, call.address, item_id)
    except CamgateError as error:
        raise _refused(error) from None
    return Reply()


async def cancel_investigation_update(call: Call) -> Reply:
    """Changes are saved at once: nothing is pending. Answers whether the investigation is
    there for the user (21 otherwise)."""
    user = _usable(call)
    item_id = call.guid("ItemId")
    try:
        await call.svc.investigations.get(user, item_id)
    except CamgateError as error:
        raise _refused(error) from None
    return Reply()


# --- exports ---------------------------------------------------------------------------------


async def start_investigation_export(call: Call) -> Reply:
    user = _usable(call)
    investigation_id = call.guid("InvestigationId")
    chosen = export_format(call.param("ExportType"), "ExportType")
    service = call.svc.investigations
    if chosen not in service.enabled_formats():
        raise CommandError(
            ErrorCode.FEATURE_IS_DISABLED,
            f"the administrator has not enabled {TYPES[chosen]} exports",
        )
    include_audio = flag(call, "IncludeAudio", False)
    password = call.secret("Password", MAX_PASSWORD, required=False) or None
    try:
        export = await service.prepare(
            user,
            call.address,
            investigation_id,
            export_format=chosen,
            include_audio=include_audio,
            password=password,
        )
    except CamgateError as error:
        raise _refused(error, _BUSY) from None
    return Reply(params=(("ExportId", export.id),))


async def delete_investigation_export(call: Call) -> Reply:
    """Deletes the investigation's exports in ``ExportType`` (camgate may hold several)."""
    user = _usable(call)
    investigation_id = call.guid("InvestigationId")
    chosen = export_format(call.param("ExportType"), "ExportType")
    service = call.svc.investigations
    try:
        exports = await service.exports(user, investigation_id)
        doomed = [export for export in exports if export.format is chosen]
        if not doomed:
            raise CommandError(
                ErrorCode.UNKNOWN_ITEM_ID, f"the investigation has no {TYPES[chosen]} export"
            )
        for export in doomed:
            await service.delete_export(
                user, call.address, export.id, investigation_id=investigation_id
            )
    except CamgateError as error:
        raise _refused(error) from None
    return Reply()


async def _visible_exports(call: Call, user: User) -> list[tuple[Export, Investigation]]:
    """Every export of every investigation the user sees, the latest first."""
    service = call.svc.investigations
    found = [
        (export, investigation)
        for investigation in await service.visible_to(user)
        for export in await service.exports(user, investigation.id)
    ]
    return sorted(found, key=lambda pair: pair[0].created_at, reverse=True)


async def get_export(call: Call) -> Reply:
    user = _usable(call)
    export_id = call.guid("ExportId")
    try:
        found = await _visible_exports(call, user)
    except CamgateError as error:
        raise _refused(error) from None
    if export_id == MINE:
        found = [pair for pair in found if pair[0].requested_by == user.username]
    elif export_id != ALL_USERS:
        found = [pair for pair in found if pair[0].id == export_id]
        if not found:
            raise CommandError(ErrorCode.UNKNOWN_ITEM_ID, "export not found")
    exports = tuple(export_block(export, investigation) for export, investigation in found)
    return Reply(blocks=(Block("Exports", children=exports),))


async def create_export_download_link(call: Call) -> Reply:
    user = _usable(call)
    export_id = call.guid("ExportId")
    investigation_id = call.request.get("InvestigationId")
    wanted_type = call.request.get("Type")
    try:
        # Refuses what the REST API's download refuses: unknown, hidden, not prepared yet.
        download = await call.svc.investigations.download(user, export_id)
    except CamgateError as error:
        raise _refused(error) from None
    export = download.export
    if investigation_id and call.guid("InvestigationId") != export.investigation_id:
        raise CommandError(ErrorCode.UNKNOWN_ITEM_ID, "the export is of another investigation")
    if wanted_type and export_format(wanted_type, "Type") is not export.format:
        raise CommandError(ErrorCode.UNKNOWN_ITEM_ID, f"the export is not of Type {wanted_type}")
    token = call.svc.identity.media_token(
        call.user_principal, download_scope(export.id), ttl_s=LINK_S
    )
    link = f"{DOWNLOAD_PATH.lstrip('/')}/{export.id}?token={token}"
    return Reply(params=(("ExportLink", link),))


@router.api_route(DOWNLOAD_PATH + "/{export_id}", methods=["GET", "HEAD"])
async def download_export(export_id: str, request: Request) -> Response:
    """A download link: the token (or a session) of someone who may download the export."""
    principal = await media_principal(request, download_scope(export_id))
    return await serve_download(request, services(request), principal.user, export_id)


COMMANDS: dict[str, Command] = {
    "GetInvestigation": Command(get_investigation, Needs.SESSION),
    "CreateInvestigation": Command(create_investigation, Needs.SESSION),
    "UpdateInvestigation": Command(update_investigation, Needs.SESSION),
    "UpdateInvestigationData": Command(update_investigation_data, Needs.SESSION),
    "DeleteInvestigation": Command(delete_investigation, Needs.SESSION),
    "CancelInvestigationUpdate": Command(cancel_investigation_update, Needs.SESSION),
    "StartInvestigationExport": Command(start_investigation_export, Needs.SESSION),
    "DeleteInvestigationExport": Command(delete_investigation_export, Needs.SESSION),
    "GetExport": Command(get_export, Needs.SESSION),
    "CreateExportDownloadLink": Command(create_export_download_link, Needs.SESSION),
}
