"""Live video over the protocol: ``RequestStream`` (``SignalType=Live``; ``Playback`` is
playback.py's), ``ChangeStream`` and ``CloseStream``, and the live stream they make.

A live stream is what camgate's own live clients get, through the same functions: the direct
or transcoded decision of ``live.service.decide`` (L2), JPEG frames from ``live.jpeg`` within
the limitation level in force with adaptive streaming, fMP4 fragments from the camera's hub,
and the viewer registration that the status page counts and that the session's end, the client
timeout and a right taken away end. ``StreamType=FragmentedMP4`` asks for direct streaming; when
the rules say transcode, the stream carries JPEG frames instead, which is how the protocol tells
a client to fall back.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Coroutine
from typing import Any

from camgate.api.deps import Services
from camgate.cameras.models import Camera
from camgate.core.errors import CamgateError, ErrorKind
from camgate.identity.models import Permission, Principal
from camgate.live import service as live
from camgate.live.access import viewable_camera, watching
from camgate.live.jpeg import JpegPlan, frames, plan
from camgate.live.viewers import Delivery
from camgate.media.fanout import Closed, Notice
from camgate.media.hub import Fragment, InitSegment, LiveHub, StreamStatus
from camgate.media.packet import TIMESCALE, StreamConfig
from camgate.media.transcode import JpegFrame, crop_box
from camgate.protocols.xpmobile import features, playback, stream_options
from camgate.protocols.xpmobile.call import Call, Command, Needs
from camgate.protocols.xpmobile.errors import CommandError, ErrorCode, refusal
from camgate.protocols.xpmobile.frames import (
    RESAMPLING_UNIT,
    ByteOrder,
    LiveEvent,
    SizeInfo,
    StreamInfo,
)
from camgate.protocols.xpmobile.messages import Reply
from camgate.protocols.xpmobile.stream_options import Options, Picture
from camgate.protocols.xpmobile.streams import VideoStream
from camgate.recording.models import RecorderState

log = logging.getLogger(__name__)

#: The viewers' protocol on the status page.
PROTOCOL = "xpmobile"
#: What RequestStream serves beyond its command (the login flags follow it).
CAPABILITIES = frozenset({features.FRAGMENTED_MP4})
#: Direct fragments a stream holds for a client that reads slowly (4 s at 30 fps) and their
#: bytes; beyond either, what is held is dropped and the stream waits for the next key frame.
MAX_PENDING = 120
MAX_PENDING_BYTES = 32 * 1024 * 1024
FOURCC = {"h264": "H264", "hevc": "H265"}
#: What the camera's recorder says of its recording. A recorder waiting for its first key frame
#: writes nothing yet: no bit. FAILED is a write that failed for another reason than a full
#: disk: the recordings (XProtect's media database) cannot be written, so DatabaseFail.
RECORDER_EVENTS = {
    RecorderState.RECORDING: LiveEvent.RECORDING,
    RecorderState.DISK_FULL: LiveEvent.DISK_FULL,
    RecorderState.FAILED: LiveEvent.DATABASE_FAIL,
}


# --- the stream ------------------------------------------------------------------------------


def live_events(status: StreamStatus, recorder: RecorderState | None) -> LiveEvent:
    """The LiveEvents bits of a camera whose video is in ``status`` and whose recorder is in
    ``recorder`` (None: the camera is not recorded). Pure."""
    if status is StreamStatus.ONLINE:
        feed = LiveEvent.LIVE_FEED
    elif status is StreamStatus.OFFLINE:
        feed = LiveEvent.CAMERA_CONNECTION_LOST
    else:
        feed = LiveEvent(0)
    recorded = LiveEvent(0) if recorder is None else RECORDER_EVENTS.get(recorder, LiveEvent(0))
    return feed | recorded


def _codec_fields(config: StreamConfig) -> tuple[int, int, int]:
    """Profile, level and compatibility of the stream, from its decoder configuration record."""
    record = config.extradata
    if config.codec == "h264":
        return record[1], record[3], record[2]
    return record[1] & 0x1F, record[12], int.from_bytes(record[2:6], "big")


class LiveStream(VideoStream):
    """Live video of one camera: direct (fMP4 fragments) or transcoded (JPEG frames)."""

    def __init__(
        self,
        svc: Services,
        principal: Principal,
        connection_id: str,
        camera: Camera,
        picture: Picture,
        *,
        direct: live.LiveTarget | None,
        push: bool,
        order: ByteOrder,
        request_size: bool,
        stream_info: bool,
    ) -> None:
        super().__init__(
            svc,
            connection_id,
            principal,
            push=push,
            order=order,
            request_size=request_size,
        )
        self.camera = camera
        self.picture = picture
        #: Every frame says what it holds (the client asked for fMP4: JPEG means fallback).
        self._stream_info = stream_info
        self._direct = direct
        self._hub: LiveHub | None = direct.hub if direct is not None else None
        self._changed = asyncio.Event()
        #: Transcoded: the newest JPEG not taken, with the plan that made it.
        self._latest: tuple[JpegPlan, JpegFrame] | None = None
        #: Direct: fragments not taken, their bytes, and the init segment the client has.
        self._pending: deque[Fragment] = deque()
        self._pending_bytes = 0
        self._skipping = False
        self._sent_init: InitSegment | None = None

    def plan(self) -> JpegPlan:
        svc, camera = self.svc, self.camera
        return plan(
            svc.runtime,
            camera.id,
            self.picture.jpeg_request(),
            svc.settings.tree.performance,
            svc.limits.level,
            None,
            camera.privacy_masks,
            self.picture.crop,
        )

    def source_size(self) -> tuple[int, int] | None:
        config = self._hub.config if self._hub is not None else None
        return (config.width, config.height) if config is not None else None

    async def change(self, call: Call) -> None:
        """ChangeStream: a new picture, which a transcoded stream starts making at once. A
        direct stream sends the camera's own video: only ``KeyFramesOnly`` changes it."""
        changed = stream_options.picture(call, self.picture, self.source_size(), zoom=True)
        if changed != self.picture:
            self.picture = changed
            self._changed.set()

    @property
    def camera_id(self) -> str:
        return self.camera.id

    def live_events(self) -> int:
        # Asked for every frame: the recorder's state is held in memory, no query.
        status = self._hub.status if self._hub is not None else StreamStatus.CONNECTING
        recorder = self.svc.recordings.status_of(self.camera.id)
        return int(live_events(status, recorder.state if recorder is not None else None))

    # --- making the video ----------------------------------------------------------------------

    async def produce(self) -> None:
        if self._direct is not None:
            await self._fragments(self._direct)
            return
        while True:
            self._changed.clear()
            try:
                chosen = self.plan()
            except CamgateError as error:
                log.info("XProtect Mobile stream %s ended: %s", self.id, error.detail)
                return
            self._hub = chosen.hub
            with watching(
                self.svc,
                self.principal,
                self.camera.id,
                chosen.stream_id,
                PROTOCOL,
                Delivery.TRANSCODED,
                self.ended,
            ) as viewer:
                self.viewer = viewer
                if not await self._until_changed(self._jpegs(chosen)):
                    return

    async def _until_changed(self, work: Coroutine[Any, Any, None]) -> bool:
        """Runs ``work`` until ChangeStream: True then, False when the work ended."""
        feed = asyncio.create_task(work)
        changed = asyncio.create_task(self._changed.wait())
        try:
            done, _ = await asyncio.wait({feed, changed}, return_when=asyncio.FIRST_COMPLETED)
        finally:  # also when the stream ends: the feed leaves its transcoder
            for task in (feed, changed):
                task.cancel()
            await asyncio.gather(feed, changed, return_exceptions=True)
        if feed in done:
            feed.result()
            return False
        return True

    async def _jpegs(self, chosen: JpegPlan) -> None:
        async for _spec, item in frames(self.svc.transcoders, self.svc.limits, chosen):
            if isinstance(item, JpegFrame):
                self._latest = (chosen, item)  # a slow client skips to the newest
                self.wake()
            elif isinstance(item, Notice):
                self.wake()  # the camera's state changed: the events say so

    async def _fragments(self, target: live.LiveTarget) -> None:
        with (
            watching(
                self.svc,
                self.principal,
                self.camera.id,
                target.stream_id,
                PROTOCOL,
                Delivery.DIRECT,
                self.ended,
            ) as viewer,
            target.hub.subscribe_fragments() as subscription,
        ):
            self.viewer = viewer
            while True:
                try:
                    item = await subscription.get()
                except Closed:
                    return
                if isinstance(item, Fragment):
                    self._hold(item)
                self.wake()

    def _hold(self, fragment: Fragment) -> None:
        if self.picture.key_frames_only and not fragment.is_keyframe:
            return
        too_many = len(self._pending) >= MAX_PENDING
        if too_many or self._pending_bytes + len(fragment.data) > MAX_PENDING_BYTES:
            self._pending.clear()
            self._pending_bytes = 0
            self._skipping = True
        if self._skipping and not fragment.is_keyframe:
            return
        self._skipping = False
        self._pending.append(fragment)
        self._pending_bytes += len(fragment.data)

    # --- what the client takes -----------------------------------------------------------------

    def take(self) -> bytes | None:
        return self._take_fragments() if self._direct is not None else self._take_jpeg()

    def _take_jpeg(self) -> bytes | None:
        if self._latest is None:
            return None
        chosen, jpeg = self._latest
        self._latest = None
        config = chosen.hub.config
        width, height = (config.width, config.height) if config else (jpeg.width, jpeg.height)
        shown = crop_box(chosen.crop, width, height) if chosen.crop else (0, 0, width, height)
        resampling = round(chosen.requested.width / jpeg.width * RESAMPLING_UNIT)
        size = SizeInfo(width, height, shown, jpeg.width, jpeg.height, resampling)
        info = StreamInfo("JPEG", key_frame=True) if self._stream_info else None
        return self.frame(jpeg.data, jpeg.wallclock, size, info)

    def _next_fragments(self) -> list[Fragment]:
        """The fragments of the next message: from a key frame when the client's init segment
        is not theirs, never past the next key frame (each message starts at most one), and
        from the newest key frame held when the client is more than a GOP behind."""
        pending = self._pending
        keys = [index for index, fragment in enumerate(pending) if fragment.is_keyframe]
        drop = keys[-1] if len(keys) > 1 else 0
        while pending and (
            drop > 0 or (pending[0].init is not self._sent_init and not pending[0].is_keyframe)
        ):
            self._pending_bytes -= len(pending.popleft().data)
            drop -= 1
        taken: list[Fragment] = []
        while pending and not (taken and pending[0].is_keyframe):
            taken.append(pending.popleft())
            self._pending_bytes -= len(taken[-1].data)
        return taken

    def _take_fragments(self) -> bytes | None:
        taken = self._next_fragments()
        if not taken:
            return None
        first = taken[0]
        init = first.init
        head = init.data if init is not self._sent_init else b""
        self._sent_init = init
        config = init.config
        width, height = config.width, config.height
        size = SizeInfo(width, height, (0, 0, width, height), width, height)
        profile, level, compatibility = _codec_fields(config)
        info = StreamInfo(
            FOURCC[config.codec],
            key_frame=first.is_keyframe,
            frame_count=len(taken),
            time_between_frames_ms=round(first.packet.duration * 1000 / TIMESCALE),
            profile=profile,
            level=level,
            compatibility=compatibility,
        )
        payload = head + b"".join(fragment.data for fragment in taken)
        return self.frame(payload, first.packet.wallclock, size, info)


