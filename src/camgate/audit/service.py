"""Recording and searching audited actions. Every capability's service records its own."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from camgate.audit import store
from camgate.audit.models import MAX_LIMIT, MAX_QUERY_TEXT, Actor, AuditEntry, AuditQuery
from camgate.core.clock import Clock
from camgate.core.errors import invalid

log = logging.getLogger(__name__)

#: How often entries past the audit retention are deleted.
RETENTION_INTERVAL_S = 3600.0


class AuditLog:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], clock: Clock) -> None:
        self._db = sessions
        self._clock = clock

    def add(self, db: AsyncSession, actor: Actor, action: str, target: str, **details: Any) -> None:
        """Adds an entry to ``db``'s transaction, so that it commits with what it records."""
        store.add(
            db,
            time=self._clock.now(),
            username=actor.username,
            address=actor.address,
            action=action,
            target=target,
            details=details,
        )

    async def record(self, actor: Actor, action: str, target: str, **details: Any) -> None:
        """Records an action that changed nothing in the database (a download)."""
        async with self._db() as db:
            self.add(db, actor, action, target, **details)
            await db.commit()

    async def search(self, query: AuditQuery) -> list[AuditEntry]:
        if len(query.text) > MAX_QUERY_TEXT:
            raise invalid(f"the search text is longer than {MAX_QUERY_TEXT} characters")
        if not 1 <= query.limit <= MAX_LIMIT:
            raise invalid(f"limit must be between 1 and {MAX_LIMIT}")
        if query.start is not None and query.end is not None and query.end <= query.start:
            raise invalid("end must be after start")
        async with self._db() as db:
            return await store.matching(db, query)

    async def enforce_retention(self, days: int) -> int:
        """Deletes the entries older than ``days``; returns how many."""
        async with self._db() as db:
            deleted = await store.delete_older(db, self._clock.now() - days * 86400.0)
            await db.commit()
        return deleted

    async def run_retention(self, days: Callable[[], int]) -> None:
        while True:
            try:
                await self.enforce_retention(days())
            except Exception:  # a failed round is logged and tried again
                log.exception("audit log retention failed")
            await asyncio.sleep(RETENTION_INTERVAL_S)
