"""Live fan-out: one 1080p30 4 Mbit/s camera, N viewers on loopback, camgate beside nginx.

camgate: N WebSocket viewers of the camera (fMP4, every frame).
Peer: the do-it-yourself setup — ``ffmpeg -c copy -f hls`` writes HLS files from the same clip and
nginx serves them to N HLS clients that poll the playlist and fetch each new segment.

Reported per N: CPU seconds per viewer-second (server side only; ffmpeg's share shown apart), the
ratio camgate/nginx, frames received vs expected, drops, server memory per viewer, and the latency
from capture (the SEI timestamp in every frame) to receipt.

Usage: python -m bench.live_fanout [--viewers 1,50,200,500] [--seconds 30]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import shutil
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil

from bench.common import ViewerStats, camgate_server, free_port, machine, percentile, ws_viewer
from camgate.media.synthetic import PROFILES, ensure_clip

NGINX_CONF = """
worker_processes auto;
pid {root}/nginx.pid;
error_log {root}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 100000;
    types {{ application/vnd.apple.mpegurl m3u8; video/mp2t ts; }}
    server {{
        listen 127.0.0.1:{port};
        root {root}/hls;
        location ~ \\.m3u8$ {{ add_header Cache-Control no-cache; }}
    }}
}}
"""


@dataclass
class Result:
    viewers: int
    cpu_per_viewer_s: float
    frames_ratio: float
    drops: int
    rss_per_viewer_kib: float
    p50_ms: float
    p99_ms: float
    errors: int
    extra_cpu: float = 0.0


async def _run_ws(port: int, path: str, n: int, seconds: float) -> list[ViewerStats]:
    stats = [ViewerStats() for _ in range(n)]
    await asyncio.gather(*(ws_viewer("127.0.0.1", port, path, seconds, s) for s in stats))
    return stats


def bench_camgate(n: int, seconds: float, data_dir: Path) -> Result:
    with camgate_server(data_dir) as server:
        time.sleep(2)  # let the hub settle (GOP cache filled)
        port = int(server.base_url.rsplit(":", 1)[1])
        path = f"/api/v1/cameras/{server.camera_id}/live?token={server.token}"
        rss_before = server.rss()
        cpu_before = server.cpu_seconds()
        started = time.monotonic()
        stats = asyncio.run(_run_ws(port, path, n, seconds))
        elapsed = time.monotonic() - started
        cpu = server.cpu_seconds() - cpu_before
        rss_after = server.rss()
    frames = sum(s.frames for s in stats)
    latencies = [ms for s in stats for ms in s.latencies_ms]
    return Result(
        viewers=n,
        cpu_per_viewer_s=cpu / (n * elapsed),
        frames_ratio=frames / (n * seconds * 30),
        drops=sum(s.dropped_frames for s in stats),
        rss_per_viewer_kib=(rss_after - rss_before) / n / 1024,
        p50_ms=percentile(latencies, 0.5),
        p99_ms=percentile(latencies, 0.99),
        errors=sum(s.errors for s in stats),
    )


@contextlib.contextmanager
def nginx_hls(clip: Path, root: Path) -> Iterator[tuple[int, psutil.Process, psutil.Process]]:
    (root / "hls").mkdir(parents=True)
    port = free_port()
    (root / "nginx.conf").write_text(NGINX_CONF.format(root=root, port=port))
    ffmpeg = psutil.Popen(
        [
            "ffmpeg",
            "-nostdin",
            "-loglevel",
            "error",
            "-re",
            "-stream_loop",
            "-1",
            "-i",
            str(clip),
            "-c",
            "copy",
            "-f",
            "hls",
            "-hls_time",
            "1",
            "-hls_list_size",
            "6",
            "-hls_flags",
            "delete_segments+independent_segments",
            str(root / "hls" / "live.m3u8"),
        ]
    )
    nginx = psutil.Popen(["nginx", "-c", str(root / "nginx.conf"), "-g", "daemon off;"])
    try:
        deadline = time.monotonic() + 20
        while not (root / "hls" / "live.m3u8").exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(3)
        yield port, nginx, ffmpeg
    finally:
        nginx.terminate()
        ffmpeg.terminate()
        for process in (nginx, ffmpeg):
            with contextlib.suppress(psutil.TimeoutExpired):
                process.wait(10)


def _tree_cpu(process: psutil.Process) -> float:
    total = 0.0
    for proc in [process, *process.children(recursive=True)]:
        with contextlib.suppress(psutil.NoSuchProcess):
            times = proc.cpu_times()
            total += times.user + times.system
    return total


async def _http_get(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, path: str) -> bytes:
    writer.write(f"GET {path} HTTP/1.1\r\nHost: bench\r\n\r\n".encode())
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":")[1])
    body = await reader.readexactly(length)
    if not head.startswith(b"HTTP/1.1 200"):
        raise ConnectionError(head.split(b"\r\n")[0].decode())
    return body


async def hls_viewer(port: int, seconds: float, stats: ViewerStats) -> None:
    """An HLS player's network behaviour: reload the playlist, fetch every new segment."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    seen: set[str] = set()
    deadline = time.monotonic() + seconds
    first = True
    try:
        while time.monotonic() < deadline:
            playlist = (await _http_get(reader, writer, "/live.m3u8")).decode()
            lines = playlist.splitlines()
            segments = [line for line in lines if line and not line.startswith("#")]
            durations = [
                float(line[8:].rstrip(",")) for line in lines if line.startswith("#EXTINF:")
            ]
            if first:  # a player starts near the live edge
                seen.update(segments[:-1])
                first = False
            for segment, duration in zip(segments, durations, strict=False):
                if segment in seen:
                    continue
                seen.add(segment)
                body = await _http_get(reader, writer, "/" + segment)
                stats.bytes += len(body)
                stats.frames += round(duration * 30)
            await asyncio.sleep(0.5)
    except (asyncio.IncompleteReadError, ConnectionError):
        stats.errors += 1
    finally:
        writer.close()


