"""Failed-login limiting per account and per address (a sliding window)."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from camgate.core.clock import Clock

MAX_FAILURES = 5
WINDOW_S = 300.0
#: Bound on the keys tracked, so a flood of names cannot grow memory without limit.
MAX_KEYS = 10_000


@dataclass(frozen=True, slots=True)
class Lockout:
    """A key that may not try again yet: ``user:<name>`` or ``addr:<address>``."""

    key: str
    seconds_left: float

    @property
    def kind(self) -> str:
        return "user" if self.key.startswith("user:") else "address"

    @property
    def name(self) -> str:
        return self.key.partition(":")[2]


class LoginLimiter:
    def __init__(
        self, clock: Clock, *, max_failures: int = MAX_FAILURES, window_s: float = WINDOW_S
    ) -> None:
        self._clock = clock
        self._max = max_failures
        self._window = window_s
        self._failures: dict[str, deque[float]] = {}

    def _recent(self, key: str) -> deque[float]:
        now = self._clock.monotonic()
        times = self._failures.get(key)
        if times is None:
            return deque()
        while times and now - times[0] > self._window:
            times.popleft()
        if not times:
            del self._failures[key]
        return times

    def retry_after(self, *keys: str) -> float | None:
        """Seconds until a login may be tried again, or None when it may be tried now."""
        now = self._clock.monotonic()
        waits = [
            self._window - (now - times[0])
            for times in (self._recent(key) for key in keys)
            if len(times) >= self._max
        ]
        return max(waits) if waits else None

    def failed(self, *keys: str) -> None:
        now = self._clock.monotonic()
        for key in keys:
            if key not in self._failures and len(self._failures) >= MAX_KEYS:
                self._failures.pop(next(iter(self._failures)))
            self._failures.setdefault(key, deque(maxlen=self._max)).append(now)

    def succeeded(self, *keys: str) -> None:
        for key in keys:
            self._failures.pop(key, None)

    def lockouts(self) -> list[Lockout]:
        """The keys locked out now, the longest wait first."""
        found = []
        for key in list(self._failures):
            if (wait := self.retry_after(key)) is not None:
                found.append(Lockout(key, wait))
        return sorted(found, key=lambda lockout: -lockout.seconds_left)

    def lift(self, key: str) -> bool:
        """Lets a locked-out key try again at once (an administrator's decision)."""
        locked = self.retry_after(key) is not None
        self._failures.pop(key, None)
        return locked
