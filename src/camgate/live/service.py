"""Live video decisions that every client protocol shares: which stream of a camera a viewer
gets, whether it goes direct or transcoded (L2), and a snapshot of the latest keyframe. The
REST routes (api.py, jpeg_api.py) and the XProtect Mobile adapter call these, so neither has
rules of its own."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from camgate.api.deps import Services
from camgate.cameras.models import Camera
from camgate.core.errors import CamgateError, ErrorKind
from camgate.identity.models import Principal
from camgate.live.fallback import FallbackReason, fallback_reason
from camgate.live.jpeg import sized
from camgate.live.select import Candidate, choose_stream, parse_codecs
from camgate.media.hub import LiveHub
from camgate.media.limits import OutputSpec, clamp
from camgate.media.snapshot import SnapshotError
from camgate.media.transcode import snapshot_jpeg


@dataclass(frozen=True, slots=True)
class LiveTarget:
    principal: Principal
    camera: Camera
    stream_id: str
    hub: LiveHub


def target(
    svc: Services, principal: Principal, camera: Camera, stream: str | None, codecs: str | None
) -> LiveTarget:
    """The camera's stream for this viewer: the one asked for, else the highest resolution in
    a codec the client decodes (``codecs``: as ``parse_codecs`` reads it; None: any)."""
    hubs = svc.runtime.camera_hubs(camera.id)
    if not hubs:
        raise CamgateError(ErrorKind.UNAVAILABLE, "the camera is not running")
    candidates = []
    for camera_stream, hub in hubs:
        config = hub.config
        candidates.append(
            Candidate(
                camera_stream.id,
                camera_stream.position,
                config.codec if config else "",
                config.width if config else 0,
                config.height if config else 0,
            )
        )
    chosen = choose_stream(candidates, stream, parse_codecs(codecs))
    chosen_hub = svc.runtime.hub(chosen.stream_id)
    assert chosen_hub is not None
    return LiveTarget(principal, camera, chosen.stream_id, chosen_hub)


def decide(
    svc: Services,
    principal: Principal,
    camera: Camera,
    stream: str | None,
    codecs: str | None,
    client_reason: FallbackReason | None,
) -> tuple[LiveTarget | None, FallbackReason | None]:
    """The direct stream for this viewer, or why it gets transcoded video instead (L2)."""
    chosen: LiveTarget | None = None
    codec, fps = "", 0.0
    try:
        chosen = target(svc, principal, camera, stream, codecs)
    except CamgateError as error:
        if error.kind is not ErrorKind.INVALID:
            raise
        codec = "unsupported"  # no stream of the camera is in a codec the client decodes
    if chosen is not None:
        info = chosen.hub.info()
        codec, fps = info.codec, info.fps
    reason = fallback_reason(
        direct_enabled=svc.settings.tree.performance.direct_streaming,
        has_privacy_masks=bool(camera.privacy_masks),
        stream_codec=codec,
        client_codecs=parse_codecs(codecs),
        stream_fps=fps,
        client_reason=client_reason,
    )
    return chosen, reason


async def snapshot(
    svc: Services, chosen: LiveTarget, width: int | None, height: int | None, quality: int
) -> bytes:
    """A JPEG of the latest keyframe, sized as asked (one side keeps the aspect ratio) within
    the level in force, privacy masks filled. Decoded off the event loop."""
    keyframe = chosen.hub.latest_keyframe()
    if keyframe is None:
        raise CamgateError(
            ErrorKind.UNAVAILABLE, f"no video from the camera yet ({chosen.hub.status.value})"
        )
    config = keyframe.config
    width, height = sized(width, height, config.width, config.height)
    spec = clamp(OutputSpec(width, height, 1.0, quality), svc.limits.level)
    try:
        return await asyncio.to_thread(
            snapshot_jpeg,
            keyframe,
            spec,
            chosen.camera.privacy_masks,
            decoders=svc.transcoders.decoders,
            prefer_hardware=svc.transcoders.prefer_hardware(),
        )
    except SnapshotError as error:
        raise CamgateError(ErrorKind.UNAVAILABLE, str(error)) from error
