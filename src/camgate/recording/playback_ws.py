"""Controlled playback of a camera's recordings over a WebSocket, as JPEG frames.

``WS /api/v1/cameras/{id}/playback?start=…`` (docs/ref/api.md): the client plays (¼× to 16×),
pauses, seeks and steps frame by frame; the server sends each frame as a ``frame`` message with
its capture time, then the JPEG. The pacing, seeking and stepping are
:class:`camgate.recording.pacing.Player`'s (shared with the XProtect Mobile adapter's playback);
here are the protocol's messages.

Bounded as the player is: one job in flight, one frame sent at a time, late frames skipped.
Commands wait in the player's queue of :data:`camgate.recording.pacing.ORDER_QUEUE`; while it
is full the socket is not read.
"""

from __future__ import annotations

import contextlib
import functools
import json
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from pydantic import AwareDatetime, BaseModel, Field, TypeAdapter, ValidationError

from camgate.api.deps import Services, media_principal, permitted, services
from camgate.api.times import iso
from camgate.cameras.models import Camera
from camgate.core.errors import CamgateError, ErrorKind, invalid, not_found
from camgate.identity.models import Permission
from camgate.live.access import viewable_camera, watching
from camgate.live.api import refuse, serve
from camgate.live.jpeg import DEFAULT_QUALITY, JpegRequest, describe
from camgate.live.jpeg_api import Height, Quality, Width
from camgate.live.viewers import Delivery, Viewer
from camgate.media.limits import OutputSpec
from camgate.media.player import MAX_SPEED, MIN_SPEED, Frame, RecordingUnreadable
from camgate.recording import pacing
from camgate.recording.frames import Landing, RecordedFrames, recorded_stream

router = APIRouter(prefix="/api/v1/cameras/{camera_id}", tags=["recordings"])

#: The viewer's protocol on the status page.
PROTOCOL = "playback"


class Play(BaseModel):
    type: Literal["play"]
    speed: float | None = Field(default=None, ge=MIN_SPEED, le=MAX_SPEED)


class Pause(BaseModel):
    type: Literal["pause"]


class Seek(BaseModel):
    type: Literal["seek"]
    time: AwareDatetime


class Step(BaseModel):
    type: Literal["step"]
    frames: Literal[1, -1]


class Keepalive(BaseModel):
    type: Literal["keepalive"]


Command = Play | Pause | Seek | Step | Keepalive
#: What the player is given (keepalives only count as signs of life), or why a message is none.
Order = Play | Pause | Seek | Step | str
_COMMANDS: TypeAdapter[Command] = TypeAdapter(Annotated[Command, Field(discriminator="type")])


def parse_command(text: str) -> Command | str:
    """The command a client's message holds, or why it holds none."""
    try:
        return _COMMANDS.validate_json(text)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        return f"{where}: {first['msg']}" if where else str(first["msg"])


def start_time(start: str | None) -> float:
    """The ``start`` query parameter in seconds since the epoch (it is required)."""
    if start is None:
        raise invalid("start is required: ISO 8601 with a time zone")
    try:
        parsed = datetime.fromisoformat(start)
    except ValueError as error:
        raise invalid(f"start is not ISO 8601: {start!r}") from error
    if parsed.tzinfo is None:
        raise invalid("start needs a time zone (e.g. Z or +01:00)")
    return parsed.timestamp()


