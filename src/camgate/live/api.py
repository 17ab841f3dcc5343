"""Live media routes: WebSocket fMP4, progressive fMP4, LL-HLS, snapshots, media tokens."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
from collections.abc import AsyncGenerator, Callable, Coroutine
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import Response, StreamingResponse
from pydantic import BaseModel

from camgate.api.deps import (
    LivePrincipal,
    Services,
    ServicesDep,
    media_principal,
    permitted,
    services,
)
from camgate.core.errors import CamgateError, ErrorKind, forbidden, invalid, not_found
from camgate.identity.models import Permission
from camgate.identity.service import MEDIA_TOKEN_S
from camgate.live import service as live
from camgate.live.access import ViewerStream, viewable_camera, watching
from camgate.live.fallback import FallbackReason
from camgate.live.hls import HlsOutput, render_playlist
from camgate.live.jpeg import DEFAULT_QUALITY, JpegRequest, plan
from camgate.live.jpeg_api import pump_transcoded
from camgate.live.viewers import Delivery, Viewer
from camgate.media.fanout import Closed, Drop, Notice, Subscription
from camgate.media.hub import Fragment, InitSegment, LiveHub
from camgate.media.transcode import SNAPSHOT_QUALITY

router = APIRouter(prefix="/api/v1/cameras/{camera_id}", tags=["live"])

#: WebSocket close codes (4000 + the HTTP status they stand for).
CLOSE_UNAUTHORIZED = 4401
#: How long closing a WebSocket may wait for the client to take the close frame.
CLOSE_WAIT_S = 2.0
CLOSE_FORBIDDEN = 4403
CLOSE_NOT_FOUND = 4404
_CLOSE_FOR = {
    ErrorKind.UNAUTHORIZED: CLOSE_UNAUTHORIZED,
    ErrorKind.FORBIDDEN: CLOSE_FORBIDDEN,
    ErrorKind.NOT_FOUND: CLOSE_NOT_FOUND,
    ErrorKind.INVALID: 4422,
}
#: How long a blocking HLS request may wait for the part it asks for.
HLS_BLOCK_S = 3.0


async def live_target(
    request: Request,
    camera_id: str,
    stream: Annotated[
        str | None, Query(description="A stream id; default: the highest resolution")
    ] = None,
    codecs: Annotated[
        str | None, Query(description="Codecs the client decodes, e.g. h264,hevc")
    ] = None,
) -> live.LiveTarget:
    svc = services(request)
    principal = permitted(await media_principal(request, camera_id), Permission.LIVE)
    camera = await viewable_camera(svc, principal, camera_id)
    return live.target(svc, principal, camera, stream, codecs)


Target = Annotated[live.LiveTarget, Depends(live_target)]


def _init_notice(init: InitSegment) -> str:
    config = init.config
    return json.dumps(
        {
            "type": "init",
            "mime": init.mime,
            "codec": config.codec,
            "width": config.width,
            "height": config.height,
        }
    )


async def _pump_websocket(
    websocket: WebSocket, subscription: Subscription[Fragment], hub: LiveHub, viewer: Viewer
) -> None:
    sent_init: InitSegment | None = None
    if hub.status.value != "online":
        await websocket.send_text(
            json.dumps({"type": "status", "status": hub.status.value, "detail": hub.detail})
        )
    while True:
        item = await subscription.get()
        if isinstance(item, Drop):
            await websocket.send_text(json.dumps({"type": "drop", "frames": item.frames}))
        elif isinstance(item, Notice):
            await websocket.send_text(
                json.dumps({"type": "status", "status": item.status, "detail": item.detail})
            )
        else:
            if item.init is not sent_init:
                if not item.is_keyframe:
                    continue
                await websocket.send_text(_init_notice(item.init))
                await websocket.send_bytes(item.init.data)
                viewer.sent(len(item.init.data))
                sent_init = item.init
            await websocket.send_bytes(item.data)
            viewer.sent(len(item.data))


async def _drain_client(websocket: WebSocket, heard: Callable[[], object]) -> None:
    """Reads what the client sends, to notice when it goes away: every message (a keepalive, say)
    is a sign of life of its session."""
    with contextlib.suppress(WebSocketDisconnect):
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
            heard()


def _client_reason(transcode: bool, fallback: str | None) -> FallbackReason | None:
    if transcode:
        return FallbackReason.REQUESTED
    if fallback is None:
        return None
    try:
        return FallbackReason(fallback)
    except ValueError as error:
        raise invalid(f"unknown fallback reason {fallback!r}") from error


async def serve(websocket: WebSocket, viewer: Viewer, *work: Coroutine[Any, Any, None]) -> None:
    """Runs a viewer's coroutines (its pump, the reader of its client) until one of them ends,
    or the server ends the stream (the session ended, or the viewer may no longer watch)."""
    tasks = {asyncio.create_task(coroutine) for coroutine in work}
    ended = asyncio.create_task(viewer.ended.wait())
    done, pending = await asyncio.wait(tasks | {ended}, return_when=asyncio.FIRST_COMPLETED)
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    if ended in done:
        # Rights taken away end the stream with the reason (4403); an ended session with 4401.
        code = CLOSE_FORBIDDEN if viewer.refusal else CLOSE_UNAUTHORIZED
        reason = viewer.refusal or "the session has ended"
        with contextlib.suppress(Exception):
            # A client that reads nothing any more cannot take the close frame either.
            await asyncio.wait_for(websocket.close(code, reason[:120]), CLOSE_WAIT_S)
    elif any(isinstance(task.exception(), Closed) for task in done if task is not ended):
        with contextlib.suppress(Exception):
            await websocket.close(1001, "the camera was removed")


async def refuse(websocket: WebSocket, error: CamgateError) -> None:
    """Turn a WebSocket away: accept it, say why, close with the error's code."""
    await websocket.accept()
    await websocket.send_text(
        json.dumps({"type": "error", "reason": error.kind.value, "detail": error.detail})
    )
    await websocket.close(_CLOSE_FOR.get(error.kind, 1011), error.detail[:120])


