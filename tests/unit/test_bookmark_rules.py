from __future__ import annotations

from collections.abc import Callable

import pytest

from camgate.bookmarks.models import (
    MAX_SPAN_S,
    check_description,
    check_headline,
    check_limit,
    check_span,
    check_window,
    overlaps,
)
from camgate.core.errors import CamgateError, ErrorKind


def _refused(call: Callable[[], object]) -> None:
    with pytest.raises(CamgateError) as caught:
        call()
    assert caught.value.kind == ErrorKind.INVALID


def test_headline_is_stripped_and_bounded() -> None:
    assert check_headline("  Door forced \n") == "Door forced"
    assert check_headline("x" * 100) == "x" * 100
    _refused(lambda: check_headline("   "))
    _refused(lambda: check_headline("x" * 101))


def test_description_is_bounded() -> None:
    assert check_description("") == ""
    assert check_description("d" * 2000) == "d" * 2000
    _refused(lambda: check_description("d" * 2001))


def test_span_runs_forward_for_at_most_a_day() -> None:
    check_span(100.0, 100.0)  # a single moment
    check_span(100.0, 100.0 + MAX_SPAN_S)
    _refused(lambda: check_span(100.0, 99.9))
    _refused(lambda: check_span(100.0, 100.0 + MAX_SPAN_S + 0.001))


def test_search_window_and_limit() -> None:
    check_window(None, None)
    check_window(10.0, None)
    check_window(None, 10.0)
    check_window(10.0, 11.0)
    _refused(lambda: check_window(10.0, 10.0))
    _refused(lambda: check_window(10.0, 9.0))
    assert check_limit(1) == 1 and check_limit(1000) == 1000
    _refused(lambda: check_limit(0))
    _refused(lambda: check_limit(1001))


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        (0.0, 5.0, False),  # wholly before
        (0.0, 10.0, False),  # ends where the window starts
        (0.0, 10.5, True),  # reaches into it
        (12.0, 15.0, True),  # inside
        (5.0, 25.0, True),  # covers it
        (19.0, 30.0, True),  # starts inside
        (20.0, 30.0, False),  # starts where the half-open window ends
        (10.0, 10.0, True),  # a moment at the window's start
        (15.0, 15.0, True),  # a moment inside
        (20.0, 20.0, False),  # a moment at the window's end
        (9.0, 9.0, False),  # a moment before
    ],
)
def test_overlap_with_a_half_open_window(start: float, end: float, expected: bool) -> None:
    assert overlaps(start, end, 10.0, 20.0) is expected


def test_open_ended_windows() -> None:
    assert overlaps(0.0, 1.0, None, None)
    assert overlaps(50.0, 60.0, 10.0, None)
    assert not overlaps(0.0, 10.0, 10.0, None)
    assert overlaps(0.0, 1.0, None, 20.0)
    assert not overlaps(20.0, 21.0, None, 20.0)
