"""Real H.264/H.265 clips made with PyAV for tests, and helpers to turn them into camgate packets.

``encode_clip`` gives what a source would demux: Annex B packets with in-band parameter sets (as
RTSP gives them) or length-prefixed packets with an avcC/hvcC record (as an MP4 file gives them).
Clips are meant to be short (a few seconds at most): encoding is done on the test's time.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Literal

import av
import numpy as np
from av.video.frame import PictureType
from numpy.typing import NDArray

from camgate.media import fmp4, h26x
from camgate.media.packet import TIMESCALE, Codec, MediaPacket, StreamConfig

#: The wall clock of a clip's first frame in :func:`to_media_packets` (2025-01-01T00:00:00Z).
CLIP_EPOCH = 1_735_689_600.0

Framing = Literal["annexb", "mp4"]
_ENCODERS: dict[Codec, str] = {"h264": "libx264", "hevc": "libx265"}


@dataclass(frozen=True, slots=True)
class EncodedPacket:
    """One encoded access unit as the demuxer (or encoder) gave it, in the clip's time base."""

    data: bytes
    pts: int
    dts: int
    duration: int
    is_keyframe: bool


@dataclass(frozen=True, slots=True)
class EncodedClip:
    codec: Codec
    width: int
    height: int
    fps: int
    time_base: Fraction
    #: avcC/hvcC for the "mp4" framing; empty for "annexb" (parameter sets are in band).
    extradata: bytes
    #: In decode order.
    packets: list[EncodedPacket]


@dataclass(frozen=True, slots=True)
class DecodedFrame:
    pts: int
    key_frame: bool
    width: int
    height: int
    #: A hash of the picture's planes: equal digests mean identical decoded pixels.
    digest: str


def _fill_plane(plane: av.video.plane.VideoPlane, values: NDArray[np.uint8]) -> None:
    """Copy rows into a plane whose rows may be padded to its line size."""
    rows, width = values.shape
    padded = np.zeros((rows, plane.line_size), dtype=np.uint8)
    padded[:, :width] = values
    plane.update(padded)


