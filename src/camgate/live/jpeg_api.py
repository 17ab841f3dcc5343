"""Transcoded live routes: ``live.mjpeg`` and the JPEG mode of the live WebSocket."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncGenerator
from typing import Annotated

from fastapi import APIRouter, Query, Request, WebSocket
from fastapi.responses import StreamingResponse

from camgate.api.deps import Services, media_principal, permitted, services
from camgate.cameras.models import Camera
from camgate.identity.models import Permission, Principal
from camgate.live.access import ViewerStream, viewable_camera, watching
from camgate.live.fallback import FallbackReason
from camgate.live.jpeg import JpegPlan, JpegRequest, describe, frames, plan
from camgate.live.viewers import Delivery, Viewer
from camgate.media.fanout import Drop, Notice
from camgate.media.transcode import JpegFrame

router = APIRouter(prefix="/api/v1/cameras/{camera_id}", tags=["live"])

BOUNDARY = "camgateframe"

Width = Annotated[int | None, Query(ge=16, le=7680, description="Output width in pixels")]
Height = Annotated[int | None, Query(ge=16, le=4320, description="Output height in pixels")]
Fps = Annotated[float | None, Query(gt=0, le=60, description="Frames per second")]
Quality = Annotated[int, Query(ge=1, le=100, description="JPEG quality")]
Zoom = Annotated[bool, Query(description="The viewer zooms: decode the highest resolution")]


def jpeg_request(
    width: int | None, height: int | None, fps: float | None, quality: int, zoom: bool
) -> JpegRequest:
    return JpegRequest(width, height, fps, quality, zoom)


async def _multipart(
    svc: Services,
    principal: Principal,
    camera: Camera,
    request: JpegRequest,
    ended: asyncio.Event,
) -> AsyncGenerator[bytes, None]:
    performance = svc.settings.tree.performance
    level = svc.limits.level
    chosen = plan(svc.runtime, camera.id, request, performance, level, None, camera.privacy_masks)
    camera_id = camera.id
    with watching(
        svc, principal, camera_id, chosen.stream_id, "mjpeg", Delivery.TRANSCODED, ended
    ) as viewer:
        async for _spec, item in frames(svc.transcoders, svc.limits, chosen):
            if isinstance(item, JpegFrame):
                head = (
                    f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\n"
                    f"Content-Length: {len(item.data)}\r\n\r\n"
                ).encode()
                viewer.sent(len(head) + len(item.data) + 2)
                yield head + item.data + b"\r\n"


@router.get(
    "/live.mjpeg",
    response_class=StreamingResponse,
    responses={200: {"content": {f"multipart/x-mixed-replace; boundary={BOUNDARY}": {}}}},
    summary="Transcoded live video as Motion JPEG (every browser and VLC show it)",
)
async def live_mjpeg(
    request: Request,
    camera_id: str,
    width: Width = None,
    height: Height = None,
    fps: Fps = None,
    quality: Quality = 75,
    zoom: Zoom = False,
) -> StreamingResponse:
    svc = services(request)
    principal = permitted(await media_principal(request, camera_id), Permission.LIVE)
    camera = await viewable_camera(svc, principal, camera_id)
    wanted = jpeg_request(width, height, fps, quality, zoom)
    # Plan once here, so that a camera without video answers 503 rather than an empty stream.
    plan(svc.runtime, camera.id, wanted, svc.settings.tree.performance, svc.limits.level, None)
    ended = asyncio.Event()
    return ViewerStream(
        _multipart(svc, principal, camera, wanted, ended),
        ended=ended,
        media_type=f"multipart/x-mixed-replace; boundary={BOUNDARY}",
        headers={"Cache-Control": "no-store"},
    )


async def pump_transcoded(
    websocket: WebSocket, svc: Services, chosen: JpegPlan, reason: FallbackReason, viewer: Viewer
) -> None:
    """JPEG over the live WebSocket: a ``transcoded`` notice, then one binary JPEG per frame."""
    current = None
    async for spec, item in frames(svc.transcoders, svc.limits, chosen):
        if spec != current:  # first, and whenever the level in force changes the output
            notice: dict[str, object] = {"type": "transcoded", "reason": reason.value}
            notice.update(describe(spec))
            await websocket.send_text(json.dumps(notice))
            current = spec
        if isinstance(item, Drop):
            await websocket.send_text(json.dumps({"type": "drop", "frames": item.frames}))
        elif isinstance(item, Notice):
            status = {"type": "status", "status": item.status, "detail": item.detail}
            await websocket.send_text(json.dumps(status))
        else:
            await websocket.send_bytes(item.data)
            viewer.sent(len(item.data))
