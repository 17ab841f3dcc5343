"""The client timeout (U3): the last sign of life of every session this process has heard from.

A sign of life is any request the session authenticates (the web client's keepalive among them),
a message on one of its WebSockets, or video that one of its streams handed to the client's
connection since the last check. A session silent for longer than the client timeout ends.

Kept in memory: a session last heard of before a restart is tracked again from its next request
(silence while the server was down is not the client's fault). Bounded by the sessions heard of
within one timeout; silent ones are dropped when they end.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass


@dataclass(slots=True)
class Presence:
    username: str
    #: Monotonic time of the last sign of life.
    last_seen: float


class Liveness:
    def __init__(self) -> None:
        self._sessions: dict[str, Presence] = {}
        #: Sessions ended because they went silent, since the start.
        self.timed_out = 0

    def seen(self, session_id: str, username: str, now: float) -> None:
        presence = self._sessions.get(session_id)
        if presence is None:
            self._sessions[session_id] = Presence(username, now)
        elif now > presence.last_seen:
            presence.last_seen = now

    def seen_again(self, session_ids: Iterable[str], now: float) -> None:
        """Signs of life of sessions already known (their streams delivered video)."""
        for session_id in session_ids:
            presence = self._sessions.get(session_id)
            if presence is not None and now > presence.last_seen:
                presence.last_seen = now

    def forget(self, session_id: str) -> None:
        self._sessions.pop(session_id, None)

    def silent(self, now: float, timeout_s: float) -> list[str]:
        """The sessions whose last sign of life is older than ``timeout_s``."""
        return [sid for sid, p in self._sessions.items() if now - p.last_seen > timeout_s]

    def sessions(self) -> Mapping[str, str]:
        """The live sessions: session id to user name."""
        return {sid: presence.username for sid, presence in self._sessions.items()}
