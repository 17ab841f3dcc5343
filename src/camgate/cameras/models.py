"""Camera values used by the service and the adapters."""

from __future__ import annotations

from dataclasses import dataclass

from camgate.media.source import SourceKind


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


@dataclass(frozen=True, slots=True)
class Credentials:
    username: str
    password: str

    def __repr__(self) -> str:
        return f"Credentials(username={self.username!r}, password='***')"
