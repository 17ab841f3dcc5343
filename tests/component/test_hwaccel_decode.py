"""Hardware decoding with real PyAV decoders: the fallback to software, Off, and the real device.

This machine (like CI) has no usable device: with Auto, every device type the FFmpeg build
offers fails to open (or has no decoding path), is remembered, and software decodes. Device
types are forced through :class:`HardwareDecoders`' ``devices`` and ``opener`` seams.

On a GPU machine, run the device test on its own and make a missing device a failure (from
the checkout): ``CAMGATE_REQUIRE_HWACCEL=1 .venv/bin/pytest THIS_FILE -k working_device``.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import av
import numpy as np
import pytest

from camgate.media.fanout import Drop, Notice
from camgate.media.hub import LiveHub
from camgate.media.hwaccel import (
    PREFERENCE,
    SOFTWARE,
    ContextOpener,
    Decoder,
    HardwareDecoders,
    candidates,
    offered_devices,
    open_context,
)
from camgate.media.limits import OutputSpec
from camgate.media.packet import Codec, MediaPacket
from camgate.media.snapshot import decode_keyframe
from camgate.media.transcode import JpegEncoder, JpegFrame, TranscoderRegistry
from tests.support.media import encode_clip, to_media_packets

REQUIRE_HWACCEL = os.environ.get("CAMGATE_REQUIRE_HWACCEL") == "1"
#: Device types with no decoding path for H.264/H.265 in PyAV 18.1's wheel on Linux.
NO_PATH = ("vaapi", "videotoolbox")


@functools.cache
def clip(codec: Codec = "h264", frames: int = 45) -> tuple[MediaPacket, ...]:
    return tuple(to_media_packets(encode_clip(codec, 320, 180, frames, gop=15, bframes=2)))


def av_packet(packet: MediaPacket) -> av.Packet:
    raw = av.Packet(packet.data)
    raw.pts, raw.dts = packet.pts, packet.dts
    return raw


def decode_all(decoder: Decoder, packets: Sequence[MediaPacket]) -> list[av.VideoFrame]:
    frames = [frame for packet in packets for frame in decoder.decode(av_packet(packet))]
    return frames + decoder.decode(None)


def pictures(frames: Sequence[av.VideoFrame]) -> list[tuple[int | None, bytes]]:
    """Each frame's pts and pixels, in one format (a device's NV12 is the same picture)."""
    return [(f.pts, f.reformat(format="yuv420p").to_ndarray().tobytes()) for f in frames]


def assert_same_pictures(
    got: Sequence[tuple[int | None, bytes]],
    want: Sequence[tuple[int | None, bytes]],
    *,
    max_mean: float = 0.5,
) -> None:
    """The same frames (pts), each the same picture within rounding. Software H.264 decoding is
    exact, yet here, under pytest only, decoders opened after a CUDA device that opens without a
    driver and fails its first packet differ by up to 2 in some hundred samples of a picture;
    another frame differs by far more than ``max_mean`` on average."""
    assert [pts for pts, _ in got] == [pts for pts, _ in want]
    for (_, mine), (_, theirs) in zip(got, want, strict=True):
        difference = np.abs(
            np.frombuffer(mine, np.uint8).astype(int) - np.frombuffer(theirs, np.uint8)
        )
        assert difference.mean() < max_mean


@functools.cache
def reference(codec: Codec = "h264") -> list[tuple[int | None, bytes]]:
    """The clip decoded in software, outside the module under test."""
    packets = clip(codec)
    context = av.CodecContext.create(codec, "r")
    context.extradata = packets[0].config.extradata
    frames = [frame for packet in packets for frame in context.decode(av_packet(packet))]
    return pictures(frames + context.decode(None))


def forced(*kinds: str, opener: ContextOpener = open_context) -> HardwareDecoders:
    """Decoders that are offered ``kinds`` whatever this FFmpeg build has."""
    return HardwareDecoders(devices=lambda codec: kinds, opener=opener)


@functools.cache
def working_devices(codec: Codec = "h264") -> tuple[str, ...]:
    """The device types that really decode here (none on a machine without a GPU)."""
    working = []
    for kind in candidates(True, offered_devices(codec), ())[:-1]:  # in Auto's order
        decoders = forced(kind)
        decoder = decoders.open(codec, clip(codec)[0].config.extradata, prefer_hardware=True)
        try:
            decode_all(decoder, clip(codec)[:1])
        finally:
            decoder.close()
        if decoder.kind == kind:
            working.append(kind)
    return tuple(working)


class Counting:
    """The ``opener`` seam around the real one, counting what was asked for."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    def __call__(self, codec: str, kind: str, extradata: bytes, threads: int | None) -> Any:
        self.asked.append(kind)
        return open_context(codec, kind, extradata, threads)


