"""recording: per-camera recording settings, the segment index, bookmarks

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("cameras", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("recording_enabled", sa.Boolean(), nullable=False, server_default="1")
        )
        batch_op.add_column(
            sa.Column("recording_stream", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(
            sa.Column("retention_days", sa.Integer(), nullable=True, server_default="7")
        )
        batch_op.add_column(sa.Column("retention_gb", sa.Float(), nullable=True))

    op.create_table(
        "segments",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("camera_id", sa.String(length=36), nullable=False),
        sa.Column("stream_id", sa.String(length=36), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("start_wallclock", sa.Float(), nullable=False),
        sa.Column("end_wallclock", sa.Float(), nullable=False),
        sa.Column("start_dts", sa.BigInteger(), nullable=False),
        sa.Column("end_dts", sa.BigInteger(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("keyframes", sa.LargeBinary(), nullable=False),
        sa.Column("codec", sa.String(length=8), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("extradata", sa.LargeBinary(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False, server_default="ready"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("path"),
    )
    with op.batch_alter_table("segments", schema=None) as batch_op:
        batch_op.create_index(
            "ix_segments_camera_time", ["camera_id", "start_wallclock"], unique=False
        )

    op.create_table(
        "bookmarks",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("camera_id", sa.String(length=36), nullable=False),
        sa.Column("start", sa.Float(), nullable=False),
        sa.Column("end", sa.Float(), nullable=False),
        sa.Column("headline", sa.String(length=100), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("user_id", sa.String(length=36), nullable=True),
        sa.Column("username", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(["camera_id"], ["cameras.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("bookmarks", schema=None) as batch_op:
        batch_op.create_index("ix_bookmarks_camera_start", ["camera_id", "start"], unique=False)
        batch_op.create_index("ix_bookmarks_start", ["start"], unique=False)


def downgrade() -> None:
    op.drop_table("bookmarks")
    op.drop_table("segments")
    with op.batch_alter_table("cameras", schema=None) as batch_op:
        batch_op.drop_column("retention_gb")
        batch_op.drop_column("retention_days")
        batch_op.drop_column("recording_stream")
        batch_op.drop_column("recording_enabled")
