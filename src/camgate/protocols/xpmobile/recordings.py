"""Recordings over the protocol: GetSequences (the recorded stretches around a time, also
within an investigation), GetRecordingTime (where a camera's recordings begin or end) and
GetThumbnailByTime (a recorded frame as JPEG).

They run on what camgate's REST API runs on: the recording service's timeline (``GET
/cameras/{id}/recordings``) and its recording neighbours (``…/recordings/adjacent``), and the
recorded frames and rendering of playback (:mod:`camgate.recording.frames`, as the playback
WebSocket finds and shows them: the limitation level in force, privacy masks filled). Each
needs the ``playback`` permission, checked before a camera is looked up (ADR 0013), and
cameras the user may view (20 otherwise, as the REST API's 404).

GetSequences with ``InvestigationId`` answers the sequences within the investigation's span, of
cameras that are the investigation's: the investigation as the investigation service shows it
to the user (``GET /investigations/{id}``: investigations turned off 24, a role without Export
25, an investigation unknown or not the user's to see 21), and an ``ItemId`` that is not one of
its cameras 21, whether the user may view that camera or not.
"""

from __future__ import annotations

import base64
import math
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from camgate.api.deps import Services
from camgate.cameras.models import Camera
from camgate.core.errors import CamgateError, ErrorKind
from camgate.identity.models import Permission
from camgate.investigations.models import Investigation
from camgate.investigations.service import TURNED_OFF
from camgate.live.jpeg import JpegRequest
from camgate.media.player import Frame, RecordingUnreadable
from camgate.media.recording_rules import Interval, merge_intervals
from camgate.protocols.xpmobile.call import Call, Command, Needs, viewable
from camgate.protocols.xpmobile.errors import CommandError, ErrorCode, refusal
from camgate.protocols.xpmobile.evidence import feature_refusal
from camgate.protocols.xpmobile.messages import Block, Reply, guid
from camgate.protocols.xpmobile.times import LATEST_MS, parse_time, render_time
from camgate.recording.frames import (
    TIME_RESOLUTION_S,
    RecordedFrames,
    output_spec,
    recorded_stream,
)
from camgate.recording.playback import GAP_TOLERANCE_S

#: Most cameras one GetSequences asks about (a view's worth, with room to spare).
MAX_ITEMS = 100
#: Most sequences counted on either side of ``Time`` (the web client library asks for 10000).
MAX_COUNT = 10_000
#: The longest ``BeforeTime``/``AfterTime``/``MinTimeBetweenSequences`` (s): any span of the
#: protocol's times.
MAX_SPAN_S = LATEST_MS // 1000
#: The timeline is read this much at a time, outward from ``Time``, until the counts are met:
#: a client that asks for the one sequence before now within 30 days reads a chunk or two.
CHUNK_S = 6 * 3600.0

SEQUENCE_TYPES = ("Recording", "RecordingWithTrigger")
#: The span that bounds no sequence (no investigation named).
ALL_TIME = (-math.inf, math.inf)
NO_RECORDINGS = "nothing is recorded"

Find = Callable[[RecordedFrames, float], Awaitable[Frame | None]]


async def _landing(frames: RecordedFrames, time: float) -> Frame | None:
    landing = await frames.locate(time)
    return None if landing is None else landing.frame


async def _at_or_before(frames: RecordedFrames, time: float) -> Frame | None:
    return await frames.at(time) or await frames.previous(time)


async def _at_or_after(frames: RecordedFrames, time: float) -> Frame | None:
    return await frames.at(time) or await frames.next(time)


async def _after(frames: RecordedFrames, time: float) -> Frame | None:
    # Past the frame a Timestamp (cut to the millisecond) names, as frames.at looks at it.
    return await frames.next(time + TIME_RESOLUTION_S)


async def _before(frames: RecordedFrames, time: float) -> Frame | None:
    return await frames.previous(time)


#: GetThumbnailByTime's ``SeekType``: which frame a time shows. ``Time`` is where the playback
#: WebSocket's seek lands: the frame shown then, in a gap the next one, past the end the last.
SEEKS: dict[str, Find] = {
    "Time": _landing,
    "TimeOrBefore": _at_or_before,
    "TimeOrAfter": _at_or_after,
    "TimeBefore": _before,
    "TimeAfter": _after,
}


def _may_play_back(call: Call) -> None:
    if not call.user_principal.user.may(Permission.PLAYBACK):
        raise CommandError(ErrorCode.INSUFFICIENT_USER_RIGHTS, "your role may not play back video")


async def recording_edge(svc: Services, camera: Camera, *, first: bool) -> float | None:
    """Where the camera's recordings begin (``first``) or end, over all its streams; None when
    nothing is recorded. Found as "jump to recording" finds recordings: from before the first,
    from after the last."""
    time = 0.0 if first else math.inf
    found = [
        edge
        for stream in camera.streams
        if (edge := await svc.recordings.neighbour(camera.id, stream.id, time, after=first))
        is not None
    ]
    if not found:
        return None
    return min(found) if first else max(found)


