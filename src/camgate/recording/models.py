"""Recording values shared by the service, the store and the adapters."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from camgate.media.recording_rules import RetentionLimits
from camgate.media.segment import ClosedSegment

#: Bytes in the GB of ``retention_gb`` (decimal, as disks are sold).
GB = 1_000_000_000


@dataclass(frozen=True, slots=True)
class RecordingConfig:
    """A camera's recording settings; the defaults are those of a new camera."""

    enabled: bool = True
    #: Position of the recorded stream among the camera's streams (0: the first, usually main).
    stream_position: int = 0
    #: None: no limit of that kind. Disk pressure deletes the oldest recordings regardless.
    retention_days: int | None = 7
    retention_gb: float | None = None
    #: Record the camera's audio too, when it sends some (ADR 0016).
    audio: bool = True

    def limits(self) -> RetentionLimits:
        max_bytes = None if self.retention_gb is None else int(self.retention_gb * GB)
        return RetentionLimits(self.retention_days, max_bytes)


@dataclass(frozen=True, slots=True)
class IndexedSegment:
    """A row of the index: a closed segment, and whose it is."""

    id: int
    camera_id: str
    stream_id: str
    segment: ClosedSegment


class RecorderState(StrEnum):
    #: Waiting for the stream's first keyframe.
    WAITING = "waiting"
    RECORDING = "recording"
    #: The disk is full and retention could not free space: no video is written.
    DISK_FULL = "disk_full"
    #: Writing failed for another reason; retried at the next keyframe.
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class RecorderStatus:
    camera_id: str
    stream_id: str
    state: RecorderState
    detail: str
    bytes_written: int
    segments_closed: int


@dataclass(frozen=True, slots=True)
class RecordingEvent:
    """Something an administrator should know happened to recording (a full disk, a repair)."""

    at: float
    kind: str
    camera_id: str | None
    detail: str
