"""Recording: 16 cameras into segment files, and an hour as one playback MP4, beside ffmpeg.

Clip: the synthetic 1080p camera's clip (2 s, 30 fps, GOP 1 s, ~4 Mbit/s, noise included),
demuxed and normalized as a source does (:func:`~camgate.media.source.read_packets`) and laid end
to end on one continuous timeline, the wall clock advancing with it. Both sides do the same job
on the same frames in the same run; nothing is paced (no waiting for a camera).

Recording CPU (``--cameras`` × ``--seconds`` of video):

* camgate: one :class:`SegmentWriter` per camera (default fsync interval, 60 s segments) in a
  temporary folder on the disk, each fed by its own worker thread, to which the main thread hands
  one GOP at a time, round robin over the cameras (a bounded queue per camera, as a recorder
  takes GOPs from the live hub). The writers' clock is the video's wall clock, so the file is
  fsynced every 5 s of video, as it is when recording live. CPU: ``time.process_time()`` of this
  process (every thread, the hand-over included); the writer threads' own share
  (``time.thread_time()``) is shown apart.
* ffmpeg (Debian's): one process per camera, all at once, ``-stream_loop`` over the same file,
  ``-c copy -f segment -segment_time 60`` into MP4 files (and into fragmented MP4, the format
  camgate writes); ``-c copy -f null`` shows what demuxing alone costs ffmpeg. CPU:
  ``getrusage(RUSAGE_CHILDREN)``, start-up included. ffmpeg must demux its input; camgate's
  recorder takes packets the live path has already demuxed.

Reported: CPU per camera as a percentage of one core (CPU seconds / seconds of video / cameras),
and the ratio ffmpeg CPU / camgate CPU (above 1: camgate is cheaper). Median of ``--repeat``.

Playback of an hour (``--minutes`` of video, one camera, 60 s segments):

* written once with :class:`SegmentWriter` (wall and CPU time reported);
* camgate: ``build_mp4`` over the closed segments and the first 64 KiB read (time to first
  byte), then the whole :class:`VirtualMp4` read in 1 MiB reads (throughput, bytes counted);
* ffmpeg: ``-f concat -safe 0 -i list.txt -c copy [-movflags +faststart] out.mp4`` over the same
  segment files. Without ``+faststart`` the ``moov`` comes last; with it ffmpeg writes the file
  and then moves the ``moov`` to the front by rewriting it. Either way no player can start on the
  file before ffmpeg has finished, so ffmpeg's time to first usable byte is its total time (the
  time to its first byte on disk is shown too).

Segment files are in the page cache for both sides (just written; the machine has the memory).
Checked once, untimed: the virtual MP4 demuxes with PyAV to exactly the samples written (and so
does ffmpeg's output), and a 10 s range across a segment boundary decodes to exactly its frames.

Usage: python -m bench.recording [--cameras 16] [--seconds 120] [--minutes 60] [--repeat 3]
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import math
import os
import queue
import resource
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import av

from bench.common import machine
from camgate.media.mp4file import VirtualMp4, build_mp4
from camgate.media.packet import TIMESCALE, MediaPacket
from camgate.media.segment import ClosedSegment, SegmentWriter
from camgate.media.source import read_packets
from camgate.media.synthetic import PROFILES, ensure_clip

#: The wall clock of the first frame: 2026-01-01T00:00:00Z.
ORIGIN = 1_767_225_600.0
SEGMENT_S = 60
#: GOPs a camera's worker may have waiting: the recorder's hand-over queue.
QUEUE_GOPS = 4
FIRST_BYTES = 64 * 1024
READ_SIZE = 2**20
#: The range decoded frame by frame in the check: across the first segment boundary.
CHECK_RANGE_S = (SEGMENT_S - 5, SEGMENT_S + 5)
MIB = 2**20


@dataclass
class RecordRun:
    label: str
    cpu_s: float
    wall_s: float
    files: int
    bytes: int
    #: The writer threads' own CPU (camgate only).
    thread_cpu_s: float = math.nan


@dataclass
class PlaybackRun:
    label: str
    first_byte_s: float
    usable_s: float
    total_s: float
    bytes: int
    cpu_s: float

    @property
    def throughput(self) -> float:
        return self.bytes / self.total_s


# --- the clip on a timeline --------------------------------------------------------------------


def timeline(
    clip: Sequence[MediaPacket], seconds: float, origin: float = ORIGIN
) -> list[MediaPacket]:
    """The clip end to end for ``seconds`` from dts 0, the wall clock origin + dts (data shared)."""
    first = clip[0].dts
    period = clip[-1].dts + clip[-1].duration - first
    loops = math.ceil(seconds * TIMESCALE / period)
    packets = []
    for n in range(loops):
        for p in clip:
            dts = p.dts - first + n * period
            packets.append(
                dataclasses.replace(
                    p, dts=dts, pts=p.pts - first + n * period, wallclock=origin + dts / TIMESCALE
                )
            )
    return packets


def gops(packets: Sequence[MediaPacket]) -> list[list[MediaPacket]]:
    """The packets cut before each keyframe: what a recorder hands over at a time."""
    cut: list[list[MediaPacket]] = []
    for packet in packets:
        if packet.is_keyframe or not cut:
            cut.append([])
        cut[-1].append(packet)
    return cut


def tree_size(root: Path) -> tuple[int, int]:
    """Files and bytes under ``root``."""
    files = [path for path in root.rglob("*") if path.is_file()]
    return len(files), sum(path.stat().st_size for path in files)


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


# --- recording: camgate ------------------------------------------------------------------------


class CameraWorker:
    """A camera's recorder thread: takes GOPs from its queue into its SegmentWriter."""

    def __init__(self, root: Path, camera_id: str) -> None:
        #: The video's wall clock at the GOP being written: the writer's clock (fsync interval).
        self.now = ORIGIN
        self.writer = SegmentWriter(root, camera_id, "main", clock=lambda: self.now)
        self.queue: queue.Queue[list[MediaPacket] | None] = queue.Queue(maxsize=QUEUE_GOPS)
        self.closed: list[ClosedSegment] = []
        self.cpu_s = 0.0
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name=f"record-{camera_id}")

    def _run(self) -> None:
        started = time.thread_time()
        try:
            while (gop := self.queue.get()) is not None:
                self.now = gop[0].wallclock
                for packet in gop:
                    self.closed += self.writer.append(packet)
            last = self.writer.close()
            if last is not None:
                self.closed.append(last)
        except BaseException as error:  # reported by the main thread
            self.error = error
            while self.queue.get() is not None:  # the feeder must not block
                pass
        self.cpu_s = time.thread_time() - started


