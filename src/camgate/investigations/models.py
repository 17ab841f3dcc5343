"""Investigation values and the pure rules about them."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from camgate.core.errors import invalid

MAX_NAME = 100
MAX_CAMERAS = 64
#: The longest span one investigation covers: a week of video is already hours of export.
MAX_SPAN_S = 7 * 24 * 3600.0
#: Exports waiting or being prepared at once, server-wide: more are refused until some finish.
MAX_PENDING_EXPORTS = 16
#: The longest password a user may give a native export.
MAX_PASSWORD = 1024
MIN_PASSWORD = 8


class ExportFormat(StrEnum):
    MKV = "mkv"
    AVI = "avi"
    NATIVE = "native"


class ExportState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class Investigation:
    id: str
    name: str
    camera_ids: tuple[str, ...]
    start: float
    end: float
    owner: str
    owner_id: str | None
    created_at: float
    updated_at: float


@dataclass(frozen=True, slots=True)
class Export:
    id: str
    investigation_id: str
    format: ExportFormat
    state: ExportState
    #: 0 to 100.
    progress: int
    #: Bytes of the download, 0 until done.
    size: int
    error: str
    include_audio: bool
    password_protected: bool
    download_name: str
    requested_by: str
    created_at: float
    finished_at: float | None


def check_name(name: str) -> str:
    name = name.strip()
    if not name:
        raise invalid("an investigation needs a name")
    if len(name) > MAX_NAME:
        raise invalid(f"an investigation's name is at most {MAX_NAME} characters")
    return name


def check_span(start: float, end: float) -> None:
    if end <= start:
        raise invalid("an investigation ends after it starts")
    if end - start > MAX_SPAN_S:
        raise invalid(f"an investigation covers at most {MAX_SPAN_S / 86400:g} days")


def check_cameras(camera_ids: list[str]) -> tuple[str, ...]:
    if not camera_ids:
        raise invalid("an investigation needs at least one camera")
    if len(camera_ids) > MAX_CAMERAS:
        raise invalid(f"an investigation has at most {MAX_CAMERAS} cameras")
    unique = tuple(dict.fromkeys(camera_ids))
    if len(unique) != len(camera_ids):
        raise invalid("a camera appears twice in the investigation")
    return unique


def check_export_password(password: str | None) -> None:
    if password is not None and not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise invalid(f"an export's password has {MIN_PASSWORD} to {MAX_PASSWORD} characters")


_UNSAFE = re.compile(r"[^\w.-]+")


def download_name(investigation: str, export_format: ExportFormat, extension: str) -> str:
    """A file name that every system accepts: the investigation's name, made safe."""
    stem = _UNSAFE.sub("_", investigation).strip("._") or "investigation"
    return f"{stem[:80]}-{export_format.value}.{extension}"


def progress_percent(fraction: float) -> int:
    return max(0, min(100, int(fraction * 100)))
