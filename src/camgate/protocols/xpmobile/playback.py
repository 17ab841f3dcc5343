"""Playback over the protocol: ``RequestStream`` with ``SignalType=Playback``, and the playback
stream that ``ChangeStream`` steers (``Speed``, ``SeekType`` + ``Time``, and the picture as
live) and ``CloseStream`` ends.

A playback stream is camgate's playback: the pacing, seeking and stepping of
:class:`camgate.recording.pacing.Player` (as the playback WebSocket's), recorded frames found and
rendered by :class:`camgate.recording.frames.RecordedFrames` (the limitation level in force,
privacy masks filled), the seeks of GetThumbnailByTime (:data:`recordings.SEEKS`), the edges and
sequences of GetRecordingTime and GetSequences. It sends JPEG frames only (direct streaming is
live only: ``StreamType=FragmentedMP4`` gets JPEG frames that say so, the protocol's fallback),
each with its capture time as the header's timestamp and the PlaybackEvents extension.

It starts paused (as the reference library's samples expect) at ``SeekType`` + ``Time``, by
default at now: the last frame recorded. ``Speed`` 0 pauses; other speeds play, backward when
negative, at ¼× to 16× either way (beyond, the nearest bound). Needs the ``playback``
permission (25, checked before the camera is looked up) and a camera the user may view (20);
the viewer registration is counted on the status page and ended with the session or the
permission, as every playback of camgate. A stream requested with a ``PlaybackControllerId``
starts where that controller is and follows it (controllers.py).
"""

from __future__ import annotations

import functools
import math

from camgate.api.deps import Services
from camgate.cameras.models import Camera
from camgate.core.errors import CamgateError, ErrorKind
from camgate.identity.models import Permission, Principal
from camgate.live.access import watching
from camgate.live.viewers import Delivery
from camgate.media.limits import OutputSpec
from camgate.media.player import Frame, RecordingUnreadable
from camgate.media.transcode import crop_box
from camgate.protocols.xpmobile import controllers, recordings, stream_options
from camgate.protocols.xpmobile.call import Call, viewable
from camgate.protocols.xpmobile.controllers import ControllerStream
from camgate.protocols.xpmobile.errors import CommandError, ErrorCode, refusal
from camgate.protocols.xpmobile.frames import (
    RESAMPLING_UNIT,
    PlaybackEvent,
    SizeInfo,
    StreamInfo,
    motion,
)
from camgate.protocols.xpmobile.messages import Reply
from camgate.protocols.xpmobile.stream_options import Picture
from camgate.protocols.xpmobile.streams import VideoStream
from camgate.protocols.xpmobile.times import parse_time, render_time
from camgate.recording import pacing
from camgate.recording.frames import Landing, RecordedFrames, recorded_stream, wanted_spec
from camgate.recording.playback import GAP_TOLERANCE_S

#: The viewers' protocol on the status page; the registry ends such a stream when its role
#: loses ``playback`` (a live stream of the protocol needs ``live``).
PROTOCOL = "xpmobile-playback"


#: What a seek or an error says; the next frame shown clears it.
_NOTICES = PlaybackEvent.DATABASE_ERROR | PlaybackEvent.RANGE_NO_DATA | PlaybackEvent.OUT_OF_RANGE


def _may_play_back(call: Call) -> Principal:
    principal = call.user_principal
    if not principal.user.may(Permission.PLAYBACK):  # before the camera is looked up (ADR 0013)
        raise CommandError(ErrorCode.INSUFFICIENT_USER_RIGHTS, "your role may not play back video")
    return principal


