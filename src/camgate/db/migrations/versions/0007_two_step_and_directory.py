"""two-step verification and directory logins: users' e-mail, method and TOTP secret; groups

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("email", sa.String(length=254), nullable=False, server_default="")
        )
        batch_op.add_column(sa.Column("two_step", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("totp_secret", sa.Text(), nullable=True))
        batch_op.add_column(
            sa.Column("source", sa.String(length=16), nullable=False, server_default="local")
        )

    op.create_table(
        "directory_groups",
        sa.Column("name", sa.String(length=256), nullable=False),
        sa.Column("name_key", sa.String(length=256), nullable=False),
        sa.Column("role_id", sa.String(length=36), nullable=True),
        sa.Column("two_step", sa.String(length=16), nullable=False, server_default="none"),
        sa.ForeignKeyConstraint(["role_id"], ["roles.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("name_key"),
    )


def downgrade() -> None:
    op.drop_table("directory_groups")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("source")
        batch_op.drop_column("totp_secret")
        batch_op.drop_column("two_step")
        batch_op.drop_column("email")
