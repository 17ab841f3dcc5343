"""The fragmented MP4 writer: box layout and sizes, trun fields, codec strings, the box walker."""

from __future__ import annotations

import itertools
import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from camgate.media import fmp4
from camgate.media.fmp4 import iter_boxes
from camgate.media.packet import MediaPacket, StreamConfig

#: FFmpeg's avcC for libx264 High, level 4.0, 1920x1080.
AVCC_HIGH = bytes.fromhex(
    "01640028ffe1001a67640028acd940780227e584000003000400000300f03c60c65801000468ef8fcbfdf8f800"
)
#: An hvcC header of libx265 Main, level 2.1 (FFmpeg wrote it), with no arrays.
HVCC_MAIN = bytes.fromhex("0101600000009000000000003ff000fcfdf8f800000f00")
#: Main 10, high tier, level 5.1, constraint byte 0xB0 then 00 00 23 00 00.
HVCC_MAIN10_HIGH = bytes.fromhex("01 22 20000000 b00000230000 99 f000 fc fd fa fa 0000 0f 00")

H264 = StreamConfig("h264", 1920, 1080, AVCC_HIGH)
HEVC = StreamConfig("hevc", 640, 360, HVCC_MAIN)


def packet(
    data: bytes = b"\x00\x00\x00\x02\x65\x88",
    pts: int = 9000,
    dts: int = 6000,
    duration: int = 3000,
    keyframe: bool = True,
) -> MediaPacket:
    return MediaPacket(data, pts, dts, duration, keyframe, 1.7e9, H264)


def children(data: bytes, start: int, size: int, header: int = 8) -> dict[str, tuple[int, int]]:
    """The child boxes of the box at ``start`` (whose own header is ``header`` bytes long)."""
    found = {}
    for kind, child, child_size in iter_boxes(data, start + header, start + size):
        assert kind not in found
        found[kind] = (child, child_size)
    return found


def path(data: bytes, *kinds: str) -> tuple[int, int]:
    """Follow a path of box types from the top level; returns (start, size) of the last one.

    stsd/dref and sample entries have fields before their children: 8 + 8 and 8 + 78 bytes.
    """
    boxes = {kind: (start, size) for kind, start, size in iter_boxes(data)}
    start, size = boxes[kinds[0]]
    for parent, kind in itertools.pairwise(kinds):
        header = {"stsd": 16, "avc1": 86, "hvc1": 86, "dref": 16}.get(parent, 8)
        start, size = children(data, start, size, header)[kind]
    return start, size


def payload(data: bytes, *kinds: str) -> bytes:
    start, size = path(data, *kinds)
    return data[start + 8 : start + size]


# --- init segment ------------------------------------------------------------------------------


def test_init_segment_layout() -> None:
    init = fmp4.init_segment(H264)
    assert [kind for kind, _, _ in iter_boxes(init)] == ["ftyp", "moov"]
    assert sum(size for _, _, size in iter_boxes(init)) == len(init)
    assert payload(init, "ftyp") == b"iso5" + bytes(4) + b"iso5iso6mp41avc1"
    moov = path(init, "moov")
    assert list(children(init, *moov)) == ["mvhd", "trak", "mvex"]
    assert list(children(init, *path(init, "moov", "trak"))) == ["tkhd", "mdia"]
    assert list(children(init, *path(init, "moov", "trak", "mdia"))) == ["mdhd", "hdlr", "minf"]
    minf = path(init, "moov", "trak", "mdia", "minf")
    assert list(children(init, *minf)) == ["vmhd", "dinf", "stbl"]
    stbl = path(init, "moov", "trak", "mdia", "minf", "stbl")
    assert list(children(init, *stbl)) == ["stsd", "stts", "stsc", "stsz", "stco"]
    trex = payload(init, "moov", "mvex", "trex")
    assert struct.unpack(">IIIIII", trex) == (0, 1, 1, 0, 0, 0)


def test_init_segment_track_header_and_timescales() -> None:
    init = fmp4.init_segment(H264, timescale=90_000)
    mvhd = payload(init, "moov", "mvhd")
    assert struct.unpack_from(">IIIII", mvhd, 4) == (0, 0, 90_000, 0, 0x10000)
    assert struct.unpack_from(">I", mvhd, len(mvhd) - 4) == (2,)  # next_track_ID
    tkhd = payload(init, "moov", "trak", "tkhd")
    assert tkhd[:4] == b"\x00\x00\x00\x03"  # version 0, enabled | in movie
    assert struct.unpack_from(">I", tkhd, 12) == (fmp4.TRACK_ID,)
    assert struct.unpack_from(">I", tkhd, 20) == (0,)  # duration: live
    assert struct.unpack_from(">II", tkhd, len(tkhd) - 8) == (1920 << 16, 1080 << 16)
    mdhd = payload(init, "moov", "trak", "mdia", "mdhd")
    assert struct.unpack_from(">IIH", mdhd, 12) == (90_000, 0, 0x55C4)  # timescale, 0, "und"
    hdlr = payload(init, "moov", "trak", "mdia", "hdlr")
    assert hdlr[8:12] == b"vide"


