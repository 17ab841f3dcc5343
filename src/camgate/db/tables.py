"""The ORM tables. Each capability's store module is the only code that queries them."""

from __future__ import annotations

from sqlalchemy import Boolean, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class RoleRow(Base):
    __tablename__ = "roles"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    builtin: Mapped[bool] = mapped_column(Boolean, default=False)
    administrator: Mapped[bool] = mapped_column(Boolean, default=False)
    all_cameras: Mapped[bool] = mapped_column(Boolean, default=False)


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
