"""What ``RequestStream`` and ``ChangeStream`` ask of a video stream, whatever its kind (live,
playback): the picture (size, rate, quality, key frames only, digital zoom) and its delivery
(push or pull, byte order, the Size extension, the stream type), playback's seeks and speed,
and RequestStream's answer."""

from __future__ import annotations

import dataclasses
import math

from camgate.identity.models import Principal
from camgate.live.jpeg import JpegRequest
from camgate.media.player import MAX_SPEED, MIN_SPEED
from camgate.media.transcode import Rect, crop_box
from camgate.protocols.xpmobile import catalogue, recordings
from camgate.protocols.xpmobile.call import DEFAULT_COMPRESSION, Call
from camgate.protocols.xpmobile.errors import CommandError, ErrorCode
from camgate.protocols.xpmobile.frames import ByteOrder
from camgate.protocols.xpmobile.messages import Reply

MAX_FPS = 60.0
MAX_FRAGMENT_DURATION_MS = 10_000
#: ``KeyFramesOnly``: at most this rate, which the transcoder makes from key frames alone for
#: the usual one-second GOP.
KEY_FRAMES_FPS = 1.0
_EDGES = ("SrcLeft", "SrcTop", "SrcRight", "SrcBottom")


@dataclasses.dataclass(frozen=True, slots=True)
class Picture:
    """What the client asked to see; ChangeStream changes it."""

    width: int | None = None
    height: int | None = None
    fps: float | None = None
    quality: int = DEFAULT_COMPRESSION
    key_frames_only: bool = False
    #: The part of the picture shown (digital zoom), as fractions of it; None for all of it.
    crop: Rect | None = None

    def jpeg_request(self) -> JpegRequest:
        fps = self.fps
        if self.key_frames_only:
            fps = min(fps or KEY_FRAMES_FPS, KEY_FRAMES_FPS)
        return JpegRequest(self.width, self.height, fps, self.quality, fit=True)


def choice(call: Call, name: str, choices: tuple[str, ...], default: str) -> str:
    """One of ``choices`` (in any case); 14 otherwise."""
    value = (call.request.get(name) or "").strip()
    if not value:
        return default
    found = next((choice for choice in choices if choice.casefold() == value.casefold()), None)
    if found is None:
        raise CommandError(ErrorCode.WRONG_INPUT_PARAMETER, f"{name} must be {'|'.join(choices)}")
    return found


def yes_no(call: Call, name: str, default: bool) -> bool:
    fallback = "Yes" if default else "No"
    return choice(call, name, ("Yes", "No"), fallback) == "Yes"


def _fps(call: Call) -> float | None:
    value = (call.request.get("Fps") or "").strip()
    if not value:
        return None
    try:
        fps = float(value)
    except ValueError:
        fps = -1.0
    if not 0 < fps <= MAX_FPS:
        raise CommandError(
            ErrorCode.WRONG_INPUT_PARAMETER, f"Fps must be more than 0, at most {MAX_FPS:g}"
        )
    return fps


def _crop(call: Call, current: Rect | None, source: tuple[int, int] | None) -> Rect | None:
    """``SrcLeft/Top/Right/Bottom`` (pixels of the source picture, as the Size extension
    reports it) as fractions; edges not sent stay where they were. The whole picture is no
    crop. ``source``: the picture's size, None while the camera has sent none (17)."""
    sent = {name: call.number(name, 0, 1 << 16, None) for name in _EDGES}
    if all(value is None for value in sent.values()):
        return current
    if source is None:
        raise CommandError(ErrorCode.SURVEILLANCE_SERVER_DOWN, "no video from the camera yet")
    width, height = source
    now = crop_box(current, width, height) if current is not None else (0, 0, width, height)
    left, top, right, bottom = (
        value if value is not None else edge for value, edge in zip(sent.values(), now, strict=True)
    )
    right, bottom = min(right, width), min(bottom, height)
    if right - left < 2 or bottom - top < 2:
        raise CommandError(
            ErrorCode.WRONG_INPUT_PARAMETER,
            f"SrcLeft < SrcRight and SrcTop < SrcBottom, within the picture ({width}×{height})",
        )
    if (left, top, right, bottom) == (0, 0, width, height):
        return None
    return Rect(
        left / width,
        top / height,
        min(1.0, (right - left) / width),
        min(1.0, (bottom - top) / height),
    )