def counted(found: Sequence[Interval], count: int, *, forward: bool) -> list[Interval]:
    """The ``count`` stretches of ``found`` (in time order) nearest where the reading began:
    the earliest when it read ``forward``, else the latest. Pure."""
    if count <= 0:
        return []
    return list(found[:count] if forward else found[-count:])


async def stretches(
    svc: Services,
    camera_ids: Sequence[str],
    span: tuple[float, float],
    count: int,
    tolerance: float,
    *,
    forward: bool,
) -> list[Interval]:
    """The recorded stretches of ``span`` (all cameras together, joined across gaps up to
    ``tolerance``), the ``count`` nearest its start (``forward``) or its end, read
    :data:`CHUNK_S` at a time from there until more than ``count`` are known: then the
    first ``count`` can grow no more."""
    low, high = span
    found: list[Interval] = []
    edge = low if forward else high
    while count > 0 and len(found) <= count:
        start, end = (
            (edge, min(high, edge + CHUNK_S)) if forward else (max(low, edge - CHUNK_S), edge)
        )
        if end <= start:
            break
        chunk = [
            interval
            for camera_id in camera_ids
            for interval in (await svc.recordings.timeline(camera_id, start, end)).intervals
        ]
        found = merge_intervals([*found, *chunk], tolerance)
        edge = end if forward else start
    return counted(found, count, forward=forward)


@dataclass(frozen=True, slots=True)
class Around:
    """What GetSequences asks for around a time: how far (s) and how many on either side, and
    the gap that still joins two stretches."""

    time: float
    before_s: int
    after_s: int
    before_count: int
    after_count: int
    tolerance: float


def _around(call: Call) -> Around:
    joining = call.whole("MinTimeBetweenSequences", 0, MAX_SPAN_S, 0)
    return Around(
        time=parse_time(call.param("Time"), "Time"),
        before_s=call.whole("BeforeTime", 0, MAX_SPAN_S, 0),
        after_s=call.whole("AfterTime", 0, MAX_SPAN_S, 0),
        before_count=call.whole("BeforeCount", 0, MAX_COUNT, MAX_COUNT),
        after_count=call.whole("AfterCount", 0, MAX_COUNT, MAX_COUNT),
        tolerance=max(GAP_TOLERANCE_S, joining),
    )


def _check_kinds(call: Call) -> None:
    """What GetSequences can answer: cameras' recordings."""
    request = call.request
    kind = request.get("ItemKind") or "Camera"
    if kind == "Microphone":
        raise CommandError(
            ErrorCode.UNKNOWN_ITEM_ID, "camgate has no microphones: ask for the camera's sequences"
        )
    if kind != "Camera":
        raise CommandError(ErrorCode.WRONG_INPUT_PARAMETER, "ItemKind must be Camera")
    seq_type = request.get("SeqType") or "Recording"
    if seq_type == "Motion":
        raise CommandError(
            ErrorCode.FEATURE_IS_DISABLED,
            "camgate does not detect motion: it has no motion sequences",
        )
    if seq_type not in SEQUENCE_TYPES:
        raise CommandError(
            ErrorCode.WRONG_INPUT_PARAMETER,
            "SeqType must be Recording, RecordingWithTrigger or Motion",
        )


async def _investigation(call: Call) -> Investigation | None:
    """The investigation ``InvestigationId`` names, as the investigation service shows it to
    the user; None when none is named (the library leaves it out, or sends it empty)."""
    if not (call.request.get("InvestigationId") or "").strip():
        return None
    investigation_id = call.guid("InvestigationId")
    try:
        return await call.svc.investigations.get(call.user_principal.user, investigation_id)
    except CamgateError as error:
        raise feature_refusal(error, TURNED_OFF) from None


def _of_investigation(name: str, investigation: Investigation | None) -> None:
    """21 for an ``ItemId`` that is not one of the investigation's cameras: it is no item of
    it (and says nothing of whether the camera exists)."""
    if investigation is None:
        return
    try:
        camera_id = guid(name)
    except ValueError:
        raise CommandError(ErrorCode.WRONG_INPUT_PARAMETER, "ItemId is not a GUID") from None
    if camera_id not in investigation.camera_ids:
        raise CommandError(
            ErrorCode.UNKNOWN_ITEM_ID,
            f"camera {camera_id} is not one of the cameras of investigation {investigation.id}",
        )


async def _items(call: Call, investigation: Investigation | None) -> list[Camera]:
    names = call.request.all("ItemId")
    if not any(name.strip() for name in names):
        raise CommandError(ErrorCode.MISSING_INPUT_PARAMETER, "ItemId is missing")
    if len(names) > MAX_ITEMS:
        raise CommandError(ErrorCode.INPUT_PARAMETER_TOO_LONG, f"at most {MAX_ITEMS} ItemId")
    found = {}
    for name in names:
        _of_investigation(name, investigation)
        camera = await viewable(call, "ItemId", name)
        found[camera.id] = camera
    return list(found.values())