# --- the commands ----------------------------------------------------------------------------


def _may_watch(call: Call) -> Principal:
    principal = call.user_principal
    if not principal.user.may(Permission.LIVE):  # before the camera is looked up (ADR 0013)
        raise CommandError(ErrorCode.INSUFFICIENT_USER_RIGHTS, "your role may not watch live video")
    return principal


def _open(
    call: Call, principal: Principal, camera: Camera, asked: Picture, delivery: Options
) -> LiveStream:
    """The stream, decided as the live WebSocket decides (camgate's errors pass through)."""
    svc = call.svc
    direct = None
    if delivery.fragmented:
        direct, reason = live.decide(svc, principal, camera, None, None, None)
        if reason is not None:
            log.info("XProtect Mobile: camera %s gets JPEG frames (%s)", camera.id, reason.value)
            direct = None
    stream = LiveStream(
        svc,
        principal,
        call.current.id,
        camera,
        asked,
        direct=direct,
        push=delivery.push,
        order=delivery.order,
        request_size=delivery.request_size,
        stream_info=delivery.fragmented,
    )
    if direct is None:
        stream.plan()  # now, so that a camera without video answers 17 (as live.mjpeg does)
    return stream


async def request_stream(call: Call) -> Reply:
    signal = stream_options.choice(call, "SignalType", ("Live", "Playback", "Upload"), "Live")
    if signal == "Playback":
        return await playback.request_stream(call)
    if signal != "Live":
        raise CommandError(ErrorCode.NOT_IMPLEMENTED, f"SignalType {signal} is not implemented")
    principal = _may_watch(call)
    camera_id = call.guid("CameraId")
    asked = stream_options.picture(call, Picture(), None, zoom=False)
    delivery = stream_options.options(call)
    try:
        camera = await viewable_camera(call.svc, principal, camera_id)
        stream = _open(call, principal, camera, asked, delivery)
    except CamgateError as error:
        raise refusal(error, {ErrorKind.NOT_FOUND: ErrorCode.UNKNOWN_CAMERA_ID}) from None
    call.streams.add(stream)
    return stream_options.opened(principal, stream.id)


def _stream(call: Call) -> VideoStream:
    return call.streams.of(call.current.id, call.guid("VideoId"))


async def change_stream(call: Call) -> Reply:
    await _stream(call).change(call)
    return Reply()


async def close_stream(call: Call) -> Reply:
    _stream(call).close()
    return Reply()


COMMANDS: dict[str, Command] = {
    "RequestStream": Command(request_stream, Needs.SESSION),
    "ChangeStream": Command(change_stream, Needs.SESSION),
    "CloseStream": Command(close_stream, Needs.SESSION),
}