def camgate_record(cuts: Sequence[list[MediaPacket]], cameras: int, root: Path) -> RecordRun:
    workers = [CameraWorker(root, f"cam{index:02d}") for index in range(cameras)]
    cpu, wall = time.process_time(), time.perf_counter()
    for worker in workers:
        worker.thread.start()
    for gop in cuts:
        for worker in workers:
            worker.queue.put(gop)
    for worker in workers:
        worker.queue.put(None)
    for worker in workers:
        worker.thread.join()
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    for worker in workers:
        if worker.error is not None:
            raise worker.error
    files, size = tree_size(root)
    if files != sum(len(worker.closed) for worker in workers):
        raise RuntimeError("the writers closed fewer segments than there are files")
    thread_cpu = sum(worker.cpu_s for worker in workers)
    return RecordRun("camgate SegmentWriter", cpu, wall, files, size, thread_cpu)


# --- recording: ffmpeg -------------------------------------------------------------------------


def ffmpeg_record(
    clip: Path, loops: int, cameras: int, root: Path, label: str, output: list[str]
) -> RecordRun:
    """``cameras`` ffmpeg processes at once; ``output`` the arguments after ``-c copy``, with
    ``{dir}`` for the camera's folder."""
    commands = []
    for index in range(cameras):
        folder = root / f"cam{index:02d}"
        folder.mkdir(parents=True)
        arguments = [part.replace("{dir}", str(folder)) for part in output]
        head = ["ffmpeg", "-nostdin", "-v", "error", "-stream_loop", str(loops - 1)]
        commands.append([*head, "-i", str(clip), "-c", "copy", *arguments])
    cpu, wall = children_cpu(), time.perf_counter()
    processes = [subprocess.Popen(command) for command in commands]
    codes = [process.wait() for process in processes]
    cpu, wall = children_cpu() - cpu, time.perf_counter() - wall
    if any(codes):
        raise RuntimeError(f"ffmpeg failed: {commands[0]}")
    files, size = tree_size(root)
    return RecordRun(label, cpu, wall, files, size)


