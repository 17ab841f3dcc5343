"""Who is watching what: every open live stream, with the bytes it has sent.

The status page reads this (per user: direct and transcoded streams, kB/s), and the client
timeout uses it to close the streams of a session that went silent.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import StrEnum


class Delivery(StrEnum):
    DIRECT = "direct"
    TRANSCODED = "transcoded"


@dataclass(slots=True)
class ByteCounter:
    """Bytes sent to every viewer since the start, closed streams included."""

    total: int = 0


@dataclass(eq=False, slots=True)
class Viewer:
    id: int
    session_id: str
    username: str
    camera_id: str
    stream_id: str
    delivery: Delivery
    #: "websocket", "mp4", "hls" or "mjpeg".
    protocol: str
    opened_at: float
    counter: ByteCounter
    bytes_sent: int = 0
    #: Set when the server ends this stream (its session ended or timed out, or the viewer may
    #: no longer watch it).
    ended: asyncio.Event = field(default_factory=asyncio.Event)
    #: Why the viewer may no longer watch, when that ended the stream ("": the session ended).
    refusal: str = ""

    def sent(self, size: int) -> None:
        self.bytes_sent += size
        self.counter.total += size

    def refuse(self, reason: str) -> None:
        """Ends the stream: its viewer may no longer watch it (a right was taken away)."""
        if not self.ended.is_set():
            self.refusal = reason
            self.ended.set()


class ViewerRegistry:
    """The open live streams. Lives on the event loop; bounded by the open connections."""

    def __init__(self) -> None:
        self._viewers: dict[int, Viewer] = {}
        self._ids = itertools.count(1)
        self.counter = ByteCounter()

    @contextlib.contextmanager
    def watching(
        self,
        *,
        session_id: str,
        username: str,
        camera_id: str,
        stream_id: str,
        delivery: Delivery,
        protocol: str,
        now: float,
        ended: asyncio.Event | None = None,
    ) -> Iterator[Viewer]:
        viewer = Viewer(
            next(self._ids),
            session_id,
            username,
            camera_id,
            stream_id,
            delivery,
            protocol,
            now,
            self.counter,
            ended=ended or asyncio.Event(),
        )
        self._viewers[viewer.id] = viewer
        try:
            yield viewer
        finally:
            self._viewers.pop(viewer.id, None)

    def viewers(self) -> list[Viewer]:
        return list(self._viewers.values())

    def end_session(self, session_id: str) -> int:
        """Ends every stream of a session; the count of streams ended."""
        ended = [v for v in self._viewers.values() if v.session_id == session_id]
        for viewer in ended:
            viewer.ended.set()
        return len(ended)