def test_init_segment_data_reference_is_self_contained() -> None:
    init = fmp4.init_segment(H264)
    dref = payload(init, "moov", "trak", "mdia", "minf", "dinf", "dref")
    assert dref == bytes.fromhex("00000000 00000001 0000000c 75726c20 00000001")


@pytest.mark.parametrize(
    ("config", "entry", "record"), [(H264, "avc1", "avcC"), (HEVC, "hvc1", "hvcC")]
)
def test_sample_entry_holds_dimensions_and_the_record(
    config: StreamConfig, entry: str, record: str
) -> None:
    init = fmp4.init_segment(config)
    stbl = ("moov", "trak", "mdia", "minf", "stbl")
    stsd = payload(init, *stbl, "stsd")
    assert stsd[:8] == bytes.fromhex("00000000 00000001")  # version/flags, entry_count
    sample_entry = payload(init, *stbl, "stsd", entry)
    assert struct.unpack_from(">H", sample_entry, 6) == (1,)  # data_reference_index
    assert struct.unpack_from(">HH", sample_entry, 24) == (config.width, config.height)
    assert struct.unpack_from(">Hh", sample_entry, 74) == (0x18, -1)
    assert payload(init, *stbl, "stsd", entry, record) == config.extradata
    assert payload(init, "ftyp").endswith(entry.encode())
    for table in ("stts", "stsc", "stco"):
        assert payload(init, *stbl, table) == bytes(8)  # version/flags, no entries
    assert payload(init, *stbl, "stsz") == bytes(12)


# --- fragments -----------------------------------------------------------------------------


def trun_fields(fragment: bytes) -> tuple[int, int, int, list[tuple[int, int, int, int]]]:
    """(version/flags, sample_count, data_offset, samples) of the fragment's trun."""
    trun = payload(fragment, "moof", "traf", "trun")
    flags, count, offset = struct.unpack_from(">IIi", trun)
    samples = [struct.unpack_from(">IIIi", trun, 12 + 16 * i) for i in range(count)]
    assert len(trun) == 12 + 16 * count
    return flags, count, offset, samples


def test_fragment_layout() -> None:
    sample = packet()
    fragment = fmp4.fragment(7, sample)
    boxes = list(iter_boxes(fragment))
    assert [kind for kind, _, _ in boxes] == ["moof", "mdat"]
    assert boxes[1][2] == 8 + len(sample.data) and boxes[0][2] + boxes[1][2] == len(fragment)
    assert list(children(fragment, *path(fragment, "moof"))) == ["mfhd", "traf"]
    assert list(children(fragment, *path(fragment, "moof", "traf"))) == ["tfhd", "tfdt", "trun"]
    assert payload(fragment, "moof", "mfhd") == struct.pack(">II", 0, 7)
    # default-base-is-moof, track 1
    assert payload(fragment, "moof", "traf", "tfhd") == struct.pack(">II", 0x020000, 1)
    assert payload(fragment, "moof", "traf", "tfdt") == struct.pack(">IQ", 0x01000000, 6000)
    assert payload(fragment, "mdat") == sample.data


def test_trun_data_offset_points_at_the_sample() -> None:
    sample = packet()
    fragment = fmp4.fragment(1, sample)
    flags, count, offset, samples = trun_fields(fragment)
    assert flags == 0x01000F01  # version 1; offset, duration, size, flags, composition offset
    assert count == 1
    assert fragment[offset : offset + len(sample.data)] == sample.data  # moof starts at 0
    assert samples == [(3000, len(sample.data), 0x02000000, 3000)]


def test_trun_flags_for_keyframes_and_others() -> None:
    _, _, _, key = trun_fields(fmp4.fragment(1, packet(keyframe=True)))
    _, _, _, other = trun_fields(fmp4.fragment(2, packet(keyframe=False)))
    assert key[0][2] == 0x02000000  # sample_depends_on = 2: an I picture, a sync sample
    assert other[0][2] == 0x01010000  # depends on others, sample_is_non_sync_sample


