"""Typed settings.

Two kinds live here:

* :class:`ServerSettings` — how this process runs (data folder, addresses, ports). Given on
  the command line or in the environment, passed to :func:`camgate.app.create_app`.
* :class:`SettingsTree` — what an administrator changes at run time, one section per tab of the
  manual's server configuration, with the manual's defaults and ranges. Stored in the database,
  edited through ``PATCH /api/v1/settings`` (a JSON merge patch) and validated as a whole.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator


class ServerSettings(BaseModel):
    """How this camgate process runs."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    data_dir: Path = Field(description="Everything camgate writes lives under this folder.")
    host: str = Field(default="0.0.0.0", description="Address the HTTP and HTTPS servers bind to.")
    http_port: int | None = Field(
        default=None, ge=0, le=65535, description="Overrides connectivity.http_port when given."
    )
    https_port: int | None = Field(
        default=None, ge=0, le=65535, description="Overrides connectivity.https_port when given."
    )

    segment_s: int = Field(
        default=60,
        ge=2,
        le=600,
        description="Length of a recording segment: retention deletes whole segments (ADR 0009).",
    )

    @property
    def database_path(self) -> Path:
        return self.data_dir / "camgate.db"

    @property
    def cache_dir(self) -> Path:
        return self.data_dir / "cache"

    @property
    def recordings_dir(self) -> Path:
        return recordings_dir(self.data_dir)


def recordings_dir(data_dir: Path) -> Path:
    """Where the recorded segments live (ADR 0009); the command line finds them here too."""
    return data_dir / "recordings"


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


# --- General tab -------------------------------------------------------------------------------


class LoginMethod(StrEnum):
    AUTOMATIC = "automatic"
    DIRECTORY = "directory"  # the manual's "Windows authentication"
    BASIC = "basic"


class Features(Section):
    web_client: bool = Field(default=True, description="Enable the web client.")
    all_cameras_view: bool = Field(default=True, description='Offer the "All cameras" view.')
    bookmarks: bool = Field(default=True, description="Enable bookmarks.")
    actions: bool = Field(default=True, description="Enable actions (outputs and events).")
    incoming_audio: bool = Field(default=True, description="Enable incoming audio.")
    push_to_talk: bool = Field(default=True, description="Enable push-to-talk.")
    deny_builtin_administrator: bool = Field(
        default=False,
        description="Keep members of the built-in Administrator role away from video on clients.",
    )


class General(Section):
    server_name: str = Field(default="camgate", min_length=1, max_length=100)
    description: str = Field(default="", max_length=1000)
    login_method: LoginMethod = LoginMethod.AUTOMATIC
    features: Features = Features()
    log_folder: str = Field(
        default="logs", description="Relative paths are inside the data folder."
    )
    log_retention_days: int = Field(default=3, ge=1, le=365, description="Keep logs for N days.")
    audit_retention_days: int = Field(
        default=90,
        ge=1,
        le=3650,
        description="Keep audit log entries for N days (apart from the daily log files).",
    )


# --- Directory (the manual's "Windows authentication": an LDAP / Active Directory server) ------


class Directory(Section):
    url: str = Field(
        default="",
        max_length=500,
        description="ldap://host[:port] or ldaps://host[:port]; empty: no directory.",
    )
    start_tls: bool = Field(default=False, description="Upgrade an ldap:// connection to TLS.")
    ca_file: str = Field(
        default="",
        max_length=1000,
        description="PEM file of the directory's CA for TLS; empty: the system's CAs.",
    )
    bind_dn: str = Field(
        default="",
        max_length=1000,
        description="Account that searches for users and groups; empty: search anonymously.",
    )
    bind_password: SecretStr = Field(
        default=SecretStr(""), description="Stored sealed; never returned."
    )
    user_base_dn: str = Field(default="", max_length=1000, description="Where users are found.")
    user_filter: str = Field(
        default="(uid={0})",
        max_length=500,
        description="{0} is the user name typed at login; Active Directory: (sAMAccountName={0}).",
    )
    mail_attribute: str = Field(default="mail", max_length=100)
    group_base_dn: str = Field(default="", max_length=1000, description="Where groups are found.")
    group_filter: str = Field(
        default="(|(member={0})(uniqueMember={0}))",
        max_length=500,
        description=(
            "{0} is the user's distinguished name, {1} the user name"
            " (NIS posixGroup: add (memberUid={1}))."
        ),
    )
    group_name_attribute: str = Field(default="cn", max_length=100)
    timeout_s: int = Field(default=5, ge=1, le=60, description="For connecting and each search.")


