"""``/api/v1/audit``: the audit log, administrators only."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from pydantic import AwareDatetime, BaseModel, Field

from camgate.api.deps import AdminPrincipal, ServicesDep
from camgate.api.times import iso
from camgate.audit.models import DEFAULT_LIMIT, MAX_LIMIT, MAX_QUERY_TEXT, AuditEntry, AuditQuery

router = APIRouter(prefix="/api/v1", tags=["audit"])
CSV_COLUMNS = ("time", "user", "address", "action", "target", "details")


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


#: What a spreadsheet reads as the start of a formula (OWASP's "CSV injection").
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(cell: str) -> str:
    """A cell a spreadsheet shows as text: one that could start a formula gets a quote."""
    return f"'{cell}" if cell.startswith(_FORMULA_START) else cell


Text = Annotated[str, Query(max_length=MAX_QUERY_TEXT, description="Words to find")]
UserName = Annotated[str | None, Query(max_length=100)]
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT)]


@router.get("/audit", summary="Audited actions, the latest first")
async def search_audit(
    _admin: AdminPrincipal,
    svc: ServicesDep,
    q: Text = "",
    user: UserName = None,
    start: AwareDatetime | None = None,
    end: AwareDatetime | None = None,
    limit: Limit = DEFAULT_LIMIT,
) -> list[AuditEntryOut]:
    query = AuditQuery(q, user, _seconds(start), _seconds(end), limit)
    return [AuditEntryOut.of(entry) for entry in await svc.audit.search(query)]


@router.get(
    "/audit.csv",
    summary="The same search as CSV (for a spreadsheet), the latest first",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}}},
)
async def export_audit(
    _admin: AdminPrincipal,
    svc: ServicesDep,
    q: Text = "",
    user: UserName = None,
    start: AwareDatetime | None = None,
    end: AwareDatetime | None = None,
    limit: Limit = MAX_LIMIT,
) -> Response:
    query = AuditQuery(q, user, _seconds(start), _seconds(end), limit)
    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow(CSV_COLUMNS)
    for entry in await svc.audit.search(query):
        row = AuditEntryOut.of(entry)
        details = json.dumps(row.details, sort_keys=True, ensure_ascii=False)
        cells = [row.time, row.user, row.address, row.action, row.target, details]
        writer.writerow([spreadsheet_safe(cell) for cell in cells])
    return Response(
        text.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="camgate-audit.csv"'},
    )
