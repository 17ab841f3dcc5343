"""``/api/v1/cameras``: the cameras a user may see; adding and removing them (administrators)."""

from __future__ import annotations

from fastapi import APIRouter, status
from pydantic import BaseModel, Field, SecretStr

from camgate.api.deps import AdminPrincipal, CurrentPrincipal, Services, ServicesDep
from camgate.cameras.models import Camera, Credentials
from camgate.core.errors import not_found

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


class CameraOut(BaseModel):
    id: str
    name: str
    status: str = Field(description='"online" when a stream is online, else "connecting"/"offline"')
    streams: list[StreamOut]


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
            )
        )
    states = {s.status for s in streams}
    overall = (
        "online" if "online" in states else "connecting" if "connecting" in states else "offline"
    )
    if not camera.enabled:
        overall = "disabled"
    return CameraOut(id=camera.id, name=camera.name, status=overall, streams=streams)


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
async def add_camera(body: NewCamera, _admin: AdminPrincipal, svc: ServicesDep) -> CameraOut:
    credentials = None
    if body.username:
        password = body.password.get_secret_value() if body.password else ""
        credentials = Credentials(body.username, password)
    camera = await svc.cameras.add(body.name, body.urls, credentials)
    return _camera_out(svc, camera)


@router.delete("/{camera_id}", status_code=status.HTTP_204_NO_CONTENT)
async def remove_camera(camera_id: str, _admin: AdminPrincipal, svc: ServicesDep) -> None:
    await svc.cameras.remove(camera_id)
