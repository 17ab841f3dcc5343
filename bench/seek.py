"""Seek latency: from the request to the first decoded frame at a random recorded time.

An hour of the synthetic 1080p camera's clip (30 fps, GOP 1 s, ~4 Mbit/s) is written with
:class:`SegmentWriter` into a real camgate data folder as the recorder would have written it two
hours ago (60 s segments), ``camgate check --repair`` indexes those files (they are orphans to
it), and ``camgate serve`` runs on that folder (its camera records live meanwhile, as a server
does). Then, ``--requests`` times, a random moment T of that hour:

* camgate: ``GET playback.mp4?start=T&end=T+60s`` over loopback, the body fed as it arrives to
  PyAV (libavformat's MP4 demuxer, which applies the edit list, and the H.264 decoder), until the
  first frame comes out: the frame at T, decoded from the keyframe before it. The time covers the
  index lookup, building the virtual MP4, the transfer and the decoding.
* ffmpeg (the peer, in the same run): ``ffmpeg -ss OFFSET -i SEGMENT -frames:v 1 -f null -`` on
  the segment file that holds T, as a do-it-yourself recorder without an index would seek: it
  is told the file, ffmpeg finds the keyframe and decodes up to T. Process start-up included
  (it is part of what such a setup pays per seek).
* PyAV on the file, in this process: open the segment, seek to the keyframe, decode to T; the
  floor any server pays to decode (no HTTP, no index, no process).

Reported: median, p90 and max in ms, and the ratio peer / camgate (above 1: camgate seeks
sooner). Checked, untimed: camgate's first frame is the frame at T (within one frame interval).

Usage: python -m bench.seek [--requests 50] [--minutes 60]
"""

from __future__ import annotations

import argparse
import bisect
import io
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import av
import httpx

from bench.common import add_bench_camera, camgate, machine, percentile, running_server
from bench.recording import timeline, write_hour
from camgate.api.times import iso
from camgate.media.segment import ClosedSegment
from camgate.media.source import read_packets
from camgate.media.synthetic import PROFILES, ensure_clip
from camgate.settings import recordings_dir

#: The hour ends this long before the benchmark starts: old enough to be history, young
#: enough for the camera's default retention (7 days).
AGE_S = 3600.0
WINDOW_S = 60.0
FRAME_S = 1 / 30
CHUNK = 64 * 1024


class StreamingBody(io.RawIOBase):
    """A response body as a file PyAV can read while it arrives: seeks within what has arrived,
    and forward by reading on (the MP4 demuxer seeks to the first sample's offset)."""

    def __init__(self, chunks: Iterator[bytes], size: int) -> None:
        self._chunks = chunks
        self._size = size
        self._data = bytearray()
        self._position = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def _fill(self, until: int) -> None:
        while len(self._data) < min(until, self._size):
            chunk = next(self._chunks, b"")
            if not chunk:
                return
            self._data += chunk

    def read(self, size: int = -1) -> bytes:
        end = self._size if size < 0 else self._position + size
        self._fill(end)
        data = bytes(self._data[self._position : end])
        self._position += len(data)
        return data

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: self._size}[whence]
        self._position = base + offset
        return self._position

    def tell(self) -> int:
        return self._position


def first_frame_time(body: StreamingBody) -> float:
    """The presentation time (s from the MP4's start) of the first frame PyAV decodes."""
    with av.open(body, mode="r", format="mp4") as container:
        stream = container.streams.video[0]
        for frame in container.decode(stream):
            return float(frame.time or 0.0)
    raise RuntimeError("no frame decoded")


def camgate_seek(client: httpx.Client, base: str, camera_id: str, at: float) -> float:
    """ms from the request to T's frame decoded; checks it is T's frame."""
    url = f"{base}/api/v1/cameras/{camera_id}/playback.mp4"
    params = {"start": iso(at), "end": iso(at + WINDOW_S)}
    started = time.perf_counter()
    with client.stream("GET", url, params=params) as response:
        response.raise_for_status()
        body = StreamingBody(response.iter_raw(CHUNK), int(response.headers["content-length"]))
        shown = first_frame_time(body)
        elapsed = (time.perf_counter() - started) * 1000
    if abs(shown) > FRAME_S:  # the edit list starts the MP4 at T
        raise RuntimeError(f"the first frame is at {shown:.3f} s of the MP4, not at T")
    return elapsed


