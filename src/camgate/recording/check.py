"""What ``camgate check`` finds: the recordings on disk against the index (ADR 0009).

Blocking file system work, for a worker thread or the command line. The service applies the
repairs that touch the database.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from camgate.media.segment import PARTIAL_SUFFIX, ClosedSegment, scan_segment, start_wallclock_of
from camgate.recording.models import IndexedSegment
from camgate.recording.playback import GAP_TOLERANCE_S

#: Suffix given to a file that is not a readable segment: kept for a person to look at.
DAMAGED_SUFFIX = ".damaged"


class ProblemKind(StrEnum):
    #: A row whose file is gone (deleted by hand).
    MISSING = "missing"
    #: A row whose file holds other GOPs or bytes than the row says.
    MISMATCH = "mismatch"
    #: A file that does not parse as a segment.
    UNREADABLE = "unreadable"
    #: A complete segment file without a row (a crash between rename and index).
    ORPHAN = "orphan"
    #: A ``.partial`` left by a crash.
    PARTIAL = "partial"
    #: A row marked for deletion whose deletion did not finish.
    GARBAGE = "garbage"
    #: Segments of one stream whose wall-clock ranges overlap (the clock went back): reported.
    OVERLAP = "overlap"


#: What --repair can do nothing about.
UNREPAIRABLE = frozenset({ProblemKind.OVERLAP})


@dataclass(frozen=True, slots=True)
class Problem:
    kind: ProblemKind
    #: Relative to the recordings folder.
    path: str
    detail: str
    segment_id: int | None = None


@dataclass(frozen=True, slots=True)
class FileOwner:
    """Whose a file under the recordings folder is, from its place."""

    camera_id: str
    stream_id: str


def owner_of(root: Path, path: Path) -> FileOwner | None:
    parts = path.relative_to(root).parts
    if len(parts) != 4:
        return None
    return FileOwner(parts[0], parts[1])


def segment_files(root: Path) -> Iterator[Path]:
    """Every ``.mp4`` and ``.mp4.partial`` at a segment's place under ``root``."""
    if not root.is_dir():
        return
    for folder, _dirs, names in os.walk(root):
        for name in names:
            if name.endswith((".mp4", ".mp4" + PARTIAL_SUFFIX)):
                path = Path(folder, name)
                if owner_of(root, path) is not None:
                    yield path


def _relative(root: Path, path: Path) -> str:
    return path.relative_to(root).as_posix()


def verify_segment(root: Path, indexed: IndexedSegment) -> Problem | None:
    """Whether a row's file exists and holds exactly the row's GOPs and bytes."""
    segment = indexed.segment
    relative = _relative(root, segment.path)
    try:
        scan = scan_segment(segment.path)
    except FileNotFoundError:
        return Problem(ProblemKind.MISSING, relative, "the file is gone", indexed.id)
    except (OSError, ValueError) as error:
        return Problem(ProblemKind.UNREADABLE, relative, str(error), indexed.id)
    if scan.config != segment.config:
        return Problem(ProblemKind.MISMATCH, relative, "another codec config", indexed.id)
    if scan.keyframes != segment.keyframes or scan.complete_size != segment.size:
        detail = (
            f"the index has {len(segment.keyframes)} GOPs in {segment.size} bytes, the file "
            f"{len(scan.keyframes)} in {scan.complete_size}"
        )
        return Problem(ProblemKind.MISMATCH, relative, detail, indexed.id)
    if scan.file_size != scan.complete_size:
        detail = f"{scan.file_size - scan.complete_size} bytes after the last complete GOP"
        return Problem(ProblemKind.MISMATCH, relative, detail, indexed.id)
    return None


def unindexed_files(root: Path, indexed_paths: set[str], *, partials: bool) -> list[Problem]:
    """Orphans, and (when ``partials``) the ``.partial`` files a crash left."""
    problems: list[Problem] = []
    for path in segment_files(root):
        relative = _relative(root, path)
        if path.name.endswith(PARTIAL_SUFFIX):
            if partials:
                problems.append(Problem(ProblemKind.PARTIAL, relative, "left by a crash"))
        elif relative not in indexed_paths:
            problems.append(Problem(ProblemKind.ORPHAN, relative, "a segment without a row"))
    return problems


def overlaps(root: Path, segments: Iterable[IndexedSegment]) -> list[Problem]:
    by_stream: dict[str, list[IndexedSegment]] = {}
    for indexed in segments:
        by_stream.setdefault(indexed.stream_id, []).append(indexed)
    problems: list[Problem] = []
    for own in by_stream.values():
        own.sort(key=lambda i: i.segment.start_wallclock)
        for before, after in itertools.pairwise(own):
            overlap = before.segment.end_wallclock - after.segment.start_wallclock
            if overlap > GAP_TOLERANCE_S:
                problems.append(
                    Problem(
                        ProblemKind.OVERLAP,
                        _relative(root, after.segment.path),
                        f"starts {overlap:.1f} s before the previous segment ends",
                        after.id,
                    )
                )
    return problems


def read_orphan(path: Path) -> ClosedSegment | None:
    """The index entry of a complete segment file, or None when it holds no complete GOP (or
    is not a segment at all)."""
    try:
        scan = scan_segment(path)
    except ValueError:
        return None
    if not scan.fragments:
        return None
    return scan.closed(path, start_wallclock_of(path))


def trim(path: Path) -> ClosedSegment | None:
    """Trust a closed segment's file: cut a garbage tail and return what it holds, or set it
    aside (None) when it holds no complete GOP."""
    try:
        scan = scan_segment(path)
    except ValueError:
        scan = None
    if scan is None or not scan.fragments:
        set_aside(path)
        return None
    if scan.file_size != scan.complete_size:
        with path.open("r+b") as file:
            file.truncate(scan.complete_size)
            os.fsync(file.fileno())
    return scan.closed(path, start_wallclock_of(path))


def set_aside(path: Path) -> Path:
    """Rename an unreadable file out of the way (``.damaged``): kept, no longer a segment."""
    target = path.with_name(path.name + DAMAGED_SUFFIX)
    os.replace(path, target)
    return target


def sorted_problems(problems: Sequence[Problem]) -> list[Problem]:
    return sorted(problems, key=lambda p: (p.kind.value, p.path))