def bench_nginx(n: int, seconds: float, clip: Path, root: Path) -> Result:
    with nginx_hls(clip, root) as (port, nginx, ffmpeg):
        rss_before = sum(p.memory_info().rss for p in [nginx, *nginx.children()])
        cpu_before, ff_before = _tree_cpu(nginx), _tree_cpu(ffmpeg)
        started = time.monotonic()
        stats = [ViewerStats() for _ in range(n)]

        async def run() -> None:
            await asyncio.gather(*(hls_viewer(port, seconds, s) for s in stats))

        asyncio.run(run())
        elapsed = time.monotonic() - started
        cpu = _tree_cpu(nginx) - cpu_before
        ff_cpu = _tree_cpu(ffmpeg) - ff_before
        rss_after = sum(p.memory_info().rss for p in [nginx, *nginx.children()])
    frames = sum(s.frames for s in stats)
    return Result(
        viewers=n,
        cpu_per_viewer_s=cpu / (n * elapsed),
        frames_ratio=frames / (n * seconds * 30),
        drops=0,
        rss_per_viewer_kib=(rss_after - rss_before) / n / 1024,
        p50_ms=float("nan"),
        p99_ms=float("nan"),
        errors=sum(s.errors for s in stats),
        extra_cpu=ff_cpu / elapsed,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--viewers", default="1,50,200,500")
    parser.add_argument("--seconds", type=float, default=30.0)
    args = parser.parse_args()
    counts = [int(n) for n in args.viewers.split(",")]
    if shutil.which("nginx") is None or shutil.which("ffmpeg") is None:
        raise SystemExit("needs Debian's nginx and ffmpeg: apt-get install nginx-light ffmpeg")
    print(f"# live_fanout — {machine()}, {args.seconds:.0f} s per run, 1080p30 ~4 Mbit/s")
    print(
        "| N | camgate CPU µs/viewer-s | nginx CPU µs/viewer-s | ratio | camgate frames | "
        "drops | camgate KiB/viewer | latency p50 / p99 ms | nginx frames | ffmpeg CPU % |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory(prefix="camgate-bench-") as scratch:
        base = Path(scratch)
        base.chmod(0o755)  # nginx's workers run as an unprivileged user
        clip = ensure_clip(base / "shared-cache", "Bench", PROFILES[0])
        for n in counts:
            data = base / f"camgate-{n}"
            (data / "cache").mkdir(parents=True)
            shutil.copytree(base / "shared-cache", data / "cache", dirs_exist_ok=True)
            ours = bench_camgate(n, args.seconds, data)
            peer = bench_nginx(n, args.seconds, clip, base / f"nginx-{n}")
            ratio = (
                ours.cpu_per_viewer_s / peer.cpu_per_viewer_s
                if peer.cpu_per_viewer_s
                else float("inf")
            )
            print(
                f"| {n} | {ours.cpu_per_viewer_s * 1e6:.0f} | {peer.cpu_per_viewer_s * 1e6:.0f} | "
                f"{ratio:.2f} | {ours.frames_ratio:.1%} | {ours.drops} | "
                f"{ours.rss_per_viewer_kib:.0f} | {ours.p50_ms:.1f} / {ours.p99_ms:.1f} | "
                f"{peer.frames_ratio:.1%} | {peer.extra_cpu:.1%} |",
                flush=True,
            )
            if ours.errors or peer.errors:
                print(f"  (errors: camgate {ours.errors}, nginx {peer.errors})")


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        main()