class PlaybackSession(pacing.Screen):
    """One client's playback: its commands, and every message it is sent."""

    def __init__(
        self,
        websocket: WebSocket,
        svc: Services,
        camera: Camera,
        stream_id: str,
        request: JpegRequest,
        speed: float,
    ) -> None:
        self._ws = websocket
        self._camera_id = camera.id
        self._stream_id = stream_id
        self._viewer: Viewer | None = None
        frames = RecordedFrames(svc, camera, stream_id)
        self.player = pacing.Player(svc, camera.id, frames, self, request, speed)

    async def read(self, heard: Callable[[], object]) -> None:
        """Reads the client's commands into the player's queue; every message is a sign of
        life."""
        with contextlib.suppress(WebSocketDisconnect):
            while True:
                message = await self._ws.receive()
                if message["type"] == "websocket.disconnect":
                    return
                heard()
                command = parse_command(message.get("text") or "")
                if not isinstance(command, Keepalive):
                    await self.player.orders.put(order(command))

    async def run(self, first: Landing, viewer: Viewer) -> None:
        """Plays from ``first`` and obeys commands until the connection ends."""
        self._viewer = viewer
        await self.player.run(first)

    # --- the messages -------------------------------------------------------------------------

    async def announce(self, spec: OutputSpec) -> None:
        """The ``playback`` message: what the JPEGs are."""
        notice: dict[str, object] = {
            "type": "playback",
            "camera_id": self._camera_id,
            "stream_id": self._stream_id,
        }
        notice.update(describe(spec))
        await self._send(notice)

    async def show(self, frame: Frame, spec: OutputSpec, jpeg: bytes) -> None:
        assert self._viewer is not None
        await self._send({"type": "frame", "time": iso(frame.time), "keyframe": frame.keyframe})
        await self._ws.send_bytes(jpeg)
        self._viewer.sent(len(jpeg))

    async def gap(self, start: float, end: float, *, sought: bool) -> None:
        await self._send({"type": "gap", "from": iso(start), "to": iso(end)})

    async def end(self, frame: Frame, *, forward: bool) -> None:
        await self._send({"type": "end", "time": iso(frame.time)})

    async def nowhere(self) -> None:
        await self.problem("nothing is recorded any more")

    async def problem(self, detail: str) -> None:
        await self._send({"type": "error", "detail": detail})

    async def state(self, playing: bool, speed: float, frame: Frame) -> None:
        state = "playing" if playing else "paused"
        await self._send({"type": "state", "state": state, "speed": speed, "time": iso(frame.time)})

    async def _send(self, message: dict[str, object]) -> None:
        await self._ws.send_text(json.dumps(message))


def order(command: Order) -> pacing.Order:
    """The player's order for a client's command (a problem stays what it is)."""
    match command:
        case Play(speed=speed):
            return pacing.Play(speed)
        case Pause():
            return pacing.Pause()
        case Seek(time=time):
            return pacing.Seek(functools.partial(_locate, time.timestamp()))
        case Step(frames=frames):
            return pacing.Step(frames)
    return command


async def _locate(time: float, frames: RecordedFrames) -> Landing | None:
    return await frames.locate(time)


@router.websocket("/playback")
async def playback_websocket(
    websocket: WebSocket,
    camera_id: str,
    start: str | None = None,
    stream: str | None = None,
    width: Width = None,
    height: Height = None,
    quality: Quality = DEFAULT_QUALITY,
    speed: float = 1.0,
) -> None:
    """Controlled playback of recordings as JPEG frames (play, pause, seek, step)."""
    svc = services(websocket)
    try:
        principal = permitted(await media_principal(websocket, camera_id), Permission.PLAYBACK)
        camera = await viewable_camera(svc, principal, camera_id)
        begin = start_time(start)
        if not MIN_SPEED <= speed <= MAX_SPEED:
            raise invalid(f"speed runs from {MIN_SPEED:g} to {MAX_SPEED:g}")
        stream_id = await recorded_stream(svc, camera, begin, stream)
        wanted = JpegRequest(width, height, quality=quality)
        session = PlaybackSession(websocket, svc, camera, stream_id, wanted, speed)
        first = await session.player.frames.locate(begin)
        if first is None:
            raise not_found("recorded video")
    except RecordingUnreadable as error:
        await refuse(websocket, CamgateError(ErrorKind.UNAVAILABLE, f"cannot read {error}"))
        return
    except CamgateError as error:
        await refuse(websocket, error)
        return
    await websocket.accept()
    heard = functools.partial(svc.heard_from, principal)
    with watching(svc, principal, camera.id, stream_id, PROTOCOL, Delivery.TRANSCODED) as viewer:
        await serve(websocket, viewer, session.run(first, viewer), session.read(heard))
