"""The recorder of one camera stream: the hub's packets into segment files, off the loop.

On the loop, packets are gathered per GOP; each GOP (with the keyframe that ends it, so the
writer can close its fragment at once) goes to a worker thread in one call. While that call
runs, the hub's subscription buffers (bounded, ADR 0003): a disk slower than the camera loses
whole GOPs, never the loop. Closed segments are handed to ``on_closed`` (the index) in order.
The camera's audio is gathered meanwhile and written with each GOP, into the sidecar of the
segment then open (ADR 0016).
"""

from __future__ import annotations

import asyncio
import errno
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from concurrent.futures import Executor
from dataclasses import dataclass, field
from pathlib import Path

from camgate.media.audio import AudioPacket
from camgate.media.fanout import Closed, Drop, Notice, Subscription
from camgate.media.hub import LiveHub, StreamStatus
from camgate.media.packet import MediaPacket
from camgate.media.segment import (
    DEFAULT_SEGMENT_DURATION,
    MAX_FRAGMENT_SAMPLES,
    ClosedSegment,
    RotationError,
    SegmentFiles,
    SegmentWriter,
    salvage,
)
from camgate.recording.models import RecorderState, RecorderStatus

log = logging.getLogger(__name__)

#: After a failed write, GOPs are dropped for this long before writing is tried again.
RETRY_S = 5.0
#: Audio held between two GOPs, at most: about 20 s (a camera whose video stalls while its
#: audio goes on loses the oldest).
AUDIO_BACKLOG = 1000
_DISK_FULL = frozenset({errno.ENOSPC, errno.EDQUOT})


@dataclass(slots=True)
class _Written:
    """What one call of the worker did."""

    closed: list[ClosedSegment] = field(default_factory=list)
    #: The open segment's part on disk, after the call.
    open_part: ClosedSegment | None = None
    error: OSError | None = None


class StreamRecorder:
    """Records one hub until it closes or :meth:`stop` is called."""

    def __init__(
        self,
        camera_id: str,
        stream_id: str,
        hub: LiveHub,
        root: Path,
        executor: Executor,
        *,
        on_closed: Callable[[str, str, ClosedSegment], Awaitable[None]],
        on_error: Callable[[StreamRecorder, OSError], Awaitable[None]],
        segment_duration: int = DEFAULT_SEGMENT_DURATION,
        audio: bool = True,
        files: SegmentFiles | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.camera_id = camera_id
        self.stream_id = stream_id
        self.hub = hub
        #: Whether the camera's audio is recorded too.
        self.audio = audio
        self._executor = executor
        self._on_closed = on_closed
        self._on_error = on_error
        self._monotonic = monotonic
        self._writer = SegmentWriter(
            root, camera_id, stream_id, segment_duration=segment_duration, files=files
        )
        self._open_part: ClosedSegment | None = None
        self._state = RecorderState.WAITING
        self._detail = ""
        self._retry_at = 0.0
        self._bytes = 0
        self._segments = 0
        self._subscription: Subscription[MediaPacket] | None = None
        self._task: asyncio.Task[None] | None = None
        self._audio: deque[AudioPacket] = deque(maxlen=AUDIO_BACKLOG)
        self._audio_subscription: Subscription[AudioPacket] | None = None
        self._audio_task: asyncio.Task[None] | None = None

    @property
    def open_part(self) -> ClosedSegment | None:
        """The part of the open segment already on disk (playback of the last minute)."""
        return self._open_part

    def status(self) -> RecorderStatus:
        return RecorderStatus(
            self.camera_id, self.stream_id, self._state, self._detail, self._bytes, self._segments
        )

    def start(self) -> None:
        self._subscription = self.hub.subscribe_packets()
        self._task = asyncio.create_task(
            self._run(self._subscription), name=f"record-{self.hub.name}"
        )
        if self.audio:
            self._audio_subscription = self.hub.subscribe_audio()
            self._audio_task = asyncio.create_task(
                self._gather_audio(self._audio_subscription), name=f"record-audio-{self.hub.name}"
            )

    @property
    def done(self) -> bool:
        return self._task is not None and self._task.done()

    async def stop(self) -> None:
        """Write what is held, close the open segment and index it."""
        if self._audio_subscription is not None:
            self._audio_subscription.close()
        if self._subscription is not None:
            self._subscription.close()
        if self._task is not None:
            await asyncio.shield(self._task)
        if self._audio_task is not None:
            await self._audio_task

    async def _gather_audio(self, subscription: Subscription[AudioPacket]) -> None:
        while True:
            try:
                item = await subscription.get()
            except Closed:
                return
            if isinstance(item, AudioPacket):
                self._audio.append(item)

    async def _run(self, subscription: Subscription[MediaPacket]) -> None:
        gop: list[MediaPacket] = []
        try:
            while True:
                try:
                    item = await subscription.get()
                except Closed:
                    break
                if isinstance(item, Drop | Notice):
                    if isinstance(item, Drop) or item.status != StreamStatus.ONLINE:
                        # Lost frames or a lost camera: what follows is a new run.
                        await self._hand_over(gop, close=True)
                        gop = []
                    continue
                gop.append(item)
                if item.is_keyframe or len(gop) >= MAX_FRAGMENT_SAMPLES:
                    await self._hand_over(gop, close=False)
                    gop = []
        finally:
            await self._hand_over(gop, close=True)

    async def _hand_over(self, packets: list[MediaPacket], *, close: bool) -> None:
        waiting = self._state in (RecorderState.DISK_FULL, RecorderState.FAILED)
        if waiting and self._monotonic() < self._retry_at:
            self._audio.clear()  # lost with the video it goes with
            return
        if not packets and not close:
            return
        audio = list(self._audio)
        self._audio.clear()
        loop = asyncio.get_running_loop()
        written = await loop.run_in_executor(self._executor, self._write, packets, audio, close)
        for segment in written.closed:
            self._segments += 1
            await self._on_closed(self.camera_id, self.stream_id, segment)
        self._open_part = written.open_part
        if written.error is not None:
            self._failed(written.error)
            await self._on_error(self, written.error)
        elif self._open_part is not None or written.closed:
            self._state = RecorderState.RECORDING
            self._detail = ""

    def _failed(self, error: OSError) -> None:
        full = error.errno in _DISK_FULL
        self._state = RecorderState.DISK_FULL if full else RecorderState.FAILED
        self._detail = "the recordings disk is full" if full else f"cannot write: {error}"
        self._retry_at = self._monotonic() + RETRY_S

    def _write(self, packets: list[MediaPacket], audio: list[AudioPacket], close: bool) -> _Written:
        """On a worker thread: the only place the writer is used."""
        written = _Written()
        try:
            for packet in packets:
                written.closed += self._writer.append(packet)
                self._bytes += len(packet.data)
            self._writer.append_audio(audio)
            self._bytes += sum(len(sound.data) for sound in audio)
            if close and (segment := self._writer.close()) is not None:
                written.closed.append(segment)
        except OSError as error:
            written.error = error
            if isinstance(error, RotationError):
                written.closed += error.closed
            written.closed += self._keep_what_was_written()
        written.open_part = self._writer.written()
        return written

    def _keep_what_was_written(self) -> list[ClosedSegment]:
        """After a failed write, the open segment's complete GOPs become a closed segment."""
        partial = self._writer.abandon()
        if partial is None:
            return []
        try:
            segment = salvage(partial)
        except OSError:
            log.exception("cannot close %s after a failed write; the next start will", partial)
            return []
        return [segment] if segment is not None else []
