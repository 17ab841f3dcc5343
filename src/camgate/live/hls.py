"""Low-latency HLS (fMP4 parts) from a hub's shared fragments.

Parts are cut every 0.2 s and segments at the first keyframe after 1 s, from the very fragments
that direct viewers receive; nothing is muxed again. Playlists follow RFC 8216bis (LL-HLS):
blocking playlist reload (``_HLS_msn``/``_HLS_part``) and a preload hint for the next part.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from camgate.media.fanout import Closed, Drop, Notice
from camgate.media.hub import Fragment, InitSegment, LiveHub
from camgate.media.packet import TIMESCALE

#: Parts are closed before they pass this duration.
PART_TICKS = TIMESCALE // 5
#: What the playlist promises (PART-TARGET); leaves room for camera clock jitter.
PART_TARGET_S = 0.25
MIN_SEGMENT_TICKS = TIMESCALE
#: Complete segments kept (and listed); older ones are forgotten.
WINDOW = 7
#: An output nobody asked for in this long stops.
IDLE_S = 60.0


@dataclass(slots=True)
class Part:
    data: bytes
    duration: float
    independent: bool


@dataclass(slots=True)
class Segment:
    msn: int
    init: InitSegment
    init_id: int
    wallclock: float
    discontinuity: bool
    parts: list[Part] = field(default_factory=list)
    complete: bool = False

    @property
    def duration(self) -> float:
        return sum(part.duration for part in self.parts)


def render_playlist(segments: Sequence[Segment], *, query: str, next_part: tuple[int, int]) -> str:
    """The media playlist. ``query`` (``?token=…`` or empty) is appended to every URI."""
    complete = [s for s in segments if s.complete]
    target = max([math.ceil(s.duration) for s in complete] + [1])
    discontinuities_before = 0
    lines = [
        "#EXTM3U",
        "#EXT-X-VERSION:9",
        f"#EXT-X-TARGETDURATION:{target}",
        f"#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK={3 * PART_TARGET_S:.3f}",
        f"#EXT-X-PART-INF:PART-TARGET={PART_TARGET_S:.3f}",
        f"#EXT-X-MEDIA-SEQUENCE:{segments[0].msn if segments else 0}",
        f"#EXT-X-DISCONTINUITY-SEQUENCE:{discontinuities_before}",
    ]
    last_init: int | None = None
    # Parts are listed for the last few segments only (RFC 8216bis 4.4.4.9).
    with_parts = {s.msn for s in segments[-3:]}
    for segment in segments:
        if segment.discontinuity and last_init is not None:
            lines.append("#EXT-X-DISCONTINUITY")
        if segment.init_id != last_init:
            lines.append(f'#EXT-X-MAP:URI="init/{segment.init_id}.mp4{query}"')
            last_init = segment.init_id
        stamp = datetime.fromtimestamp(segment.wallclock, UTC).isoformat(timespec="milliseconds")
        lines.append(f"#EXT-X-PROGRAM-DATE-TIME:{stamp.replace('+00:00', 'Z')}")
        if segment.msn in with_parts:
            for index, part in enumerate(segment.parts):
                independent = ",INDEPENDENT=YES" if part.independent else ""
                lines.append(
                    f"#EXT-X-PART:DURATION={part.duration:.5f},"
                    f'URI="part/{segment.msn}.{index}.m4s{query}"{independent}'
                )
        if segment.complete:
            lines.append(f"#EXTINF:{segment.duration:.5f},")
            lines.append(f"segment/{segment.msn}.m4s{query}")
    next_msn, next_index = next_part
    lines.append(f'#EXT-X-PRELOAD-HINT:TYPE=PART,URI="part/{next_msn}.{next_index}.m4s{query}"')
    return "\n".join(lines) + "\n"


class HlsOutput:
    """Builds parts and segments of one stream while someone asks for them."""

    def __init__(self, hub: LiveHub) -> None:
        self._hub = hub
        self.segments: deque[Segment] = deque()
        self._next_msn = 0
        self._inits: dict[int, InitSegment] = {}
        self._init_ids: dict[int, int] = {}
        self._pending: list[Fragment] = []
        self._pending_start = 0
        self._segment_start = 0
        self._discontinuity = False
        self._changed = asyncio.Condition()
        self._last_request = asyncio.get_running_loop().time()
        self._task = asyncio.create_task(self._run(), name=f"hls-{hub.name}")

    @property
    def hub(self) -> LiveHub:
        return self._hub

    @property
    def closed(self) -> bool:
        return self._task.done()

    def touch(self) -> None:
        self._last_request = asyncio.get_running_loop().time()

    def init(self, init_id: int) -> InitSegment | None:
        return self._inits.get(init_id)

    def next_part(self) -> tuple[int, int]:
        if self.segments and not self.segments[-1].complete:
            return self.segments[-1].msn, len(self.segments[-1].parts)
        return self._next_msn, 0

    def segment(self, msn: int) -> Segment | None:
        for segment in self.segments:
            if segment.msn == msn:
                return segment
        return None

    def part(self, msn: int, index: int) -> Part | None:
        segment = self.segment(msn)
        if segment is None or index >= len(segment.parts):
            return None
        return segment.parts[index]

    async def wait_for(self, msn: int, part: int | None, within_s: float) -> bool:
        """Wait until part ``part`` of segment ``msn`` (or the whole segment) exists."""

        def ready() -> bool:
            segment = self.segment(msn)
            if segment is None:
                return bool(self.segments) and self.segments[0].msn > msn
            return (
                segment.complete if part is None else len(segment.parts) > part or segment.complete
            )

        async with self._changed:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait_for(ready), within_s)
        return ready()

    async def aclose(self) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        with self._hub.subscribe_fragments() as subscription:
            while loop.time() - self._last_request < IDLE_S:
                try:
                    item = await asyncio.wait_for(subscription.get(), timeout=IDLE_S / 4)
                except TimeoutError:
                    continue
                except Closed:
                    return
                if isinstance(item, Drop | Notice):
                    self._discontinuity = True
                    self._flush_part(end_dts=None)
                    self._close_segment()
                else:
                    self._add(item)
                async with self._changed:
                    self._changed.notify_all()

    def _init_id(self, init: InitSegment) -> int:
        key = id(init)
        if key not in self._init_ids:
            new_id = len(self._init_ids) + 1
            self._init_ids[key] = new_id
            self._inits[new_id] = init
            self._discontinuity = self._discontinuity or new_id > 1
        return self._init_ids[key]

    def _add(self, fragment: Fragment) -> None:
        dts = fragment.packet.dts
        current = self.segments[-1] if self.segments and not self.segments[-1].complete else None
        if current is not None and current.init is not fragment.init:
            self._flush_part(end_dts=None)
            self._close_segment()
            current = None
        if current is None and not fragment.is_keyframe:
            return  # a segment starts at a keyframe
        if (
            current is not None
            and fragment.is_keyframe
            and dts - self._segment_start >= MIN_SEGMENT_TICKS
        ):
            self._flush_part(end_dts=dts)
            self._close_segment()
            current = None
        if current is None:
            self._open_segment(fragment)
        elif self._pending and dts + fragment.packet.duration - self._pending_start > PART_TICKS:
            self._flush_part(end_dts=dts)
        if not self._pending:
            self._pending_start = dts
        self._pending.append(fragment)

    def _open_segment(self, fragment: Fragment) -> None:
        init_id = self._init_id(fragment.init)
        self.segments.append(
            Segment(
                self._next_msn,
                fragment.init,
                init_id,
                fragment.packet.wallclock,
                self._discontinuity,
            )
        )
        self._discontinuity = False
        self._next_msn += 1
        self._segment_start = fragment.packet.dts
        while sum(1 for s in self.segments if s.complete) > WINDOW:
            self.segments.popleft()

    def _flush_part(self, end_dts: int | None) -> None:
        if not self._pending or not self.segments:
            self._pending = []
            return
        last = self._pending[-1].packet
        end = end_dts if end_dts is not None else last.dts + last.duration
        self.segments[-1].parts.append(
            Part(
                b"".join(f.data for f in self._pending),
                (end - self._pending_start) / TIMESCALE,
                self._pending[0].is_keyframe,
            )
        )
        self._pending = []

    def _close_segment(self) -> None:
        if self.segments and not self.segments[-1].complete and self.segments[-1].parts:
            self.segments[-1].complete = True
        elif self.segments and not self.segments[-1].parts:
            self.segments.pop()
            self._next_msn -= 1


class HlsOutputs:
    """The HLS outputs in use, one per stream, started on first request."""

    def __init__(self) -> None:
        self._outputs: dict[str, HlsOutput] = {}

    def get(self, stream_id: str, hub: LiveHub) -> HlsOutput:
        output = self._outputs.get(stream_id)
        if output is None or output.closed or output.hub is not hub:
            output = HlsOutput(hub)
            self._outputs[stream_id] = output
        output.touch()
        return output

    async def aclose(self) -> None:
        for output in self._outputs.values():
            await output.aclose()
        self._outputs.clear()
