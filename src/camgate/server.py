"""Runs the app on the HTTP port and, with a certificate, on the HTTPS port, in one event loop."""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import logging
import socket
from collections.abc import Callable, Generator
from dataclasses import dataclass

import uvicorn
from fastapi import FastAPI

from camgate.core.tls import describe, ensure_self_signed
from camgate.settings import ServerSettings

log = logging.getLogger(__name__)


#: How camgate runs uvicorn (the test server uses the same).
UVICORN_OPTIONS: dict[str, str] = {
    "log_level": "warning",
    "loop": "uvloop",
    "http": "httptools",
    "ws": "websockets-sansio",
}


#: The kernel send buffer of every client connection. Linux would let it grow to 4 MiB: eight
#: seconds of a 4 Mbit/s camera hidden from the hub's overflow policy (ADR 0003) for each stalled
#: viewer. 512 KiB still covers the bandwidth-delay product of a fast mobile link.
SEND_BUFFER = 512 * 1024


def listening_socket(host: str, port: int) -> socket.socket:
    """A listening TCP socket whose accepted connections inherit a bounded send buffer."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER)
    sock.bind((host, port))
    sock.listen(2048)
    sock.setblocking(False)
    return sock


@dataclass(frozen=True, slots=True)
class Listeners:
    host: str
    http_port: int
    #: 0 turns HTTPS off.
    https_port: int

    def url(self) -> str:
        host = "127.0.0.1" if self.host in ("0.0.0.0", "") else self.host
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{self.http_port}/"


class _Follower(uvicorn.Server):
    """The HTTPS server: the HTTP server owns signals and the app's lifespan."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


async def serve(
    app: FastAPI,
    settings: ServerSettings,
    listeners: Listeners,
    *,
    on_ready: Callable[[], None] | None = None,
) -> None:
    common = UVICORN_OPTIONS
    sockets = [listening_socket(listeners.host, listeners.http_port)]
    if listeners.https_port:
        sockets.append(listening_socket(listeners.host, listeners.https_port))
    main = uvicorn.Server(
        uvicorn.Config(app, host=listeners.host, port=listeners.http_port, lifespan="on", **common)  # type: ignore[arg-type]
    )
    servers: list[uvicorn.Server] = [main]
    if listeners.https_port:
        cert, key = await asyncio.to_thread(ensure_self_signed, settings.data_dir / "tls")
        info = describe(await asyncio.to_thread(cert.read_bytes))
        if warning := info.expiry_warning(datetime.datetime.now(datetime.UTC)):
            log.warning("%s", warning)
        servers.append(
            _Follower(
                uvicorn.Config(
                    app,
                    host=listeners.host,
                    port=listeners.https_port,
                    lifespan="off",
                    ssl_certfile=str(cert),
                    ssl_keyfile=str(key),
                    **common,  # type: ignore[arg-type]
                )
            )
        )

    async def follow() -> None:
        # uvicorn tells that it started only through this flag, so it is polled.
        while not main.started:
            if main.should_exit:
                return
            await asyncio.sleep(0.05)
        followers = [
            asyncio.create_task(server.serve(sockets=[sock]))
            for server, sock in zip(servers[1:], sockets[1:], strict=True)
        ]
        while not all(s.started for s in servers[1:]) and not main.should_exit:  # noqa: ASYNC110
            await asyncio.sleep(0.05)
        if on_ready is not None:
            on_ready()
        for follower in followers:
            await follower

    async def stop_followers() -> None:
        while not main.should_exit:  # noqa: ASYNC110 (uvicorn sets this flag on a signal)
            await asyncio.sleep(0.2)
        for server in servers[1:]:
            server.should_exit = True

    async with asyncio.TaskGroup() as group:
        group.create_task(main.serve(sockets=sockets[:1]))
        group.create_task(stop_followers())
        group.create_task(follow())
