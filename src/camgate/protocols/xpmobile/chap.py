"""CHAP: the challenges issued to one connection, each good for one request within an hour.

A client that asks for challenges at LogIn (``NumChallenges``) signs every later request with
one of them (``Challenge``, ``ChalAnswer``; crypto.challenge_answer), so that a ConnectionId
seen on the wire is no use without the Diffie-Hellman secret. The book is bounded: the
reference client keeps 200 to 300 in hand and asks for 100 more when it falls below 200.
"""

from __future__ import annotations

import uuid
from collections import OrderedDict

from camgate.protocols.xpmobile.crypto import SessionKey, answer_is_right

#: How long a challenge is good for (the clients keep theirs 59 minutes).
TTL_S = 3600.0
#: The most challenges one logged-in connection holds unspent.
MAX_UNSPENT = 500
#: The most one request (LogIn, RequestChallenges) may ask for, and the most a connection that
#: has not logged in holds (anyone can make those: they must stay cheap).
MAX_PER_REQUEST = 100


class ChallengeError(Exception):
    """A request whose challenge or answer is wrong, unknown, spent or out of date."""


class Challenges:
    def __init__(self, *, limit: int = MAX_UNSPENT, ttl_s: float = TTL_S) -> None:
        #: The most unspent at a time (raised once the connection logs in).
        self.limit = limit
        self._ttl_s = ttl_s
        #: Unspent challenge (its 16 bytes) → monotonic time it ends; oldest first.
        self._unspent: OrderedDict[bytes, float] = OrderedDict()

    def __len__(self) -> int:
        return len(self._unspent)

    def issue(self, count: int, now: float, *, reset: bool = False) -> list[str]:
        """Up to ``count`` new challenges (after forgetting the unspent ones when ``reset``): as
        many as there is room for. A request always spends one first, so a client that keeps
        asking gets at least one each time and never more than the bound in hand."""
        if reset:
            self._unspent.clear()
        self._forget_ended(now)
        room = max(0, min(count, self.limit - len(self._unspent)))
        issued = [uuid.uuid4() for _ in range(room)]
        for challenge in issued:
            self._unspent[challenge.bytes] = now + self._ttl_s
        return [str(challenge) for challenge in issued]

    def spend(self, challenge: str, answer: str, key: SessionKey, now: float) -> None:
        """Spends ``challenge`` (whether the answer is right or not: none is tried twice);
        :class:`ChallengeError` unless it was unspent, in date, and ``answer`` is its own."""
        try:
            value = uuid.UUID(challenge.strip())
        except ValueError:
            raise ChallengeError("the challenge is not one of this connection's") from None
        ends = self._unspent.pop(value.bytes, None)
        if ends is None:
            raise ChallengeError("the challenge is unknown or spent")
        if now >= ends:
            raise ChallengeError("the challenge is out of date")
        if not answer_is_right(str(value), answer, key):
            raise ChallengeError("the answer to the challenge is wrong")

    def _forget_ended(self, now: float) -> None:
        while self._unspent:
            oldest, ends = next(iter(self._unspent.items()))
            if ends > now:
                return
            del self._unspent[oldest]
