"""Playback controllers: synced playback of several cameras. ``CreatePlaybackController`` makes
one (a ``PlaybackControllerId``), playback streams requested with it follow it, and
``ChangeMultipleStreams`` (or ``ChangeStream`` with its id) plays, pauses and seeks them all
at once.

A controller is a :class:`camgate.recording.pacing.Conductor`: the one clock its streams keep
to, so that each shows the frame of the same moment and waits out a gap in its own recordings
rather than jumping it. Its id is also a video channel (the library opens it): frames with no
picture that carry the controller's time and its PlaybackEvents (stopped, forward, backward),
a few a second while it plays. It ends with ``CloseStream``, a newer controller of the
connection (``CloseOldControllers``), or the session, and its streams end with it.
"""

from __future__ import annotations

import asyncio
from typing import Protocol

from camgate.api.deps import Services
from camgate.identity.models import Permission, Principal
from camgate.protocols.xpmobile import stream_options
from camgate.protocols.xpmobile.call import Call, Command, Needs
from camgate.protocols.xpmobile.errors import CommandError, ErrorCode
from camgate.protocols.xpmobile.frames import ByteOrder, motion
from camgate.protocols.xpmobile.messages import Reply
from camgate.protocols.xpmobile.streams import VideoStream
from camgate.protocols.xpmobile.times import parse_time
from camgate.recording.pacing import Conductor

#: How often a playing controller tells its time.
TICK_S = 0.25
#: The seeks a controller takes: to a time (each stream lands as ChangeStream's seek would).
#: The others depend on one camera's recordings.
SEEKS = stream_options.TIME_SEEKS


class Follower(Protocol):
    """A playback stream that follows a controller."""

    ended: asyncio.Event

    def check_steer(self, call: Call) -> None:
        """Refuses (raises) a change it cannot take now, before any stream is changed."""

    def steer(self, call: Call) -> None:
        """The seek and speed of the call, obeyed by the stream's player."""

    def close(self) -> None: ...


class ControllerStream(VideoStream):
    def __init__(
        self,
        svc: Services,
        connection_id: str,
        principal: Principal,
        time: float,
        *,
        push: bool,
        order: ByteOrder,
    ) -> None:
        super().__init__(
            svc,
            connection_id,
            principal,
            push=push,
            order=order,
            request_size=False,
        )
        self.conductor = Conductor(svc.clock.monotonic(), time)
        self.followers: list[Follower] = []
        self._tick = False

    @property
    def camera_id(self) -> None:
        return None

    def live_events(self) -> None:
        return None

    def playback_events(self) -> int:
        return int(motion(self.conductor.playing, self.conductor.pace.speed))

    def position(self) -> float:
        return self.conductor.position(self.svc.clock.monotonic())

    def take(self) -> bytes | None:
        if not self._tick:
            return None
        self._tick = False
        return self.frame(b"", self.position())

    async def produce(self) -> None:
        while True:
            await asyncio.sleep(TICK_S)
            if self.conductor.playing:
                self._tick = True
                self.wake()

    async def change(self, call: Call) -> None:
        """ChangeStream with the controller's id: as ChangeMultipleStreams."""
        self.steer_all(call)

    def follow(self, follower: Follower) -> None:
        self._forget_ended()
        self.followers.append(follower)

    def steer_all(self, call: Call) -> None:
        """The clock first, then every stream the same order; nothing changes when any of
        them refuses."""
        self._forget_ended()
        seek, time, speed = _changes(call)
        for follower in self.followers:
            follower.check_steer(call)
        now = self.svc.clock.monotonic()
        if seek is not None:
            self.conductor.seek(time, now)
        if speed == 0:
            self.conductor.pause(now)
        elif speed is not None:
            self.conductor.play(speed, now)
        for follower in self.followers:
            follower.steer(call)
        self._tick = True
        self.wake()

    def _forget_ended(self) -> None:
        self.followers = [f for f in self.followers if not f.ended.is_set()]

    def close(self) -> None:
        super().close()
        for follower in self.followers:
            follower.close()


def _changes(call: Call) -> tuple[str | None, float, float | None]:
    """The seek (and its time) and the speed a change asks for; 14 for a seek the controller
    cannot make."""
    seek = stream_options.seek_type(call, relative=True)
    if seek is not None and seek not in SEEKS:
        raise CommandError(
            ErrorCode.WRONG_INPUT_PARAMETER,
            f"a playback controller seeks to a time ({', '.join(SEEKS)}), not {seek}",
        )
    time = parse_time(call.param("Time"), "Time") if seek is not None else 0.0
    speed_text = call.request.get("Speed") or ""
    speed = stream_options.bounded_speed(speed_text) if speed_text.strip() else None
    return seek, time, speed


def controller_of(call: Call, name: str = "PlaybackControllerId") -> ControllerStream:
    """The connection's controller that ``name`` names (21 otherwise)."""
    found = call.streams.of(call.current.id, call.guid(name))
    if not isinstance(found, ControllerStream):
        raise CommandError(ErrorCode.UNKNOWN_ITEM_ID, "no such playback controller")
    return found


async def create_playback_controller(call: Call) -> Reply:
    principal = call.user_principal
    if not principal.user.may(Permission.PLAYBACK):
        raise CommandError(ErrorCode.INSUFFICIENT_USER_RIGHTS, "your role may not play back video")
    if call.request.get("InvestigationId"):
        raise CommandError(
            ErrorCode.NOT_FULLY_IMPLEMENTED,
            "a playback controller over an investigation is not offered: play back its cameras",
        )
    stream_options.choice(call, "SeekType", ("Time",), "Time")
    text = call.request.get("Time") or ""
    time = parse_time(text, "Time") if text.strip() else call.svc.clock.now()
    delivery = stream_options.options(call)
    if (call.request.get("CloseOldControllers") or "Yes").casefold() == "yes":
        for old in call.streams.opened_by(call.current.id):
            if isinstance(old, ControllerStream):
                old.close()
    controller = ControllerStream(
        call.svc,
        call.current.id,
        principal,
        time,
        push=delivery.push,
        order=delivery.order,
    )
    call.streams.add(controller)
    return Reply(params=(("PlaybackControllerId", controller.id),))


async def change_multiple_streams(call: Call) -> Reply:
    controller_of(call).steer_all(call)
    return Reply()


COMMANDS: dict[str, Command] = {
    "CreatePlaybackController": Command(create_playback_controller, Needs.SESSION),
    "ChangeMultipleStreams": Command(change_multiple_streams, Needs.SESSION),
}
