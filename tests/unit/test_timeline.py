from __future__ import annotations

from fractions import Fraction

from camgate.media.timeline import Timeline, backoff_delay, to_timescale


def test_first_session_starts_at_zero() -> None:
    timeline = Timeline()
    timeline.new_session()
    assert timeline.place(123_000, 126_000, 3000, 100.0) == (0, 3000)
    assert timeline.place(126_000, 129_000, 3000, 100.033) == (3000, 6000)


def test_restart_continues_after_the_last_packet_plus_the_wall_clock_gap() -> None:
    timeline = Timeline()
    timeline.new_session()
    timeline.place(0, 0, 3000, 100.0)
    timeline.place(3000, 3000, 3000, 100.0)
    timeline.new_session()
    dts, pts = timeline.place(500, 500, 3000, 102.0)  # two seconds later, timestamps restarted
    assert dts == 3000 + 3000 + 2 * 90_000
    assert pts == dts


def test_timestamps_never_go_back() -> None:
    timeline = Timeline()
    timeline.new_session()
    timeline.place(9000, 9000, 3000, 1.0)
    dts, _ = timeline.place(6000, 6000, 3000, 1.1)
    assert dts > 0


def test_backoff_doubles_up_to_a_cap() -> None:
    assert [backoff_delay(n, base=0.5, cap=4) for n in range(6)] == [0, 0.5, 1, 2, 4, 4]


def test_to_timescale() -> None:
    assert to_timescale(1, Fraction(1, 30)) == 3000
    assert to_timescale(1001, Fraction(1, 30000)) == 3003