def holder(segments: Sequence[ClosedSegment], at: float) -> tuple[ClosedSegment, float]:
    starts = [s.start_wallclock for s in segments]
    segment = segments[bisect.bisect_right(starts, at) - 1]
    return segment, at - segment.start_wallclock


def ffmpeg_seek(segments: Sequence[ClosedSegment], at: float) -> float:
    segment, offset = holder(segments, at)
    command = ["ffmpeg", "-v", "error", "-nostdin", "-ss", f"{offset:.3f}", "-i", str(segment.path)]
    started = time.perf_counter()
    subprocess.run([*command, "-frames:v", "1", "-f", "null", "-"], check=True)
    return (time.perf_counter() - started) * 1000


def pyav_seek(segments: Sequence[ClosedSegment], at: float) -> float:
    segment, offset = holder(segments, at)
    started = time.perf_counter()
    with av.open(str(segment.path)) as container:
        stream = container.streams.video[0]
        assert stream.time_base is not None
        container.seek(round(offset / stream.time_base), stream=stream, backward=True)
        for frame in container.decode(stream):
            if frame.time is not None and frame.time >= offset - FRAME_S / 2:
                break
    return (time.perf_counter() - started) * 1000


def line(name: str, times: list[float], camgate_median: float) -> str:
    median = percentile(times, 0.5)
    return (
        f"| {name} | {median:.1f} | {percentile(times, 0.9):.1f} | {max(times):.1f} "
        f"| {median / camgate_median:.2f} |"
    )


def record_history(data: Path, camera_id: str, stream_id: str, minutes: int) -> list[ClosedSegment]:
    clip = read_packets(ensure_clip(data / "clip", "Bench", PROFILES[0]))
    origin = time.time() - AGE_S - minutes * 60
    packets = timeline(clip, minutes * 60, origin)
    segments, _ = write_hour(packets, recordings_dir(data), camera_id, stream_id)
    camgate(data, "check", "--repair")  # indexes them: orphans to camgate
    return segments


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--minutes", type=int, default=60)
    args = parser.parse_args()
    if shutil.which("ffmpeg") is None:
        sys.exit("ffmpeg is needed (apt-get install ffmpeg)")
    print(f"Seek latency, {args.requests} random times in {args.minutes} min; {machine()}")
    rng = random.Random(7)
    with tempfile.TemporaryDirectory(prefix="camgate-seek-") as scratch:
        data = Path(scratch)
        add_bench_camera(data)
        with running_server(data) as server:  # learns the ids camgate gave the camera
            camera_id, stream_id = server.camera_id, server.stream_ids[0]
        segments = record_history(data, camera_id, stream_id, args.minutes)
        first, last = segments[0].start_wallclock, segments[-1].end_wallclock
        moments = [rng.uniform(first + 1, last - WINDOW_S) for _ in range(args.requests)]
        with running_server(data) as server:
            headers = {"Authorization": f"Bearer {server.token}"}
            with httpx.Client(headers=headers, timeout=30) as client:
                camgate_seek(client, server.base_url, camera_id, moments[0])  # warm the imports
                ours = [camgate_seek(client, server.base_url, camera_id, t) for t in moments]
        theirs = [ffmpeg_seek(segments, t) for t in moments]
        floor = [pyav_seek(segments, t) for t in moments]
    median = percentile(ours, 0.5)
    print("\n| request → first frame at T | median ms | p90 ms | max ms | ÷ camgate median |")
    print("|---|---|---|---|---|")
    print(line("camgate `playback.mp4` over HTTP, decoded by PyAV", ours, median))
    print(line("ffmpeg `-ss` on the segment file (peer)", theirs, median))
    print(line("PyAV on the segment file, in process (floor)", floor, median))


if __name__ == "__main__":
    main()
