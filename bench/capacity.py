"""Direct against transcoded capacity: how many viewers each sustains at under one core.

One camgate server (its own process) with the synthetic 1080p30 camera (~4 Mbit/s, GOP 1 s).

* direct: N WebSocket viewers of the camera's own H.264 (fMP4, every frame);
* transcoded: K WebSocket viewers asking for JPEG (``transcode=1``) at 640×360 and ``--fps``,
  each with its own quality so that none shares a transcoder: the worst case, every viewer a
  different output (viewers of one output share it; ``bench.transcode`` shows they cost the same
  as one).

For each run the server's CPU (user + system of its process) over ``--seconds`` is measured, the
ingest alone (the camera without viewers, measured first) subtracted, and divided by the viewers:
the marginal cost of one viewer. Viewers per core = 1 / that cost. Delivered frames are checked
against the frames asked for, so a server that drops frames does not look cheap.

Reported: CPU per viewer, viewers per core, frames delivered, and the ratio direct/transcoded
(the manual claims direct streaming serves 5× more; camgate's target is 20× or more).

Usage: python -m bench.capacity [--direct 50,200] [--transcoded 1,2] [--fps 15] [--seconds 20]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from bench.common import Server, ViewerStats, camgate_server, machine, ws_viewer
from camgate.media.synthetic import PROFILES, ensure_clip

CAMERA_FPS = 30.0
WIDTH, HEIGHT = 640, 360


@dataclass
class Run:
    kind: str
    viewers: int
    cpu_per_viewer: float
    delivered: float

    @property
    def per_core(self) -> float:
        return 1 / self.cpu_per_viewer if self.cpu_per_viewer > 0 else float("inf")


def _busy(server: Server, paths: list[str], seconds: float) -> tuple[float, list[ViewerStats]]:
    """Server CPU seconds per second while the viewers watch (after their start-up)."""
    port = int(server.base_url.rsplit(":", 1)[1])
    stats = [ViewerStats() for _ in paths]

    async def watch() -> float:
        viewers = [
            asyncio.create_task(ws_viewer("127.0.0.1", port, p, seconds + 3, s))
            for p, s in zip(paths, stats, strict=True)
        ]
        await asyncio.sleep(3)  # connections, GOP bursts and transcoder start-up left out
        before, started = server.cpu_seconds(), time.monotonic()
        await asyncio.sleep(seconds)
        rate = (server.cpu_seconds() - before) / (time.monotonic() - started)
        await asyncio.gather(*viewers)
        return rate

    return asyncio.run(watch()), stats


def _idle(server: Server, seconds: float) -> float:
    before, started = server.cpu_seconds(), time.monotonic()
    time.sleep(seconds)
    return (server.cpu_seconds() - before) / (time.monotonic() - started)


def measure(
    data_dir: Path, direct: list[int], transcoded: list[int], fps: float, seconds: float
) -> tuple[float, list[Run]]:
    runs = []
    with camgate_server(data_dir) as server:
        time.sleep(2)
        ingest = _idle(server, seconds)
        live = f"/api/v1/cameras/{server.camera_id}/live?token={server.token}"
        for n in direct:
            rate, stats = _busy(server, [live] * n, seconds)
            frames = sum(s.frames for s in stats)
            runs.append(
                Run("direct", n, (rate - ingest) / n, frames / (n * (seconds + 3) * CAMERA_FPS))
            )
        for k in transcoded:
            paths = [
                f"{live}&transcode=1&width={WIDTH}&height={HEIGHT}&fps={fps:g}&quality={70 + i}"
                for i in range(k)
            ]
            rate, stats = _busy(server, paths, seconds)
            frames = sum(s.frames for s in stats)
            runs.append(
                Run("transcoded", k, (rate - ingest) / k, frames / (k * (seconds + 3) * fps))
            )
    return ingest, runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--direct", default="50,200")
    parser.add_argument("--transcoded", default="1,2")
    parser.add_argument("--fps", type=float, default=15.0)
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args()
    direct = [int(n) for n in args.direct.split(",")]
    transcoded = [int(n) for n in args.transcoded.split(",")]
    with tempfile.TemporaryDirectory(prefix="camgate-bench-") as scratch:
        data = Path(scratch) / "data"
        ensure_clip(data / "cache", "Bench", PROFILES[0])
        ingest, runs = measure(data, direct, transcoded, args.fps, args.seconds)
        shutil.rmtree(data, ignore_errors=True)
    print(f"# capacity — {machine()}, {args.seconds:.0f} s per run, 1080p30 ~4 Mbit/s camera")
    print(f"ingest alone: {ingest:.1%} of a core (subtracted below)\n")
    print("| viewers | kind | CPU per viewer, % of a core | viewers per core | frames delivered |")
    print("|---|---|---|---|---|")
    for run in runs:
        print(
            f"| {run.viewers} | {run.kind} | {run.cpu_per_viewer:.2%} | {run.per_core:.0f} | "
            f"{run.delivered:.0%} |"
        )
    # The most viewers of each kind: the cost that a full server actually pays.
    direct_cost = max((r for r in runs if r.kind == "direct"), key=lambda r: r.viewers)
    transcoded_cost = max((r for r in runs if r.kind == "transcoded"), key=lambda r: r.viewers)
    ratio = transcoded_cost.cpu_per_viewer / direct_cost.cpu_per_viewer
    print(
        f"\ndirect / transcoded capacity: {ratio:.0f}× "
        f"(transcoded at 640×360, {args.fps:g} fps, each viewer its own output)"
    )


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        main()
