"""Decoding one keyframe on its own, for snapshots (blocking: run it in a worker thread)."""

from __future__ import annotations

import av

from camgate.media.hwaccel import HardwareDecoders
from camgate.media.packet import MediaPacket


class SnapshotError(Exception):
    pass


def decode_keyframe(
    packet: MediaPacket, decoders: HardwareDecoders | None = None, *, prefer_hardware: bool = False
) -> av.VideoFrame:
    """The picture of one keyframe, decoded by a decoder of its own (blocking, worker thread).

    The decoder comes from ``decoders`` (a private set if None), on a device if
    ``prefer_hardware``. It is drained (``decode(None)``) and closed before it is dropped: freeing
    a decoder with frames still in flight can deadlock (see :mod:`camgate.media.transcode`).
    """
    config = packet.config
    decoder = (decoders or HardwareDecoders()).open(
        config.codec, config.extradata, prefer_hardware=prefer_hardware
    )
    try:
        frames = decoder.decode(av.Packet(packet.data))
        frames += decoder.decode(None)
    finally:
        decoder.close()
    if not frames:
        raise SnapshotError("the keyframe did not decode")
    return frames[0]
