"""The protocol's connections (a ``ConnectionId``): the session key of the Diffie-Hellman
exchange, the stage of the login, and camgate's session once logged in.

In memory and bounded; a restart ends every connection (the clients connect and log in again, as
they do after the server's error 12). Connections not logged in are cheap to make for anyone who
can reach the port, so they have their own bound and end after a silence; they can never push
out logged-in ones. A logged-in connection lasts as long as its camgate session: the client
timeout, a logout elsewhere or a new password end the session, and the connection answers 12.
"""

from __future__ import annotations

import uuid
from collections import OrderedDict
from collections.abc import Container
from dataclasses import dataclass
from enum import StrEnum

from camgate.identity.twostep import TwoStepMethod
from camgate.protocols.xpmobile.chap import Challenges
from camgate.protocols.xpmobile.crypto import Padding, SessionKey

#: Connections that have not logged in (yet): the oldest go first beyond this.
MAX_WAITING = 1000
#: Logged-in connections: the least recently used goes first beyond this (its client gets 12).
MAX_LOGGED_IN = 10_000


class Stage(StrEnum):
    #: Connect answered; LogIn is next.
    CONNECTED = "connected"
    #: The password was right; a verification code is next.
    AWAITING_CODE = "awaiting_code"
    LOGGED_IN = "logged_in"


@dataclass(slots=True)
class Connection:
    id: str
    key: SessionKey
    padding: Padding
    #: Whether the client wants ``Processing`` messages while a command takes long.
    processing_messages: bool
    #: Monotonic time of the last command on this connection.
    last_heard: float
    stage: Stage = Stage.CONNECTED
    #: While awaiting the code: the identity service's ticket, and the method.
    ticket: str = ""
    method: TwoStepMethod | None = None
    #: Until when the code that LogIn e-mailed is new and untried (monotonic; 0: it is not).
    fresh_code_until: float = 0.0
    #: Once logged in: camgate's session token, its id (the token's hash) and the user.
    token: str = ""
    session_id: str = ""
    username: str = ""
    #: What the client last fetched of the catalogue (kind → digest), to tell it of changes.
    catalogue: dict[str, str] | None = None
    #: The challenges LogIn asked for (``NumChallenges``), issued once logged in.
    wanted_challenges: int = 0
    #: For a client that asked for challenges (RequestChallenges, or LogIn's NumChallenges):
    #: once logged in, every request spends one.
    challenges: Challenges | None = None

    def await_code(self, ticket: str, method: TwoStepMethod, fresh_until: float) -> None:
        self.stage = Stage.AWAITING_CODE
        self.ticket = ticket
        self.method = method
        self.fresh_code_until = fresh_until

    def restart(self) -> None:
        """Back to before LogIn (a second step that cannot go on)."""
        self.stage = Stage.CONNECTED
        self.ticket = ""
        self.method = None
        self.fresh_code_until = 0.0

    def __repr__(self) -> str:
        return f"Connection({self.id!r}, {self.stage.value}, user={self.username!r})"


class ConnectionTable:
    def __init__(self, *, max_waiting: int = MAX_WAITING, max_logged_in: int = MAX_LOGGED_IN):
        self._max_waiting = max_waiting
        self._max_logged_in = max_logged_in
        #: Least recently heard first.
        self._waiting: OrderedDict[str, Connection] = OrderedDict()
        self._logged_in: OrderedDict[str, Connection] = OrderedDict()
        #: Monotonic time of the last :meth:`sweep`.
        self.swept_at = float("-inf")

    def __len__(self) -> int:
        return len(self._waiting) + len(self._logged_in)

    def open(
        self, key: SessionKey, padding: Padding, processing_messages: bool, now: float
    ) -> Connection:
        connection = Connection(str(uuid.uuid4()), key, padding, processing_messages, now)
        while len(self._waiting) >= self._max_waiting:
            self._waiting.popitem(last=False)
        self._waiting[connection.id] = connection
        return connection

    def get(
        self, connection_id: str, now: float, *, connected_s: float, awaiting_s: float
    ) -> Connection | None:
        """The connection, heard from now; None for an unknown or expired one (a connection
        not logged in ends after ``connected_s`` of silence, ``awaiting_s`` while it waits for
        a verification code)."""
        try:
            key = str(uuid.UUID(connection_id))
        except ValueError:
            return None
        if (connection := self._logged_in.get(key)) is not None:
            self._logged_in.move_to_end(key)
        elif (connection := self._waiting.get(key)) is not None:
            if self._expired(connection, now, connected_s, awaiting_s):
                del self._waiting[key]
                return None
            self._waiting.move_to_end(key)
        else:
            return None
        connection.last_heard = max(connection.last_heard, now)
        return connection

    def wants_processing(self, connection_id: str) -> bool:
        """Whether the connection asked for ``Processing`` messages (no side effects)."""
        try:
            key = str(uuid.UUID(connection_id))
        except ValueError:
            return False
        connection = self._logged_in.get(key) or self._waiting.get(key)
        return connection is not None and connection.processing_messages

    @staticmethod
    def _expired(connection: Connection, now: float, connected_s: float, awaiting_s: float) -> bool:
        limit = awaiting_s if connection.stage is Stage.AWAITING_CODE else connected_s
        return now - connection.last_heard > limit

    def logged_in(self, connection: Connection, token: str, session_id: str, username: str) -> None:
        connection.stage = Stage.LOGGED_IN
        connection.ticket = ""
        connection.method = None
        connection.token = token
        connection.session_id = session_id
        connection.username = username
        self._waiting.pop(connection.id, None)
        while len(self._logged_in) >= self._max_logged_in:
            self._logged_in.popitem(last=False)
        self._logged_in[connection.id] = connection

    def drop(self, connection_id: str) -> None:
        self._waiting.pop(connection_id, None)
        self._logged_in.pop(connection_id, None)

    def sweep(
        self, now: float, *, connected_s: float, awaiting_s: float, live: Container[str]
    ) -> int:
        """Forgets the connections that ended: silent ones not logged in, and logged-in ones
        whose session is no longer alive (``live``: the session ids the client timeout still
        follows). The number forgotten."""
        ended = [
            c.id for c in self._waiting.values() if self._expired(c, now, connected_s, awaiting_s)
        ]
        ended += [c.id for c in self._logged_in.values() if c.session_id not in live]
        for connection_id in ended:
            self.drop(connection_id)
        self.swept_at = now
        return len(ended)
