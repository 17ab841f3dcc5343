"""Decoding one keyframe on its own, for snapshots (blocking: run it in a worker thread)."""

from __future__ import annotations

from typing import cast

import av
from av.video.codeccontext import VideoCodecContext

from camgate.media.packet import MediaPacket

_DECODERS = {"h264": "h264", "hevc": "hevc"}


class SnapshotError(Exception):
    pass


def decode_keyframe(packet: MediaPacket) -> av.VideoFrame:
    """The picture of one keyframe, decoded by a decoder of its own (blocking, worker thread).

    The decoder is drained (``decode(None)``) before it is dropped: freeing a decoder with frames
    still in flight can deadlock (see :mod:`camgate.media.transcode`).
    """
    context = cast(VideoCodecContext, av.CodecContext.create(_DECODERS[packet.config.codec], "r"))
    context.extradata = packet.config.extradata
    frames = list(context.decode(av.Packet(packet.data)))
    frames += list(context.decode(None))
    if not frames:
        raise SnapshotError("the keyframe did not decode")
    return frames[0]