class PlaybackStream(VideoStream, pacing.Screen):
    """Recorded video of one camera's stream, played by a :class:`pacing.Player` that shows
    its frames here: the newest one not taken waits for the client (a slow client skips)."""

    def __init__(
        self,
        svc: Services,
        principal: Principal,
        connection_id: str,
        camera: Camera,
        frames: RecordedFrames,
        picture: Picture,
        delivery: stream_options.Options,
        controller: ControllerStream | None = None,
    ) -> None:
        super().__init__(
            svc,
            connection_id,
            principal,
            push=delivery.push,
            order=delivery.order,
            request_size=delivery.request_size,
        )
        self.camera = camera
        self.picture = picture
        #: Every frame says it is JPEG (the client asked for fMP4: the fallback).
        self._stream_info = delivery.fragmented
        conductor = controller.conductor if controller is not None else None
        self.player = pacing.Player(
            svc,
            camera.id,
            frames,
            self,
            picture.jpeg_request(),
            conductor.pace.speed if conductor is not None else 1.0,
            playing=conductor is not None and conductor.playing,
            crop=picture.crop,
            conductor=conductor,
        )
        self._first: Landing | None = None
        #: The newest frame not taken, as the client gets it.
        self._latest: tuple[bytes, float, SizeInfo] | None = None
        #: The frame shown: its capture time and its picture's size.
        self._time = math.nan
        self._source: tuple[int, int] | None = None
        self._motion = PlaybackEvent.STOPPED
        self._edge = PlaybackEvent(0)
        self._notices = PlaybackEvent(0)
        #: What the seek being obeyed says of the frame it lands on (shown next).
        self._landing = PlaybackEvent(0)

    def begin(self, first: Landing) -> None:
        """Where playback starts (before the stream is started)."""
        self._first = first
        self._time = first.frame.time
        config = first.frame.segment.config
        self._source = (config.width, config.height)

    # --- the client's side -----------------------------------------------------------------

    @property
    def camera_id(self) -> str:
        return self.camera.id

    def live_events(self) -> None:
        return None

    def playback_events(self) -> int:
        return int(self._motion | self._edge | self._notices)

    def position(self) -> float:
        return self._time

    def take(self) -> bytes | None:
        if self._latest is None:
            return None
        jpeg, time, size = self._latest
        self._latest = None
        info = StreamInfo("JPEG", key_frame=True) if self._stream_info else None
        return self.frame(jpeg, time, size, info)

    async def produce(self) -> None:
        first = self._first
        assert first is not None, "a playback stream starts where begin() says"
        with watching(
            self.svc,
            self.principal,
            self.camera.id,
            self.player.frames.stream_id,
            PROTOCOL,
            Delivery.TRANSCODED,
            self.ended,
        ) as viewer:
            self.viewer = viewer
            await self.player.run(first)

    async def change(self, call: Call) -> None:
        """ChangeStream: the picture, a seek, a speed (in that order), checked all before any
        is obeyed. A stream that follows a playback controller is played, paused and sought
        by that controller only."""
        orders: list[pacing.Order] = []
        picture = stream_options.picture(call, self.picture, self._source, zoom=True)
        if picture != self.picture:
            orders.append(pacing.Reshape(picture.jpeg_request(), picture.crop))
        steering = self._steering(call)
        if steering and self.player.conductor is not None:
            raise CommandError(
                ErrorCode.NOT_ALLOWED_IN_THIS_STATE,
                "the stream follows its playback controller: change that (ChangeMultipleStreams)",
            )
        self._room_for(orders + steering)
        self.picture = picture
        self._give(orders + steering)

    def check_steer(self, call: Call) -> None:
        """For its controller: 23 when the stream cannot take the change now."""
        self._room_for(self._steering(call))

    def steer(self, call: Call) -> None:
        """For its controller: the seek and the speed of the change (checked already)."""
        self._give(self._steering(call))

    def _steering(self, call: Call) -> list[pacing.Order]:
        """The seek and the speed a change asks for (in that order)."""
        orders: list[pacing.Order] = []
        seek = self._seek_order(call)
        if seek is not None:
            orders.append(seek)
        speed_text = call.request.get("Speed") or ""
        if speed_text.strip():
            speed = stream_options.bounded_speed(speed_text)
            orders.append(pacing.Play(speed) if speed else pacing.Pause())
        return orders

    def _room_for(self, orders: list[pacing.Order]) -> None:
        queue = self.player.orders
        if queue.maxsize - queue.qsize() < len(orders):
            raise CommandError(
                ErrorCode.NOT_ALLOWED_IN_THIS_STATE,
                "the stream is still obeying earlier changes: try again",
            )

    def _give(self, orders: list[pacing.Order]) -> None:
        for order in orders:
            self.player.orders.put_nowait(order)

    def _seek_order(self, call: Call) -> pacing.Order | None:
        seek = stream_options.seek_type(call, relative=True)
        if seek is None:
            return None
        if seek in ("PrevFrame", "NextFrame"):
            return pacing.Step(1 if seek == "NextFrame" else -1)
        timed = seek in stream_options.TIME_SEEKS
        time = parse_time(call.param("Time"), "Time") if timed else math.nan
        return pacing.Seek(functools.partial(self.land, seek, time))

    # --- seeking ---------------------------------------------------------------------------

    async def land(self, seek: str, time: float, frames: RecordedFrames) -> Landing | None:
        """Where ``seek`` (at ``time``, for the seeks to a time) lands; None: nowhere."""
        if seek == "Time":
            return await frames.locate(time)
        if seek in recordings.SEEKS:
            frame = await recordings.SEEKS[seek](frames, time)
            return None if frame is None else Landing(frame)
        if seek in stream_options.EDGE_SEEKS:
            return await self._edge_landing(frames, first=seek == "DbStart")
        return await self._sequence_landing(frames, after=seek == "NextSeq")

    async def _edge_landing(self, frames: RecordedFrames, *, first: bool) -> Landing | None:
        """The first (last) frame recorded, where GetRecordingTime says the recordings begin
        (end)."""
        edge = await recordings.recording_edge(self.svc, self.camera, first=first)
        landing = None if edge is None else await frames.locate(edge)
        if landing is not None and first:
            self._landing |= PlaybackEvent.DATABASE_START
        return landing

    async def _sequence_landing(self, frames: RecordedFrames, *, after: bool) -> Landing | None:
        """The start of the next (previous) sequence of those GetSequences gives."""
        shown = self.player.shown
        assert shown is not None, "seeks are obeyed once a frame is shown"
        time = shown.time
        span, count = recordings.MAX_SPAN_S, 2  # the sequence shown, and the one beyond
        around = recordings.Around(
            time=time,
            before_s=0 if after else span,
            after_s=span if after else 0,
            before_count=0 if after else count,
            after_count=count if after else 0,
            tolerance=GAP_TOLERANCE_S,
        )
        found = await recordings.sequences_around(self.svc, [self.camera], around)
        # Cut at the time shown: the sequence shown starts (ends) there.
        starts = [s.start for s in found if (s.start > time if after else s.end < time)]
        if not starts:
            return None
        return await frames.locate(starts[0] if after else starts[-1])

    # --- the player's screen -----------------------------------------------------------------

    async def announce(self, spec: OutputSpec) -> None:
        """Nothing to send: each frame's Size extension says what it is."""

    async def show(self, frame: Frame, spec: OutputSpec, jpeg: bytes) -> None:
        config = frame.segment.config
        width, height = config.width, config.height
        crop = self.player.crop
        shown = crop_box(crop, width, height) if crop is not None else (0, 0, width, height)
        wanted = wanted_spec(self.player.request, config, self.svc.limits.level, crop)
        resampling = round(wanted.width / spec.width * RESAMPLING_UNIT)
        size = SizeInfo(width, height, shown, spec.width, spec.height, resampling)
        self._latest = (jpeg, frame.time, size)
        self._time = frame.time
        self._source = (width, height)
        landed, self._landing = self._landing, PlaybackEvent(0)
        self._edge = landed & PlaybackEvent.DATABASE_START
        self._notices = landed & _NOTICES
        self.wake()

    async def gap(self, start: float, end: float, *, sought: bool) -> None:
        if sought:
            self._landing |= PlaybackEvent.RANGE_NO_DATA

    async def end(self, frame: Frame, *, forward: bool) -> None:
        self._edge = PlaybackEvent.DATABASE_END if forward else PlaybackEvent.DATABASE_START
        self.wake()

    async def nowhere(self) -> None:
        self._notices |= PlaybackEvent.OUT_OF_RANGE
        self.wake()

    async def problem(self, detail: str) -> None:
        self._notices |= PlaybackEvent.DATABASE_ERROR
        self.wake()

    async def state(self, playing: bool, speed: float, frame: Frame) -> None:
        self._motion = motion(playing, speed)
        self.wake()


