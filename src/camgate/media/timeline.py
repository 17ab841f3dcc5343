"""Pure timestamp rules for sources: one continuous timeline per stream across restarts."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from camgate.media.packet import TIMESCALE

#: The frame duration assumed when a source tells nothing better (30 fps).
DEFAULT_DURATION = TIMESCALE // 30


def to_timescale(value: int, time_base: Fraction) -> int:
    """A timestamp in ``time_base`` units, in 90 kHz units."""
    return round(value * time_base * TIMESCALE)


@dataclass(slots=True)
class Timeline:
    """Maps each source session's timestamps onto one stream timeline that never goes back.

    A restarted source (a reconnect, a looped file) starts its timestamps anew; the stream's
    viewers and recordings need them to continue. The first packet of a session is placed right
    after the last one of the previous session, plus the wall-clock time that passed between them.
    """

    _offset: int = 0
    _session_start: int | None = None
    _last_dts: int | None = None
    _last_duration: int = DEFAULT_DURATION
    _last_wallclock: float | None = None

    def new_session(self) -> None:
        self._session_start = None

    def follow(self, timestamp: int) -> int | None:
        """Where a timestamp of another stream of the session (its audio) falls on the
        timeline: moved as the session's video is; None before the session's first video."""
        if self._session_start is None:
            return None
        return timestamp + self._offset

    def place(self, dts: int, pts: int, duration: int, wallclock: float) -> tuple[int, int]:
        """The (dts, pts) of a source packet on the stream timeline."""
        if self._session_start is None:
            self._session_start = dts
            if self._last_dts is None:
                base = 0
            else:
                gap = 0.0
                if self._last_wallclock is not None:
                    gap = max(0.0, wallclock - self._last_wallclock)
                base = self._last_dts + self._last_duration + round(gap * TIMESCALE)
            self._offset = base - dts
        out_dts = dts + self._offset
        if self._last_dts is not None and out_dts <= self._last_dts:
            # Non-monotonic source timestamps: keep order, nudge forward by one tick.
            shift = self._last_dts + 1 - out_dts
            self._offset += shift
            out_dts += shift
        self._last_dts = out_dts
        self._last_duration = duration if duration > 0 else self._last_duration
        self._last_wallclock = wallclock
        return out_dts, pts + self._offset


def backoff_delay(
    failures: int, *, base: float = 0.5, factor: float = 2.0, cap: float = 30.0
) -> float:
    """Seconds to wait before reconnect attempt number ``failures`` (1 = first retry)."""
    if failures <= 0:
        return 0.0
    return float(min(cap, base * factor ** (failures - 1)))
