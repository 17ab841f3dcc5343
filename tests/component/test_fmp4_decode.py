"""Real encoder output through h26x normalization and the fMP4 writer, decoded back with PyAV.

Each clip is encoded once per session (a couple of seconds of 30 fps video, GOP 30).
"""

from __future__ import annotations

import functools
from typing import Any

import pytest

from camgate.media import fmp4, h26x
from camgate.media.fmp4 import iter_boxes
from camgate.media.packet import MediaPacket
from tests.support.media import (
    DecodedFrame,
    EncodedClip,
    decode_clip,
    decode_frames,
    encode_clip,
    fmp4_stream,
    to_media_packets,
)

FRAME = 3000  # one frame at 30 fps in the 90 kHz clock

CLIPS: dict[str, dict[str, Any]] = {
    "h264 360p": {},
    "h264 1080p": {"width": 1920, "height": 1080, "frames": 45},
    "h264 360p b-frames": {"bframes": 2},
    "h264 360p with AUDs": {"encoder_params": "aud=1"},
    "h264 360p from mp4": {"framing": "mp4"},
    "hevc 360p": {"codec": "hevc"},
    "hevc 360p from mp4": {"codec": "hevc", "framing": "mp4"},
}


@functools.cache
def clip(name: str) -> EncodedClip:
    return encode_clip(**{"frames": 60, **CLIPS[name]})


def keyframe_indexes(frames: list[DecodedFrame]) -> list[int]:
    """Presentation indexes of the key frames."""
    return [index for index, frame in enumerate(frames) if frame.key_frame]


def child(data: bytes, box: tuple[int, int], *kinds: str) -> bytes:
    """The payload of the box reached from ``box`` (start, size) through ``kinds``."""
    start, size = box
    for kind in kinds:
        start, size = next(
            (s, n) for k, s, n in iter_boxes(data, start + 8, start + size) if k == kind
        )
    return data[start + 8 : start + size]


def sample_of(fragment: bytes) -> bytes:
    (_, start, size) = next(box for box in iter_boxes(fragment) if box[0] == "mdat")
    return fragment[start + 8 : start + size]


@pytest.mark.parametrize("name", CLIPS)
def test_every_frame_decodes_with_its_timestamp(name: str) -> None:
    encoded = clip(name)
    packets = to_media_packets(encoded)
    frames = decode_frames(fmp4_stream(packets))
    assert len(packets) == len(encoded.packets) == len(frames)
    assert [frame.pts for frame in frames] == sorted(packet.pts for packet in packets)
    assert [frame.pts for frame in frames] == [
        frames[0].pts + i * FRAME for i in range(len(frames))
    ]
    assert {(frame.width, frame.height) for frame in frames} == {(encoded.width, encoded.height)}
    assert keyframe_indexes(frames) == list(range(0, len(frames), 30))
    key_pts = {packet.pts for packet in packets if packet.is_keyframe}
    assert key_pts == {frame.pts for frame in frames if frame.key_frame}
    # The pictures are those of the encoder's own packets, decoded without any container.
    assert [frame.digest for frame in frames] == [frame.digest for frame in decode_clip(encoded)]


def test_the_b_frame_clip_reorders() -> None:
    packets = to_media_packets(clip("h264 360p b-frames"))
    assert any(packet.pts != packet.dts for packet in packets)
    assert [p.pts for p in packets] != sorted(p.pts for p in packets)


@pytest.mark.parametrize("name", ["h264 360p", "h264 1080p", "h264 360p b-frames", "hevc 360p"])
def test_late_joiner_starts_at_the_second_keyframe(name: str) -> None:
    packets = to_media_packets(clip(name))
    second = [index for index, packet in enumerate(packets) if packet.is_keyframe][1]
    joined = packets[second:]
    frames = decode_frames(fmp4_stream(joined, first_sequence=second + 1))
    assert len(frames) == len(joined)
    assert frames[0].key_frame
    assert [frame.pts for frame in frames] == sorted(packet.pts for packet in joined)
    everything = decode_frames(fmp4_stream(packets))
    assert [frame.digest for frame in frames] == [
        frame.digest for frame in everything[-len(frames) :]
    ]


