"""Status values, as the API, the metrics endpoint and the CLI show them."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class UserStatus:
    user: str
    #: "Connected" (keys exchanged, not logged in yet) or "Logged in".
    state: str
    video_kBps: float
    audio_kBps: float
    transcoded_video_streams: int
    direct_video_streams: int
    transcoded_audio_streams: int


@dataclass(frozen=True, slots=True)
class LockoutStatus:
    """An account or address locked out after failed logins."""

    kind: str
    name: str
    seconds_left: int


@dataclass(frozen=True, slots=True)
class CpuSample:
    at: float
    percent: float


@dataclass(frozen=True, slots=True)
class ServerStatus:
    active_since: float
    cpu_percent: float
    cpu_history: tuple[CpuSample, ...]
    bandwidth_out_kbps: float
    level: int
    hardware_decoding: str
    #: Transcoders running now: one per distinct output, however many viewers share it.
    transcoders: int
    #: Sessions ended by the client timeout since the start.
    sessions_timed_out: int
    users: tuple[UserStatus, ...]
    lockouts: tuple[LockoutStatus, ...] = ()