# --- this machine: Auto ends in software -------------------------------------------------------


@pytest.mark.parametrize("codec", ["h264", "hevc"])
def test_auto_decodes_a_real_clip_and_reports_what_decodes(codec: Codec) -> None:
    decoders = HardwareDecoders()
    decoder = decoders.open(codec, clip(codec)[0].config.extradata, prefer_hardware=True)
    try:
        frames = decode_all(decoder, clip(codec))
        assert decoders.in_use() == decoder.kind
    finally:
        decoder.close()
    if decoder.kind == SOFTWARE:
        assert_same_pictures(pictures(frames), reference(codec))
        # Every device type on offer was tried, failed and is remembered.
        assert decoders.failed.of(codec) == set(offered_devices(codec)) & set(PREFERENCE)
    assert decoders.in_use() == decoder.kind  # closed: what the last decoder used


def test_offered_devices_are_built_into_this_ffmpeg() -> None:
    offered = offered_devices("h264")
    assert set(offered) <= set(av.codec.hwaccel.hwdevices_available())


@pytest.mark.parametrize("kind", [*NO_PATH, "cuda"])
def test_an_unusable_device_falls_back_to_software_and_is_remembered(kind: str) -> None:
    if kind in working_devices():
        pytest.skip(f"{kind} works here")
    opener = Counting()
    decoders = forced(kind, opener=opener)
    extradata = clip()[0].config.extradata
    decoder = decoders.open("h264", extradata, prefer_hardware=True)
    try:
        assert decoder.kind == SOFTWARE
        assert_same_pictures(pictures(decode_all(decoder, clip())), reference())
        assert decoders.in_use() == SOFTWARE
    finally:
        decoder.close()
    assert decoders.failed.of("h264") == {kind}
    decoders.open("h264", extradata, prefer_hardware=True).close()
    assert opener.asked == [kind, SOFTWARE, SOFTWARE]  # not tried again


class FailsFirstPacket:
    """A device that opens but cannot decode the stream (as a GPU without the profile)."""

    def decode(self, packet: av.Packet | None = None) -> list[av.VideoFrame]:
        raise av.error.InvalidDataError(1094995529, "Invalid data found when processing input")

    def flush_buffers(self) -> None:
        pass


def fails_first_packet(codec: str, kind: str, extradata: bytes, threads: int | None) -> Any:
    if kind == SOFTWARE:
        return open_context(codec, kind, extradata, threads)
    return FailsFirstPacket()


def pretend_device(codec: str, kind: str, extradata: bytes, threads: int | None) -> Any:
    """A device that works: a software decoder under the device's name."""
    return open_context(codec, SOFTWARE, extradata, threads)


@pytest.mark.parametrize("codec", ["h264", "hevc"])
def test_a_device_failing_on_the_first_packet_still_gives_every_frame(codec: Codec) -> None:
    decoders = forced("cuda", opener=fails_first_packet)
    decoder = decoders.open(codec, clip(codec)[0].config.extradata, prefer_hardware=True, threads=3)
    assert decoder.kind == "cuda"
    try:
        frames = decode_all(decoder, clip(codec))
    finally:
        decoder.close()
    assert decoder.kind == SOFTWARE
    assert_same_pictures(pictures(frames), reference(codec))
    assert decoders.failed.of(codec) == {"cuda"}
    assert decoders.in_use() == SOFTWARE


def test_off_never_tries_hardware() -> None:
    opener = Counting()
    decoders = forced(*PREFERENCE, opener=opener)
    decoder = decoders.open("h264", clip()[0].config.extradata, prefer_hardware=False)
    try:
        assert_same_pictures(pictures(decode_all(decoder, clip())), reference())
    finally:
        decoder.close()
    assert opener.asked == [SOFTWARE]
    assert decoders.failed.of("h264") == frozenset()
    assert decoders.in_use() == SOFTWARE


