"""Audit values passed between the store, the service and the adapters."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

#: The address recorded for what an administrator does with the ``camgate`` command.
CLI_ADDRESS = "camgate command"
#: The name recorded for what the server does by itself (retention).
SERVER_USER = "camgate"
MAX_QUERY_TEXT = 200
DEFAULT_LIMIT = 200
MAX_LIMIT = 5000


@dataclass(frozen=True, slots=True)
class Actor:
    """Who acts, as the audit log names them."""

    username: str
    address: str


SERVER = Actor(SERVER_USER, "")


@dataclass(frozen=True, slots=True)
class AuditEntry:
    id: int
    time: float
    username: str
    address: str
    action: str
    target: str
    details: dict[str, Any]


@dataclass(frozen=True, slots=True)
class AuditQuery:
    #: Words that must all appear in the action, the target or the details.
    text: str = ""
    username: str | None = None
    start: float | None = None
    end: float | None = None
    limit: int = DEFAULT_LIMIT
    words: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "words", tuple(self.text.casefold().split()))
