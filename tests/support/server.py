"""A real camgate server on a loopback port, in a thread of the test process."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import uvicorn

from camgate.app import create_app
from camgate.context import open_core
from camgate.core.clock import SystemClock
from camgate.server import UVICORN_OPTIONS, listening_socket
from camgate.settings import ServerSettings


def auth(token: str) -> dict[str, str]:
    """The header of a request made with ``token``."""
    return {"Authorization": f"Bearer {token}"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass(frozen=True)
class RunningServer:
    base_url: str
    data_dir: Path

    @property
    def ws_url(self) -> str:
        return "ws" + self.base_url.removeprefix("http")


def add_user(data_dir: Path, username: str, password: str, role: str) -> None:
    """What ``camgate user add`` does; works before any server has started."""

    async def work() -> None:
        async with open_core(data_dir, SystemClock()) as core:
            await core.identity.add_user(username, password, role)

    # In a thread of its own: Playwright's sync API keeps an event loop in the test's thread.
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, work()).result()


@contextlib.contextmanager
def running_server(
    data_dir: Path,
    *,
    backoff: Callable[[int], float] | None = None,
    cpu_percent: Callable[[], float] | None = None,
    segment_s: int = 60,
    xpmobile_samples_dir: Path | None = None,
) -> Iterator[RunningServer]:
    port = free_port()
    settings = ServerSettings(
        data_dir=data_dir, host="127.0.0.1", http_port=port, https_port=0, segment_s=segment_s
    )
    given = {"backoff": backoff, "cpu_percent": cpu_percent}
    seams: dict[str, Any] = {name: value for name, value in given.items() if value is not None}
    app = create_app(settings, xpmobile_samples_dir=xpmobile_samples_dir, **seams)
    config = uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="on", **UVICORN_OPTIONS)  # type: ignore[arg-type]
    server = uvicorn.Server(config)
    server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
    sock = listening_socket("127.0.0.1", port)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="camgate-test-server", daemon=True
    )
    thread.start()
    try:
        for _ in range(600):
            if server.started:
                break
            if not thread.is_alive():
                raise RuntimeError("the test server did not start")
            threading.Event().wait(0.02)
        else:
            raise RuntimeError("the test server did not start in time")
        yield RunningServer(f"http://127.0.0.1:{port}", data_dir)
    finally:
        server.should_exit = True
        thread.join(timeout=30)
