"""Database access for the audit log."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import delete, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from camgate.audit.models import AuditEntry, AuditQuery
from camgate.db.tables import AuditRow


def add(
    db: AsyncSession,
    *,
    time: float,
    username: str,
    address: str,
    action: str,
    target: str,
    details: dict[str, Any],
) -> None:
    db.add(
        AuditRow(
            time=time,
            username=username,
            address=address,
            action=action,
            target=target,
            details=json.dumps(details, sort_keys=True, ensure_ascii=False),
        )
    )


def _entry(row: AuditRow) -> AuditEntry:
    return AuditEntry(
        row.id, row.time, row.username, row.address, row.action, row.target, json.loads(row.details)
    )


def _escaped(word: str) -> str:
    return word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


async def matching(db: AsyncSession, query: AuditQuery) -> list[AuditEntry]:
    statement = select(AuditRow)
    if query.username is not None:
        statement = statement.where(func.lower(AuditRow.username) == query.username.casefold())
    if query.start is not None:
        statement = statement.where(AuditRow.time >= query.start)
    if query.end is not None:
        statement = statement.where(AuditRow.time < query.end)
    for word in query.words:
        pattern = f"%{_escaped(word)}%"
        statement = statement.where(
            or_(
                *(
                    func.lower(column).like(pattern, escape="\\")
                    for column in (AuditRow.action, AuditRow.target, AuditRow.details)
                )
            )
        )
    rows = await db.scalars(
        statement.order_by(AuditRow.time.desc(), AuditRow.id.desc()).limit(query.limit)
    )
    return [_entry(row) for row in rows]


async def delete_older(db: AsyncSession, cutoff: float) -> int:
    result = await db.execute(delete(AuditRow).where(AuditRow.time < cutoff))
    return int(getattr(result, "rowcount", 0) or 0)
