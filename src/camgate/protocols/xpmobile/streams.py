"""The video streams of the protocol's connections (a ``VideoId`` each), and what every kind of
stream shares: the frames its client has not taken yet, the frame header, its end.

A stream is made by a command (``RequestStream``) and read on the video channel (video.py): by
push (a WebSocket, or one long HTTP response) or by pull (one frame per request). A kind of
stream (live.py, playback.py) subclasses :class:`VideoStream`: it runs :meth:`produce` while
the stream lives and answers :meth:`take` with a message for the client.

A stream ends with its session (a logout, ``Disconnect``, the client timeout: the viewer
registry sets :attr:`VideoStream.ended`), when its viewer may no longer watch, with
``CloseStream``, when its video ends (the camera was removed), or when nobody reads it for
:data:`UNREAD_S`. Streams are bounded per connection and in all.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import logging
import math
import uuid
from collections.abc import Iterator

from camgate.api.deps import Services
from camgate.identity.models import Principal
from camgate.live.viewers import Viewer
from camgate.protocols.xpmobile.call import Call
from camgate.protocols.xpmobile.errors import CommandError, ErrorCode
from camgate.protocols.xpmobile.frames import ByteOrder, Events, Frame, SizeInfo, StreamInfo, encode
from camgate.protocols.xpmobile.messages import guid

log = logging.getLogger(__name__)

#: A stream that no client reads for this long ends (a pull client that went away; a stream
#: requested and never opened). The clients pull at least every 10 s, backing off.
UNREAD_S = 30.0
#: How often a stream checks that it is read.
UNREAD_CHECK_S = 5.0
#: Push clients get a frame with only the events after this long without video, so that they
#: see the camera's state (and do not think the channel is dead).
HEARTBEAT_S = 2.0
MAX_PER_CONNECTION = 64
MAX_STREAMS = 10_000


class VideoStream(abc.ABC):
    """One ``VideoId``. Lives on the event loop."""

    def __init__(
        self,
        svc: Services,
        connection_id: str,
        principal: Principal,
        *,
        push: bool,
        order: ByteOrder,
        request_size: bool,
    ) -> None:
        self.svc = svc
        #: The ``VideoId``: a random GUID, the video channel's only key.
        self.id = str(uuid.uuid4())
        self.connection_id = connection_id
        self.principal = principal
        self.push = push
        self.order = order
        self.request_size = request_size
        #: Set once the stream has ended; also the ``ended`` event of its viewer registration,
        #: so that the server ending the session or the viewer ends the stream.
        self.ended = asyncio.Event()
        #: The viewer registration in force (the status page counts it); None between two.
        self.viewer: Viewer | None = None
        self._ready = asyncio.Event()
        self._number = 0
        #: The (LiveEvents, PlaybackEvents) bits of the last frame sent.
        self._sent_events: tuple[int | None, int | None] | None = None
        self._readers = 0
        self._reader = 0
        self._last_read = svc.clock.monotonic()
        self._task: asyncio.Task[None] | None = None

    # --- for a kind of stream --------------------------------------------------------------

    @abc.abstractmethod
    async def produce(self) -> None:
        """Makes the stream's video while it lives (its end ends the stream); calls
        :meth:`wake` when the client has something new to take."""

    @abc.abstractmethod
    def take(self) -> bytes | None:
        """A message with what the client has not taken yet; None when nothing is new."""

    @abc.abstractmethod
    def live_events(self) -> int | None:
        """The LiveEvents bits now; None for a stream without that extension."""

    def playback_events(self) -> int | None:
        """The PlaybackEvents bits now; None for a stream without that extension."""
        return None

    def position(self) -> float:
        """The time (seconds) that a frame with only the events carries; NaN: now."""
        return math.nan

    @property
    @abc.abstractmethod
    def camera_id(self) -> str | None:
        """The camera the stream shows (None: a playback controller, which shows none)."""

    @abc.abstractmethod
    async def change(self, call: Call) -> None:
        """ChangeStream with this stream's ``VideoId``."""

    def wake(self) -> None:
        self._ready.set()

    def _events(self) -> tuple[int | None, int | None]:
        return self.live_events(), self.playback_events()

    def frame(
        self,
        payload: bytes,
        wallclock: float,
        size: SizeInfo | None = None,
        stream_info: StreamInfo | None = None,
    ) -> bytes:
        """The next frame of the stream: the payload made at ``wallclock`` (seconds; NaN:
        now), with the Size extension when the client asked for it and the events."""
        self._number += 1
        when = wallclock if math.isfinite(wallclock) else self.svc.clock.now()
        current = self._events()
        sent = self._sent_events or (None, None)
        self._sent_events = current
        live, playback = (
            None if now is None else Events(now, now ^ (before or 0))
            for now, before in zip(current, sent, strict=True)
        )
        data = encode(
            Frame(
                self.id,
                # Cut, as the protocol's times are: a client that seeks to it finds this frame.
                math.floor(when * 1000),
                self._number,
                payload,
                size=size if self.request_size else None,
                live_events=live,
                playback_events=playback,
                stream_info=stream_info,
            ),
            self.order,
        )
        if self.viewer is not None:
            self.viewer.sent(len(data))
        return data

    # --- for the video channel -----------------------------------------------------------------

    def poll(self) -> bytes:
        """For a pull request: the newest frame not yet sent, else one with only the events."""
        self._last_read = self.svc.clock.monotonic()
        return self.take() or self.frame(b"", self.position())

    async def next_message(self, reader: int) -> bytes | None:
        """For a push reader: the next message, or one with only the events when they changed
        or nothing came for :data:`HEARTBEAT_S`. None once the stream has ended or another
        reader took over."""
        waited = 0.0
        while not self.ended.is_set() and reader == self._reader:
            self._last_read = self.svc.clock.monotonic()
            message = self.take()
            if message is not None:
                return message
            if waited >= HEARTBEAT_S or self._events() != self._sent_events:
                return self.frame(b"", self.position())
            self._ready.clear()
            started = self.svc.clock.monotonic()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._ready.wait(), HEARTBEAT_S - waited)
            waited += self.svc.clock.monotonic() - started
        return None

    @contextlib.contextmanager
    def reading(self) -> Iterator[int]:
        """A push reader while it lasts; the newest reader takes the stream over (a client
        that reconnects its channel)."""
        self._reader += 1
        self._readers += 1
        self.wake()
        try:
            yield self._reader
        finally:
            self._readers -= 1
            self._last_read = self.svc.clock.monotonic()

    def heard(self) -> None:
        """A sign of life from the client on the video channel (a keep-alive, a pull)."""
        self.svc.heard_from(self.principal)

    @property
    def refusal(self) -> str:
        """Why the server ended the stream, when it was the viewer's rights ("" otherwise)."""
        return self.viewer.refusal if self.viewer is not None else ""

    def close(self) -> None:
        self.ended.set()
        self.wake()

    async def aclose(self) -> None:
        """Ends the stream and waits until its work has stopped."""
        self.close()
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)

    # --- its life ------------------------------------------------------------------------------

    def start(self, table: StreamTable) -> None:
        self._task = asyncio.create_task(self._run(table), name=f"xpmobile-stream-{self.id}")

    async def _run(self, table: StreamTable) -> None:
        work = {
            asyncio.create_task(self.produce()),
            asyncio.create_task(self._while_read()),
        }
        ended = asyncio.create_task(self.ended.wait())
        try:
            done, _ = await asyncio.wait(work | {ended}, return_when=asyncio.FIRST_COMPLETED)
            for task in done - {ended}:
                if task.exception() is not None:
                    log.error("an XProtect Mobile stream failed", exc_info=task.exception())
        finally:
            for task in work | {ended}:
                task.cancel()
            await asyncio.gather(*work, ended, return_exceptions=True)
            self.close()
            table.remove(self)

    async def _while_read(self) -> None:
        while True:
            await asyncio.sleep(UNREAD_CHECK_S)
            unread = self.svc.clock.monotonic() - self._last_read
            if self._readers == 0 and unread > UNREAD_S:
                log.info("XProtect Mobile stream %s ended: nobody read it", self.id)
                return


