"""The pieces that every entry point opens the same way: database, server key, stores."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from camgate.admin.service import SettingsService
from camgate.core.clock import Clock
from camgate.core.secrets import ServerKey
from camgate.db.engine import create_engine, migrate, session_factory
from camgate.identity.service import IdentityService


@dataclass(frozen=True, slots=True)
class Core:
    data_dir: Path
    clock: Clock
    key: ServerKey
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    identity: IdentityService
    settings: SettingsService


@contextlib.asynccontextmanager
async def open_core(data_dir: Path, clock: Clock) -> AsyncIterator[Core]:
    """Create the data folder if needed, migrate the database and open it."""
    await asyncio.to_thread(data_dir.mkdir, parents=True, exist_ok=True)
    database = data_dir / "camgate.db"
    await asyncio.to_thread(migrate, database)
    key = await asyncio.to_thread(ServerKey.load_or_create, data_dir / "secret.key")
    engine = create_engine(database)
    sessions = session_factory(engine)
    settings = SettingsService(sessions, clock, key)
    await settings.load()
    identity = IdentityService(sessions, clock, key, lambda: settings.tree)
    try:
        yield Core(data_dir, clock, key, engine, sessions, identity, settings)
    finally:
        await engine.dispose()
