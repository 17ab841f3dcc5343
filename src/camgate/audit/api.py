"""``/api/v1/audit``: the audit log, administrators only."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import AwareDatetime, BaseModel, Field

from camgate.api.deps import AdminPrincipal, ServicesDep
from camgate.api.times import iso
from camgate.audit.models import DEFAULT_LIMIT, MAX_LIMIT, MAX_QUERY_TEXT, AuditEntry, AuditQuery

router = APIRouter(prefix="/api/v1/audit", tags=["audit"])


class AuditEntryOut(BaseModel):
    id: int
    time: str = Field(description="UTC, ISO 8601")
    user: str
    address: str
    action: str = Field(description="What was done, e.g. investigation.create")
    target: str = Field(description="The id of what it was done to")
    details: dict[str, Any] = Field(description="What changed: old and new values")

    @classmethod
    def of(cls, entry: AuditEntry) -> AuditEntryOut:
        return cls(
            id=entry.id,
            time=iso(entry.time),
            user=entry.username,
            address=entry.address,
            action=entry.action,
            target=entry.target,
            details=entry.details,
        )


def _seconds(moment: datetime | None) -> float | None:
    return None if moment is None else moment.timestamp()


@router.get("", summary="Audited actions, the latest first")
async def search_audit(
    _admin: AdminPrincipal,
    svc: ServicesDep,
    q: Annotated[str, Query(max_length=MAX_QUERY_TEXT, description="Words to find")] = "",
    user: Annotated[str | None, Query(max_length=100)] = None,
    start: AwareDatetime | None = None,
    end: AwareDatetime | None = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
) -> list[AuditEntryOut]:
    query = AuditQuery(q, user, _seconds(start), _seconds(end), limit)
    return [AuditEntryOut.of(entry) for entry in await svc.audit.search(query)]