# --- Connectivity tab --------------------------------------------------------------------------


class Protocol(StrEnum):
    HTTP = "http"
    HTTPS = "https"


class InternetAccess(Section):
    custom: bool = Field(default=False, description="Use a custom internet address.")
    address: str = Field(default="", max_length=253)
    port: int = Field(default=8082, ge=1, le=65535)
    protocol: Protocol = Protocol.HTTPS
    dynamic_ip: bool = Field(default=False, description="Retrieve the IP address dynamically.")
    configured_url_only: bool = Field(default=False, description="Use the configured URL only.")


class Connectivity(Section):
    client_timeout_s: int = Field(
        default=30, ge=1, le=300, description="How often clients must signal that they are alive."
    )
    http_port: int = Field(default=8081, ge=1, le=65535)
    https_port: int = Field(default=8082, ge=1, le=65535)
    https_redirect: bool = Field(
        default=False,
        description="Answer plain HTTP requests with a redirect to HTTPS (when HTTPS is on).",
    )
    upnp_discoverability: bool = False
    automatic_port_mapping: bool = False
    smart_connect: bool = False
    internet_access: InternetAccess = InternetAccess()

    @model_validator(mode="after")
    def _distinct_ports(self) -> Self:
        if self.http_port == self.https_port:
            raise ValueError("the HTTP and HTTPS ports must differ")
        return self


# --- Performance tab ---------------------------------------------------------------------------


class StreamingMode(StrEnum):
    OPTIMIZE_VIDEO_QUALITY = "optimize_video_quality"
    OPTIMIZE_SERVER_PERFORMANCE = "optimize_server_performance"
    OPTIMIZE_LOW_BANDWIDTH = "optimize_low_bandwidth"


class HardwareDecoding(StrEnum):
    AUTO = "auto"
    OFF = "off"


class Resolution(Section):
    width: int = Field(ge=16, le=8192)
    height: int = Field(ge=16, le=8192)

    def __lt__(self, other: Resolution) -> bool:
        return self.width * self.height < other.width * other.height


class LimitationLevel(Section):
    enabled: bool = False
    cpu_threshold_pct: int = Field(default=80, ge=1, le=100)
    bandwidth_threshold_mbps: float = Field(default=100.0, gt=0, le=100_000)
    max_fps: int = Field(default=15, ge=1, le=60)
    max_resolution: Resolution = Resolution(width=1280, height=720)


class Level1(Section):
    max_fps: int = Field(default=30, ge=1, le=60)
    max_resolution: Resolution = Resolution(width=1920, height=1080)


class Performance(Section):
    direct_streaming: bool = True
    adaptive_streaming: bool = True
    streaming_mode: StreamingMode = StreamingMode.OPTIMIZE_VIDEO_QUALITY
    hardware_decoding: HardwareDecoding = HardwareDecoding.AUTO
    level1: Level1 = Level1()
    level2: LimitationLevel = LimitationLevel()
    level3: LimitationLevel = LimitationLevel(
        cpu_threshold_pct=90,
        bandwidth_threshold_mbps=200.0,
        max_fps=5,
        max_resolution=Resolution(width=640, height=360),
    )

    @model_validator(mode="after")
    def _levels_strictly_lower(self) -> Self:
        """The manual: no setting of a level may be as high as the enabled level before it."""
        previous: tuple[str, int, Resolution] = (
            "level 1",
            self.level1.max_fps,
            self.level1.max_resolution,
        )
        for name, level in (("level 2", self.level2), ("level 3", self.level3)):
            if not level.enabled:
                continue
            prev_name, prev_fps, prev_res = previous
            if level.max_fps >= prev_fps:
                raise ValueError(
                    f"{name} max FPS ({level.max_fps}) must be lower than "
                    f"{prev_name}'s ({prev_fps})"
                )
            if not level.max_resolution < prev_res:
                raise ValueError(f"{name} max resolution must be lower than {prev_name}'s")
            previous = (name, level.max_fps, level.max_resolution)
        return self


# --- Investigations tab ------------------------------------------------------------------------


class ExportFormats(Section):
    avi: bool = False
    native: bool = False
    mkv: bool = False


