"""Transcoding: 1080p30 H.264 to 640×360 JPEG (q75), camgate beside the ffmpeg command line.

Clip: the synthetic 1080p camera's clip (2 s, GOP 1 s, ~4 Mbit/s, noise included), looped
``--loops`` times. Both sides do the same job on the same frames in the same run:

* camgate: the clip's packets, demuxed and normalized as a source does and laid end to end on a
  continuous timeline, are published into a :class:`LiveHub` as fast as the transcoder takes them
  — a few packets, then wait until it has processed them (not paced at 30 fps: the transcoder is
  never idle waiting for a camera, and no packet is dropped; checked). One viewer reads the JPEGs.
  CPU: ``time.process_time()`` of this process (every thread) around the feeding, after a warm-up
  of one loop.
* ffmpeg (Debian's): ``-stream_loop`` over the same file, ``-vf scale=640:360 -f mjpeg -q:v 5``;
  for a lower rate ``-vf fps=N,scale=640:360``, and at 1 fps also with ``-skip_frame nokey``
  (the keyframe-only trick, for comparison). CPU: ``getrusage(RUSAGE_CHILDREN)``, start-up
  included.

Reported: output frames per CPU-second (median of ``--repeat`` runs), the ratio camgate/ffmpeg,
average JPEG size; then 1, 10 and 50 viewers of one full-rate output, CPU per output frame.

Usage: python -m bench.transcode [--loops 20] [--repeat 3]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import resource
import shutil
import subprocess
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import av

from bench.common import machine
from camgate.media.fanout import Closed
from camgate.media.hub import LiveHub
from camgate.media.limits import OutputSpec
from camgate.media.packet import MediaPacket
from camgate.media.source import read_packets
from camgate.media.synthetic import PROFILES, ensure_clip
from camgate.media.transcode import JpegFrame, JpegSubscription, Transcoder, TranscoderRegistry

WIDTH, HEIGHT, QUALITY = 640, 360, 75
#: Packets published before waiting for the transcoder: a job then publishes at most as many
#: JPEGs as a viewer's queue holds, as at a camera's pace (where jobs hold one packet).
CHUNK = 4
#: The output rates measured: the camera's full rate, the issue's 5 fps, and its keyframe rate.
RATES = (30.0, 5.0, 1.0)
VIEWER_COUNTS = (1, 10, 50)


@dataclass
class Run:
    frames: int
    cpu_s: float
    wall_s: float
    jpeg_bytes: int
    delivered: int = 0
    drops: int = 0
    decoded: int = 0
    transcoders: int = 0

    @property
    def per_cpu_s(self) -> float:
        return self.frames / self.cpu_s if self.cpu_s else float("nan")


def looped(packets: Sequence[MediaPacket], loops: int) -> list[MediaPacket]:
    """The clip ``loops`` times on one continuous timeline (the data shared, not copied)."""
    period = packets[-1].dts + packets[-1].duration - packets[0].dts
    return [
        dataclasses.replace(p, pts=p.pts + n * period, dts=p.dts + n * period)
        for n in range(loops)
        for p in packets
    ]


async def _read(subscription: JpegSubscription, run: Run) -> None:
    with contextlib.suppress(Closed):
        while True:
            item = await subscription.get()
            if isinstance(item, JpegFrame):
                run.delivered += 1
                run.jpeg_bytes += len(item.data)


async def _feed(hub: LiveHub, transcoder: Transcoder, packets: Sequence[MediaPacket]) -> None:
    for index, packet in enumerate(packets):
        hub.publish(packet)
        if index % CHUNK == CHUNK - 1:
            await transcoder.drained()
    await transcoder.drained()
    await asyncio.sleep(0)  # the viewers read the last JPEGs


async def _camgate(
    warmup: Sequence[MediaPacket], packets: Sequence[MediaPacket], fps: float, viewers: int
) -> Run:
    spec = OutputSpec(WIDTH, HEIGHT, fps, QUALITY)
    hub = LiveHub("bench")
    with ThreadPoolExecutor(max_workers=2) as pool:
        registry = TranscoderRegistry(pool)
        subscriptions = [registry.subscribe("bench", hub, spec) for _ in range(viewers)]
        transcoder = registry.find("bench", spec)
        assert transcoder is not None
        run = Run(0, 0.0, 0.0, 0, transcoders=registry.running)
        readers = [asyncio.create_task(_read(s, run)) for s in subscriptions]
        await _feed(hub, transcoder, warmup)
        frames, decoded = transcoder.published_frames, transcoder.decoded_packets
        run.delivered = run.jpeg_bytes = 0
        wall, cpu = time.perf_counter(), time.process_time()
        await _feed(hub, transcoder, packets)
        run.cpu_s = time.process_time() - cpu
        run.wall_s = time.perf_counter() - wall
        run.frames = transcoder.published_frames - frames
        run.decoded = transcoder.decoded_packets - decoded
        run.drops = transcoder.dropped_packets + sum(s.dropped_total for s in subscriptions)
        await registry.aclose()
        for reader in readers:
            reader.cancel()
    return run


def camgate_run(clip: list[MediaPacket], loops: int, fps: float, viewers: int = 1) -> Run:
    return asyncio.run(_camgate(clip, looped(clip, loops)[len(clip) :], fps, viewers))


def ffmpeg_run(path: Path, loops: int, fps: float, scratch: Path, *, nokey: bool = False) -> Run:
    output = scratch / "out.mjpeg"
    scale = f"scale={WIDTH}:{HEIGHT}" if fps >= 30 else f"fps={fps:g},scale={WIDTH}:{HEIGHT}"
    command = ["ffmpeg", "-nostdin", "-v", "error", "-stream_loop", str(loops - 1)]
    if nokey:
        command += ["-skip_frame", "nokey"]
    command += ["-i", str(path), "-vf", scale, "-f", "mjpeg", "-q:v", "5", "-y", str(output)]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    wall = time.perf_counter()
    subprocess.run(command, check=True)
    wall = time.perf_counter() - wall
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    data = output.read_bytes()
    output.unlink()
    frames = data.count(b"\xff\xd8\xff")
    return Run(frames, cpu, wall, len(data), delivered=frames)


def median_run(runs: list[Run]) -> Run:
    return sorted(runs, key=lambda run: run.per_cpu_s)[len(runs) // 2]


def kib(run: Run) -> str:
    """Average size of a delivered JPEG."""
    return f"{run.jpeg_bytes / max(1, run.delivered) / 1024:.1f}"


def rate_table(
    clip: list[MediaPacket], path: Path, args: argparse.Namespace, scratch: Path
) -> None:
    print(
        "| output | camgate frames/CPU-s | ffmpeg frames/CPU-s | ratio | camgate decoded / "
        "frames out | ffmpeg frames out | camgate KiB/JPEG | ffmpeg KiB/JPEG | wall s (camgate / "
        "ffmpeg) |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for fps in RATES:
        peers = [("ffmpeg", False)] + ([("ffmpeg -skip_frame nokey", True)] if fps <= 1 else [])
        ours: list[Run] = []
        theirs: dict[str, list[Run]] = {name: [] for name, _ in peers}
        for _ in range(args.repeat):
            ours.append(camgate_run(clip, args.loops, fps))
            for name, nokey in peers:
                theirs[name].append(ffmpeg_run(path, args.loops, fps, scratch, nokey=nokey))
        mine = median_run(ours)
        for name, runs in theirs.items():
            peer = median_run(runs)
            label = f"{fps:g} fps" + ("" if name == "ffmpeg" else f" (vs {name})")
            print(
                f"| {label} | {mine.per_cpu_s:.0f} | {peer.per_cpu_s:.0f} | "
                f"{mine.per_cpu_s / peer.per_cpu_s:.2f} | {mine.decoded} / {mine.frames} | "
                f"{peer.frames} | {kib(mine)} | {kib(peer)} | "
                f"{mine.wall_s:.1f} / {peer.wall_s:.1f} |",
                flush=True,
            )
            if mine.drops:
                print(f"  (camgate dropped {mine.drops} packets or frames)")


def viewer_table(clip: list[MediaPacket], args: argparse.Namespace) -> None:
    print()
    print(
        "| viewers of one 30 fps output | transcoders | CPU ms per output frame | vs 1 viewer | "
        "JPEGs delivered / expected | drops |"
    )
    print("|---|---|---|---|---|---|")
    base = None
    loops = max(2, args.loops // 2)
    for count in VIEWER_COUNTS:
        run = median_run([camgate_run(clip, loops, 30.0, count) for _ in range(args.repeat)])
        cost = run.cpu_s / run.frames * 1000
        base = base or cost
        print(
            f"| {count} | {run.transcoders} | {cost:.2f} | {cost / base:.2f} | "
            f"{run.delivered / (count * run.frames):.1%} | {run.drops} |",
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--loops", type=int, default=20, help="times the 2 s clip is played")
    parser.add_argument("--repeat", type=int, default=3, help="runs per figure (median)")
    args = parser.parse_args()
    if shutil.which("ffmpeg") is None:
        raise SystemExit("needs Debian's ffmpeg: apt-get install ffmpeg")
    version = subprocess.run(["ffmpeg", "-version"], capture_output=True, text=True, check=True)
    print(
        f"# transcode — {machine()}, PyAV {av.__version__}, "
        f"{version.stdout.split(' Copyright')[0]}, 1080p30 → {WIDTH}×{HEIGHT} JPEG, "
        f"{args.loops} × 2 s, median of {args.repeat}"
    )
    with tempfile.TemporaryDirectory(prefix="camgate-bench-") as scratch:
        base = Path(scratch)
        path = ensure_clip(base / "cache", "Bench", PROFILES[0])
        clip = read_packets(path, time.time())
        rate_table(clip, path, args, base)
        viewer_table(clip, args)


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        main()
