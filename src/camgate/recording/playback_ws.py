"""Controlled playback of a camera's recordings over a WebSocket, as JPEG frames.

``WS /api/v1/cameras/{id}/playback?start=…`` (docs/ref/api.md): the client plays (¼× to 16×),
pauses, seeks and steps frame by frame; the server sends each frame as a ``frame`` message with
its capture time, then the JPEG. Finding and rendering frames is
:class:`camgate.recording.frames.RecordedFrames` (the media part is :mod:`camgate.media.player`);
here are the protocol and the pacing loop.

Bounded: one job (find or render) in flight per connection, since every job is awaited before
the next; the renderer keeps one GOP of JPEGs; one frame is sent at a time, and a frame that is
late (a slow client, a busy server) is skipped for the one due now, so nothing queues up.
Commands wait in a queue of :data:`COMMAND_QUEUE`; while it is full the socket is not read.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
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
from camgate.media.packet import TIMESCALE
from camgate.media.player import (
    MAX_SPEED,
    MIN_SPEED,
    Frame,
    Pace,
    RecordingUnreadable,
    hole,
    keyframes_only,
)
from camgate.media.transcode import FrameRateGate
from camgate.recording.frames import Landing, RecordedFrames, output_spec, recorded_stream
from camgate.recording.models import RecorderState
from camgate.recording.playback import GAP_TOLERANCE_S

log = logging.getLogger(__name__)

router = APIRouter(prefix="/api/v1/cameras/{camera_id}", tags=["recordings"])

#: Commands waiting for the player; a client that sends more waits for the socket.
COMMAND_QUEUE = 8
#: The viewer's protocol on the status page.
PROTOCOL = "playback"
#: Playing within this much of now (seconds) follows the recording being written: at its end it
#: waits for more rather than pausing.
LIVE_EDGE_S = 10.0
#: How often following looks for the recorder's next GOP.
FOLLOW_S = 0.5


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
#: What waits for the player (keepalives only count as signs of life), or why a message is none.
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


class PlaybackSession:
    """One client's playback: position, state, speed, and every message it is sent."""

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
        self._svc = svc
        self._camera = camera
        self._stream_id = stream_id
        self._request = request
        self._speed = speed
        self._playing = True
        self.frames = RecordedFrames(svc, camera, stream_id)
        self.commands: asyncio.Queue[Order] = asyncio.Queue(COMMAND_QUEUE)
        self._viewer: Viewer | None = None
        self._spec: OutputSpec | None = None
        #: The frame the client sees (or was told does not decode), and the last frame playback
        #: reached (shown, or skipped by the rate gate or for being late).
        self._shown: Frame | None = None
        self._at: Frame | None = None
        self._pace = Pace(0.0, 0.0, speed)
        self._gate = FrameRateGate(1.0)
        #: Whether playing waits at the end of the recording being written.
        self._following = False

    # --- the session --------------------------------------------------------------------------

    async def read(self, heard: Callable[[], object]) -> None:
        """Reads the client's commands into the queue; every message is a sign of life."""
        with contextlib.suppress(WebSocketDisconnect):
            while True:
                message = await self._ws.receive()
                if message["type"] == "websocket.disconnect":
                    return
                heard()
                command = parse_command(message.get("text") or "")
                if not isinstance(command, Keepalive):
                    await self.commands.put(command)

    async def run(self, first: Landing, viewer: Viewer) -> None:
        """Plays from ``first`` and obeys commands until the connection ends."""
        self._viewer = viewer
        try:
            await self._announce(first.frame)
            await self._land(first)
            while True:
                try:
                    await self._advance()
                except RecordingUnreadable as error:  # deleted by retention meanwhile, say
                    log.info("playback: %s", error)
                    self._playing = False
                    await self._send({"type": "error", "detail": f"cannot read {error}"})
                    await self._send_state()
        finally:
            self.frames.close()

    async def _advance(self) -> None:
        if self._playing:
            await self._play_next()
        else:
            await self._obey(await self.commands.get())

    async def _obey(self, command: Order) -> None:
        shown = self._shown
        assert shown is not None
        match command:
            case str():
                await self._send({"type": "error", "detail": command})
            case Play(speed=speed):
                self._speed = speed or self._speed
                self._playing = True
                self._at = shown
                self._restart_pace(shown.time)
                await self._send_state()
            case Pause():
                self._playing = False
                self._at = shown
                await self._send_state()
            case Seek(time=time):
                await self._seek(time.timestamp())
            case Step(frames=frames):
                await self._step(frames)

    async def _seek(self, time: float) -> None:
        landing = await self.frames.locate(time)
        if landing is None:
            await self._send({"type": "error", "detail": "nothing is recorded any more"})
            return
        await self._land(landing)

    async def _land(self, landing: Landing) -> None:
        """Show where a seek landed, then say the state (paused at the end)."""
        frame = landing.frame
        if landing.gap_from is not None:
            await self._send({"type": "gap", "from": iso(landing.gap_from), "to": iso(frame.time)})
        await self._show_or_tell(frame)
        self._at = self._shown
        if landing.end:
            await self._end()
            return
        if self._playing:
            self._restart_pace(frame.time)
        await self._send_state()

    async def _step(self, frames: int) -> None:
        self._playing = False
        shown = self._shown
        assert shown is not None
        if frames > 0:
            frame = await self.frames.next(shown.time)
            if frame is None:
                await self._end()
                return
            await self._tell_gap(shown, frame)
            await self._show_or_tell(frame)
        else:
            # At the first frame recorded, stepping back shows it again.
            frame = await self.frames.previous(shown.time) or shown
            await self._show_or_tell(frame, keep_earlier=True)
        self._at = self._shown
        await self._send_state()

    async def _play_next(self) -> None:
        """Show the next frame when it is due, unless a command comes first."""
        at = self._at
        assert at is not None
        keyframes = keyframes_only(self._speed)
        frame = await self.frames.next(at.time, keyframes)
        if frame is None:
            await self._follow_or_end(at)
            return
        if await self._tell_gap(at, frame) or self._following:
            self._restart_pace(frame.time)  # straight on: neither takes playing time
        elif not await self._wait_until(self._pace.due(frame.time)):
            return  # a command came first and was obeyed
        now = self._svc.clock.monotonic()
        if self._pace.late(frame.time, now):
            frame = await self._catch_up(frame, now, keyframes)
        self._at = frame
        if self._spec_for(frame) != self._spec:
            await self._announce(frame)
        if self._gate.admit(round(frame.time * TIMESCALE)):
            await self._show(frame, alone=keyframes)

    async def _follow_or_end(self, at: Frame) -> None:
        """At the end of what is recorded: wait for more if the stream is being recorded and
        playback is near it; else pause there (``end``)."""
        status = self._svc.recordings.status_of(self._camera.id)
        recording = (
            status is not None
            and status.stream_id == self._stream_id
            and status.state is RecorderState.RECORDING
        )
        if not recording or at.end < self._svc.clock.now() - LIVE_EDGE_S:
            if at != self._shown:  # skipped by the rate gate: the last frame is shown all the same
                await self._show(at)
            await self._end()
            return
        # The recorder adds a GOP at a time: look again a little later (or obey a command).
        self._following = True
        await self._wait_until(self._svc.clock.monotonic() + FOLLOW_S)

    async def _catch_up(self, frame: Frame, now: float, keyframes: bool) -> Frame:
        """The frame due now instead of a late one, unless a gap lies between them."""
        finder = self.frames.finder
        look = functools.partial(finder.at, self._pace.position(now), keyframes_only=keyframes)
        due = await self.frames.job(look)
        if (
            due is None
            or due.time <= frame.time
            or hole(finder.pieces, frame.end, due.time, GAP_TOLERANCE_S) is not None
        ):
            return frame
        return due

    async def _wait_until(self, due: float) -> bool:
        """Whether ``due`` came; False when a command came first (it is obeyed)."""
        try:
            command = self.commands.get_nowait()
        except asyncio.QueueEmpty:
            delay = due - self._svc.clock.monotonic()
            if delay <= 0:
                return True
            try:
                command = await asyncio.wait_for(self.commands.get(), delay)
            except TimeoutError:
                return True
        await self._obey(command)
        return False

    async def _end(self) -> None:
        """Nothing is recorded after the position: pause there."""
        shown = self._shown
        assert shown is not None
        self._playing = False
        self._at = shown
        await self._send({"type": "end", "time": iso(shown.time)})
        await self._send_state()

    def _restart_pace(self, time: float) -> None:
        """Pace from ``time`` now (play, a seek, a new speed, after a gap or a wait)."""
        self._pace = Pace(self._svc.clock.monotonic(), time, self._speed)
        self._following = False
        self._restart_gate()

    def _restart_gate(self) -> None:
        """The output's rate cap, in capture time: at 4× a 30 FPS cap lets every 4th frame of a
        30 FPS stream through (the others are decoded, not encoded)."""
        assert self._spec is not None
        self._gate = FrameRateGate(self._spec.fps / self._speed)

    # --- sending ------------------------------------------------------------------------------

    def _spec_for(self, frame: Frame) -> OutputSpec:
        return output_spec(self._request, frame.segment.config, self._svc.limits.level)

    async def _announce(self, frame: Frame) -> None:
        """The ``playback`` message: what the JPEGs are (again whenever that changes)."""
        self._spec = self._spec_for(frame)
        notice: dict[str, object] = {
            "type": "playback",
            "camera_id": self._camera.id,
            "stream_id": self._stream_id,
        }
        notice.update(describe(self._spec))
        await self._send(notice)
        self._restart_gate()

    async def _show(self, frame: Frame, *, alone: bool = False, keep_earlier: bool = False) -> bool:
        """Send the frame; False when it does not decode."""
        if self._spec_for(frame) != self._spec:
            await self._announce(frame)
        spec = self._spec
        assert spec is not None and self._viewer is not None
        jpeg = await self.frames.render(frame, spec, alone=alone, keep_earlier=keep_earlier)
        if jpeg is None:
            return False
        await self._send({"type": "frame", "time": iso(frame.time), "keyframe": frame.keyframe})
        await self._ws.send_bytes(jpeg)
        self._viewer.sent(len(jpeg))
        self._shown = frame
        return True

    async def _show_or_tell(self, frame: Frame, *, keep_earlier: bool = False) -> None:
        """Show a frame asked for; one that does not decode is said so, and stood at all the
        same (playing skips such frames silently)."""
        if not await self._show(frame, keep_earlier=keep_earlier):
            await self._send(
                {"type": "error", "detail": f"the frame at {iso(frame.time)} does not decode"}
            )
            self._shown = frame

    async def _tell_gap(self, before: Frame, after: Frame) -> bool:
        """Send a ``gap`` message if the recordings have one between the two frames."""
        found = hole(self.frames.finder.pieces, before.end, after.time, GAP_TOLERANCE_S)
        if found is not None:
            await self._send({"type": "gap", "from": iso(found[0]), "to": iso(after.time)})
        return found is not None

    async def _send_state(self) -> None:
        shown = self._shown
        assert shown is not None
        state = "playing" if self._playing else "paused"
        await self._send(
            {"type": "state", "state": state, "speed": self._speed, "time": iso(shown.time)}
        )

    async def _send(self, message: dict[str, object]) -> None:
        await self._ws.send_text(json.dumps(message))


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
        first = await session.frames.locate(begin)
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