@router.websocket("/live")
async def live_websocket(
    websocket: WebSocket,
    camera_id: str,
    stream: str | None = None,
    codecs: str | None = None,
    transcode: bool = False,
    fallback: str | None = None,
    width: Annotated[int | None, Query(ge=16, le=7680)] = None,
    height: Annotated[int | None, Query(ge=16, le=4320)] = None,
    fps: Annotated[float | None, Query(gt=0, le=60)] = None,
    quality: Annotated[int, Query(ge=1, le=100)] = DEFAULT_QUALITY,
    zoom: bool = False,
) -> None:
    """Live video for Media Source Extensions (fMP4: init segment, then moof+mdat per frame), or
    JPEG frames when direct streaming does not apply (``transcoded`` notice, then JPEGs)."""
    svc = services(websocket)
    try:
        principal = permitted(await media_principal(websocket, camera_id), Permission.LIVE)
        camera = await viewable_camera(svc, principal, camera_id)
        target, reason = live.decide(
            svc, principal, camera, stream, codecs, _client_reason(transcode, fallback)
        )
        wanted = JpegRequest(width, height, fps, quality, zoom)
        chosen = None
        if reason is not None:
            performance = svc.settings.tree.performance
            chosen = plan(
                svc.runtime,
                camera.id,
                wanted,
                performance,
                svc.limits.level,
                stream,
                camera.privacy_masks,
            )
    except CamgateError as error:
        await refuse(websocket, error)
        return
    await websocket.accept()
    heard = functools.partial(svc.heard_from, principal)
    if chosen is not None and reason is not None:
        with watching(
            svc, principal, camera.id, chosen.stream_id, "websocket", Delivery.TRANSCODED
        ) as viewer:
            pump = pump_transcoded(websocket, svc, chosen, reason, viewer)
            await serve(websocket, viewer, pump, _drain_client(websocket, heard))
        return
    assert target is not None
    with (
        watching(svc, principal, camera.id, target.stream_id, "websocket") as viewer,
        target.hub.subscribe_fragments() as subscription,
    ):
        pump = _pump_websocket(websocket, subscription, target.hub, viewer)
        await serve(websocket, viewer, pump, _drain_client(websocket, heard))


async def _progressive(
    svc: Services, target: live.LiveTarget, ended: asyncio.Event
) -> AsyncGenerator[bytes, None]:
    principal, camera_id, stream_id = target.principal, target.camera.id, target.stream_id
    with (
        watching(svc, principal, camera_id, stream_id, "mp4", ended=ended) as viewer,
        target.hub.subscribe_fragments() as subscription,
    ):
        sent_init: InitSegment | None = None
        while True:
            try:
                item = await subscription.get()
            except Closed:
                return
            if not isinstance(item, Fragment):
                continue
            if item.init is not sent_init:
                if sent_init is not None:
                    return  # a new timeline needs a new file; the player reconnects
                if not item.is_keyframe:
                    continue
                sent_init = item.init
                viewer.sent(len(item.init.data))
                yield item.init.data
            viewer.sent(len(item.data))
            yield item.data


@router.get(
    "/live.mp4",
    response_class=StreamingResponse,
    responses={200: {"content": {"video/mp4": {}}}},
    summary="Live video as progressive fragmented MP4",
)
async def live_mp4(target: Target, svc: ServicesDep) -> StreamingResponse:
    _direct_allowed(svc, target)
    ended = asyncio.Event()
    return ViewerStream(
        _progressive(svc, target, ended),
        ended=ended,
        media_type="video/mp4",
        headers={"Cache-Control": "no-store"},
    )


def _direct_allowed(svc: Services, target: live.LiveTarget) -> None:
    """Direct outputs (MP4, HLS) follow the fallback rules that the server can judge alone."""
    if target.camera.privacy_masks:
        raise forbidden(
            "this camera has privacy masks: only transcoded video (live.mjpeg) leaves it"
        )
    if not svc.settings.tree.performance.direct_streaming:
        raise forbidden("direct streaming is turned off on this server: use live.mjpeg")