class AviCodec(StrEnum):
    """The encoders an AVI export may use (those this server's FFmpeg lacks are refused)."""

    MPEG4 = "mpeg4"
    MSMPEG4V2 = "msmpeg4v2"
    MSMPEG4 = "msmpeg4"
    MJPEG = "mjpeg"
    LIBX264 = "libx264"


class Investigations(Section):
    enabled: bool = True
    folder: str = Field(default="investigations", description="Relative to the data folder.")
    view_others: bool = Field(default=False, description="View investigations made by others.")
    size_limit_enabled: bool = False
    size_limit_mb: int = Field(default=2000, ge=1, le=100_000_000)
    retention_enabled: bool = False
    retention_days: int = Field(default=7, ge=1, le=36_500)
    export_formats: ExportFormats = Field(
        default_factory=lambda: ExportFormats(),
        description="The formats users may export in (all off until the administrator chooses).",
    )
    avi_timestamp: bool = Field(
        default=False, description="Burn the recording's date and time into AVI exports."
    )
    avi_codec: AviCodec = Field(
        default=AviCodec.MPEG4, description="The encoder of AVI exports (MPEG-4 part 2 plays most)."
    )
    avi_audio_bitrate: int = Field(default=160_000, ge=8_000, le=512_000)

    def folder_in(self, data_dir: Path) -> Path:
        """The folder as a path: a relative one lies in the data folder."""
        folder = Path(self.folder).expanduser()
        return folder if folder.is_absolute() else data_dir / folder


# --- Video push tab ----------------------------------------------------------------------------


class VideoPushChannel(Section):
    channel: int = Field(ge=1, le=1000)
    port: int = Field(ge=1, le=65535)
    mac_address: str = Field(pattern=r"^([0-9A-Fa-f]{2}[:-]){5}[0-9A-Fa-f]{2}$")
    username: str = Field(min_length=1, max_length=100)
    camera_name: str = ""


class VideoPush(Section):
    enabled: bool = False
    channels: list[VideoPushChannel] = Field(default_factory=list, max_length=1000)


# --- Notifications tab -------------------------------------------------------------------------


class Notifications(Section):
    enabled: bool = True
    maintain_device_registration: bool = True


# --- Two-step verification tab -----------------------------------------------------------------


class Smtp(Section):
    server: str = Field(default="", max_length=253)
    port: int = Field(default=25, ge=1, le=65535, description="25 without SSL, 465 with SSL.")
    use_ssl: bool = False
    username: str = Field(default="", max_length=256)
    password: SecretStr = Field(default=SecretStr(""), description="Stored sealed; never returned.")
    use_spa: bool = False
    sender: str = Field(default="", max_length=254)
    subject: str = Field(default="Your two-step verification code", max_length=200)
    text: str = Field(default="Your code is {0}.", max_length=4000)


class CodeComposition(Section):
    upper: bool = False
    lower: bool = False
    digits: bool = True
    special: bool = False

    @model_validator(mode="after")
    def _not_empty(self) -> Self:
        if not (self.upper or self.lower or self.digits or self.special):
            raise ValueError("the code composition needs at least one kind of character")
        return self


class VerificationCode(Section):
    reconnection_timeout_min: int = Field(default=3, ge=0, le=30)
    expiry_min: int = Field(default=5, ge=1, le=10)
    attempts: int = Field(default=3, ge=1, le=10)
    length: int = Field(default=6, ge=4, le=6)
    composition: CodeComposition = CodeComposition()


class TwoStepVerification(Section):
    enabled: bool = False
    smtp: Smtp = Smtp()
    code: VerificationCode = VerificationCode()


# --- Recording (camgate's own recorder; the manual assumes recording servers) --------------------


class Recording(Section):
    min_free_mb: int = Field(
        default=1024,
        ge=0,
        le=100_000_000,
        description=(
            "Free space kept on the recordings disk: below it the oldest recordings are "
            "deleted, and recording stops when nothing can be deleted."
        ),
    )


class SettingsTree(Section):
    """Every administrator setting, one section per tab of the manual."""

    general: General = General()
    directory: Directory = Directory()
    connectivity: Connectivity = Connectivity()
    performance: Performance = Performance()
    recording: Recording = Recording()
    investigations: Investigations = Investigations()
    video_push: VideoPush = VideoPush()
    notifications: Notifications = Notifications()
    two_step_verification: TwoStepVerification = TwoStepVerification()


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7396 JSON merge patch: objects merge, ``null`` removes, anything else replaces."""
    if not isinstance(patch, dict):
        return patch
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result
