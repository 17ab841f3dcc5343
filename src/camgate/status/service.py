"""Samples the server's load every few seconds and assembles the status."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path

from camgate.core.clock import Clock
from camgate.live.viewers import Delivery, Viewer, ViewerRegistry
from camgate.status.models import CpuSample, LockoutStatus, ServerStatus, UserStatus
from camgate.status.schema import StatusOut, write_status_file

SAMPLE_S = 5.0
#: An hour of samples: the CPU graph of the status page.
HISTORY = int(3600 / SAMPLE_S)


def user_statuses(
    viewers: Iterable[Viewer], rates: Mapping[int, float], live: Mapping[str, str]
) -> tuple[UserStatus, ...]:
    """One line per session that is alive or watches something (the manual's Active users)."""
    names = dict(live)
    sessions: dict[str, list[Viewer]] = {session_id: [] for session_id in live}
    for viewer in viewers:
        sessions.setdefault(viewer.session_id, []).append(viewer)
        names.setdefault(viewer.session_id, viewer.username)
    lines = []
    for session_id, watching in sessions.items():
        direct = sum(1 for v in watching if v.delivery is Delivery.DIRECT)
        lines.append(
            UserStatus(
                user=names[session_id],
                state="Logged in",
                video_kBps=round(sum(rates.get(v.id, 0.0) for v in watching) / 1000, 1),
                audio_kBps=0.0,
                transcoded_video_streams=len(watching) - direct,
                direct_video_streams=direct,
                transcoded_audio_streams=0,
            )
        )
    return tuple(sorted(lines, key=lambda line: line.user.casefold()))


class StatusService:
    def __init__(
        self,
        clock: Clock,
        viewers: ViewerRegistry,
        *,
        cpu_percent: Callable[[], float],
        level: Callable[[], int],
        hardware_decoding: Callable[[], str],
        transcoders: Callable[[], int] = lambda: 0,
        live_sessions: Callable[[], Mapping[str, str]] = dict,
        sessions_timed_out: Callable[[], int] = lambda: 0,
        lockouts: Callable[[], Sequence[LockoutStatus]] = tuple,
        on_load: Callable[[float, float], None] = lambda _cpu, _mbps: None,
    ) -> None:
        self._clock = clock
        self._viewers = viewers
        self._cpu_percent = cpu_percent
        self._level = level
        self._hardware_decoding = hardware_decoding
        self._on_load = on_load
        self._transcoders = transcoders
        self._live_sessions = live_sessions
        self._sessions_timed_out = sessions_timed_out
        self._lockouts = lockouts
        self.active_since = clock.now()
        cpu_percent()  # the first reading only starts psutil's measuring interval
        self._history: deque[CpuSample] = deque(maxlen=HISTORY)
        self._last_at = clock.monotonic()
        self._last_total = viewers.counter.total
        self._last_bytes: dict[int, int] = {}
        self._rates: dict[int, float] = {}
        self._bandwidth_bps = 0.0

    def sample(self) -> None:
        """Take one reading of CPU and of the bytes every viewer was sent since the last one."""
        now = self._clock.monotonic()
        elapsed = max(now - self._last_at, 1e-6)
        self._history.append(CpuSample(self._clock.now(), round(self._cpu_percent(), 1)))
        total = self._viewers.counter.total
        self._bandwidth_bps = (total - self._last_total) * 8 / elapsed
        current = {v.id: v.bytes_sent for v in self._viewers.viewers()}
        self._rates = {
            viewer_id: (sent - self._last_bytes.get(viewer_id, 0)) / elapsed
            for viewer_id, sent in current.items()
        }
        self._last_at, self._last_total, self._last_bytes = now, total, current
        self._on_load(self._history[-1].percent, self._bandwidth_bps / 1e6)

    async def run(self, status_file: Path) -> None:
        """Sample for ever, leaving each status in ``status_file`` for ``camgate status``."""
        try:
            while True:
                await asyncio.sleep(SAMPLE_S)
                self.sample()
                await asyncio.to_thread(write_status_file, status_file, StatusOut.of(self.status()))
        finally:
            await asyncio.to_thread(status_file.unlink, missing_ok=True)  # not running any more

    def status(self) -> ServerStatus:
        history = tuple(self._history)
        return ServerStatus(
            active_since=self.active_since,
            cpu_percent=history[-1].percent if history else 0.0,
            cpu_history=history,
            bandwidth_out_kbps=round(self._bandwidth_bps / 1000, 1),
            level=self._level(),
            hardware_decoding=self._hardware_decoding(),
            transcoders=self._transcoders(),
            sessions_timed_out=self._sessions_timed_out(),
            users=user_statuses(self._viewers.viewers(), self._rates, self._live_sessions()),
            lockouts=tuple(self._lockouts()),
        )
