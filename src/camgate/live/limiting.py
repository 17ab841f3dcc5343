"""The limitation level in force, following the Performance settings and the server's load."""

from __future__ import annotations

from collections.abc import Callable

from camgate.media.limits import Level, LevelGovernor, levels_from_settings
from camgate.settings import Performance


class Limits:
    """Wraps a :class:`LevelGovernor` that is rebuilt whenever the levels' settings change."""

    def __init__(
        self, performance: Callable[[], Performance], monotonic: Callable[[], float]
    ) -> None:
        self._performance = performance
        self._monotonic = monotonic
        self._settings: Performance | None = None
        self._governor = self._rebuild()

    def _rebuild(self) -> LevelGovernor:
        self._settings = self._performance()
        return LevelGovernor(levels_from_settings(self._settings), clock=self._monotonic)

    def _current(self) -> LevelGovernor:
        if self._performance() != self._settings:
            self._governor = self._rebuild()
        return self._governor

    @property
    def level(self) -> Level:
        return self._current().level

    def observe(self, cpu_percent: float, bandwidth_mbps: float) -> None:
        """One load sample from the status sampler."""
        self._current().update(cpu_percent, bandwidth_mbps)
