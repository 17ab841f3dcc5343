"""Paced playback of one stream's recordings: play at a speed either way, pause, seek, step a
frame either way; late frames skipped, gaps jumped, the recording being written followed.

What every client protocol's playback shares (camgate's playback WebSocket, the XProtect Mobile
adapter's playback streams): a :class:`Player` obeys :data:`Order`\\ s and shows frames on a
:class:`Screen`, which each protocol implements its own way. Finding and rendering frames is
:class:`camgate.recording.frames.RecordedFrames`; the pacing rules are
:mod:`camgate.media.player`'s.

Bounded: one job (find or render) in flight per player, since every job is awaited before the
next; one frame is shown at a time, and a frame that is late (a slow client, a busy server) is
skipped for the one due now, so nothing queues up. Orders wait in a queue of
:data:`ORDER_QUEUE`.
"""

from __future__ import annotations

import abc
import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from camgate.api.deps import Services
from camgate.api.times import iso
from camgate.live.jpeg import JpegRequest
from camgate.media.limits import OutputSpec
from camgate.media.packet import TIMESCALE
from camgate.media.player import Frame, Pace, RecordingUnreadable, hole, keyframes_only
from camgate.media.transcode import FrameRateGate, Rect
from camgate.recording.frames import Landing, RecordedFrames, output_spec
from camgate.recording.models import RecorderState
from camgate.recording.playback import GAP_TOLERANCE_S

log = logging.getLogger(__name__)

#: Orders waiting for the player; whoever gives more waits (or is refused).
ORDER_QUEUE = 8
#: Playing within this much of now (seconds) follows the recording being written: at its end it
#: waits for more rather than pausing.
LIVE_EDGE_S = 10.0
#: How often following looks for the recorder's next GOP.
FOLLOW_S = 0.5

#: Where a seek lands, found among the stream's frames (None: nowhere).
Find = Callable[[RecordedFrames], Awaitable[Landing | None]]


@dataclass(frozen=True, slots=True)
class Play:
    """Play on from the frame shown: at ``speed`` (negative: backward), else at the speed in
    force."""

    speed: float | None = None


@dataclass(frozen=True, slots=True)
class Pause:
    pass


@dataclass(frozen=True, slots=True)
class Seek:
    """Show the frame ``find`` lands on, and play on from it when playing."""

    find: Find


@dataclass(frozen=True, slots=True)
class Step:
    """Pause and show the next frame (1) or the previous one (-1)."""

    frames: int


@dataclass(frozen=True, slots=True)
class Reshape:
    """Show the frames as ``request`` asks, of the part ``crop`` of the picture (None: all)."""

    request: JpegRequest
    crop: Rect | None = None


#: What a player obeys; a ``str`` is a problem with an order, told to the screen.
Order = Play | Pause | Seek | Step | Reshape | str


class Screen(abc.ABC):
    """Where a player shows what happens, as a protocol tells its client."""

    @abc.abstractmethod
    async def announce(self, spec: OutputSpec) -> None:
        """The JPEGs from now on are ``spec``."""

    @abc.abstractmethod
    async def show(self, frame: Frame, spec: OutputSpec, jpeg: bytes) -> None:
        """The frame's picture."""

    @abc.abstractmethod
    async def gap(self, start: float, end: float, *, sought: bool) -> None:
        """Nothing is recorded from ``start`` to ``end``, where the next frame is: playing
        jumped the gap, or (``sought``) a seek to ``start`` landed after it."""

    @abc.abstractmethod
    async def end(self, frame: Frame, *, forward: bool) -> None:
        """Playback paused at the last frame recorded (``forward``), or the first."""

    @abc.abstractmethod
    async def nowhere(self) -> None:
        """A seek found no frame; the frame shown stays."""

    @abc.abstractmethod
    async def problem(self, detail: str) -> None:
        """An order that cannot be obeyed, or video that cannot be read or decoded."""

    @abc.abstractmethod
    async def state(self, playing: bool, speed: float, frame: Frame) -> None:
        """Playing (at ``speed``) or paused, at ``frame``: after every order and every stop."""


class Conductor:
    """The one clock of players that play as one (synced playback of several cameras): where
    playback is at each moment, and how fast. Whoever steers them sets it first, then gives
    every player the same order. A player that follows it is paced by it rather than by the
    frame it shows, so all show the frame of the same moment, and each waits out a gap in its
    own recordings instead of jumping it."""

    def __init__(self, monotonic: float, time: float) -> None:
        self.playing = False
        self.pace = Pace(monotonic, time, 1.0)

    def position(self, now: float) -> float:
        """The capture time at ``now`` (monotonic)."""
        return self.pace.position(now) if self.playing else self.pace.time

    def play(self, speed: float, now: float) -> None:
        self.pace = Pace(now, self.position(now), speed)
        self.playing = True

    def pause(self, now: float) -> None:
        self.pace = Pace(now, self.position(now), self.pace.speed)
        self.playing = False

    def seek(self, time: float, now: float) -> None:
        self.pace = Pace(now, time, self.pace.speed)


