"""The ORM tables. Each capability's store module is the only code that queries them."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class RoleRow(Base):
    __tablename__ = "roles"

    #: ``json.dumps(sorted(Permission.role_defaults()))``, spelled out (a unit test compares).
    DEFAULT_PERMISSIONS = (
        '["actions", "bookmarks_create", "bookmarks_edit", "bookmarks_view", "incoming_audio", '
        '"live", "playback", "push_to_talk", "video_push"]'
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    builtin: Mapped[bool] = mapped_column(Boolean, default=False)
    administrator: Mapped[bool] = mapped_column(Boolean, default=False)
    all_cameras: Mapped[bool] = mapped_column(Boolean, default=False)
    #: The role's ``Permission`` values as a JSON list. A new role may do what every role could
    #: before feature permissions (``Permission.role_defaults()``: all but export and
    #: administration); migration 0008 gave the roles of that time the same.
    permissions: Mapped[str] = mapped_column(
        Text,
        default=DEFAULT_PERMISSIONS,
        server_default=DEFAULT_PERMISSIONS,
    )


class RoleCameraRow(Base):
    __tablename__ = "role_cameras"

    role_id: Mapped[str] = mapped_column(
        ForeignKey("roles.id", ondelete="CASCADE"), primary_key=True
    )
    camera_id: Mapped[str] = mapped_column(
        ForeignKey("cameras.id", ondelete="CASCADE"), primary_key=True
    )


class UserRow(Base):
    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    username: Mapped[str] = mapped_column(String(100))
    #: ``username.casefold()``: logins are case-insensitive, names are shown as typed.
    username_key: Mapped[str] = mapped_column(String(100), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    role_id: Mapped[str] = mapped_column(ForeignKey("roles.id"))
    created_at: Mapped[float] = mapped_column(Float)
    #: Where two-step verification codes go by e-mail ("" when none is known).
    email: Mapped[str] = mapped_column(String(254), default="", server_default="")
    #: A ``TwoStepMethod`` value; None: as the user's directory groups say (none for local users).
    two_step: Mapped[str | None] = mapped_column(String(16), nullable=True, default=None)
    #: The TOTP secret sealed with the server key; None until the user enrols.
    totp_secret: Mapped[str | None] = mapped_column(Text, nullable=True, default=None)
    #: "local" (camgate's own password) or "directory" (the password is checked by LDAP).
    source: Mapped[str] = mapped_column(String(16), default="local", server_default="local")


class DirectoryGroupRow(Base):
    """A directory group that the administrator gave a role or a two-step method."""

    __tablename__ = "directory_groups"

    name: Mapped[str] = mapped_column(String(256))
    #: ``name.casefold()``: directories compare group names without case.
    name_key: Mapped[str] = mapped_column(String(256), primary_key=True)
    role_id: Mapped[str | None] = mapped_column(
        ForeignKey("roles.id", ondelete="SET NULL"), nullable=True
    )
    two_step: Mapped[str] = mapped_column(String(16), default="none", server_default="none")


class SessionRow(Base):
    __tablename__ = "sessions"

    #: SHA-256 of the session token: a stolen database does not yield live sessions.
    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[float] = mapped_column(Float)
    last_seen_at: Mapped[float] = mapped_column(Float)
    client: Mapped[str] = mapped_column(String(200), default="")


class CameraRow(Base):
    __tablename__ = "cameras"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[float] = mapped_column(Float)
    #: Camera credentials, sealed with the server key; never in a URL that is stored or shown.
    username: Mapped[str | None] = mapped_column(String(200), nullable=True)
    password_sealed: Mapped[str | None] = mapped_column(Text, nullable=True)
    #: Privacy masks as JSON: ``[[x, y, width, height], ...]`` in picture fractions (0 to 1).
    privacy_masks: Mapped[str] = mapped_column(Text, default="[]", server_default="[]")
    #: Recording (R3): on by default, from the first stream, kept 7 days, no size limit.
    recording_enabled: Mapped[bool] = mapped_column(Boolean, default=True, server_default="1")
    #: The position of the recorded stream among the camera's streams.
    recording_stream: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    retention_days: Mapped[int | None] = mapped_column(Integer, default=7, server_default="7")
    retention_gb: Mapped[float | None] = mapped_column(Float, nullable=True)
    #: Whether the camera's audio is recorded with its video, when it sends some (ADR 0016).
    recording_audio: Mapped[bool] = mapped_column(Boolean, default=True, server_default="1")


class CameraStreamRow(Base):
    __tablename__ = "camera_streams"
    __table_args__ = (UniqueConstraint("camera_id", "position"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    camera_id: Mapped[str] = mapped_column(ForeignKey("cameras.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    #: ``rtsp``, ``file`` or ``synthetic``.
    kind: Mapped[str] = mapped_column(String(16))
    #: Without credentials.
    url: Mapped[str] = mapped_column(Text)


class SettingsRow(Base):
    __tablename__ = "settings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    #: The whole settings tree as JSON, secrets sealed.
    document: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[float] = mapped_column(Float)


class ViewRow(Base):
    __tablename__ = "views"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    #: Who made it; a shared view (made by an administrator) is offered to everyone.
    owner_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    shared: Mapped[bool] = mapped_column(Boolean, default=False)
    columns: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[float] = mapped_column(Float)


class ViewCameraRow(Base):
    __tablename__ = "view_cameras"

    view_id: Mapped[str] = mapped_column(
        ForeignKey("views.id", ondelete="CASCADE"), primary_key=True
    )
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    camera_id: Mapped[str] = mapped_column(ForeignKey("cameras.id", ondelete="CASCADE"))


class SegmentRow(Base):
    """One closed recording segment (ADR 0009). No foreign key to the camera: the files of a
    removed camera stay indexed until retention deletes them."""

    __tablename__ = "segments"
    __table_args__ = (Index("ix_segments_camera_time", "camera_id", "start_wallclock"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    camera_id: Mapped[str] = mapped_column(String(36))
    stream_id: Mapped[str] = mapped_column(String(36))
    #: Relative to the recordings folder.
    path: Mapped[str] = mapped_column(Text, unique=True)
    start_wallclock: Mapped[float] = mapped_column(Float)
    end_wallclock: Mapped[float] = mapped_column(Float)
    start_dts: Mapped[int] = mapped_column(BigInteger)
    end_dts: Mapped[int] = mapped_column(BigInteger)
    size: Mapped[int] = mapped_column(BigInteger)
    #: ``segment.encode_keyframes``: 24 bytes per GOP.
    keyframes: Mapped[bytes] = mapped_column(LargeBinary)
    codec: Mapped[str] = mapped_column(String(8))
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    extradata: Mapped[bytes] = mapped_column(LargeBinary)
    #: ``ready``, or ``garbage`` between the two steps of a deletion.
    state: Mapped[str] = mapped_column(String(16), default="ready", server_default="ready")


class BookmarkRow(Base):
    __tablename__ = "bookmarks"
    __table_args__ = (
        Index("ix_bookmarks_camera_start", "camera_id", "start"),
        Index("ix_bookmarks_start", "start"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    camera_id: Mapped[str] = mapped_column(ForeignKey("cameras.id", ondelete="CASCADE"))
    start: Mapped[float] = mapped_column(Float)
    end: Mapped[float] = mapped_column(Float)
    headline: Mapped[str] = mapped_column(String(100))
    description: Mapped[str] = mapped_column(Text)
    #: Who made it; kept as a name when that user is deleted.
    user_id: Mapped[str | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    username: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[float] = mapped_column(Float)
    updated_at: Mapped[float] = mapped_column(Float)


class AuditRow(Base):
    """One audited action: who, when, from where, what, and the old and new values."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_time", "time"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    time: Mapped[float] = mapped_column(Float)
    #: Kept as a name: the log outlives users.
    username: Mapped[str] = mapped_column(String(100))
    address: Mapped[str] = mapped_column(String(100))
    #: ``<capability>.<verb>``, e.g. ``investigation.create``.
    action: Mapped[str] = mapped_column(String(64))
    #: The id of what was acted on.
    target: Mapped[str] = mapped_column(String(200))
    #: JSON: what changed (old and new values) or what was done.
    details: Mapped[str] = mapped_column(Text)


