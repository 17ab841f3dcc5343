"""``/api/v1/cameras``: the cameras a user may see; adding and removing them (administrators)."""

from __future__ import annotations

import dataclasses

from fastapi import APIRouter, Request, status
from pydantic import BaseModel, Field, SecretStr

from camgate.api.deps import AdminPrincipal, CurrentPrincipal, Services, ServicesDep, actor
from camgate.cameras.models import Camera, Credentials
from camgate.cameras.service import MAX_MASKS
from camgate.core.errors import invalid, not_found
from camgate.media.transcode import Rect

router = APIRouter(prefix="/api/v1/cameras", tags=["cameras"])


class StreamOut(BaseModel):
    id: str
    codec: str = Field(description='"h264", "hevc", or "" until the stream has connected')
    width: int
    height: int
    fps: float
    bitrate_bps: float
    status: str
    detail: str = Field(description="Why the stream is offline, when it is")
    audio: str = Field(
        description='The codec of the camera\'s sound ("aac", "pcm_mulaw", "pcm_alaw", '
        '"adpcm_g726", "opus", …), "" when it sends none'
    )


class Mask(BaseModel):
    """A rectangle in fractions of the picture (0 to 1), from its top-left corner."""

    x: float = Field(ge=0, le=1)
    y: float = Field(ge=0, le=1)
    width: float = Field(gt=0, le=1)
    height: float = Field(gt=0, le=1)


class Masks(BaseModel):
    masks: list[Mask] = Field(max_length=MAX_MASKS)


class CameraOut(BaseModel):
    id: str
    name: str
    status: str = Field(description='"online" when a stream is online, else "connecting"/"offline"')
    streams: list[StreamOut]
    privacy_masks: list[Mask] = Field(description="Filled black; such a camera is never direct")


class NewCamera(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    urls: list[str] = Field(
        min_length=1, max_length=8, description="rtsp:// URLs, files or synthetic:720p"
    )
    username: str | None = Field(default=None, max_length=200)
    password: SecretStr | None = None


def _camera_out(svc: Services, camera: Camera) -> CameraOut:
    streams = []
    for stream, hub in svc.runtime.camera_hubs(camera.id):
        info = hub.info()
        streams.append(
            StreamOut(
                id=stream.id,
                codec=info.codec,
                width=info.width,
                height=info.height,
                fps=info.fps,
                bitrate_bps=info.bitrate_bps,
                status=info.status.value,
                detail=info.detail,
                audio=info.audio,
            )
        )
    states = {s.status for s in streams}
    overall = (
        "online" if "online" in states else "connecting" if "connecting" in states else "offline"
    )
    if not camera.enabled:
        overall = "disabled"
    masks = [Mask(x=m.x, y=m.y, width=m.width, height=m.height) for m in camera.privacy_masks]
    return CameraOut(
        id=camera.id, name=camera.name, status=overall, streams=streams, privacy_masks=masks
    )


def _visible(svc: Services, principal: CurrentPrincipal, camera: Camera) -> bool:
    return svc.can_view(principal.user, camera.id)


@router.get("", summary="The cameras this user may view")
async def list_cameras(principal: CurrentPrincipal, svc: ServicesDep) -> list[CameraOut]:
    return [_camera_out(svc, c) for c in await svc.cameras.list() if _visible(svc, principal, c)]


@router.get("/{camera_id}")
async def get_camera(camera_id: str, principal: CurrentPrincipal, svc: ServicesDep) -> CameraOut:
    camera = await svc.cameras.get(camera_id)
    if not _visible(svc, principal, camera):
        raise not_found("camera")
    return _camera_out(svc, camera)


@router.post("", status_code=status.HTTP_201_CREATED, summary="Add a camera (administrators)")
async def add_camera(
    body: NewCamera, request: Request, admin: AdminPrincipal, svc: ServicesDep
) -> CameraOut:
    credentials = None
    if body.username:
        password = body.password.get_secret_value() if body.password else ""
        credentials = Credentials(body.username, password)
    camera = await svc.cameras.add(body.name, body.urls, credentials)
    await svc.audit.record(
        actor(admin, request),
        "camera.add",
        camera.id,
        name=camera.name,
        streams=[stream.url for stream in camera.streams],  # URLs never hold credentials
    )
    return _camera_out(svc, camera)


def _masks(camera: Camera) -> list[dict[str, float]]:
    return [dataclasses.asdict(mask) for mask in camera.privacy_masks]


@router.put("/{camera_id}/privacy-masks", summary="Set a camera's privacy masks (administrators)")
async def set_privacy_masks(
    camera_id: str, body: Masks, request: Request, admin: AdminPrincipal, svc: ServicesDep
) -> CameraOut:
    try:
        rects = [Rect(m.x, m.y, m.width, m.height) for m in body.masks]
    except ValueError as error:
        raise invalid(str(error)) from error
    before = await svc.cameras.get(camera_id)
    after = await svc.cameras.set_privacy_masks(camera_id, rects)
    if before.privacy_masks != after.privacy_masks:
        await svc.audit.record(
            actor(admin, request),
            "camera.privacy_masks",
            camera_id,
            name=after.name,
            old=_masks(before),
            new=_masks(after),
        )
    return _camera_out(svc, after)


@router.delete("/{camera_id}", status_code=status.HTTP_204_NO_CONTENT)
async def remove_camera(
    camera_id: str, request: Request, admin: AdminPrincipal, svc: ServicesDep
) -> None:
    camera = await svc.cameras.get(camera_id)
    await svc.cameras.remove(camera_id)
    await svc.audit.record(actor(admin, request), "camera.remove", camera_id, name=camera.name)
