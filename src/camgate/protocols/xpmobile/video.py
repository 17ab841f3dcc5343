"""The video channel: ``/XProtectMobile/Video/<VideoId>`` (with or without a trailing slash).

- **Push over a WebSocket** (the web client library): one binary message per frame; the client
  sends an empty text message every second, each a sign of life of its session.
- **Push over HTTP** (the native clients): a ``GET`` or ``POST`` answered by one long response
  with the frames back to back (each header says its size).
- **Pull**: each ``POST`` (or ``GET``) answers one frame, the newest not yet sent, or one with
  only the events (payload size 0) when nothing is new.

The ``VideoId`` (a random GUID that RequestStream gave a logged-in connection) is the channel's
only key, as the protocol has it. An unknown or ended one answers ``410 Gone`` over HTTP (the
library then asks for a new stream) and a refused handshake over WebSocket. Outside ``/api/``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator

from fastapi import APIRouter, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import Response
from starlette.requests import HTTPConnection

from camgate.live.access import ViewerStream
from camgate.live.api import CLOSE_WAIT_S
from camgate.protocols.xpmobile.channel import channel
from camgate.protocols.xpmobile.streams import VideoStream

PATH = "/XProtectMobile/Video/{video_id}"
MEDIA_TYPE = "application/octet-stream"
_HEADERS = {"Cache-Control": "no-store"}

router = APIRouter(tags=["xpmobile"], include_in_schema=False)


def _stream(connection: HTTPConnection, video_id: str) -> VideoStream | None:
    return channel(connection).streams.get(video_id)


async def _push(websocket: WebSocket, stream: VideoStream, reader: int) -> None:
    while (message := await stream.next_message(reader)) is not None:
        await websocket.send_bytes(message)


async def _keep_alive(websocket: WebSocket, stream: VideoStream) -> None:
    """Reads what the client sends (empty text messages), to notice when it goes away."""
    with contextlib.suppress(WebSocketDisconnect):
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
            stream.heard()


@router.websocket(PATH)
@router.websocket(PATH + "/")
async def video_websocket(websocket: WebSocket, video_id: str) -> None:
    stream = _stream(websocket, video_id)
    if stream is None or not stream.push:
        await websocket.close(1008, "no such push stream")  # before accepting: refused
        return
    await websocket.accept()
    with stream.reading() as reader:
        work = {
            asyncio.create_task(_push(websocket, stream, reader)),
            asyncio.create_task(_keep_alive(websocket, stream)),
            asyncio.create_task(stream.ended.wait()),
        }
        try:
            await asyncio.wait(work, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in work:
                task.cancel()
            await asyncio.gather(*work, return_exceptions=True)
    if stream.ended.is_set():
        reason = stream.refusal or "the stream has ended"
        with contextlib.suppress(Exception):
            # A client that reads nothing any more cannot take the close frame either.
            await asyncio.wait_for(websocket.close(1000, reason[:120]), CLOSE_WAIT_S)


async def _frames(stream: VideoStream) -> AsyncGenerator[bytes, None]:
    with stream.reading() as reader:
        while (message := await stream.next_message(reader)) is not None:
            yield message


@router.api_route(PATH, methods=["GET", "POST"])
@router.api_route(PATH + "/", methods=["GET", "POST"])
async def video_http(request: Request, video_id: str) -> Response:
    stream = _stream(request, video_id)
    if stream is None:
        return Response("no such stream", 410, media_type="text/plain", headers=_HEADERS)
    if stream.push:
        return ViewerStream(
            _frames(stream), ended=stream.ended, media_type=MEDIA_TYPE, headers=_HEADERS
        )
    stream.heard()
    return Response(stream.poll(), media_type=MEDIA_TYPE, headers=_HEADERS)
