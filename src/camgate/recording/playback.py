"""Pure rules of playback: which parts of which segments make a wall-clock range."""

from __future__ import annotations

from collections.abc import Sequence

from camgate.media.mp4file import Cut
from camgate.media.packet import TIMESCALE
from camgate.media.recording_rules import Interval, merge_intervals
from camgate.media.segment import ClosedSegment

#: Segments of one run meet within milliseconds (each anchors its own wall clock); a real gap
#: (a restart, a lost camera) is longer than this.
GAP_TOLERANCE_S = 1.0


def _ticks(seconds: float) -> int:
    return round(seconds * TIMESCALE)


def cuts_for(segments: Sequence[ClosedSegment], start: float, end: float) -> list[Cut]:
    """The cuts that play [start, end) of wall time, from segments sorted by wall-clock start.

    They stop at the first stream config change: one file has one config, so a client asks
    again from where the file ends (its ``end``).
    """
    cuts = all_cuts(segments, start, end)
    if not cuts:
        return cuts
    config = cuts[0].segment.config
    changed = next((i for i, cut in enumerate(cuts) if cut.segment.config != config), len(cuts))
    return cuts[:changed]


def all_cuts(segments: Sequence[ClosedSegment], start: float, end: float) -> list[Cut]:
    """Every cut of [start, end) of wall time (exports), config changes included.

    Each segment is cut on its own timeline (segments of different runs do not share one).
    Where segments overlap in wall time (the clock was set back), the earlier one wins.
    """
    cuts: list[Cut] = []
    covered = start
    for segment in segments:
        lo, hi = max(covered, segment.start_wallclock), min(end, segment.end_wallclock)
        if hi <= lo:
            continue
        cuts.append(
            Cut(
                segment,
                segment.start_dts + _ticks(lo - segment.start_wallclock),
                segment.start_dts + _ticks(hi - segment.start_wallclock),
            )
        )
        covered = hi
    return cuts


def cuts_end(cuts: Sequence[Cut]) -> float:
    """The wall time where the cuts end."""
    last = cuts[-1]
    return last.segment.wallclock_at(last.end)


def recorded_intervals(
    segments: Sequence[ClosedSegment], start: float, end: float
) -> list[Interval]:
    """The recorded stretches of [start, end), merged across segment boundaries."""
    clipped = (
        Interval(max(start, s.start_wallclock), min(end, s.end_wallclock))
        for s in segments
        if s.end_wallclock > start and s.start_wallclock < end
    )
    return merge_intervals(clipped, GAP_TOLERANCE_S)