def test_snapshots_fall_back_too() -> None:
    decoders = forced("cuda", opener=fails_first_packet)
    frame = decode_keyframe(clip()[0], decoders, prefer_hardware=True)
    snapshot = pictures([frame])[0][1]  # a snapshot carries no pts
    assert_same_pictures([(None, snapshot)], [(None, reference()[0][1])])
    assert decoders.failed.of("h264") == {"cuda"}
    assert decoders.in_use() == SOFTWARE


# --- transcoders: the setting applies to those started afterwards -------------------------------


@pytest.fixture
def pool() -> Iterator[ThreadPoolExecutor]:
    with ThreadPoolExecutor(max_workers=2) as executor:
        yield executor


async def watch_once(registry: TranscoderRegistry) -> tuple[int, str]:
    """Start a transcoder and feed it: the JPEGs its one viewer got, and the decoding in use."""
    hub = LiveHub("cam")
    spec = OutputSpec(160, 90, fps=30, quality=70)
    with registry.subscribe("cam", hub, spec) as viewer:
        transcoder = registry.find("cam", spec)
        assert transcoder is not None
        jpegs = []
        for packet in clip():
            hub.publish(packet)
            await transcoder.drained()
            while (item := viewer.get_nowait()) is not None:  # read as fast as it comes
                if not isinstance(item, Drop | Notice):
                    jpegs.append(item)
        in_use = registry.decoders.in_use()
    await registry.aclose()
    assert all(isinstance(jpeg, JpegFrame) for jpeg in jpegs)
    return len(jpegs), in_use


async def test_transcoders_fall_back_and_remember(pool: ThreadPoolExecutor) -> None:
    opener = Counting()
    registry = TranscoderRegistry(
        pool, forced("vaapi", opener=opener), prefer_hardware=lambda: True
    )
    # Frame threads keep the last few frames until more packets come.
    assert await watch_once(registry) == (pytest.approx(len(clip()), abs=4), SOFTWARE)
    assert registry.decoders.failed.of("h264") == {"vaapi"}
    assert await watch_once(registry) == (pytest.approx(len(clip()), abs=4), SOFTWARE)
    assert opener.asked == ["vaapi", SOFTWARE, SOFTWARE]  # not tried again


async def test_the_setting_applies_to_transcoders_started_afterwards(
    pool: ThreadPoolExecutor,
) -> None:
    prefer = True
    registry = TranscoderRegistry(
        pool, forced("vaapi", opener=pretend_device), prefer_hardware=lambda: prefer
    )
    assert (await watch_once(registry))[1] == "vaapi"
    prefer = False  # set to Off
    assert (await watch_once(registry))[1] == SOFTWARE
    prefer = True
    assert (await watch_once(registry))[1] == "vaapi"


# --- a real device (a GPU machine) -------------------------------------------------------------


def test_a_working_device_decodes_with_auto() -> None:
    """Skipped without a working device; CAMGATE_REQUIRE_HWACCEL=1 makes that a failure."""
    if not working_devices():
        reason = f"no working hardware decoder (offered: {offered_devices('h264') or 'none'})"
        if REQUIRE_HWACCEL:
            pytest.fail(reason)
        pytest.skip(reason)
    decoders = HardwareDecoders()
    decoder = decoders.open("h264", clip()[0].config.extradata, prefer_hardware=True)
    try:
        frames = decode_all(decoder, clip())
        assert decoders.in_use() == decoder.kind == working_devices()[0]
    finally:
        decoder.close()
    assert decoders.in_use() == working_devices()[0]
    assert decoders.failed.of("h264") == frozenset()
    # Downloaded to system memory, in a format the JPEG path scales from.
    jpeg = JpegEncoder(160, 90, 80, ()).encode(frames[0])
    assert jpeg.startswith(b"\xff\xd8")
    # H.264 decoding is exact: the device's pictures are the software decoder's, within rounding.
    assert_same_pictures(pictures(frames), reference(), max_mean=1.0)
