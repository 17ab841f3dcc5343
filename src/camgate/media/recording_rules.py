"""Pure rules of recording: the timeline's intervals, keyframe seeking, retention (ADR 0009)."""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

SECONDS_PER_DAY = 86_400


@dataclass(frozen=True, slots=True)
class Interval:
    """A recorded time range, [start, end) in one clock (wall seconds or timeline ticks)."""

    start: float
    end: float


def merge_intervals(intervals: Iterable[Interval], tolerance: float) -> list[Interval]:
    """The union of ``intervals``, sorted, joining those less than ``tolerance`` apart.

    Segments of one run meet exactly on the timeline but their wall clocks do not (each segment
    anchors its own), so the timeline of recorded video needs a small tolerance to show one bar.
    """
    merged: list[Interval] = []
    for interval in sorted(intervals, key=lambda i: (i.start, i.end)):
        if merged and interval.start - merged[-1].end <= tolerance:
            last = merged[-1]
            merged[-1] = Interval(last.start, max(last.end, interval.end))
        else:
            merged.append(interval)
    return merged


def keyframe_at_or_before(keyframe_times: Sequence[int], time: int) -> int | None:
    """The index of the last keyframe at or before ``time`` (``keyframe_times`` ascending)."""
    index = bisect.bisect_right(keyframe_times, time) - 1
    return index if index >= 0 else None


# --- retention -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StoredSegment:
    """What retention needs to know of one closed segment (a row of the index)."""

    id: int
    camera_id: str
    start: float  # wall-clock seconds
    end: float
    size: int  # bytes
    #: Held by an investigation: never deleted, but its bytes count toward the camera's usage.
    held: bool = False


@dataclass(frozen=True, slots=True)
class HeldRange:
    """A camera's wall-clock span that an investigation keeps from retention."""

    camera_id: str
    start: float
    end: float


def held_by(segments: Iterable[StoredSegment], ranges: Iterable[HeldRange]) -> set[int]:
    """The ids of the segments that overlap a held range of their camera."""
    by_camera: dict[str, list[HeldRange]] = {}
    for held in ranges:
        by_camera.setdefault(held.camera_id, []).append(held)
    return {
        s.id
        for s in segments
        if any(h.start < s.end and s.start < h.end for h in by_camera.get(s.camera_id, ()))
    }


@dataclass(frozen=True, slots=True)
class RetentionLimits:
    """A camera's limits; None means no limit of that kind."""

    max_age_days: float | None = None
    max_bytes: int | None = None


def segments_to_delete(
    segments: Iterable[StoredSegment],
    limits: Mapping[str, RetentionLimits],
    now: float,
    bytes_to_free: int = 0,
) -> list[StoredSegment]:
    """The segments to delete, oldest first.

    In order: per camera, every unheld segment that ended more than its max age ago; then per
    camera its oldest unheld segments until its usage (held ones included) is within its max
    bytes; then, under disk-full pressure, the oldest unheld segments of all cameras until
    ``bytes_to_free`` bytes are freed. A camera without limits loses segments only to pressure.
    Held segments are never returned.
    """
    ordered = sorted(segments, key=lambda s: (s.start, s.id))
    doomed: set[int] = set()
    by_camera: dict[str, list[StoredSegment]] = {}
    for segment in ordered:
        by_camera.setdefault(segment.camera_id, []).append(segment)
    for camera_id, own in by_camera.items():
        camera_limits = limits.get(camera_id, RetentionLimits())
        doomed |= _too_old(own, camera_limits.max_age_days, now)
        doomed |= _over_size(own, camera_limits.max_bytes, doomed)
    freed = sum(s.size for s in ordered if s.id in doomed)
    for segment in ordered:
        if freed >= bytes_to_free:
            break
        if not segment.held and segment.id not in doomed:
            doomed.add(segment.id)
            freed += segment.size
    return [s for s in ordered if s.id in doomed]


def _too_old(own: Sequence[StoredSegment], max_age_days: float | None, now: float) -> set[int]:
    if max_age_days is None:
        return set()
    cutoff = now - max_age_days * SECONDS_PER_DAY
    return {s.id for s in own if not s.held and s.end < cutoff}


def _over_size(own: Sequence[StoredSegment], max_bytes: int | None, doomed: set[int]) -> set[int]:
    """The oldest unheld segments of one camera (oldest first) to fit its usage in max_bytes."""
    if max_bytes is None:
        return set()
    usage = sum(s.size for s in own if s.id not in doomed)
    chosen: set[int] = set()
    for segment in own:
        if usage <= max_bytes:
            break
        if not segment.held and segment.id not in doomed:
            chosen.add(segment.id)
            usage -= segment.size
    return chosen
