"""The database migrations: the schema they make is the one the code declares, and a data
folder from an earlier version keeps its settings."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine

from camgate.context import open_core
from camgate.db.engine import migrate, sync_url
from camgate.db.tables import Base
from tests.support.clock import FakeClock


def test_the_migrations_make_the_declared_schema(tmp_path: Path) -> None:
    database = tmp_path / "camgate.db"
    migrate(database)
    engine = create_engine(sync_url(database))
    try:
        with engine.connect() as connection:
            assert compare_metadata(MigrationContext.configure(connection), Base.metadata) == []
    finally:
        engine.dispose()


async def test_investigation_settings_of_an_earlier_version_keep_their_values(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    database = data / "camgate.db"
    migrate(database, "0004")
    earlier = {
        "investigations": {
            "enabled": True,
            "export_avi": False,
            "export_native": True,
            "export_mkv": True,
            "avi_timestamps": True,
            "size_limit_mb": 500,
        },
        "general": {"server_name": "HQ"},
    }
    with sqlite3.connect(database) as db:
        db.execute(
            "INSERT INTO settings (id, document, updated_at) VALUES (1, ?, 0)",
            (json.dumps(earlier),),
        )
    async with open_core(data, FakeClock()) as core:  # migrates to the newest, then loads
        tree = core.settings.tree
    investigations = tree.investigations
    assert investigations.export_formats.model_dump() == {"avi": False, "native": True, "mkv": True}
    assert investigations.avi_timestamp is True
    assert investigations.size_limit_mb == 500
    assert tree.general.server_name == "HQ"