_SEGMENTS = (
    *("-f", "segment", "-segment_time", str(SEGMENT_S)),
    *("-reset_timestamps", "1", "-segment_format", "mp4"),
)
_FRAGMENTED = "movflags=+frag_keyframe+empty_moov+default_base_moof"
FFMPEG_RECORDERS: tuple[tuple[str, list[str]], ...] = (
    ("ffmpeg -f segment (MP4)", [*_SEGMENTS, "{dir}/%03d.mp4"]),
    (
        "ffmpeg -f segment (fragmented MP4)",
        [*_SEGMENTS, "-segment_format_options", _FRAGMENTED, "{dir}/%03d.mp4"],
    ),
    ("ffmpeg -f null (demux only, for reference)", ["-f", "null", "-"]),
)


def median(runs: list[RecordRun]) -> RecordRun:
    return sorted(runs, key=lambda run: run.cpu_s)[len(runs) // 2]


def recording_table(
    clip: Sequence[MediaPacket], path: Path, args: argparse.Namespace, scratch: Path
) -> None:
    packets = timeline(clip, args.seconds)
    seconds = (packets[-1].dts + packets[-1].duration) / TIMESCALE
    loops = len(packets) // len(clip)
    cuts = gops(packets)
    runs: dict[str, list[RecordRun]] = {}
    for _ in range(args.repeat):
        jobs = [("camgate", None)] + [(label, output) for label, output in FFMPEG_RECORDERS]
        for label, output in jobs:
            root = scratch / "record"
            os.sync()  # the previous run's writeback is not this run's
            if output is None:
                run = camgate_record(cuts, args.cameras, root)
            else:
                run = ffmpeg_record(path, loops, args.cameras, root, label, output)
            runs.setdefault(run.label, []).append(run)
            shutil.rmtree(root)
    print()
    print(
        f"Recording: {args.cameras} cameras × {seconds:g} s of 1080p30 "
        f"({len(packets)} packets, {len(cuts)} GOPs each), median of {args.repeat}"
    )
    print()
    print(
        "| recorder | CPU s | CPU per camera, % of a core | ffmpeg / camgate CPU | "
        "segment files | MiB written | wall s |"
    )
    print("|---|---|---|---|---|---|---|")
    ours = median(runs["camgate SegmentWriter"])
    for label, label_runs in runs.items():
        run = median(label_runs)
        share = run.cpu_s / seconds / args.cameras * 100
        ratio = "—" if run is ours else f"{run.cpu_s / ours.cpu_s:.2f}"
        files = str(run.files) if run.files else "—"
        print(
            f"| {label} | {run.cpu_s:.2f} | {share:.3f}% | {ratio} | {files} | "
            f"{run.bytes / MIB:.0f} | {run.wall_s:.1f} |",
            flush=True,
        )
    share = ours.thread_cpu_s / seconds / args.cameras * 100
    print(
        f"\n(camgate's writer threads alone: {ours.thread_cpu_s:.2f} CPU s, {share:.3f}% of a "
        "core per camera; the rest is the hand-over and the threads' start.)"
    )


# --- an hour as one MP4 ------------------------------------------------------------------------


def write_hour(
    packets: Sequence[MediaPacket], root: Path, camera_id: str = "cam", stream_id: str = "main"
) -> tuple[list[ClosedSegment], float]:
    now = packets[0].wallclock
    writer = SegmentWriter(root, camera_id, stream_id, clock=lambda: now)
    closed: list[ClosedSegment] = []
    cpu, wall = time.process_time(), time.perf_counter()
    for packet in packets:
        if packet.is_keyframe:
            now = packet.wallclock
        closed += writer.append(packet)
    last = writer.close()
    if last is not None:
        closed.append(last)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    size = sum(segment.size for segment in closed)
    print(
        f"\nWritten for playback: {len(closed)} segments, {size / 2**30:.2f} GiB, "
        f"{len(packets)} packets in {wall:.1f} s ({cpu:.2f} CPU s, "
        f"{cpu / len(packets) * 1e6:.1f} µs a packet)"
    )
    return closed, cpu


def camgate_playback(segments: Sequence[ClosedSegment]) -> PlaybackRun:
    cpu, started = time.process_time(), time.perf_counter()
    mp4 = build_mp4(segments, segments[0].start_dts, segments[-1].end_dts)
    first = mp4.read(0, FIRST_BYTES)
    first_byte = time.perf_counter() - started
    offset = len(first)
    while offset < mp4.size:
        offset += len(mp4.read(offset, READ_SIZE))
    total = time.perf_counter() - started
    return PlaybackRun(
        "camgate build_mp4 + read", first_byte, first_byte, total, offset, time.process_time() - cpu
    )


def ffmpeg_playback(
    segments: Sequence[ClosedSegment], scratch: Path, faststart: bool
) -> PlaybackRun:
    listing = scratch / "list.txt"
    listing.write_text("".join(f"file '{segment.path}'\n" for segment in segments))
    output = scratch / "playback.mp4"
    command = ["ffmpeg", "-nostdin", "-v", "error", "-f", "concat", "-safe", "0"]
    command += ["-i", str(listing), "-c", "copy"]
    command += ["-movflags", "+faststart"] if faststart else []
    command += ["-y", str(output)]
    cpu, started = children_cpu(), time.perf_counter()
    process = subprocess.Popen(command)
    first_byte = math.nan
    while process.poll() is None:
        if math.isnan(first_byte) and output.exists() and output.stat().st_size > 0:
            first_byte = time.perf_counter() - started
        time.sleep(0.001)
    total = time.perf_counter() - started
    if process.returncode:
        raise RuntimeError(f"ffmpeg failed: {command}")
    if math.isnan(first_byte):
        first_byte = total
    size = output.stat().st_size
    label = "ffmpeg concat -c copy" + (" +faststart" if faststart else " (moov last)")
    return PlaybackRun(label, first_byte, total, total, size, children_cpu() - cpu)


class VirtualFile:
    """A VirtualMp4 as a read-only file object, for PyAV."""

    def __init__(self, mp4: VirtualMp4) -> None:
        self._mp4 = mp4
        self._position = 0

    def read(self, size: int = -1) -> bytes:
        if size < 0:
            size = self._mp4.size - self._position
        data = self._mp4.read(self._position, size)
        self._position += len(data)
        return data

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        base = {os.SEEK_SET: 0, os.SEEK_CUR: self._position, os.SEEK_END: self._mp4.size}
        self._position = base[whence] + offset
        return self._position

    def tell(self) -> int:
        return self._position


def demuxed_samples(source: str | VirtualFile) -> int:
    with av.open(source, "r", format="mp4", buffer_size=READ_SIZE) as container:
        stream = container.streams.video[0]
        return sum(1 for packet in container.demux(stream) if packet.size)


def decoded_frames(mp4: VirtualMp4) -> int:
    with av.open(VirtualFile(mp4), "r", format="mp4", buffer_size=READ_SIZE) as container:
        return sum(1 for _ in container.decode(container.streams.video[0]))


def check(segments: Sequence[ClosedSegment], written: int) -> None:
    """The virtual MP4's bytes are the recording: untimed, raises on a mismatch."""
    whole = build_mp4(segments, segments[0].start_dts, segments[-1].end_dts)
    samples = demuxed_samples(VirtualFile(whole))
    start, end = (second * TIMESCALE for second in CHECK_RANGE_S)
    frames = decoded_frames(build_mp4(segments, start, end))
    expected = (end - start) * 30 // TIMESCALE
    print(
        f"Check: the virtual MP4 demuxes to {samples} samples of {written} written; "
        f"{CHECK_RANGE_S[0]}–{CHECK_RANGE_S[1]} s decodes to {frames} frames of {expected}."
    )
    if samples != written or frames != expected:
        raise SystemExit("the virtual MP4 does not hold what was recorded")


def playback_table(clip: Sequence[MediaPacket], args: argparse.Namespace, scratch: Path) -> None:
    packets = timeline(clip, args.minutes * 60)
    segments, _ = write_hour(packets, scratch / "hour")
    written = sum(segment.sample_count for segment in segments)
    if written != len(packets):
        raise SystemExit(f"{written} samples recorded of {len(packets)}")
    check(segments, written)
    runs: dict[str, list[PlaybackRun]] = {}
    for attempt in range(args.repeat):
        os.sync()
        run = camgate_playback(segments)
        runs.setdefault(run.label, []).append(run)
        for faststart in (False, True):
            os.sync()
            run = ffmpeg_playback(segments, scratch, faststart)
            runs.setdefault(run.label, []).append(run)
            output = scratch / "playback.mp4"
            samples = demuxed_samples(str(output)) if attempt == 0 else written
            output.unlink()
            if samples != written:
                raise SystemExit(f"{run.label}: {samples} samples of {written}")
    ours, *theirs = (sorted(r, key=lambda run: run.total_s)[len(r) // 2] for r in runs.values())
    print()
    print(
        f"Playback of {args.minutes:g} min as one MP4 ({len(segments)} segments, "
        f"{ours.bytes / 2**30:.2f} GiB out), median of {args.repeat}"
    )
    print()
    print(
        "| builder | first byte on disk / in hand, s | first usable byte, s | total s | "
        "MiB/s | CPU s | time to first usable byte, ffmpeg / camgate | throughput, "
        "camgate / ffmpeg |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for run in [ours, *theirs]:
        ttfb = "—" if run is ours else f"{run.usable_s / ours.usable_s:.1f}"
        rate = "—" if run is ours else f"{ours.throughput / run.throughput:.2f}"
        print(
            f"| {run.label} | {run.first_byte_s:.3f} | {run.usable_s:.3f} | {run.total_s:.2f} | "
            f"{run.throughput / MIB:.0f} | {run.cpu_s:.2f} | {ttfb} | {rate} |",
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cameras", type=int, default=16, help="cameras recorded at once")
    parser.add_argument("--seconds", type=float, default=120, help="video per camera")
    parser.add_argument("--minutes", type=float, default=60, help="video in the playback MP4")
    parser.add_argument("--repeat", type=int, default=3, help="runs per figure (median)")
    parser.add_argument("--dir", type=Path, default=None, help="scratch folder's parent")
    args = parser.parse_args()
    if shutil.which("ffmpeg") is None:
        raise SystemExit("needs Debian's ffmpeg: apt-get install ffmpeg")
    version = subprocess.run(["ffmpeg", "-version"], capture_output=True, text=True, check=True)
    with tempfile.TemporaryDirectory(prefix="camgate-bench-", dir=args.dir) as scratch:
        base = Path(scratch)
        print(
            f"# recording — {machine()}, PyAV {av.__version__}, "
            f"{version.stdout.split(' Copyright')[0]}, scratch on {filesystem(base)}"
        )
        path = ensure_clip(base / "cache", "Bench", PROFILES[0])
        clip = read_packets(path, ORIGIN)
        recording_table(clip, path, args, base)
        playback_table(clip, args, base)


def filesystem(path: Path) -> str:
    """The type of the file system ``path`` is on (from /proc/mounts), e.g. ``ext4``."""
    best, kind = "", "unknown"
    with contextlib.suppress(OSError), open("/proc/mounts") as mounts:
        for line in mounts:
            fields = line.split()
            point = fields[1]
            inside = str(path).startswith(point.rstrip("/") + "/") or str(path) == point
            if inside and len(point) >= len(best):
                best, kind = point, fields[2]
    return kind


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        main()
