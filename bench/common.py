"""What the benchmarks share: a camgate server in its own process, and a lean viewer client.

Benchmarks talk only to loopback. The client is deliberately minimal (raw asyncio sockets, the
WebSocket framing parsed by hand) so that the client side costs as little CPU as possible on the
same 2-core machine as the server it measures.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import secrets
import socket
import struct
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psutil

from camgate.media import h26x

ADMIN = ("bench", "bench-password-1")
#: Frames a viewer receives before latency is sampled (the GOP cache burst, then catch-up).
WARMUP_FRAMES = 60


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def camgate(data_dir: Path, *args: str, stdin: str = "") -> None:
    subprocess.run(
        [sys.executable, "-m", "camgate.cli", "--data-dir", str(data_dir), *args],
        input=stdin,
        text=True,
        check=True,
        capture_output=True,
    )


@dataclass
class Server:
    base_url: str
    process: psutil.Popen
    token: str = ""
    camera_id: str = ""
    stream_ids: list[str] = field(default_factory=list)

    def cpu_seconds(self) -> float:
        times = self.process.cpu_times()
        return float(times.user + times.system)

    def rss(self) -> int:
        return int(self.process.memory_info().rss)


def add_bench_camera(data_dir: Path, stream: str = "synthetic:1080p") -> None:
    """The bench administrator and one camera, in a data folder no server runs on yet."""
    camgate(
        data_dir,
        "user",
        "add",
        ADMIN[0],
        "--role",
        "administrator",
        "--password-stdin",
        stdin=ADMIN[1] + "\n",
    )
    camgate(data_dir, "camera", "add", "Bench", "--url", stream)


@contextlib.contextmanager
def camgate_server(data_dir: Path, stream: str = "synthetic:1080p") -> Iterator[Server]:
    """A camgate server with one synthetic camera, logged in, the camera online."""
    add_bench_camera(data_dir, stream)
    with running_server(data_dir) as server:
        yield server


@contextlib.contextmanager
def running_server(data_dir: Path) -> Iterator[Server]:
    """``camgate serve`` on a prepared data folder, logged in, its first camera online."""
    port = free_port()
    process = psutil.Popen(
        [
            sys.executable,
            "-m",
            "camgate.cli",
            "--data-dir",
            str(data_dir),
            "serve",
            "--host",
            "127.0.0.1",
            "--http-port",
            str(port),
            "--https-port",
            "0",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    server = Server(f"http://127.0.0.1:{port}", process)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                response = httpx.post(
                    f"{server.base_url}/api/v1/auth/login",
                    json=dict(zip(("username", "password"), ADMIN, strict=True)),
                )
                if response.status_code == 200:
                    server.token = response.json()["token"]
                    cameras = httpx.get(
                        f"{server.base_url}/api/v1/cameras",
                        headers={"Authorization": f"Bearer {server.token}"},
                    ).json()
                    if cameras and cameras[0]["status"] == "online":
                        server.camera_id = cameras[0]["id"]
                        server.stream_ids = [s["id"] for s in cameras[0]["streams"]]
                        break
            time.sleep(0.2)
        else:
            raise RuntimeError("camgate did not come up")
        yield server
    finally:
        process.terminate()
        with contextlib.suppress(psutil.TimeoutExpired):
            process.wait(10)
        if process.is_running():
            process.kill()


@dataclass
class ViewerStats:
    frames: int = 0
    drops: int = 0
    dropped_frames: int = 0
    bytes: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    first_frame_s: float | None = None
    errors: int = 0


async def _read_frame(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readexactly(2)
    opcode = head[0] & 0x0F
    length = head[1] & 0x7F
    if length == 126:
        (length,) = struct.unpack(">H", await reader.readexactly(2))
    elif length == 127:
        (length,) = struct.unpack(">Q", await reader.readexactly(8))
    return opcode, await reader.readexactly(length)


def _mdat_sample(fragment: bytes) -> bytes:
    offset = 0
    while offset + 8 <= len(fragment):
        size, kind = struct.unpack(">I4s", fragment[offset : offset + 8])
        if kind == b"mdat":
            return fragment[offset + 8 : offset + size]
        offset += size
    return b""


async def ws_viewer(
    host: str,
    port: int,
    path: str,
    seconds: float,
    stats: ViewerStats,
    *,
    sample_every: int = 10,
    frames_wanted: int | None = None,
) -> None:
    """Watch a camgate live WebSocket for ``seconds``; count frames, drops and latency samples."""
    started = time.perf_counter()
    reader, writer = await asyncio.open_connection(host, port)
    key = base64.b64encode(secrets.token_bytes(16)).decode()
    writer.write(
        (
            f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\n"
            "Upgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    await writer.drain()
    status = await reader.readuntil(b"\r\n\r\n")
    if b" 101 " not in status.split(b"\r\n", 1)[0]:
        stats.errors += 1
        writer.close()
        return
    deadline = time.monotonic() + seconds
    binary = 0
    try:
        while time.monotonic() < deadline:
            opcode, payload = await asyncio.wait_for(_read_frame(reader), timeout=10)
            if opcode == 2:
                binary += 1
                if binary == 1:
                    continue  # the init segment
                stats.frames += 1
                stats.bytes += len(payload)
                if stats.first_frame_s is None:
                    stats.first_frame_s = time.perf_counter() - started
                if frames_wanted is not None and stats.frames >= frames_wanted:
                    break
                # The cached GOP that starts a viewer is older by design: sample after it.
                if stats.frames > WARMUP_FRAMES and stats.frames % sample_every == 0:
                    wallclock = h26x.find_wallclock("h264", _mdat_sample(payload))
                    if wallclock is not None:
                        stats.latencies_ms.append((time.time() - wallclock) * 1000)
            elif opcode == 1 and b'"drop"' in payload:
                stats.drops += 1
                stats.dropped_frames += int(payload.rsplit(b":", 1)[1].rstrip(b"}"))
            elif opcode == 8:
                break
    except (TimeoutError, asyncio.IncompleteReadError, ConnectionError):
        stats.errors += 1
    finally:
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def machine() -> str:
    memory = psutil.virtual_memory().total / 2**30
    return f"{os.cpu_count()} cores, {memory:.0f} GiB, Python {sys.version.split()[0]}"