def pattern_frame(width: int, height: int, index: int) -> av.VideoFrame:
    """A yuv420p frame: diagonal luma and chroma ramps that shift each frame, a moving square.

    Cheap to make (numpy broadcasting, no colour conversion) and to encode, yet every frame
    differs, so P-frames carry real data.
    """
    frame = av.VideoFrame(width, height, "yuv420p")
    step = np.uint8(index % 256)
    columns = (np.arange(width) % 256).astype(np.uint8)
    rows = (np.arange(height) % 256).astype(np.uint8)
    luma = columns[np.newaxis, :] + rows[:, np.newaxis] + np.uint8(index * 3 % 256)
    side = max(8, height // 6)
    x = (index * 7) % max(1, width - side)
    y = (index * 5) % max(1, height - side)
    luma[y : y + side, x : x + side] = 235
    _fill_plane(frame.planes[0], luma)
    chroma_shape = ((height + 1) // 2, (width + 1) // 2)
    blue = columns[: chroma_shape[1]] + step
    red = rows[: chroma_shape[0]] - step
    _fill_plane(frame.planes[1], np.broadcast_to(blue[np.newaxis, :], chroma_shape))
    _fill_plane(frame.planes[2], np.broadcast_to(red[:, np.newaxis], chroma_shape))
    return frame


def _encoder_options(codec: Codec, gop: int, bframes: int, extra: str) -> dict[str, str]:
    """A camera-like configuration: fixed GOP, no scene cuts, quiet encoder logs."""
    params = f"keyint={gop}:min-keyint={gop}:scenecut=0:bframes={bframes}"
    if codec == "h264":
        return {"preset": "veryfast", "x264-params": ":".join(filter(None, (params, extra)))}
    params += ":log-level=none"
    return {"preset": "ultrafast", "x265-params": ":".join(filter(None, (params, extra)))}


def _frames(width: int, height: int, count: int, fps: int, pix_fmt: str) -> list[av.VideoFrame]:
    frames = []
    for index in range(count):
        frame = pattern_frame(width, height, index)
        if pix_fmt != "yuv420p":
            frame = frame.reformat(format=pix_fmt)
        frame.pts = index
        frame.time_base = Fraction(1, fps)
        # Frames made from arrays may carry pict_type I, which x264 honours (every frame an IDR).
        frame.pict_type = PictureType.NONE
        frames.append(frame)
    return frames


def _packet(packet: av.Packet, fallback_duration: int) -> EncodedPacket:
    return EncodedPacket(
        bytes(packet),
        int(packet.pts),
        int(packet.dts),
        int(packet.duration or fallback_duration),
        bool(packet.is_keyframe),
    )


def _encode_annexb(
    codec: Codec, frames: Sequence[av.VideoFrame], fps: int, options: dict[str, str]
) -> tuple[Fraction, bytes, list[EncodedPacket]]:
    """A bare encoder: Annex B packets, parameter sets repeated before each keyframe."""
    first = frames[0]
    context = av.CodecContext.create(_ENCODERS[codec], "w")
    context.width, context.height, context.pix_fmt = first.width, first.height, first.format.name
    context.time_base = Fraction(1, fps)
    context.framerate = fps
    context.options = options
    raw = [packet for frame in frames for packet in context.encode(frame)]
    raw += context.encode(None)
    return context.time_base, b"", [_packet(packet, 1) for packet in raw]


def _encode_mp4(
    codec: Codec, frames: Sequence[av.VideoFrame], fps: int, options: dict[str, str]
) -> tuple[Fraction, bytes, list[EncodedPacket]]:
    """Through an MP4 file, demuxed again: length-prefixed packets and an avcC/hvcC record."""
    first = frames[0]
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="mp4") as output:
        stream = output.add_stream(_ENCODERS[codec], rate=fps)
        stream.width, stream.height, stream.pix_fmt = first.width, first.height, first.format.name
        stream.codec_context.options = options
        for frame in frames:
            output.mux(stream.encode(frame))
        output.mux(stream.encode(None))
    buffer.seek(0)
    with av.open(buffer, format="mp4") as source:
        stream = source.streams.video[0]
        time_base = Fraction(stream.time_base)
        frame_duration = round(1 / (fps * time_base))
        packets = [_packet(p, frame_duration) for p in source.demux(stream) if p.size]
        return time_base, bytes(stream.codec_context.extradata), packets


def encode_clip(
    codec: Codec = "h264",
    width: int = 640,
    height: int = 360,
    frames: int = 60,
    fps: int = 30,
    gop: int = 30,
    bframes: int = 0,
    *,
    framing: Framing = "annexb",
    pix_fmt: str = "yuv420p",
    encoder_params: str = "",
) -> EncodedClip:
    """Encode ``frames`` frames of :func:`pattern_frame` with libx264 or libx265.

    ``framing`` picks the packet form: "annexb" is what an RTSP camera gives (start codes, SPS/PPS
    in band before each keyframe, no extradata), "mp4" what a file gives (4-byte lengths, an
    avcC/hvcC record). ``encoder_params`` is appended to the x264-params/x265-params string
    (for instance "aud=1"). Keyframes fall every ``gop`` frames; ``bframes`` > 0 makes pts
    differ from dts.
    """
    options = _encoder_options(codec, gop, bframes, encoder_params)
    pictures = _frames(width, height, frames, fps, pix_fmt)
    encode = _encode_annexb if framing == "annexb" else _encode_mp4
    time_base, extradata, packets = encode(codec, pictures, fps, options)
    return EncodedClip(codec, width, height, fps, time_base, extradata, packets)


def _to_timescale(value: int, time_base: Fraction) -> int:
    return round(value * time_base * TIMESCALE)


def to_media_packets(clip: EncodedClip, *, stamp_wallclock: bool = False) -> list[MediaPacket]:
    """The clip as camgate packets: normalized samples, 90 kHz timestamps from dts 0.

    Each packet's wall clock is :data:`CLIP_EPOCH` plus its dts; with ``stamp_wallclock`` it is
    also put into the sample as a SEI message before the picture, as a synthetic camera does.
    Packets that hold no picture (parameter sets only) are left out.
    """
    normalizer = h26x.AccessUnitNormalizer()
    params = h26x.parameter_sets_from_extradata(clip.codec, clip.extradata)
    origin = clip.packets[0].dts
    packets: list[MediaPacket] = []
    for encoded in clip.packets:
        sample, in_band = normalizer.feed(clip.codec, encoded.data)
        params = in_band or params
        if not sample:
            continue
        if params is None:
            raise ValueError("a picture came before any parameter set")
        config = StreamConfig(
            clip.codec, clip.width, clip.height, h26x.decoder_config(clip.codec, params)
        )
        dts = _to_timescale(encoded.dts - origin, clip.time_base)
        pts = _to_timescale(encoded.pts - origin, clip.time_base)
        wallclock = CLIP_EPOCH + dts / TIMESCALE
        if stamp_wallclock:
            sei = h26x.wallclock_sei(clip.codec, wallclock)
            sample = h26x.join_length_prefixed([sei]) + sample
        duration = _to_timescale(encoded.duration, clip.time_base)
        packets.append(
            MediaPacket(sample, pts, dts, duration, encoded.is_keyframe, wallclock, config)
        )
    return packets


def fmp4_stream(packets: Sequence[MediaPacket], first_sequence: int = 1) -> bytes:
    """An init segment and one fragment per packet: what a live viewer receives."""
    fragments = (
        fmp4.fragment(sequence, packet)
        for sequence, packet in enumerate(packets, start=first_sequence)
    )
    return fmp4.init_segment(packets[0].config) + b"".join(fragments)


def _decoded(frame: av.VideoFrame) -> DecodedFrame:
    # to_ndarray() holds the visible pixels only, not the planes' row padding.
    digest = hashlib.sha256(frame.to_ndarray().tobytes()).hexdigest()
    return DecodedFrame(int(frame.pts), bool(frame.key_frame), frame.width, frame.height, digest)


def decode_frames(data: bytes) -> list[DecodedFrame]:
    """Decode every frame of an (f)MP4 file held in memory, in presentation order."""
    with av.open(io.BytesIO(data), format="mp4") as container:
        return [_decoded(frame) for frame in container.decode(container.streams.video[0])]


def decode_clip(clip: EncodedClip) -> list[DecodedFrame]:
    """Decode the clip's own packets with no container: the reference for what muxing keeps."""
    context = av.CodecContext.create(clip.codec, "r")
    if clip.extradata:
        context.extradata = clip.extradata
    frames = []
    for encoded in clip.packets:
        packet = av.Packet(encoded.data)
        packet.pts, packet.dts, packet.time_base = encoded.pts, encoded.dts, clip.time_base
        frames += context.decode(packet)
    frames += context.decode(None)
    return [_decoded(frame) for frame in frames]


def write_mp4(
    path: Path, codec: Codec = "h264", width: int = 640, height: int = 360, frames: int = 60
) -> Path:
    """A camera-like clip in an MP4 file (for file cameras), 30 fps, a keyframe every second."""
    options = _encoder_options(codec, 30, 0, "")
    with av.open(str(path), "w", format="mp4") as output:
        stream = output.add_stream(_ENCODERS[codec], rate=30)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.codec_context.options = options
        for frame in _frames(width, height, frames, 30, "yuv420p"):
            output.mux(stream.encode(frame))
        output.mux(stream.encode(None))
    return path
