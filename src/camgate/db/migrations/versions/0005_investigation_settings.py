"""investigation settings: the export formats as one object, the AVI time stamp as one flag

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

#: (old key, new key) of the investigations section; the formats move into ``export_formats``.
_FORMATS = (("export_avi", "avi"), ("export_native", "native"), ("export_mkv", "mkv"))
_TIMESTAMP = ("avi_timestamps", "avi_timestamp")


def upgraded(section: dict[str, Any]) -> dict[str, Any]:
    """The investigations section of a stored settings document, in the new shape."""
    section = dict(section)
    formats = {new: section.pop(old) for old, new in _FORMATS if old in section}
    if formats:
        section["export_formats"] = formats
    old, new = _TIMESTAMP
    if old in section:
        section[new] = section.pop(old)
    return section


def downgraded(section: dict[str, Any]) -> dict[str, Any]:
    section = dict(section)
    formats = section.pop("export_formats", {})
    for old, new in _FORMATS:
        if new in formats:
            section[old] = formats[new]
    new_key, old_key = _TIMESTAMP[1], _TIMESTAMP[0]
    if new_key in section:
        section[old_key] = section.pop(new_key)
    return section


def _rewrite(change: Any) -> None:
    bind = op.get_bind()
    rows = bind.execute(sa.text("SELECT id, document FROM settings")).all()
    for row_id, text in rows:
        document = json.loads(text)
        section = document.get("investigations")
        if isinstance(section, dict):
            document["investigations"] = change(section)
            bind.execute(
                sa.text("UPDATE settings SET document = :document WHERE id = :id"),
                {"document": json.dumps(document, sort_keys=True), "id": row_id},
            )


def upgrade() -> None:
    _rewrite(upgraded)


def downgrade() -> None:
    _rewrite(downgraded)
