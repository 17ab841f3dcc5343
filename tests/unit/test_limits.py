"""Limitation levels: what each level allows, and how the governor moves between them."""

from __future__ import annotations

import copy
import itertools
import math

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from camgate.media.limits import (
    BAND,
    Level,
    LevelGovernor,
    OutputSpec,
    clamp,
    levels_from_settings,
)
from camgate.settings import Level1, LimitationLevel, Performance, Resolution

L1 = Level(1, 30, 1920, 1080)
L2 = Level(2, 15, 1280, 720, cpu_threshold_pct=70, bandwidth_threshold_mbps=100)
L3 = Level(3, 5, 640, 360, cpu_threshold_pct=90, bandwidth_threshold_mbps=200)
LEVELS = [L1, L2, L3]


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def governor(levels: list[Level] = LEVELS, recover_after_s: float = 0.0) -> LevelGovernor:
    return LevelGovernor(levels, clock=Clock(), recover_after_s=recover_after_s)


# --- settings ------------------------------------------------------------------------------------


def test_defaults_give_level_1_only() -> None:
    assert levels_from_settings(Performance()) == [Level(1, 30, 1920, 1080)]


def test_enabled_levels_keep_their_numbers_and_thresholds() -> None:
    performance = Performance(
        level1=Level1(max_fps=25, max_resolution=Resolution(width=1280, height=720)),
        level3=LimitationLevel(
            enabled=True,
            cpu_threshold_pct=85,
            bandwidth_threshold_mbps=50.5,
            max_fps=5,
            max_resolution=Resolution(width=640, height=360),
        ),
    )
    assert levels_from_settings(performance) == [
        Level(1, 25, 1280, 720),
        Level(3, 5, 640, 360, cpu_threshold_pct=85, bandwidth_threshold_mbps=50.5),
    ]


def test_all_three_levels_in_order() -> None:
    performance = Performance(
        level2=LimitationLevel(enabled=True),
        level3=LimitationLevel(
            enabled=True, max_fps=5, max_resolution=Resolution(width=640, height=360)
        ),
    )
    assert [level.index for level in levels_from_settings(performance)] == [1, 2, 3]


def test_a_level_is_held_within_the_one_before_side_by_side() -> None:
    """Settings compare resolutions by area; a wide level 2 must not allow a wider picture."""
    performance = Performance(
        level2=LimitationLevel(
            enabled=True, max_fps=10, max_resolution=Resolution(width=2000, height=500)
        )
    )
    assert levels_from_settings(performance)[1] == Level(
        2, 10, 1920, 500, cpu_threshold_pct=80, bandwidth_threshold_mbps=100
    )


def _level(draw: st.DrawFn, enabled: bool) -> LimitationLevel:
    resolution = Resolution(width=draw(st.integers(16, 4096)), height=draw(st.integers(16, 4096)))
    return LimitationLevel(
        enabled=enabled,
        cpu_threshold_pct=draw(st.integers(1, 100)),
        bandwidth_threshold_mbps=draw(st.floats(0.1, 1000)),
        max_fps=draw(st.integers(1, 60)),
        max_resolution=resolution,
    )


@st.composite
def performances(draw: st.DrawFn) -> Performance:
    """Performance settings that validate: each enabled level lower than the one before."""
    resolution = Resolution(width=draw(st.integers(16, 4096)), height=draw(st.integers(16, 4096)))
    level1 = Level1(max_fps=draw(st.integers(1, 60)), max_resolution=resolution)
    level2 = _level(draw, draw(st.booleans()))
    level3 = _level(draw, draw(st.booleans()))
    try:
        return Performance(level1=level1, level2=level2, level3=level3)
    except ValueError:
        assume(False)
        raise


specs = st.builds(
    OutputSpec,
    width=st.integers(1, 8000),
    height=st.integers(1, 8000),
    fps=st.floats(0.1, 120),
    quality=st.integers(1, 100),
)


@given(performances(), specs)
def test_deeper_levels_never_allow_more(performance: Performance, spec: OutputSpec) -> None:
    levels = levels_from_settings(performance)
    assert levels[0].index == 1
    assert [level.index for level in levels] == sorted(level.index for level in levels)
    clamped = [clamp(spec, level) for level in levels]
    for shallower, deeper in itertools.pairwise(clamped):
        assert deeper.fps <= shallower.fps
        assert deeper.width <= shallower.width
        assert deeper.height <= shallower.height