class StreamTable:
    """The open streams of one command channel. Lives on the event loop."""

    def __init__(
        self, *, max_per_connection: int = MAX_PER_CONNECTION, max_streams: int = MAX_STREAMS
    ) -> None:
        self._max_per_connection = max_per_connection
        self._max_streams = max_streams
        self._streams: dict[str, VideoStream] = {}

    def add(self, stream: VideoStream) -> None:
        """Starts the stream; 26 beyond the bounds."""
        mine = len(self.opened_by(stream.connection_id))
        if mine >= self._max_per_connection or len(self._streams) >= self._max_streams:
            raise CommandError(
                ErrorCode.TOO_MANY_SESSIONS,
                f"too many open streams (at most {self._max_per_connection} per connection):"
                " close some first",
            )
        self._streams[stream.id] = stream
        stream.start(self)

    def get(self, video_id: str) -> VideoStream | None:
        """The stream of the video channel's URL (its id is the key: a random GUID)."""
        try:
            stream = self._streams.get(guid(video_id))
        except ValueError:
            return None
        return stream if stream is not None and not stream.ended.is_set() else None

    def of(self, connection_id: str, video_id: str) -> VideoStream:
        """A stream of this connection (21 for another connection's or an unknown one)."""
        stream = self.get(video_id)
        if stream is None or stream.connection_id != connection_id:
            raise CommandError(ErrorCode.UNKNOWN_ITEM_ID, "no such stream on this connection")
        return stream

    def opened_by(self, connection_id: str) -> list[VideoStream]:
        return [s for s in self._streams.values() if s.connection_id == connection_id]

    def remove(self, stream: VideoStream) -> None:
        if self._streams.get(stream.id) is stream:
            del self._streams[stream.id]

    async def aclose(self) -> None:
        """Ends every stream (the server stops): before the decoders and their threads go."""
        await asyncio.gather(*(stream.aclose() for stream in list(self._streams.values())))