def test_sequence_number_wraps_at_32_bits() -> None:
    for build in (fmp4.fragment, lambda n, p: fmp4.media_segment(n, [p])):
        assert payload(build(2**32 + 5, packet()), "moof", "mfhd") == struct.pack(">II", 0, 5)


def test_composition_offset_is_signed_and_dts_is_64_bit() -> None:
    fragment = fmp4.fragment(1, packet(pts=2**33 - 3000, dts=2**33))
    assert trun_fields(fragment)[3][0][3] == -3000
    assert payload(fragment, "moof", "traf", "tfdt")[4:] == struct.pack(">Q", 2**33)


@given(
    sequence=st.integers(0, 2**40),
    dts=st.integers(0, 2**63 - 1),
    offset=st.integers(-(2**20), 2**20),
    duration=st.integers(0, 2**32 - 1),
    keyframe=st.booleans(),
    data=st.binary(max_size=64),
)
def test_fragment_equals_a_one_sample_media_segment(
    sequence: int, dts: int, offset: int, duration: int, keyframe: bool, data: bytes
) -> None:
    sample = packet(data, dts + offset, dts, duration, keyframe)
    assert fmp4.fragment(sequence, sample) == fmp4.media_segment(sequence, [sample])


def test_media_segment_with_several_samples() -> None:
    samples = [
        packet(b"\x00\x00\x00\x01\x65", pts=3000, dts=0, keyframe=True),
        packet(b"\x00\x00\x00\x02\x41\x01", pts=9000, dts=3000, keyframe=False),
        packet(b"\x00\x00\x00\x03\x01\x02\x03", pts=6000, dts=6000, keyframe=False),
    ]
    segment = fmp4.media_segment(42, samples)
    assert [kind for kind, _, _ in iter_boxes(segment)] == ["moof", "mdat"]
    assert payload(segment, "moof", "mfhd")[4:] == struct.pack(">I", 42)
    assert payload(segment, "moof", "traf", "tfdt")[4:] == struct.pack(">Q", 0)
    _, count, offset, entries = trun_fields(segment)
    assert count == 3
    assert entries == [
        (3000, 5, 0x02000000, 3000),
        (3000, 6, 0x01010000, 6000),
        (3000, 7, 0x01010000, 0),
    ]
    data = b"".join(sample.data for sample in samples)
    assert payload(segment, "mdat") == data
    assert segment[offset : offset + len(data)] == data


def test_media_segment_needs_a_sample() -> None:
    with pytest.raises(ValueError):
        fmp4.media_segment(1, [])


# --- codec strings -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        (H264, "avc1.640028"),
        (StreamConfig("h264", 640, 360, bytes.fromhex("0142c01effe10000")), "avc1.42c01e"),
        (HEVC, "hvc1.1.6.L63.90"),
        (StreamConfig("hevc", 3840, 2160, HVCC_MAIN10_HIGH), "hvc1.2.4.H153.B0.0.0.23"),
        (
            StreamConfig("hevc", 1, 1, bytes.fromhex("0181" + HVCC_MAIN.hex()[4:])),
            "hvc1.B1.6.L63.90",  # general_profile_space 1 is spelled A, 2 B, 3 C
        ),
    ],
)
def test_codec_string(config: StreamConfig, expected: str) -> None:
    assert fmp4.codec_string(config) == expected


def test_mime_type() -> None:
    assert fmp4.mime_type(H264) == 'video/mp4; codecs="avc1.640028"'


# --- box walking ---------------------------------------------------------------------------


def test_iter_boxes_handles_largesize_and_size_zero() -> None:
    large = struct.pack(">I4sQ", 1, b"mdat", 16 + 3) + b"abc"
    to_end = struct.pack(">I4s", 0, b"free") + b"rest"
    data = b"junk" + large + to_end
    assert list(iter_boxes(data, offset=4)) == [("mdat", 4, 19), ("free", 23, 12)]
    assert list(iter_boxes(data, offset=4, end=23)) == [("mdat", 4, 19)]


@pytest.mark.parametrize(
    "data",
    [
        struct.pack(">I4s", 16, b"moof"),  # runs past the end
        struct.pack(">I4s", 4, b"moof"),  # smaller than its header
        struct.pack(">I4s", 1, b"mdat") + b"\x00\x00",  # truncated largesize
        b"\x00\x00\x00",  # truncated header
    ],
)
def test_iter_boxes_rejects_broken_boxes(data: bytes) -> None:
    with pytest.raises(ValueError):
        list(iter_boxes(data))