class Player:
    """One viewer's playback of one stream: position, state, speed, what is shown.

    ``run`` plays from a first landing and obeys :attr:`orders` until it is cancelled. With a
    ``conductor`` it keeps to that clock (its orders must come with the conductor's).
    """

    def __init__(
        self,
        svc: Services,
        camera_id: str,
        frames: RecordedFrames,
        screen: Screen,
        request: JpegRequest,
        speed: float,
        *,
        playing: bool = True,
        crop: Rect | None = None,
        conductor: Conductor | None = None,
    ) -> None:
        self._svc = svc
        self.conductor = conductor
        self._camera_id = camera_id
        self.frames = frames
        self._screen = screen
        self._request = request
        self._crop = crop
        self._speed = speed
        self._playing = playing
        self.orders: asyncio.Queue[Order] = asyncio.Queue(ORDER_QUEUE)
        self._spec: OutputSpec | None = None
        #: The frame the client sees (or was told does not decode), and the last frame playback
        #: reached (shown, or skipped by the rate gate or for being late).
        self._shown: Frame | None = None
        self._at: Frame | None = None
        self._pace = Pace(0.0, 0.0, speed)
        self._gate = FrameRateGate(1.0)
        #: Whether playing waits at the end of the recording being written.
        self._following = False

    @property
    def shown(self) -> Frame | None:
        return self._shown

    @property
    def request(self) -> JpegRequest:
        """What the frames are asked to be, in force for the frame being shown."""
        return self._request

    @property
    def crop(self) -> Rect | None:
        """The part of the picture shown, in force for the frame being shown."""
        return self._crop

    async def run(self, first: Landing) -> None:
        """Shows ``first`` and obeys orders until cancelled; releases the decoder then."""
        try:
            await self._announce(first.frame)
            await self._land(first, sought=True)
            while True:
                try:
                    await self._advance()
                except RecordingUnreadable as error:  # deleted by retention meanwhile, say
                    log.info("playback: %s", error)
                    self._playing = False
                    await self._screen.problem(f"cannot read {error}")
                    await self._send_state()
        finally:
            self.frames.close()

    async def _advance(self) -> None:
        if self._playing:
            await self._play_next()
        else:
            await self._obey(await self.orders.get())

    async def _obey(self, order: Order) -> None:
        shown = self._shown
        assert shown is not None
        match order:
            case str():
                await self._screen.problem(order)
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
            case Seek(find=find):
                await self._seek(find)
            case Step(frames=frames):
                await self._step(frames)
            case Reshape(request=request, crop=crop):
                await self._reshape(request, crop)

    async def _seek(self, find: Find) -> None:
        landing = await find(self.frames)
        if landing is None:
            await self._screen.nowhere()
            return
        await self._land(landing, sought=True)

    async def _land(self, landing: Landing, *, sought: bool) -> None:
        """Show where a seek landed, then say the state (paused at the end)."""
        frame = landing.frame
        if landing.gap_from is not None:
            await self._screen.gap(landing.gap_from, frame.time, sought=sought)
        await self._show_or_tell(frame)
        self._at = self._shown
        if landing.end:
            await self._end(forward=True)
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
                await self._end(forward=True)
                return
            await self._tell_gap(shown, frame)
            await self._show_or_tell(frame)
        else:
            # At the first frame recorded, stepping back shows it again.
            frame = await self.frames.previous(shown.time) or shown
            await self._show_or_tell(frame, keep_earlier=True)
        self._at = self._shown
        await self._send_state()

    async def _reshape(self, request: JpegRequest, crop: Rect | None) -> None:
        """A new picture: paused, the frame shown is shown again in it; playing, the next."""
        self._request, self._crop = request, crop
        shown = self._shown
        assert shown is not None
        if not self._playing:
            await self._show_or_tell(shown, keep_earlier=True)

    async def _play_next(self) -> None:
        """Show the next frame when it is due, unless an order comes first."""
        at = self._at
        assert at is not None
        forward = self._speed > 0
        keyframes = keyframes_only(abs(self._speed))
        if forward:
            frame = await self.frames.next(at.time, keyframes)
        else:
            frame = await self.frames.previous(at.time, keyframes)
        if frame is None:
            await self._follow_or_end(at, forward=forward)
            return
        jumped = await self._tell_gap(*((at, frame) if forward else (frame, at)))
        if (jumped or self._following) and self.conductor is None:
            self._restart_pace(frame.time)  # straight on: neither takes playing time
        elif not await self._wait_until(self._pace.due(frame.time)):
            return  # an order came first and was obeyed
        now = self._svc.clock.monotonic()
        if self._pace.late(frame.time, now):
            frame = await self._catch_up(frame, now, keyframes)
        self._at = frame
        if self._spec_for(frame) != self._spec:
            await self._announce(frame)
        # Backward, the gate sees capture times counted down: it admits by rising timestamps.
        ticks = round(frame.time * TIMESCALE)
        if self._gate.admit(ticks if forward else -ticks):
            await self._show(frame, alone=keyframes, keep_earlier=not forward)

    async def _follow_or_end(self, at: Frame, *, forward: bool) -> None:
        """At the end of what is recorded: wait for more if the stream is being recorded and
        playback is near it; else pause there (``end``). Backward, at the first frame: pause."""
        if not forward or not self._near_recording(at):
            if at != self._shown:  # skipped by the rate gate: the last frame is shown all the same
                await self._show(at, keep_earlier=not forward)
            await self._end(forward=forward)
            return
        # The recorder adds a GOP at a time: look again a little later (or obey an order).
        self._following = True
        await self._wait_until(self._svc.clock.monotonic() + FOLLOW_S)

    def _near_recording(self, at: Frame) -> bool:
        status = self._svc.recordings.status_of(self._camera_id)
        return (
            status is not None
            and status.stream_id == self.frames.stream_id
            and status.state is RecorderState.RECORDING
            and at.end >= self._svc.clock.now() - LIVE_EDGE_S
        )

    async def _catch_up(self, frame: Frame, now: float, keyframes: bool) -> Frame:
        """The frame due now instead of a late one, unless a gap lies between them."""
        finder = self.frames.finder
        look = functools.partial(finder.at, self._pace.position(now), keyframes_only=keyframes)
        due = await self.frames.job(look)
        forward = self._speed > 0
        if due is None or (due.time <= frame.time if forward else due.time >= frame.time):
            return frame
        earlier, later = (frame, due) if forward else (due, frame)
        if hole(finder.pieces, earlier.end, later.time, GAP_TOLERANCE_S) is not None:
            return frame
        return due

    async def _wait_until(self, due: float) -> bool:
        """Whether ``due`` came; False when an order came first (it is obeyed)."""
        try:
            order = self.orders.get_nowait()
        except asyncio.QueueEmpty:
            delay = due - self._svc.clock.monotonic()
            if delay <= 0:
                return True
            try:
                order = await asyncio.wait_for(self.orders.get(), delay)
            except TimeoutError:
                return True
        await self._obey(order)
        return False

    async def _end(self, *, forward: bool) -> None:
        """Nothing is recorded beyond the position: pause there."""
        shown = self._shown
        assert shown is not None
        self._playing = False
        self._at = shown
        await self._screen.end(shown, forward=forward)
        await self._send_state()

    def _restart_pace(self, time: float) -> None:
        """Pace from ``time`` now (play, a seek, a new speed, after a gap or a wait); by the
        conductor's clock when there is one."""
        if self.conductor is not None:
            self._pace = self.conductor.pace
        else:
            self._pace = Pace(self._svc.clock.monotonic(), time, self._speed)
        self._following = False
        self._restart_gate()

    def _restart_gate(self) -> None:
        """The output's rate cap, in capture time: at 4× a 30 FPS cap lets every 4th frame of a
        30 FPS stream through (the others are decoded, not encoded)."""
        assert self._spec is not None
        self._gate = FrameRateGate(self._spec.fps / abs(self._speed))

    # --- showing ------------------------------------------------------------------------------

    def _spec_for(self, frame: Frame) -> OutputSpec:
        return output_spec(self._request, frame.segment.config, self._svc.limits.level, self._crop)

    async def _announce(self, frame: Frame) -> None:
        """What the JPEGs are (again whenever that changes)."""
        self._spec = self._spec_for(frame)
        await self._screen.announce(self._spec)
        self._restart_gate()

    async def _show(self, frame: Frame, *, alone: bool = False, keep_earlier: bool = False) -> bool:
        """Show the frame; False when it does not decode."""
        if self._spec_for(frame) != self._spec:
            await self._announce(frame)
        spec = self._spec
        assert spec is not None
        jpeg = await self.frames.render(
            frame, spec, crop=self._crop, alone=alone, keep_earlier=keep_earlier
        )
        if jpeg is None:
            return False
        await self._screen.show(frame, spec, jpeg)
        self._shown = frame
        return True

    async def _show_or_tell(self, frame: Frame, *, keep_earlier: bool = False) -> None:
        """Show a frame asked for; one that does not decode is said so, and stood at all the
        same (playing skips such frames silently)."""
        if not await self._show(frame, keep_earlier=keep_earlier):
            await self._screen.problem(f"the frame at {iso(frame.time)} does not decode")
            self._shown = frame

    async def _tell_gap(self, earlier: Frame, later: Frame) -> bool:
        """Tell the screen if the recordings have a gap between the two frames."""
        found = hole(self.frames.finder.pieces, earlier.end, later.time, GAP_TOLERANCE_S)
        if found is not None:
            await self._screen.gap(found[0], later.time, sought=False)
        return found is not None

    async def _send_state(self) -> None:
        shown = self._shown
        assert shown is not None
        await self._screen.state(self._playing, self._speed, shown)
