"""A JPEG of a stream's latest keyframe: decodes one packet, nothing else (blocking)."""

from __future__ import annotations

from typing import cast

import av
import simplejpeg
from av.video.codeccontext import VideoCodecContext

from camgate.media.packet import MediaPacket

_DECODERS = {"h264": "h264", "hevc": "hevc"}


class SnapshotError(Exception):
    pass


def keyframe_to_jpeg(packet: MediaPacket, *, quality: int = 85) -> bytes:
    """Decode a keyframe and encode it as JPEG. Runs in a worker thread, never on the loop."""
    context = cast(VideoCodecContext, av.CodecContext.create(_DECODERS[packet.config.codec], "r"))
    context.extradata = packet.config.extradata
    frames = list(context.decode(av.Packet(packet.data)))
    frames += list(context.decode(None))
    if not frames:
        raise SnapshotError("the keyframe did not decode")
    rgb = frames[0].to_ndarray(format="rgb24")
    return bytes(simplejpeg.encode_jpeg(rgb, quality=quality, colorsubsampling="420"))
