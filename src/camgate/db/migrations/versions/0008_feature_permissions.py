"""feature permissions: roles keep what they could do, and new roles start from the same

Before this revision a role's only permission was ``export``: every user could watch live
video, play back recordings and use bookmarks on the cameras of their role. Now each of these
is a permission of its own (ADR 0013), so every role but the built-in Administrator (which has
all of them anyway) is given the features it had. New roles get the same by default.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03
"""

from __future__ import annotations

import json

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

#: What every role could do without being granted anything (spelled out: a migration must not
#: change when the code does). ``export`` and ``administration`` are granted on purpose.
FEATURES = (
    "actions",
    "bookmarks_create",
    "bookmarks_edit",
    "bookmarks_view",
    "incoming_audio",
    "live",
    "playback",
    "push_to_talk",
    "video_push",
)
DEFAULT = json.dumps(sorted(FEATURES))

_roles = sa.table(
    "roles",
    sa.column("id", sa.String),
    sa.column("administrator", sa.Boolean),
    sa.column("permissions", sa.Text),
)


def _rewrite(change: set[str], *, add: bool) -> None:
    """Adds (removes) ``change`` to (from) the permissions of every role but the Administrator."""
    bind = op.get_bind()
    rows = bind.execute(
        sa.select(_roles.c.id, _roles.c.permissions).where(_roles.c.administrator.is_(False))
    ).all()
    for role_id, stored in rows:
        held = set(json.loads(stored or "[]"))
        after = held | change if add else held - change
        bind.execute(
            _roles.update()
            .where(_roles.c.id == role_id)
            .values(permissions=json.dumps(sorted(after)))
        )


def upgrade() -> None:
    _rewrite(set(FEATURES), add=True)
    with op.batch_alter_table("roles", schema=None) as batch_op:
        batch_op.alter_column(
            "permissions", existing_type=sa.Text(), existing_nullable=False, server_default=DEFAULT
        )


def downgrade() -> None:
    with op.batch_alter_table("roles", schema=None) as batch_op:
        batch_op.alter_column(
            "permissions", existing_type=sa.Text(), existing_nullable=False, server_default="[]"
        )
    # Only export was a permission before: the rest goes back to being everyone's.
    _rewrite(set(FEATURES) | {"administration"}, add=False)
