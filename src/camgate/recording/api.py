"""Recordings of a camera: the timeline, playback files, recording settings and status."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import StreamingResponse
from pydantic import AwareDatetime, BaseModel, Field

from camgate.api.deps import (
    AdminPrincipal,
    CurrentPrincipal,
    PlaybackPrincipal,
    Services,
    ServicesDep,
    actor,
    media_principal,
    permitted,
    services,
)
from camgate.api.ranges import RangeNotSatisfiable, parse_range
from camgate.api.times import iso
from camgate.cameras.models import Camera
from camgate.core.errors import forbidden
from camgate.identity.models import Permission
from camgate.live.access import viewable_camera
from camgate.live.fallback import FallbackReason, fallback_reason
from camgate.media.packet import TIMESCALE
from camgate.recording.models import RecordingConfig
from camgate.recording.service import PlaybackFile

router = APIRouter(prefix="/api/v1", tags=["recordings"])

#: Bytes read from the segment files per chunk of a playback response.
CHUNK = 256 * 1024
#: The timeline's default: the last day.
DEFAULT_SPAN_S = 24 * 3600
#: A playback file's default length from its start.
DEFAULT_PLAYBACK_S = 3600
#: Why a playback file is refused, by the fallback reasons that can refuse one.
_REFUSED = {
    FallbackReason.PRIVACY_MASK: "this camera has privacy masks: only transcoded video leaves it",
    FallbackReason.DIRECT_DISABLED: "direct streaming is turned off on this server",
}

Start = Annotated[AwareDatetime | None, Query(description="ISO 8601 with a time zone")]
End = Annotated[AwareDatetime | None, Query(description="ISO 8601 with a time zone")]
Stream = Annotated[str | None, Query(description="A stream id; default: the recorded stream")]


class IntervalOut(BaseModel):
    start: str
    end: str


class RecordingsOut(BaseModel):
    camera_id: str
    stream_id: str | None = Field(description="The stream the intervals are of; null: none")
    start: str
    end: str
    intervals: list[IntervalOut] = Field(description="Recorded stretches; between them, gaps")


class SpanOut(BaseModel):
    """A stretch of the playback file from one segment: player time to wall time."""

    at: float = Field(description="Player time (s) where the stretch begins")
    wallclock: str = Field(description="Wall time of the stretch's first frame")
    duration: float = Field(description="Seconds")


class PlaybackOut(BaseModel):
    camera_id: str
    stream_id: str
    start: str
    end: str = Field(description="Where the file ends (earlier than asked at a config change)")
    size: int
    etag: str
    url: str = Field(description="The playback.mp4 of exactly this file")
    spans: list[SpanOut]


class AdjacentOut(BaseModel):
    time: str | None = Field(description="Start of the next (end of the previous) recording")


class RecordingSettingsIn(BaseModel):
    enabled: bool = True
    stream: int = Field(default=0, ge=0, le=7, description="Position of the recorded stream")
    retention_days: int | None = Field(default=7, ge=1, le=36_500)
    retention_gb: float | None = Field(default=None, gt=0, le=1_000_000)
    audio: bool = Field(default=True, description="Record the camera's audio, when it sends some")


class RecordingSettingsOut(RecordingSettingsIn):
    state: str = Field(description='"off", "waiting", "recording", "disk_full" or "failed"')
    detail: str


class RecorderOut(BaseModel):
    camera_id: str
    stream_id: str
    state: str
    detail: str
    bytes_written: int
    segments_closed: int


class EventOut(BaseModel):
    at: str
    kind: str
    camera_id: str | None
    detail: str


class DiskOut(BaseModel):
    folder: str
    total_bytes: int
    free_bytes: int
    min_free_bytes: int


class RecordingStatusOut(BaseModel):
    disk: DiskOut
    recorders: list[RecorderOut]
    events: list[EventOut]


def _range(
    start: AwareDatetime | None, end: AwareDatetime | None, now: float, default_s: float
) -> tuple[float, float]:
    if start is None and end is None:
        return now - default_s, now
    if start is None:
        assert end is not None
        return end.timestamp() - default_s, end.timestamp()
    if end is None:
        return start.timestamp(), start.timestamp() + default_s
    return start.timestamp(), end.timestamp()


@router.get("/cameras/{camera_id}/recordings", summary="The recorded intervals of a time range")
async def recordings(
    request: Request,
    camera_id: str,
    svc: ServicesDep,
    start: Start = None,
    end: End = None,
    stream: Stream = None,
) -> RecordingsOut:
    principal = permitted(await media_principal(request, camera_id), Permission.PLAYBACK)
    camera = await viewable_camera(svc, principal, camera_id)
    lo, hi = _range(start, end, svc.clock.now(), DEFAULT_SPAN_S)
    timeline = await svc.recordings.timeline(camera.id, lo, hi, stream)
    return RecordingsOut(
        camera_id=camera.id,
        stream_id=timeline.stream_id,
        start=iso(lo),
        end=iso(hi),
        intervals=[IntervalOut(start=iso(i.start), end=iso(i.end)) for i in timeline.intervals],
    )


@router.get(
    "/cameras/{camera_id}/recordings/adjacent",
    summary="Where the next or the previous recording is (jump to recording)",
)
async def adjacent(
    principal: PlaybackPrincipal,
    camera_id: str,
    svc: ServicesDep,
    time: Annotated[AwareDatetime, Query(description="ISO 8601 with a time zone")],
    direction: Annotated[str, Query(pattern="^(next|previous)$")] = "next",
    stream: Stream = None,
) -> AdjacentOut:
    camera = await viewable_camera(svc, principal, camera_id)
    at = time.timestamp()
    stream_id = stream or (await svc.recordings.timeline(camera.id, at - 1, at + 1)).stream_id
    if stream_id is None and camera.streams:  # in a gap: the stream the camera records
        position = (await svc.recordings.config(camera.id)).stream_position
        stream_id = camera.streams[min(position, len(camera.streams) - 1)].id
    found = None
    if stream_id is not None:
        found = await svc.recordings.neighbour(camera.id, stream_id, at, after=direction == "next")
    return AdjacentOut(time=iso(found) if found is not None else None)


async def _playback(
    request: Request,
    camera_id: str,
    start: AwareDatetime | None,
    end: AwareDatetime | None,
    stream: str | None,
) -> PlaybackFile:
    svc = services(request)
    principal = permitted(await media_principal(request, camera_id), Permission.PLAYBACK)
    camera = await viewable_camera(svc, principal, camera_id)
    _direct_allowed(svc, camera)
    lo, hi = _range(start, end, svc.clock.now(), DEFAULT_PLAYBACK_S)
    playback: PlaybackFile = await svc.recordings.playback(camera.id, lo, hi, stream)
    return playback


def _direct_allowed(svc: Services, camera: Camera) -> None:
    """A playback file is direct video: the fallback rules the server judges alone (L2) apply
    as to ``live.mp4``, and the client plays through the playback WebSocket instead."""
    reason = fallback_reason(
        direct_enabled=svc.settings.tree.performance.direct_streaming,
        has_privacy_masks=bool(camera.privacy_masks),
        stream_codec="",  # what the client decodes is its own concern for a file
        client_codecs=frozenset(),
        stream_fps=0,
    )
    if reason is not None:
        raise forbidden(f"{_REFUSED[reason]}: play it through the playback WebSocket")


@router.get(
    "/cameras/{camera_id}/playback.json",
    summary="What playback.mp4 of the same range holds: its end, size and spans",
)
async def playback_json(
    request: Request,
    camera_id: str,
    start: Start = None,
    end: End = None,
    stream: Stream = None,
) -> PlaybackOut:
    playback = await _playback(request, camera_id, start, end, stream)
    mp4 = playback.mp4
    url = (
        f"/api/v1/cameras/{camera_id}/playback.mp4?start={iso(playback.start)}"
        f"&end={iso(playback.end)}&stream={playback.stream_id}"
    )
    return PlaybackOut(
        camera_id=camera_id,
        stream_id=playback.stream_id,
        start=iso(playback.start),
        end=iso(playback.end),
        size=mp4.size,
        etag=mp4.etag,
        url=url,
        spans=[
            SpanOut(
                at=(span.media_start - mp4.media_start) / TIMESCALE,
                wallclock=iso(span.wallclock_start),
                duration=span.duration / TIMESCALE,
            )
            for span in mp4.spans
        ],
    )


_PLAYBACK_MP4 = "/cameras/{camera_id}/playback.mp4"
_PLAYBACK_RESPONSES: dict[int | str, dict[str, object]] = {
    200: {"content": {"video/mp4": {}}},
    206: {},
    304: {},
    416: {},
}


@router.get(
    _PLAYBACK_MP4,
    responses=_PLAYBACK_RESPONSES,
    summary="An MP4 of a time range, from the recordings without re-encoding (range requests)",
)
@router.head(
    _PLAYBACK_MP4,
    operation_id="playback_mp4_head",
    responses=_PLAYBACK_RESPONSES,
    summary="The headers playback.mp4 would answer with (size, ETag, end)",
)
async def playback_mp4(
    request: Request,
    camera_id: str,
    start: Start = None,
    end: End = None,
    stream: Stream = None,
) -> Response:
    playback = await _playback(request, camera_id, start, end, stream)
    mp4 = playback.mp4
    headers = {
        "Accept-Ranges": "bytes",
        "ETag": mp4.etag,
        "Cache-Control": "private, no-cache",
        "X-Camgate-End": iso(playback.end),
    }
    if request.headers.get("if-none-match") == mp4.etag:
        return Response(status_code=304, headers=headers)
    if_range = request.headers.get("if-range")
    try:
        wanted = (
            None
            if if_range not in (None, mp4.etag)
            else parse_range(request.headers.get("range"), mp4.size)
        )
    except RangeNotSatisfiable:
        headers["Content-Range"] = f"bytes */{mp4.size}"
        return Response(status_code=416, headers=headers)
    offset, length, status = 0, mp4.size, 200
    if wanted is not None:
        offset, length, status = wanted.start, wanted.length, 206
        headers["Content-Range"] = wanted.content_range(mp4.size)
    headers["Content-Length"] = str(length)
    if request.method == "HEAD":
        return Response(status_code=status, headers=headers, media_type="video/mp4")
    return StreamingResponse(
        _body(playback, offset, length), status_code=status, headers=headers, media_type="video/mp4"
    )


async def _body(playback: PlaybackFile, offset: int, length: int) -> AsyncIterator[bytes]:
    end = offset + length
    while offset < end:
        chunk = await asyncio.to_thread(playback.mp4.read, offset, min(CHUNK, end - offset))
        if not chunk:
            return
        offset += len(chunk)
        yield chunk


async def _settings_out(
    svc: Services, camera_id: str, config: RecordingConfig
) -> RecordingSettingsOut:
    status = svc.recordings.status_of(camera_id)
    state = status.state.value if status else "off"
    return RecordingSettingsOut(
        enabled=config.enabled,
        stream=config.stream_position,
        retention_days=config.retention_days,
        retention_gb=config.retention_gb,
        audio=config.audio,
        state=state if config.enabled else "off",
        detail=status.detail if status and config.enabled else "",
    )


@router.get("/cameras/{camera_id}/recording", summary="A camera's recording settings and state")
async def recording_settings(
    camera_id: str, principal: CurrentPrincipal, svc: ServicesDep
) -> RecordingSettingsOut:
    camera = await viewable_camera(svc, principal, camera_id)
    return await _settings_out(svc, camera.id, await svc.recordings.config(camera.id))


@router.put("/cameras/{camera_id}/recording", summary="Change a camera's recording settings")
async def set_recording_settings(
    camera_id: str,
    body: RecordingSettingsIn,
    admin: AdminPrincipal,
    request: Request,
    svc: ServicesDep,
) -> RecordingSettingsOut:
    config = RecordingConfig(
        body.enabled, body.stream, body.retention_days, body.retention_gb, body.audio
    )
    saved = await svc.recordings.set_config(camera_id, config)
    await svc.audit.record(
        actor(admin, request), "camera.recording", camera_id, **dataclasses.asdict(saved)
    )
    return await _settings_out(svc, camera_id, saved)


@router.get("/recording/status", summary="Recorders, the recordings disk and recent events")
async def recording_status(_admin: AdminPrincipal, svc: ServicesDep) -> RecordingStatusOut:
    disk = await svc.recordings.disk()
    return RecordingStatusOut(
        disk=DiskOut(
            folder=str(disk.root),
            total_bytes=disk.total_bytes,
            free_bytes=disk.free_bytes,
            min_free_bytes=disk.min_free_bytes,
        ),
        recorders=[
            RecorderOut(
                camera_id=s.camera_id,
                stream_id=s.stream_id,
                state=s.state.value,
                detail=s.detail,
                bytes_written=s.bytes_written,
                segments_closed=s.segments_closed,
            )
            for s in svc.recordings.statuses()
        ],
        events=[
            EventOut(at=iso(e.at), kind=e.kind, camera_id=e.camera_id, detail=e.detail)
            for e in svc.recordings.events
        ],
    )
