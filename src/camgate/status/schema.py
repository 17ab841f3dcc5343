"""The status as JSON: the API's answer and the file the CLI reads."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path

from pydantic import BaseModel

from camgate.status.models import LockoutStatus, ServerStatus, UserStatus

#: Where a running server leaves its status for ``camgate status`` (in the data folder).
STATUS_FILE = "status.json"


class CpuPoint(BaseModel):
    at: datetime
    percent: float


class StatusOut(BaseModel):
    active_since: datetime
    cpu_percent: float
    cpu_history: list[CpuPoint]
    bandwidth_out_kbps: float
    level: int
    hardware_decoding: str
    transcoders: int
    sessions_timed_out: int
    #: The manual's Active users table (the dataclass serializes as it is).
    users: list[UserStatus]
    #: Accounts and addresses locked out after failed logins (an administrator lifts them).
    lockouts: list[LockoutStatus] = []

    @classmethod
    def of(cls, status: ServerStatus) -> StatusOut:
        return cls(
            active_since=datetime.fromtimestamp(status.active_since, UTC),
            cpu_percent=status.cpu_percent,
            cpu_history=[
                CpuPoint(at=datetime.fromtimestamp(s.at, UTC), percent=s.percent)
                for s in status.cpu_history
            ],
            bandwidth_out_kbps=status.bandwidth_out_kbps,
            level=status.level,
            hardware_decoding=status.hardware_decoding,
            transcoders=status.transcoders,
            sessions_timed_out=status.sessions_timed_out,
            users=list(status.users),
            lockouts=list(status.lockouts),
        )


def write_status_file(path: Path, status: StatusOut) -> None:
    """Replace the status file atomically (blocking: run it in a thread)."""
    partial = path.with_suffix(".tmp")
    partial.write_text(status.model_dump_json())
    os.replace(partial, path)


def read_status_file(path: Path) -> StatusOut | None:
    try:
        return StatusOut.model_validate(json.loads(path.read_text()))
    except (OSError, ValueError):
        return None