def _hls(request: Request, target: live.LiveTarget) -> HlsOutput:
    _direct_allowed(services(request), target)
    return services(request).hls.get(target.stream_id, target.hub)


def _token_query(request: Request) -> str:
    token = request.query_params.get("token")
    return f"?token={token}" if token else ""


@router.get(
    "/live.m3u8",
    responses={200: {"content": {"application/vnd.apple.mpegurl": {}}}, 400: {}},
    summary="Live video as low-latency HLS (fMP4 parts)",
)
async def live_m3u8(
    request: Request,
    target: Target,
    hls_msn: Annotated[int | None, Query(alias="_HLS_msn", ge=0)] = None,
    hls_part: Annotated[int | None, Query(alias="_HLS_part", ge=0)] = None,
) -> Response:
    output = _hls(request, target)
    if hls_msn is not None:
        newest = output.next_part()[0]
        if hls_msn > newest + 2:  # RFC 8216bis 6.2.5.2
            raise CamgateError(ErrorKind.INVALID, "_HLS_msn is too far ahead")
        await output.wait_for(hls_msn, hls_part, HLS_BLOCK_S)
    elif not output.segments:
        await output.wait_for(0, 0, HLS_BLOCK_S)
    body = render_playlist(
        list(output.segments), query=_token_query(request), next_part=output.next_part()
    )
    stream_prefix = f"hls/{target.stream_id}/"
    body = _prefix_uris(body, stream_prefix)
    return Response(
        body, media_type="application/vnd.apple.mpegurl", headers={"Cache-Control": "no-cache"}
    )


def _prefix_uris(playlist: str, prefix: str) -> str:
    lines = []
    for line in playlist.splitlines():
        if line and not line.startswith("#"):
            line = prefix + line
        else:
            line = line.replace('URI="', f'URI="{prefix}')
        lines.append(line)
    return "\n".join(lines) + "\n"


def _media(data: bytes, cache_s: int) -> Response:
    return Response(data, media_type="video/mp4", headers={"Cache-Control": f"max-age={cache_s}"})


@router.get("/hls/{stream_id}/init/{init_id}.mp4", include_in_schema=False)
async def hls_init(request: Request, camera_id: str, stream_id: str, init_id: int) -> Response:
    target = await live_target(request, camera_id, stream_id)
    init = _hls(request, target).init(init_id)
    if init is None:
        raise not_found("initialization segment")
    return _media(init.data, 3600)


@router.get("/hls/{stream_id}/segment/{msn}.m4s", include_in_schema=False)
async def hls_segment(request: Request, camera_id: str, stream_id: str, msn: int) -> Response:
    target = await live_target(request, camera_id, stream_id)
    output = _hls(request, target)
    segment = output.segment(msn)
    if segment is None or not segment.complete:
        raise not_found("segment")
    return _media(b"".join(part.data for part in segment.parts), 60)


@router.get("/hls/{stream_id}/part/{msn}.{index}.m4s", include_in_schema=False)
async def hls_part(
    request: Request, camera_id: str, stream_id: str, msn: int, index: int
) -> Response:
    target = await live_target(request, camera_id, stream_id)
    output = _hls(request, target)
    if (msn, index) == output.next_part():
        await output.wait_for(msn, index, HLS_BLOCK_S)  # a preload hint: answer when it exists
    part = output.part(msn, index)
    if part is None:
        raise not_found("part")
    return _media(part.data, 60)


@router.get(
    "/snapshot.jpg",
    responses={200: {"content": {"image/jpeg": {}}}, 503: {}},
    summary="A JPEG of the latest keyframe, optionally resized (within the level in force)",
)
async def snapshot(
    target: Target,
    svc: ServicesDep,
    width: Annotated[int | None, Query(ge=16, le=7680)] = None,
    height: Annotated[int | None, Query(ge=16, le=4320)] = None,
    quality: Annotated[int, Query(ge=1, le=100)] = SNAPSHOT_QUALITY,
) -> Response:
    jpeg = await live.snapshot(svc, target, width, height, quality)
    return Response(jpeg, media_type="image/jpeg", headers={"Cache-Control": "no-store"})


class MediaToken(BaseModel):
    token: str
    expires_in: int
    urls: dict[str, str]


@router.post("/media-token", summary="A token for players that cannot send headers (?token=)")
async def media_token(camera_id: str, principal: LivePrincipal, svc: ServicesDep) -> MediaToken:
    camera = await viewable_camera(svc, principal, camera_id)
    token = svc.identity.media_token(principal, camera.id)
    base = f"/api/v1/cameras/{camera.id}"
    return MediaToken(
        token=token,
        expires_in=int(MEDIA_TOKEN_S),
        urls={
            "mp4": f"{base}/live.mp4?token={token}",
            "hls": f"{base}/live.m3u8?token={token}",
            "snapshot": f"{base}/snapshot.jpg?token={token}",
        },
    )
