"""Time to first frame: from the request to the first decodable frame, 50 times.

camgate: a new WebSocket viewer, until the first fragment (a keyframe, from the GOP cache) has
arrived. Peer, in the same run: the do-it-yourself HLS setup (ffmpeg -c copy -f hls + nginx), a
new connection fetching the playlist and the newest segment, which is what a player needs before
it can show a frame. Usage: python -m bench.first_frame [--requests 50]
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import tempfile
import time
from pathlib import Path

from bench.common import ViewerStats, camgate_server, machine, percentile, ws_viewer
from bench.live_fanout import _http_get, nginx_hls
from camgate.media.synthetic import PROFILES, ensure_clip

#: Spreads the requests over different points of the GOP.
SPACING_S = 0.037


def camgate_times(data: Path, requests: int) -> list[float]:
    times = []
    with camgate_server(data) as server:
        time.sleep(2)
        port = int(server.base_url.rsplit(":", 1)[1])
        path = f"/api/v1/cameras/{server.camera_id}/live?token={server.token}"
        for _ in range(requests):
            stats = ViewerStats()
            asyncio.run(ws_viewer("127.0.0.1", port, path, 10.0, stats, frames_wanted=1))
            if stats.first_frame_s is not None:
                times.append(stats.first_frame_s * 1000)
            time.sleep(SPACING_S)
    return times


async def _hls_first_segment(port: int) -> float:
    started = time.perf_counter()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        playlist = (await _http_get(reader, writer, "/live.m3u8")).decode()
        newest = [line for line in playlist.splitlines() if line and not line.startswith("#")][-1]
        await _http_get(reader, writer, "/" + newest)
        return (time.perf_counter() - started) * 1000
    finally:
        writer.close()


def nginx_times(clip: Path, root: Path, requests: int) -> list[float]:
    times = []
    with nginx_hls(clip, root) as (port, _nginx, _ffmpeg):
        for _ in range(requests):
            times.append(asyncio.run(_hls_first_segment(port)))
            time.sleep(SPACING_S)
    return times


def _line(name: str, times: list[float], requests: int) -> str:
    return (
        f"| {name} | {len(times)}/{requests} | {percentile(times, 0.5):.1f} | "
        f"{percentile(times, 0.95):.1f} | {max(times):.1f} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="camgate-bench-") as scratch:
        base = Path(scratch)
        base.chmod(0o755)  # nginx's workers run as an unprivileged user
        clip = ensure_clip(base / "data" / "cache", "Bench", PROFILES[0])
        ours = camgate_times(base / "data", args.requests)
        peer = nginx_times(clip, base / "nginx", args.requests)
        shutil.rmtree(base / "data", ignore_errors=True)
    print(f"# first_frame — {machine()}, 1080p30 ~4 Mbit/s, GOP 1 s")
    print("| server | answered | median ms | p95 ms | max ms |")
    print("|---|---|---|---|---|")
    print(_line("camgate (WebSocket fMP4)", ours, args.requests))
    print(_line("nginx + ffmpeg HLS (playlist + newest segment)", peer, args.requests))
    ratio = percentile(peer, 0.5) / percentile(ours, 0.5)
    print(f"\nmedian ratio nginx/camgate: {ratio:.1f}× (higher is better for camgate)")


if __name__ == "__main__":
    main()