# --- RequestStream ---------------------------------------------------------------------------


async def _start_time(call: Call, seek: str | None, camera: Camera) -> float:
    """The time that picks the recorded stream to play: ``Time``, an edge of the recordings,
    now."""
    if seek in stream_options.EDGE_SEEKS:
        edge = await recordings.recording_edge(call.svc, camera, first=seek == "DbStart")
        if edge is None:
            raise CommandError(ErrorCode.NO_RECORDINGS_FOUND, recordings.NO_RECORDINGS)
        return edge
    if seek is not None:
        return parse_time(call.param("Time"), "Time")
    return call.svc.clock.now()


async def _first(stream: PlaybackStream, seek: str, time: float) -> Landing:
    try:
        landing = await stream.land(seek, time, stream.player.frames)
    except RecordingUnreadable as error:  # deleted by retention meanwhile, say
        raise CommandError(ErrorCode.SURVEILLANCE_SERVER_DOWN, f"cannot read {error}") from None
    if landing is None:
        raise CommandError(
            ErrorCode.NO_RECORDINGS_FOUND,
            f"nothing is recorded there ({seek} {render_time(time)})",
        )
    return landing


async def request_stream(call: Call) -> Reply:
    """A playback stream of ``CameraId``, paused at ``SeekType`` + ``Time`` (or at now); or,
    with a ``PlaybackControllerId``, where that controller is, playing when it plays."""
    principal = _may_play_back(call)
    picture = stream_options.picture(call, Picture(), None, zoom=False)
    delivery = stream_options.options(call)
    seek = stream_options.seek_type(call, relative=False)
    controller = None
    if (call.request.get("PlaybackControllerId") or "").strip():
        controller = controllers.controller_of(call)
        seek = "Time"
    camera = await viewable(call)
    svc = call.svc
    time = controller.position() if controller else await _start_time(call, seek, camera)
    try:
        stream_id = await recorded_stream(svc, camera, time, None)
    except CamgateError as error:  # a camera without streams: nothing can be recorded
        raise refusal(error, {ErrorKind.NOT_FOUND: ErrorCode.NO_RECORDINGS_FOUND}) from None
    frames = RecordedFrames(svc, camera, stream_id)
    stream = PlaybackStream(
        svc, principal, call.current.id, camera, frames, picture, delivery, controller
    )
    try:
        stream.begin(await _first(stream, seek or "Time", time))
        call.streams.add(stream)
    except CommandError:
        frames.close()
        raise
    if controller is not None:
        controller.follow(stream)
    return stream_options.opened(principal, stream.id)
