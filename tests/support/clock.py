"""A clock that tests move by hand."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class FakeClock:
    t: float = 1_000.0

    def now(self) -> float:
        return self.t

    def monotonic(self) -> float:
        return self.t
