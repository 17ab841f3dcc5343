"""Bookmark values and the rules that need no database."""

from __future__ import annotations

from dataclasses import dataclass

from camgate.core.errors import invalid

MAX_HEADLINE = 100
MAX_DESCRIPTION = 2000
#: A bookmark marks an incident, not a shift: a day is plenty. The bound also lets a search by
#: time use the index on ``start`` (a bookmark overlapping a window starts at most this long
#: before it), where an unbounded span would force a scan of every older bookmark.
MAX_SPAN_S = 24 * 3600.0
DEFAULT_LIMIT = 100
MAX_LIMIT = 1000


@dataclass(frozen=True, slots=True)
class Bookmark:
    id: str
    camera_id: str
    #: Unix seconds; ``end == start`` marks a single moment.
    start: float
    end: float
    headline: str
    description: str
    #: None once the creator's account is deleted; ``username`` keeps who it was.
    user_id: str | None
    username: str


@dataclass(frozen=True, slots=True)
class BookmarkQuery:
    camera_id: str | None = None
    start: float | None = None
    end: float | None = None
    text: str | None = None
    mine: bool = False
    limit: int = DEFAULT_LIMIT


def check_headline(headline: str) -> str:
    headline = headline.strip()
    if not headline or len(headline) > MAX_HEADLINE:
        raise invalid(f"a headline is 1 to {MAX_HEADLINE} characters")
    return headline


def check_description(description: str) -> str:
    if len(description) > MAX_DESCRIPTION:
        raise invalid(f"a description is at most {MAX_DESCRIPTION} characters")
    return description


def check_span(start: float, end: float) -> None:
    if end < start:
        raise invalid("a bookmark ends at or after its start")
    if end - start > MAX_SPAN_S:
        raise invalid("a bookmark spans at most 24 hours")


def check_window(start: float | None, end: float | None) -> None:
    # A half-open window [t, t) holds nothing: asking for one is a client's mistake.
    if start is not None and end is not None and end <= start:
        raise invalid("a search window ends after its start")


def check_limit(limit: int) -> int:
    if not 1 <= limit <= MAX_LIMIT:
        raise invalid(f"limit is 1 to {MAX_LIMIT}")
    return limit


def overlaps(
    start: float, end: float, window_start: float | None, window_end: float | None
) -> bool:
    """Whether the bookmark ``[start, end]`` falls in the window ``[window_start, window_end)``.

    A span counts where it shares time with the window, so one that ends exactly at the window's
    start does not; a single moment (``start == end``) counts where it lies inside the window.
    ``store.matching`` states the same rule in SQL.
    """
    if window_end is not None and start >= window_end:
        return False
    return window_start is None or end > window_start or start >= window_start
