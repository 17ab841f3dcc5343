"""Ends the sessions that stopped signalling that they are alive (the client timeout, U3)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from camgate.core.clock import Clock
from camgate.identity.liveness import Liveness
from camgate.live.viewers import ViewerRegistry

log = logging.getLogger(__name__)

#: How often silence is looked for: a session ends at most this late after its timeout.
CHECK_S = 1.0


class ClientTimeout:
    def __init__(
        self,
        liveness: Liveness,
        viewers: ViewerRegistry,
        clock: Clock,
        *,
        timeout_s: Callable[[], float],
        end_login: Callable[[str], Awaitable[None]],
    ) -> None:
        self._liveness = liveness
        self._viewers = viewers
        self._clock = clock
        self._timeout_s = timeout_s
        self._end_login = end_login
        self._sent: dict[int, int] = {}
        #: Silent sessions whose login is still to be ended (the database may refuse for a while).
        self._ending: set[str] = set()

    def _streams_delivered(self, now: float) -> None:
        """Video taken by a client's connection since the last check is a sign of life."""
        current = {v.id: (v.session_id, v.bytes_sent) for v in self._viewers.viewers()}
        delivered = {
            session_id
            for viewer_id, (session_id, sent) in current.items()
            if sent > self._sent.get(viewer_id, 0)
        }
        self._sent = {viewer_id: sent for viewer_id, (_, sent) in current.items()}
        self._liveness.seen_again(delivered, now)

    def expire(self) -> list[str]:
        """Closes the streams of every silent session; the ids of the sessions that ended."""
        now = self._clock.monotonic()
        self._streams_delivered(now)
        silent = self._liveness.silent(now, self._timeout_s())
        for session_id in silent:
            self._liveness.forget(session_id)
            self._liveness.timed_out += 1
            closed = self._viewers.end_session(session_id)
            log.info("a session went silent; %d stream(s) closed", closed)
        return silent

    async def run(self) -> None:
        while True:
            await asyncio.sleep(CHECK_S)
            self._ending.update(self.expire())
            for session_id in list(self._ending):
                try:
                    await self._end_login(session_id)
                except Exception:  # tried again at the next check
                    log.exception("cannot end a silent session's login")
                else:
                    self._ending.discard(session_id)
