"""The protocol's state in one app: the connections of the command channel, the video streams
they opened, and the commands still running for a client that went away (kept until they end).
On the app's state, like the services: shared by the HTTP and the HTTPS server."""

from __future__ import annotations

import asyncio

from starlette.requests import HTTPConnection

from camgate.protocols.xpmobile.connections import ConnectionTable
from camgate.protocols.xpmobile.streams import StreamTable


class Channel:
    def __init__(self) -> None:
        self.connections = ConnectionTable()
        self.streams = StreamTable()
        self.running: set[asyncio.Task[bytes]] = set()


def channel(connection: HTTPConnection) -> Channel:
    state = connection.app.state
    found = getattr(state, "xpmobile", None)
    if not isinstance(found, Channel):
        found = Channel()
        state.xpmobile = found
    return found


async def aclose(state: object) -> None:
    """Ends the streams of the app's channel, if it has one (the app stops)."""
    found = getattr(state, "xpmobile", None)
    if isinstance(found, Channel):
        await found.streams.aclose()