def picture(call: Call, base: Picture, source: tuple[int, int] | None, *, zoom: bool) -> Picture:
    """``base`` with what the request changes; the crop too when ``zoom`` (ChangeStream)."""
    width, height = call.dest_size(base.width, base.height)
    quality = call.compression(base.quality)
    fps = _fps(call)
    return Picture(
        width,
        height,
        fps if fps is not None else base.fps,
        quality,
        yes_no(call, "KeyFramesOnly", base.key_frames_only),
        _crop(call, base.crop, source) if zoom else base.crop,
    )


@dataclasses.dataclass(frozen=True, slots=True)
class Options:
    """How the client wants the stream delivered."""

    fragmented: bool
    push: bool
    order: ByteOrder
    request_size: bool


def options(call: Call) -> Options:
    kinds = ("Transcoded", "FragmentedMP4", "Native")
    stream_type = choice(call, "StreamType", kinds, "Transcoded")
    if stream_type == "Native":
        raise CommandError(
            ErrorCode.NOT_IMPLEMENTED, "StreamType Native is not offered: use FragmentedMP4"
        )
    # Read for its bounds only: each message holds what is pending (one frame when the client
    # keeps up), shorter than any fragment duration asked for.
    call.number("FragmentDurationMs", 0, MAX_FRAGMENT_DURATION_MS, None)
    order = choice(call, "ByteOrder", ("LittleEndian", "Network"), "LittleEndian")
    return Options(
        fragmented=stream_type == "FragmentedMP4",
        push=choice(call, "MethodType", ("Push", "Pull"), "Push") == "Push",
        order=ByteOrder.NETWORK if order == "Network" else ByteOrder.LITTLE_ENDIAN,
        request_size=yes_no(call, "RequestSize", False),
    )


def opened(principal: Principal, video_id: str) -> Reply:
    """RequestStream's answer: the stream, and what the user may do with its camera."""
    rights = dict(catalogue.capabilities(principal.user))
    return Reply(
        params=(
            ("VideoId", video_id),
            ("PTZ", rights["PTZ"]),
            ("Preset", rights["Preset"]),
            ("Playback", rights["Playback"]),
            # Exporting from a stream (the old StartExport): camgate exports investigations.
            ("ExportAvi", "No"),
        )
    )


# --- playback: seeks and speed ---------------------------------------------------------------

#: Seeks to a time (``Time`` is required with them).
TIME_SEEKS = ("Time", *(name for name in recordings.SEEKS if name != "Time"))
#: Seeks from where the stream is (ChangeStream only).
RELATIVE_SEEKS = ("PrevSeq", "NextSeq", "PrevFrame", "NextFrame")
EDGE_SEEKS = ("DbStart", "DbEnd")
SEEK_TYPES = (*EDGE_SEEKS, *RELATIVE_SEEKS, *TIME_SEEKS)


def bounded_speed(text: str) -> float:
    """``Speed``: 0 pauses; otherwise ¼× to 16× either way, the nearest bound beyond them
    (clients offer speeds of their own). 14 for no number. Pure."""
    try:
        speed = float(text.strip())
    except ValueError:
        speed = math.nan
    if not math.isfinite(speed):
        raise CommandError(
            ErrorCode.WRONG_INPUT_PARAMETER,
            "Speed must be a number: 1 plays, negative plays backward, 0 pauses",
        )
    if speed == 0:
        return 0.0
    return math.copysign(min(max(abs(speed), MIN_SPEED), MAX_SPEED), speed)


def seek_type(call: Call, *, relative: bool) -> str | None:
    """``SeekType`` (``Time`` when only a ``Time`` is sent; None for neither). The seeks from
    where the stream is only when ``relative`` (ChangeStream)."""
    request = call.request
    if not (request.get("SeekType") or "").strip():
        return "Time" if (request.get("Time") or "").strip() else None
    allowed = SEEK_TYPES if relative else (*EDGE_SEEKS, *TIME_SEEKS)
    return choice(call, "SeekType", allowed, "Time")