async def sequences_around(
    svc: Services,
    cameras: Sequence[Camera],
    around: Around,
    within: tuple[float, float] = ALL_TIME,
) -> list[Interval]:
    """The cameras' recorded stretches (all together) that ``around`` asks for, within their
    first and last recordings and within ``within`` (an investigation's span)."""
    firsts = [await recording_edge(svc, camera, first=True) for camera in cameras]
    lasts = [await recording_edge(svc, camera, first=False) for camera in cameras]
    starts = [edge for edge in firsts if edge is not None]
    ends = [edge for edge in lasts if edge is not None]
    if not starts or not ends:
        return []
    ids = [camera.id for camera in cameras]
    time, tolerance = around.time, around.tolerance
    low = max(time - around.before_s, min(starts), within[0])
    high = min(time + around.after_s, max(ends), within[1])
    # A side that lies wholly outside [low, high] reads nothing; ``time`` itself may lie
    # outside an investigation's span.
    before, after = (low, min(time, high)), (max(time, low), high)
    earlier = await stretches(svc, ids, before, around.before_count, tolerance, forward=False)
    later = await stretches(svc, ids, after, around.after_count, tolerance, forward=True)
    return merge_intervals([*earlier, *later], tolerance)


async def get_sequences(call: Call) -> Reply:
    """The recorded stretches of the cameras ``ItemId`` (all together, as a view's timeline)
    around ``Time``: up to ``BeforeCount`` within ``BeforeTime`` seconds before it and up to
    ``AfterCount`` within ``AfterTime`` after it, cut to that window (and to the span of the
    investigation ``InvestigationId``), those less than ``MinTimeBetweenSequences`` seconds
    apart joined."""
    _may_play_back(call)
    _check_kinds(call)
    around = _around(call)
    investigation = await _investigation(call)
    cameras = await _items(call, investigation)
    span = ALL_TIME if investigation is None else (investigation.start, investigation.end)
    found = await sequences_around(call.svc, cameras, around, span)
    rows = tuple(
        Block(
            "Sequence",
            (
                ("StartTime", render_time(s.start)),
                ("EndTime", render_time(s.end)),
                ("TimeStamp", render_time(s.start)),
            ),
        )
        for s in found
    )
    return Reply(blocks=(Block("Sequences", children=rows),))


async def get_recording_time(call: Call) -> Reply:
    """``Time``: where the camera's recordings begin (``SeekType=DbStart``) or end
    (``DbEnd``); 32 when nothing is recorded."""
    _may_play_back(call)
    seek = call.param("SeekType")
    if seek not in ("DbStart", "DbEnd"):
        raise CommandError(ErrorCode.WRONG_INPUT_PARAMETER, "SeekType must be DbStart or DbEnd")
    camera = await viewable(call)
    edge = await recording_edge(call.svc, camera, first=seek == "DbStart")
    if edge is None:
        raise CommandError(ErrorCode.NO_RECORDINGS_FOUND, NO_RECORDINGS)
    return Reply(params=(("Time", render_time(edge)),))


async def get_thumbnail_by_time(call: Call) -> Reply:
    """The recorded frame that ``SeekType`` picks at ``Time``, as a base64 JPEG (out-param
    ``Thumbnail``, as the web client library reads it) and its capture time (``Timestamp``)."""
    _may_play_back(call)
    seek = call.request.get("SeekType") or "Time"
    find = SEEKS.get(seek)
    if find is None:
        raise CommandError(
            ErrorCode.WRONG_INPUT_PARAMETER, f"SeekType must be one of {', '.join(SEEKS)}"
        )
    time = parse_time(call.param("Time"), "Time")
    width, height = call.dest_size()
    quality = call.compression()
    camera = await viewable(call)
    svc = call.svc
    try:
        frames = RecordedFrames(svc, camera, await recorded_stream(svc, camera, time, None))
    except CamgateError as error:  # a camera without streams: nothing can be recorded
        raise refusal(error, {ErrorKind.NOT_FOUND: ErrorCode.NO_RECORDINGS_FOUND}) from None
    try:
        frame = await find(frames, time)
        if frame is None:
            raise CommandError(ErrorCode.NO_RECORDINGS_FOUND, NO_RECORDINGS)
        wanted = JpegRequest(width, height, quality=quality)
        jpeg = await frames.render(
            frame, output_spec(wanted, frame.segment.config, svc.limits.level)
        )
    except RecordingUnreadable as error:  # deleted by retention meanwhile, say
        raise CommandError(ErrorCode.SURVEILLANCE_SERVER_DOWN, f"cannot read {error}") from None
    finally:
        frames.close()
    if jpeg is None:
        raise CommandError(
            ErrorCode.SURVEILLANCE_SERVER_DOWN,
            f"the frame at {render_time(frame.time)} does not decode",
        )
    return Reply(
        params=(
            ("Thumbnail", base64.b64encode(jpeg).decode("ascii")),
            ("Timestamp", render_time(frame.time)),
        )
    )


COMMANDS: dict[str, Command] = {
    "GetSequences": Command(get_sequences, Needs.SESSION),
    "GetRecordingTime": Command(get_recording_time, Needs.SESSION),
    "GetThumbnailByTime": Command(get_thumbnail_by_time, Needs.SESSION),
}
