"""Limitation levels for transcoded streams (pure).

Level 1 is always on and caps every transcoded output (max FPS, max resolution). Levels 2 and 3
are optional; each adds a CPU and an outgoing-bandwidth threshold. When the server's load crosses
a level's threshold by more than 5 %, every transcoded output is clamped to that level's limits;
when the load falls more than 5 % below it again, outputs step back up. :class:`LevelGovernor`
holds that state; :func:`clamp` applies a level to what a viewer asked for.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from camgate.settings import LimitationLevel, Performance

#: The hysteresis band around every threshold, relative (the manual's "more than 5 %").
BAND = 0.05
#: Seconds the load must stay below a level's band before outputs step back up (see
#: :class:`LevelGovernor`).
RECOVER_AFTER_S = 10.0


@dataclass(frozen=True, slots=True)
class OutputSpec:
    """What a transcoded viewer receives: JPEG frames of this size, rate and quality."""

    width: int
    height: int
    fps: float
    #: JPEG quality, 1 (smallest) to 100 (best).
    quality: int

    def __post_init__(self) -> None:
        if self.width < 1 or self.height < 1:
            raise ValueError("an output needs a positive width and height")
        if not (math.isfinite(self.fps) and self.fps > 0):
            raise ValueError("an output needs a positive frame rate")
        if not 1 <= self.quality <= 100:
            raise ValueError("JPEG quality runs from 1 to 100")


@dataclass(frozen=True, slots=True)
class Level:
    """One limitation level. Level 1 has no thresholds: it always applies."""

    #: The level's number in the manual (1, 2 or 3), kept when level 2 is disabled.
    index: int
    max_fps: float
    max_width: int
    max_height: int
    cpu_threshold_pct: float | None = None
    bandwidth_threshold_mbps: float | None = None


def levels_from_settings(performance: Performance) -> list[Level]:
    """Level 1 and the enabled optional levels, least restrictive first.

    The settings model checks that each enabled level is lower than the one before, but compares
    resolutions by pixel count: 2000×500 passes below 1920×1080. Each level here is therefore
    also held within the one before it, side by side, so that a deeper level never allows more
    in any respect (level 1 is always on).
    """
    first = performance.level1
    levels = [
        Level(1, first.max_fps, first.max_resolution.width, first.max_resolution.height),
    ]
    for index, level in ((2, performance.level2), (3, performance.level3)):
        if level.enabled:
            levels.append(_optional_level(index, level, levels[-1]))
    return levels


def _optional_level(index: int, level: LimitationLevel, before: Level) -> Level:
    return Level(
        index,
        min(level.max_fps, before.max_fps),
        min(level.max_resolution.width, before.max_width),
        min(level.max_resolution.height, before.max_height),
        level.cpu_threshold_pct,
        level.bandwidth_threshold_mbps,
    )


def clamp(spec: OutputSpec, level: Level) -> OutputSpec:
    """``spec`` cut down to what ``level`` allows, never more than was asked.

    The frame rate is capped. A size beyond the level's maximum is shrunk with its aspect ratio
    kept. The maximum is a resolution class that holds in either orientation: a 1280×720 limit
    lets a portrait (corridor mode) output be 720×1280. Width and height are then rounded down
    to even numbers (JPEG 4:2:0 halves the chroma planes), 2 at the least.
    """
    long_max = max(level.max_width, level.max_height)
    short_max = min(level.max_width, level.max_height)
    long_side = max(spec.width, spec.height)
    short_side = min(spec.width, spec.height)
    scale = min(1.0, long_max / long_side, short_max / short_side)
    return OutputSpec(
        width=_even_at_most(spec.width * scale),
        height=_even_at_most(spec.height * scale),
        fps=min(spec.fps, level.max_fps),
        quality=spec.quality,
    )


def _even_at_most(value: float) -> int:
    # A hair of tolerance: 1920 * (1280 / 1920) may come out as 1279.9999999999998.
    return max(2, math.floor(value + 1e-9) // 2 * 2)


@dataclass(frozen=True, slots=True)
class _Load:
    """One load sample: CPU in % of all cores, outgoing bandwidth in Mbit/s."""

    cpu_pct: float
    bandwidth_mbps: float


def _exceeds(load: _Load, level: Level) -> bool:
    """Load beyond the level's threshold by more than the band: enter this level."""
    cpu, bandwidth = level.cpu_threshold_pct, level.bandwidth_threshold_mbps
    return (cpu is not None and load.cpu_pct > cpu * (1 + BAND)) or (
        bandwidth is not None and load.bandwidth_mbps > bandwidth * (1 + BAND)
    )


def _below(load: _Load, level: Level) -> bool:
    """Load under the level's thresholds by more than the band: leave this level."""
    cpu, bandwidth = level.cpu_threshold_pct, level.bandwidth_threshold_mbps
    return (cpu is None or load.cpu_pct < cpu * (1 - BAND)) and (
        bandwidth is None or load.bandwidth_mbps < bandwidth * (1 - BAND)
    )


class LevelGovernor:
    """The current limitation level, moved by load samples with hysteresis.

    * **Down** (more restrictive) at once, and straight to the deepest level whose CPU or
      bandwidth threshold the load exceeds by more than 5 % (``> threshold × 1.05``): a sudden
      overload goes from level 1 to level 3 in one sample, without a detour through level 2.
    * **Up** from level N when both CPU and bandwidth are more than 5 % below level N's thresholds
      (``< threshold × 0.95``), and only once they have stayed there for ``recover_after_s``
      (by the injected clock). Without that wait the server would oscillate: stepping down is
      what lowers the load, so the next sample would step back up, and so on. Stepping up
      continues through every level whose band the load is below, so a load that has vanished
      returns to level 1 in one step too.
    * In between (within ±5 % of the thresholds that matter), the level stays.
    """

    def __init__(
        self,
        levels: Sequence[Level],
        *,
        clock: Callable[[], float] = time.monotonic,
        recover_after_s: float = RECOVER_AFTER_S,
    ) -> None:
        if not levels:
            raise ValueError("level 1 is always there")
        self._levels = tuple(levels)
        self._clock = clock
        self._recover_after_s = recover_after_s
        self._position = 0
        #: Since when the load has been below the current level's band (None: it is not).
        self._below_since: float | None = None
        self.changed_at = clock()

    @property
    def level(self) -> Level:
        return self._levels[self._position]

    def update(self, cpu_pct: float, bandwidth_mbps: float) -> Level:
        """Take one load sample (CPU in % of all cores, outgoing Mbit/s); the level to apply."""
        load = _Load(cpu_pct, bandwidth_mbps)
        now = self._clock()
        deeper = self._deepest_exceeded(load)
        if deeper > self._position:
            self._move(deeper, now)
        elif self._position > 0 and _below(load, self.level):
            if self._below_since is None:
                self._below_since = now
            if now - self._below_since >= self._recover_after_s:
                self._move(self._shallowest_kept(load), now)
        else:
            self._below_since = None
        return self.level

    def _deepest_exceeded(self, load: _Load) -> int:
        levels = enumerate(self._levels[1:], start=1)
        exceeded = [i for i, level in levels if _exceeds(load, level)]
        return max(exceeded, default=0)

    def _shallowest_kept(self, load: _Load) -> int:
        position = self._position
        while position > 0 and _below(load, self._levels[position]):
            position -= 1
        return position

    def _move(self, position: int, now: float) -> None:
        self._position = position
        self._below_since = None
        self.changed_at = now