# --- clamp ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("asked", "level", "expected"),
    [
        # Within the limits: unchanged.
        (OutputSpec(640, 360, 10, 75), L1, OutputSpec(640, 360, 10, 75)),
        # Frame rate capped, size kept.
        (OutputSpec(640, 360, 60, 75), L2, OutputSpec(640, 360, 15, 75)),
        # Too big: shrunk with the aspect ratio kept.
        (OutputSpec(3840, 2160, 30, 50), L2, OutputSpec(1280, 720, 15, 50)),
        (OutputSpec(1920, 1440, 30, 50), L3, OutputSpec(480, 360, 5, 50)),
        # Too wide: the width decides.
        (OutputSpec(2560, 720, 30, 50), L3, OutputSpec(640, 180, 5, 50)),
        # Portrait within a landscape class: allowed as is, rotated.
        (OutputSpec(720, 1280, 30, 50), L2, OutputSpec(720, 1280, 15, 50)),
        (OutputSpec(1080, 1920, 30, 50), L2, OutputSpec(720, 1280, 15, 50)),
        # Odd sizes rounded down to even.
        (OutputSpec(641, 359, 30, 50), L1, OutputSpec(640, 358, 30, 50)),
        # Tiny stays at least 2×2.
        (OutputSpec(1, 1, 1, 1), L1, OutputSpec(2, 2, 1, 1)),
    ],
)
def test_clamp(asked: OutputSpec, level: Level, expected: OutputSpec) -> None:
    assert clamp(asked, level) == expected


@given(specs, st.sampled_from(LEVELS))
def test_clamp_never_exceeds_the_level_nor_the_request(spec: OutputSpec, level: Level) -> None:
    out = clamp(spec, level)
    assert out.fps == min(spec.fps, level.max_fps)
    assert out.quality == spec.quality
    assert max(out.width, out.height) <= max(level.max_width, level.max_height)
    assert min(out.width, out.height) <= min(level.max_width, level.max_height)
    assert out.width <= max(2, spec.width) and out.height <= max(2, spec.height)
    assert out.width % 2 == 0 and out.height % 2 == 0
    assert clamp(out, level) == out


@given(specs, st.sampled_from(LEVELS))
def test_clamp_keeps_the_aspect_ratio(spec: OutputSpec, level: Level) -> None:
    out = clamp(spec, level)
    assume(out.width > 2 and out.height > 2)
    # Both sides scale by the same factor, then lose less than 2 px each to even rounding.
    slack = 2 / min(spec.width, spec.height)
    assert abs(out.width / spec.width - out.height / spec.height) <= slack + 1e-9


