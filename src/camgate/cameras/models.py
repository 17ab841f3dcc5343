"""Camera values used by the service and the adapters."""

from __future__ import annotations

from dataclasses import dataclass

from camgate.media.source import SourceKind
from camgate.media.transcode import Rect


@dataclass(frozen=True, slots=True)
class CameraStream:
    id: str
    position: int
    kind: SourceKind
    #: Never holds credentials.
    url: str


@dataclass(frozen=True, slots=True)
class Camera:
    id: str
    name: str
    enabled: bool
    streams: tuple[CameraStream, ...]
    has_credentials: bool
    #: Filled black in every transcoded frame and snapshot; no direct streaming then.
    privacy_masks: tuple[Rect, ...] = ()


@dataclass(frozen=True, slots=True)
class Credentials:
    username: str
    password: str

    def __repr__(self) -> str:
        return f"Credentials(username={self.username!r}, password='***')"
