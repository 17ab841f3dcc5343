"""``/api/v1/investigations`` and ``/api/v1/exports``: video evidence, prepared and downloaded."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request, Response, status
from fastapi.responses import StreamingResponse
from pydantic import AwareDatetime, BaseModel, Field
from starlette.requests import HTTPConnection

from camgate.api.deps import CurrentPrincipal, Services, ServicesDep
from camgate.api.ranges import RangeNotSatisfiable, parse_range
from camgate.api.times import iso
from camgate.identity.models import User
from camgate.investigations.models import (
    MAX_CAMERAS,
    MAX_NAME,
    MAX_PASSWORD,
    MIN_PASSWORD,
    Export,
    ExportFormat,
    ExportState,
    Investigation,
)
from camgate.investigations.service import Download

#: What one read of a download decrypts and sends.
CHUNK = 1 << 20


async def _may_use(principal: CurrentPrincipal, svc: ServicesDep) -> None:
    # As a dependency, the toggle and the permission answer before the body is validated; the
    # principal comes first so that an anonymous caller still gets 401.
    svc.investigations.require_use(principal.user)


router = APIRouter(prefix="/api/v1", tags=["investigations"], dependencies=[Depends(_may_use)])


def _address(connection: HTTPConnection) -> str:
    return connection.client.host if connection.client else ""


class InvestigationOut(BaseModel):
    id: str
    name: str
    camera_ids: list[str]
    start: str = Field(description="UTC, ISO 8601")
    end: str = Field(description="UTC, ISO 8601")
    owner: str = Field(description="The name of the user who made it")

    @classmethod
    def of(cls, investigation: Investigation) -> InvestigationOut:
        return cls(
            id=investigation.id,
            name=investigation.name,
            camera_ids=list(investigation.camera_ids),
            start=iso(investigation.start),
            end=iso(investigation.end),
            owner=investigation.owner,
        )


class NewInvestigation(BaseModel):
    name: str = Field(min_length=1, max_length=MAX_NAME)
    camera_ids: list[str] = Field(min_length=1, max_length=MAX_CAMERAS)
    start: AwareDatetime
    end: AwareDatetime = Field(description="After start, at most 7 days later")


class InvestigationPatch(BaseModel):
    name: str | None = Field(default=None, min_length=1, max_length=MAX_NAME)
    camera_ids: list[str] | None = Field(default=None, min_length=1, max_length=MAX_CAMERAS)
    start: AwareDatetime | None = None
    end: AwareDatetime | None = None


class ExportOut(BaseModel):
    id: str
    investigation_id: str
    format: ExportFormat
    state: ExportState
    progress: int = Field(ge=0, le=100)
    size: int = Field(description="Bytes of the download, 0 until done")
    error: str = Field(description="Why it failed; empty otherwise")
    include_audio: bool
    password_protected: bool
    file_name: str = Field(description="The name the download gets")
    requested_by: str
    created: str = Field(description="UTC, ISO 8601")
    download_url: str | None = Field(description="Relative to the server; once done")

    @classmethod
    def of(cls, export: Export) -> ExportOut:
        done = export.state is ExportState.DONE
        return cls(
            id=export.id,
            investigation_id=export.investigation_id,
            format=export.format,
            state=export.state,
            progress=export.progress,
            size=export.size,
            error=export.error,
            include_audio=export.include_audio,
            password_protected=export.password_protected,
            file_name=export.download_name,
            requested_by=export.requested_by,
            created=iso(export.created_at),
            download_url=f"/api/v1/exports/{export.id}/download" if done else None,
        )


class NewExport(BaseModel):
    format: ExportFormat
    include_audio: bool = False
    password: str | None = Field(
        default=None,
        min_length=MIN_PASSWORD,
        max_length=MAX_PASSWORD,
        description="Native exports only: encrypts the recordings in the download",
    )


class ExportFormatsOut(BaseModel):
    formats: list[ExportFormat] = Field(description="The formats the administrator enabled")


@router.get("/exports/formats", summary="The export formats this server prepares")
async def export_formats(svc: ServicesDep) -> ExportFormatsOut:
    return ExportFormatsOut(formats=svc.investigations.enabled_formats())


# --- investigations -----------------------------------------------------------------------------


@router.get("/investigations", summary="The investigations this user may see, the latest first")
async def list_investigations(
    principal: CurrentPrincipal, svc: ServicesDep
) -> list[InvestigationOut]:
    return [InvestigationOut.of(i) for i in await svc.investigations.visible_to(principal.user)]


@router.post("/investigations", status_code=status.HTTP_201_CREATED, responses={404: {}})
async def create_investigation(
    body: NewInvestigation, request: Request, principal: CurrentPrincipal, svc: ServicesDep
) -> InvestigationOut:
    investigation = await svc.investigations.create(
        principal.user,
        _address(request),
        name=body.name,
        camera_ids=body.camera_ids,
        start=body.start.timestamp(),
        end=body.end.timestamp(),
    )
    return InvestigationOut.of(investigation)


@router.get("/investigations/{investigation_id}", responses={404: {}})
async def get_investigation(
    investigation_id: str, principal: CurrentPrincipal, svc: ServicesDep
) -> InvestigationOut:
    return InvestigationOut.of(await svc.investigations.get(principal.user, investigation_id))


async def _update(
    investigation_id: str,
    body: InvestigationPatch,
    request: Request,
    principal: CurrentPrincipal,
    svc: ServicesDep,
) -> InvestigationOut:
    investigation = await svc.investigations.update(
        principal.user,
        _address(request),
        investigation_id,
        name=body.name,
        camera_ids=body.camera_ids,
        start=None if body.start is None else body.start.timestamp(),
        end=None if body.end is None else body.end.timestamp(),
    )
    return InvestigationOut.of(investigation)


@router.patch(
    "/investigations/{investigation_id}",
    summary="Change some of an investigation's fields",
    responses={403: {}, 404: {}},
)
async def patch_investigation(
    investigation_id: str,
    body: InvestigationPatch,
    request: Request,
    principal: CurrentPrincipal,
    svc: ServicesDep,
) -> InvestigationOut:
    return await _update(investigation_id, body, request, principal, svc)


@router.put(
    "/investigations/{investigation_id}",
    summary="Replace an investigation's fields",
    responses={403: {}, 404: {}},
)
async def put_investigation(
    investigation_id: str,
    body: NewInvestigation,
    request: Request,
    principal: CurrentPrincipal,
    svc: ServicesDep,
) -> InvestigationOut:
    patch = InvestigationPatch.model_validate(body.model_dump())
    return await _update(investigation_id, patch, request, principal, svc)


@router.delete(
    "/investigations/{investigation_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete an investigation and all its exports",
    responses={403: {}, 404: {}},
)
async def delete_investigation(
    investigation_id: str, request: Request, principal: CurrentPrincipal, svc: ServicesDep
) -> None:
    await svc.investigations.delete(principal.user, _address(request), investigation_id)


# --- exports ------------------------------------------------------------------------------------


@router.get("/investigations/{investigation_id}/exports", responses={404: {}})
async def list_exports(
    investigation_id: str, principal: CurrentPrincipal, svc: ServicesDep
) -> list[ExportOut]:
    exports = await svc.investigations.exports(principal.user, investigation_id)
    return [ExportOut.of(export) for export in exports]


@router.post(
    "/investigations/{investigation_id}/exports",
    status_code=status.HTTP_202_ACCEPTED,
    summary="Start preparing an export; follow its progress in the list",
    responses={403: {}, 404: {}, 409: {}, 503: {}},
)
async def prepare_export(
    investigation_id: str,
    body: NewExport,
    request: Request,
    principal: CurrentPrincipal,
    svc: ServicesDep,
) -> ExportOut:
    export = await svc.investigations.prepare(
        principal.user,
        _address(request),
        investigation_id,
        export_format=body.format,
        include_audio=body.include_audio,
        password=body.password,
    )
    return ExportOut.of(export)


@router.delete(
    "/investigations/{investigation_id}/exports/{export_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete one export (stopping it if it is being prepared)",
    responses={403: {}, 404: {}},
)
async def delete_investigation_export(
    investigation_id: str,
    export_id: str,
    request: Request,
    principal: CurrentPrincipal,
    svc: ServicesDep,
) -> None:
    await svc.investigations.delete_export(
        principal.user, _address(request), export_id, investigation_id=investigation_id
    )


@router.delete(
    "/exports/{export_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete one export (stopping it if it is being prepared)",
    responses={403: {}, 404: {}},
)
async def delete_export(
    export_id: str, request: Request, principal: CurrentPrincipal, svc: ServicesDep
) -> None:
    await svc.investigations.delete_export(principal.user, _address(request), export_id)


_DOWNLOAD = "/exports/{export_id}/download"


@router.head(_DOWNLOAD, operation_id="download_export_head", responses={404: {}, 409: {}})
@router.get(
    _DOWNLOAD,
    summary="The prepared file; resumable (HTTP Range)",
    responses={206: {}, 404: {}, 409: {"description": "not prepared yet"}, 416: {}},
)
async def download_export(
    export_id: str,
    request: Request,
    principal: CurrentPrincipal,
    svc: ServicesDep,
) -> Response:
    return await serve_download(request, svc, principal.user, export_id)


async def serve_download(request: Request, svc: Services, user: User, export_id: str) -> Response:
    """The prepared file of ``export_id`` as ``user`` may download it: the whole or one range
    (``Range``, ``If-Range``), or just the headers for ``HEAD``; a download is audited. Also
    what the XProtect Mobile adapter's download links answer."""
    download = await svc.investigations.download(user, export_id)
    size = download.size
    etag = f'"{download.export.id}-{size}"'
    headers = {
        "Accept-Ranges": "bytes",
        "ETag": etag,
        "Cache-Control": "private, no-cache",
        "Content-Disposition": _attachment(download.export.download_name),
    }
    if_range = request.headers.get("if-range")
    try:
        wanted = (
            None
            if if_range not in (None, etag)
            else parse_range(request.headers.get("range"), size)
        )
    except RangeNotSatisfiable:
        headers["Content-Range"] = f"bytes */{size}"
        return Response(status_code=416, headers=headers)
    start, end, code = 0, size, 200
    if wanted is not None:
        start, end, code = wanted.start, wanted.end, 206
        headers["Content-Range"] = wanted.content_range(size)
    headers["Content-Length"] = str(end - start)
    media_type = _MEDIA_TYPES.get(download.export.download_name.rsplit(".", 1)[-1])
    if request.method == "HEAD":
        return Response(status_code=code, headers=headers, media_type=media_type)
    part = "all" if wanted is None else f"{start}-{end - 1}"
    await svc.investigations.downloaded(user, _address(request), download.export, part)
    return StreamingResponse(
        _body(download, start, end), status_code=code, headers=headers, media_type=media_type
    )


_MEDIA_TYPES = {"mkv": "video/x-matroska", "avi": "video/x-msvideo", "zip": "application/zip"}


def _attachment(name: str) -> str:
    return f"attachment; filename=\"{name}\"; filename*=UTF-8''{quote(name)}"


async def _body(download: Download, start: int, end: int) -> AsyncIterator[bytes]:
    position = start
    while position < end:
        stop = min(end, position + CHUNK)
        chunk = await asyncio.to_thread(_read, download, position, stop)
        position = stop
        yield chunk


def _read(download: Download, start: int, end: int) -> bytes:
    return b"".join(download.read(start, end))