@pytest.mark.parametrize("name", CLIPS)
def test_samples_hold_no_parameter_sets_or_delimiters(name: str) -> None:
    encoded = clip(name)
    codec = encoded.codec
    out_of_band = {7, 8, 9} if codec == "h264" else {32, 33, 34, 35}
    for packet in to_media_packets(encoded):
        types = {h26x.nal_type(codec, nal) for nal in h26x.split_length_prefixed(packet.data)}
        assert not types & out_of_band
        assert h26x.is_keyframe_sample(codec, packet.data) is packet.is_keyframe
        params = h26x.parameter_sets_from_extradata(codec, packet.config.extradata)
        assert params is not None
        assert h26x.sps_dimensions(codec, params.sps) == (encoded.width, encoded.height)


@pytest.mark.parametrize("name", ["h264 360p with AUDs", "h264 360p"])
def test_annexb_clips_carry_what_the_normalizer_strips(name: str) -> None:
    """Keeps the test above honest: the raw packets do have parameter sets (and AUDs)."""
    first = h26x.split_annexb(clip(name).packets[0].data)
    types = {h26x.nal_type("h264", nal) for nal in first}
    assert {7, 8} <= types
    assert (9 in types) is name.endswith("AUDs")


def test_avcc_is_the_one_ffmpeg_writes() -> None:
    encoded = clip("h264 360p from mp4")
    params = h26x.parameter_sets_from_extradata("h264", encoded.extradata)
    assert params is not None
    assert h26x.decoder_config("h264", params) == encoded.extradata
    config = to_media_packets(encoded)[0].config
    assert fmp4.codec_string(config) == "avc1." + encoded.extradata[1:4].hex()


@pytest.mark.parametrize("codec", ["h264", "hevc"])
def test_the_same_parameter_sets_in_band_and_in_the_record(codec: h26x.Codec) -> None:
    name = f"{codec} 360p"
    in_band = to_media_packets(clip(name))[0].config
    from_record = to_media_packets(clip(f"{name} from mp4"))[0].config
    assert in_band == from_record


@pytest.mark.parametrize("codec", ["h264", "hevc"])
def test_wallclock_sei_survives_and_decoders_ignore_it(codec: h26x.Codec) -> None:
    encoded = clip(f"{codec} 360p")
    stamped = to_media_packets(encoded, stamp_wallclock=True)
    plain = to_media_packets(encoded)
    fragments = [fmp4.fragment(n, packet) for n, packet in enumerate(stamped, start=1)]
    for fragment, packet in zip(fragments, stamped, strict=True):
        found = h26x.find_wallclock(codec, sample_of(fragment))
        assert found == pytest.approx(packet.wallclock, abs=1e-6)
    assert all(h26x.find_wallclock(codec, packet.data) is None for packet in plain)
    with_sei = decode_frames(fmp4.init_segment(stamped[0].config) + b"".join(fragments))
    without = decode_frames(fmp4_stream(plain))
    assert len(with_sei) == len(stamped)
    assert with_sei == without  # same timestamps, key frames and pixels


@pytest.mark.parametrize("codec", ["h264", "hevc"])
@pytest.mark.parametrize(("width", "height"), [(1920, 1080), (640, 360)])
def test_sps_dimensions_of_live_encoder_output(codec: h26x.Codec, width: int, height: int) -> None:
    encoded = encode_clip(codec, width, height, frames=1)
    _, params = h26x.AccessUnitNormalizer().feed(codec, encoded.packets[0].data)
    assert params is not None
    assert h26x.sps_dimensions(codec, params.sps) == (width, height)


def test_fragments_are_numbered_and_continuous() -> None:
    packets: list[MediaPacket] = to_media_packets(clip("h264 360p"))
    stream = fmp4_stream(packets, first_sequence=5)
    boxes = list(iter_boxes(stream))
    assert [kind for kind, _, _ in boxes[:2]] == ["ftyp", "moov"]
    assert [kind for kind, _, _ in boxes[2:]] == ["moof", "mdat"] * len(packets)
    assert sum(size for _, _, size in boxes) == len(stream)
    moofs = [(start, size) for kind, start, size in boxes if kind == "moof"]
    numbers = [int.from_bytes(child(stream, moof, "mfhd")[4:8], "big") for moof in moofs]
    assert numbers == list(range(5, 5 + len(packets)))
    # Each fragment's tfdt is where the previous one ended.
    tfdts = [int.from_bytes(child(stream, moof, "traf", "tfdt")[4:12], "big") for moof in moofs]
    assert tfdts == [packet.dts for packet in packets]
    assert all(b - a == p.duration for a, b, p in zip(tfdts, tfdts[1:], packets, strict=False))