class InvestigationRow(Base):
    __tablename__ = "investigations"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    #: Who made it; kept as a name when that user is deleted.
    owner_id: Mapped[str | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True, index=True
    )
    owner: Mapped[str] = mapped_column(String(100))
    start: Mapped[float] = mapped_column(Float)
    end: Mapped[float] = mapped_column(Float)
    #: The investigations folder it lives in: one left behind by a folder change is not shown.
    folder: Mapped[str] = mapped_column(Text)
    created_at: Mapped[float] = mapped_column(Float, index=True)
    updated_at: Mapped[float] = mapped_column(Float)


class InvestigationCameraRow(Base):
    """No foreign key to the camera: a removed camera's recordings stay until retention."""

    __tablename__ = "investigation_cameras"

    investigation_id: Mapped[str] = mapped_column(
        ForeignKey("investigations.id", ondelete="CASCADE"), primary_key=True
    )
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    camera_id: Mapped[str] = mapped_column(String(36))


class ExportRow(Base):
    __tablename__ = "exports"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    investigation_id: Mapped[str] = mapped_column(
        ForeignKey("investigations.id", ondelete="CASCADE"), index=True
    )
    #: ``mkv``, ``avi`` or ``native``.
    format: Mapped[str] = mapped_column(String(16))
    #: ``queued``, ``running``, ``done`` or ``failed``.
    state: Mapped[str] = mapped_column(String(16))
    progress: Mapped[int] = mapped_column(Integer, default=0)
    #: Bytes of the prepared file (its plaintext), 0 until done.
    size: Mapped[int] = mapped_column(BigInteger, default=0)
    #: Why it failed, for the user.
    error: Mapped[str] = mapped_column(Text, default="")
    include_audio: Mapped[bool] = mapped_column(Boolean, default=False)
    #: Whether the user gave a password (native exports): never the password itself.
    password_protected: Mapped[bool] = mapped_column(Boolean, default=False)
    #: The file's name in the investigation's folder, and the name a download gets.
    file_name: Mapped[str] = mapped_column(String(200))
    download_name: Mapped[str] = mapped_column(String(200))
    requested_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[float] = mapped_column(Float)
    finished_at: Mapped[float | None] = mapped_column(Float, nullable=True)