@pytest.mark.parametrize(
    "kwargs",
    [
        {"width": 0},
        {"height": -1},
        {"fps": 0},
        {"fps": math.inf},
        {"fps": math.nan},
        {"quality": 0},
        {"quality": 101},
    ],
)
def test_invalid_output_specs(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        OutputSpec(**{"width": 640, "height": 360, "fps": 10, "quality": 75, **kwargs})  # type: ignore[arg-type]


# --- governor ------------------------------------------------------------------------------------


def test_starts_at_level_1_and_stays_under_load_within_the_band() -> None:
    g = governor()
    assert g.level is L1
    assert g.update(70 * 1.05, 100 * 1.05) is L1  # at +5 % exactly: not *more* than 5 %
    assert g.update(0, 0) is L1


def test_steps_down_when_cpu_or_bandwidth_exceeds_a_threshold_by_more_than_5_percent() -> None:
    assert governor().update(73.6, 0) is L2
    assert governor().update(0, 105.1) is L2


def test_jumps_straight_to_the_deepest_exceeded_level() -> None:
    g = governor()
    assert g.update(95, 0) is L3
    g = governor()
    assert g.update(0, 211) is L3


def test_steps_back_up_only_when_both_are_more_than_5_percent_below() -> None:
    g = governor()
    g.update(80, 0)
    assert g.level is L2
    assert g.update(66.6, 0) is L2  # CPU only 4.9 % below 70
    assert g.update(66, 96) is L2  # bandwidth only 4 % below 100
    assert g.update(66, 94) is L1


def test_steps_up_through_every_level_the_load_is_below() -> None:
    g = governor()
    g.update(100, 0)
    assert g.level is L3
    assert g.update(80, 0) is L2  # below level 3's band, within level 2's
    g.update(100, 0)
    assert g.update(10, 10) is L1


def test_stepping_up_waits_for_the_load_to_stay_low() -> None:
    clock = Clock()
    g = LevelGovernor(LEVELS, clock=clock, recover_after_s=10)
    g.update(80, 0)
    assert g.level is L2 and g.changed_at == clock.now
    clock.now += 1
    assert g.update(10, 0) is L2  # low since now
    clock.now += 9.9
    assert g.update(10, 0) is L2
    clock.now += 0.1
    assert g.update(10, 0) is L1
    assert g.changed_at == clock.now


def test_a_load_bounce_restarts_the_wait() -> None:
    clock = Clock()
    g = LevelGovernor(LEVELS, clock=clock, recover_after_s=10)
    g.update(80, 0)
    g.update(10, 0)
    clock.now += 6
    g.update(70, 0)  # back inside the band
    clock.now += 6
    assert g.update(10, 0) is L2
    clock.now += 10
    assert g.update(10, 0) is L1


def test_stepping_down_never_waits() -> None:
    clock = Clock()
    g = LevelGovernor(LEVELS, clock=clock, recover_after_s=60)
    assert g.update(80, 0) is L2
    assert g.update(99, 0) is L3


def test_level_1_only_never_moves() -> None:
    g = governor([L1])
    assert g.update(100, 10_000) is L1


def test_a_missing_level_2_goes_from_1_to_3() -> None:
    g = governor([L1, L3])
    assert g.update(80, 0) is L1
    assert g.update(95, 0) is L3
    assert g.update(80, 0) is L1


loads = st.tuples(st.floats(0, 150), st.floats(0, 400))
histories = st.lists(loads, max_size=12)


def replay(history: list[tuple[float, float]], recover_after_s: float = 0.0) -> LevelGovernor:
    g = governor(recover_after_s=recover_after_s)
    for cpu, bandwidth in history:
        g.update(cpu, bandwidth)
    return g


@given(histories, loads, loads)
def test_the_level_is_monotone_in_load(
    history: list[tuple[float, float]], a: tuple[float, float], b: tuple[float, float]
) -> None:
    low = (min(a[0], b[0]), min(a[1], b[1]))
    high = (max(a[0], b[0]), max(a[1], b[1]))
    g = replay(history)
    other = copy.deepcopy(g)
    assert g.update(*low).index <= other.update(*high).index


@given(histories, loads)
def test_a_steady_load_settles_after_one_sample(
    history: list[tuple[float, float]], load: tuple[float, float]
) -> None:
    g = replay(history)
    settled = g.update(*load)
    for _ in range(3):
        assert g.update(*load) is settled


@given(
    st.sampled_from([L2, L3]),
    st.lists(st.tuples(st.floats(1 - BAND, 1 + BAND), st.floats(1 - BAND, 1 + BAND)), max_size=20),
)
def test_loads_inside_the_band_never_move_the_level(
    level: Level, factors: list[tuple[float, float]]
) -> None:
    """Within ±5 % of a level's thresholds (and not beyond a deeper one's), the level holds."""
    g = governor()
    assert level.cpu_threshold_pct is not None
    assert level.bandwidth_threshold_mbps is not None
    g.update(level.cpu_threshold_pct * 1.06, 0)
    assert g.level is level
    for cpu, bandwidth in factors:
        load = (level.cpu_threshold_pct * cpu, level.bandwidth_threshold_mbps * bandwidth)
        deeper = [d for d in LEVELS if d.index > level.index]
        assume(all(load[0] <= (d.cpu_threshold_pct or 0) * (1 + BAND) for d in deeper))
        assert g.update(*load) is level


@given(histories)
def test_the_level_is_always_one_of_the_configured(history: list[tuple[float, float]]) -> None:
    assert replay(history, recover_after_s=3).level in LEVELS
