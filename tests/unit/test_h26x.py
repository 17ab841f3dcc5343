"""H.264/H.265 bitstream helpers: framing, parameter sets, SPS parsing, the wall-clock SEI.

The parameter sets below were produced by PyAV 18.1's libx264/libx265 (one frame of
``tests.support.media.encode_clip``); the component tests make them again from live encoders.
"""

from __future__ import annotations

import re
import struct

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from camgate.media import h26x
from camgate.media.h26x import ParameterSets

# --- fixtures: real encoder output -------------------------------------------------------------

X264_PPS = bytes.fromhex("68ef8fcb")
#: (name, SPS, width, height)
X264_SPS = [
    ("high 1080p", "67640028acd940780227e584000003000400000300f03c60c658", 1920, 1080),
    ("high 360p", "6764001eacd940a02ff9610000030001000003003c0f162d96", 640, 360),
    ("baseline 360p", "6742c01eda0280bfe584000003000400000300f03c58ba80", 640, 360),
    ("high 4:4:4 1080p", "67f40028919b280f0044fc4c20000003002000000781e30632c0", 1920, 1080),
    ("high 4:2:2 1080p", "677a0028bcd940780227e2610000030001000003003c0f183196", 1920, 1080),
    ("interlaced 1080p", "67640028acd94078044fdc20000003002000000783e2c5b2c0", 1920, 1080),
    ("high 10 1080p", "676e0028a6cd940780227e5840000003004000000f03c60c6580", 1920, 1080),
]
X265_VPS = bytes.fromhex("40010c01ffff01600000030090000003000003003f959409")
X265_PPS = bytes.fromhex("4401c073c189")
X265_SPS = [
    (
        "main 1080p",
        "420101016000000300900000030000030078a003c0801107cb965654a4c2e68080000003008000000f04",
        1920,
        1080,
    ),
    (
        "main 360p",
        "42010101600000030090000003000003003fa005020171f2e595952930b9a020000003002000000303c1",
        640,
        360,
    ),
    (
        "main 1918x1078 (conformance window)",
        "420101016000000300900000030000030078a003c0801107536595952930b9a020000003002000000303c1",
        1918,
        1078,
    ),
    (
        "main 10 1080p",
        "420101022000000300900000030000030078a003c0801107cad965654a4c2e6808000003000800000300f040",
        1920,
        1080,
    ),
    (
        "main 4:4:4 1080p",
        "4201010408000003009e08000003000078900078100220f89cb2b2a5261734040000030004000003007820",
        1920,
        1080,
    ),
    (
        "three temporal layers 360p",
        "42010401600000030090000003000003003f0000a005020171f2e59594aca5654a4c2e680800000300080000"
        "0300f040",
        640,
        360,
    ),
]
#: FFmpeg's mp4 muxer wrote these avcC records for the high 1080p and baseline 360p streams.
FFMPEG_AVCC = {
    "high 1080p": "01640028ffe1001a67640028acd940780227e584000003000400000300f03c60c658"
    "01000468ef8fcbfdf8f800",
    "baseline 360p": "0142c01effe100186742c01eda0280bfe584000003000400000300f03c58ba80"
    "01000468ce0fc8",
}
#: The first 22 bytes of FFmpeg's hvcC for the "main 360p" stream (before numOfArrays).
FFMPEG_HVCC_HEADER = "0101600000009000000000003ff000fcfdf8f800000f"


def x264(name: str) -> bytes:
    return bytes.fromhex(next(sps for n, sps, _, _ in X264_SPS if n == name))


def x265(name: str) -> bytes:
    return bytes.fromhex(next(sps for n, sps, _, _ in X265_SPS if n == name))


def annexb(nals: list[bytes], start_code: bytes = b"\x00\x00\x00\x01") -> bytes:
    return b"".join(start_code + nal for nal in nals)


# Slices and other NAL units (only their headers matter here).
H264_IDR = b"\x65\x88\x84\x21\xa0"
H264_P = b"\x41\x9a\x20\x24"
H264_AUD = b"\x09\xf0"
H264_SEI = b"\x06\x05\x01\x42\x80"
HEVC_IDR = b"\x26\x01\xaf\x06\xb8"  # IDR_W_RADL (19)
HEVC_CRA = b"\x2a\x01\xaf\x06\xb8"  # CRA_NUT (21)
HEVC_TRAIL = b"\x02\x01\xd0\x09\x78"  # TRAIL_R (1)
HEVC_AUD = b"\x46\x01\x50"

# --- strategies ----------------------------------------------------------------------------

_START_CODE_EMULATION = re.compile(b"\x00\x00[\x00-\x02]")


def _is_nal(data: bytes) -> bool:
    """What a NAL unit always is: no start code inside, no trailing zero, forbidden bit 0."""
    return 0 < data[0] < 0x80 and data[-1] != 0 and _START_CODE_EMULATION.search(data) is None


nal_units = st.binary(min_size=1, max_size=40).filter(_is_nal)


# --- framing -------------------------------------------------------------------------------


@given(st.lists(st.tuples(nal_units, st.booleans(), st.integers(0, 2)), min_size=1, max_size=8))
def test_annexb_round_trip_with_3_and_4_byte_start_codes_and_trailing_zeros(
    parts: list[tuple[bytes, bool, int]],
) -> None:
    data = b"".join(
        (b"\x00\x00\x00\x01" if long else b"\x00\x00\x01") + nal + bytes(zeros)
        for nal, long, zeros in parts
    )
    assert h26x.split_annexb(data) == [nal for nal, _, _ in parts]


def test_annexb_ignores_leading_bytes_and_empty_units() -> None:
    assert h26x.split_annexb(b"\xff\x00\x00\x01\x00\x00\x00\x01\x67\x42\x00\x00\x01") == [
        b"\x67\x42"
    ]
    assert h26x.split_annexb(b"\x67\x42") == []


@given(st.lists(st.binary(min_size=1, max_size=300), max_size=8), st.sampled_from([1, 2, 4]))
def test_length_prefixed_round_trip(nals: list[bytes], size: int) -> None:
    joined = h26x.join_length_prefixed(nals)
    assert h26x.split_length_prefixed(joined) == nals
    assume(all(len(nal) < 1 << (8 * size) for nal in nals))
    narrow = b"".join(len(nal).to_bytes(size, "big") + nal for nal in nals)
    assert h26x.split_length_prefixed(narrow, size) == nals


@pytest.mark.parametrize("data", [b"\x00\x00\x00\x05\x65", b"\x00\x00", b"\x00\x00\x00\x00"])
def test_split_length_prefixed_rejects_a_broken_chain(data: bytes) -> None:
    with pytest.raises(ValueError):
        h26x.split_length_prefixed(data)


def test_nal_types() -> None:
    assert h26x.nal_type("h264", x264("high 1080p")) == h26x.H264_SPS
    assert h26x.nal_type("h264", X264_PPS) == h26x.H264_PPS
    assert h26x.nal_type("h264", H264_IDR) == h26x.H264_IDR
    assert h26x.nal_type("hevc", X265_VPS) == h26x.HEVC_VPS
    assert h26x.nal_type("hevc", x265("main 360p")) == h26x.HEVC_SPS
    assert h26x.nal_type("hevc", X265_PPS) == h26x.HEVC_PPS
    assert h26x.nal_type("hevc", HEVC_AUD) == h26x.HEVC_AUD
    assert h26x.nal_type("hevc", HEVC_IDR) == 19


# --- emulation prevention --------------------------------------------------------------------


@given(st.binary(max_size=64))
def test_emulation_prevention_round_trip(payload: bytes) -> None:
    rbsp = payload + b"\x80"  # every RBSP ends in its stop bit
    escaped = h26x.add_emulation_prevention(rbsp)
    assert _START_CODE_EMULATION.search(escaped) is None
    assert h26x.remove_emulation_prevention(escaped) == rbsp


def test_emulation_prevention_known_bytes() -> None:
    rbsp = bytes.fromhex("000000 11 000001 11 000002 11 000003 11 0000ff 11 0000")
    # The last 03 follows a final 00: H.264 7.4.1's rule for an RBSP ending in cabac_zero_words.
    escaped = bytes.fromhex("00000300 11 00000301 11 00000302 11 00000303 11 0000ff 11 000003")
    assert h26x.add_emulation_prevention(rbsp) == escaped
    assert h26x.remove_emulation_prevention(escaped) == rbsp


# --- SPS parsing ---------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "sps", "width", "height"), X264_SPS)
def test_h264_sps_dimensions(name: str, sps: str, width: int, height: int) -> None:
    assert h26x.sps_dimensions("h264", bytes.fromhex(sps)) == (width, height)


@pytest.mark.parametrize(("name", "sps", "width", "height"), X265_SPS)
def test_hevc_sps_dimensions(name: str, sps: str, width: int, height: int) -> None:
    assert h26x.sps_dimensions("hevc", bytes.fromhex(sps)) == (width, height)


class BitWriter:
    """Writes u(n), ue(v) and se(v) (H.264 7.2), to build parameter sets no encoder here makes."""

    def __init__(self) -> None:
        self.bits: list[int] = []

    def u(self, count: int, value: int) -> BitWriter:
        self.bits += [(value >> (count - 1 - i)) & 1 for i in range(count)]
        return self

    def ue(self, value: int) -> BitWriter:
        code = value + 1
        return self.u(code.bit_length() - 1, 0).u(code.bit_length(), code)

    def se(self, value: int) -> BitWriter:
        return self.ue(2 * value - 1 if value > 0 else -2 * value)

    def rbsp(self) -> bytes:
        bits = [*self.bits, 1]  # rbsp_stop_one_bit
        bits += [0] * (-len(bits) % 8)
        return bytes(int("".join(map(str, bits[i : i + 8])), 2) for i in range(0, len(bits), 8))


def handmade_h264_sps(chroma_format_idc: int) -> bytes:
    """A High-profile SPS with scaling lists (one ending early), POC type 1 and cropping.

    x264 never writes seq_scaling_matrix_present_flag (it puts matrices in the PPS), so this is
    built from the H.264 7.3.2.1.1 syntax: 1280x720 coded, cropped to 1272x716 (4:2:0).
    FFmpeg's trace_headers bitstream filter reads the same field values from it.
    """
    w = BitWriter().u(8, 100).u(8, 0).u(8, 40).ue(0)  # profile, flags, level, sps id
    w.ue(chroma_format_idc)
    if chroma_format_idc == 3:
        w.u(1, 0)  # separate_colour_plane_flag
    w.ue(0).ue(0).u(1, 0)  # bit depths, qpprime_y_zero_transform_bypass_flag
    w.u(1, 1)  # seq_scaling_matrix_present_flag
    for index in range(8 if chroma_format_idc != 3 else 12):
        present = index in (0, 2, 6, 7, 10, 11)
        w.u(1, int(present))
        if not present:
            continue
        if index == 0:
            for delta in (5, -3, -10):  # 13, 10, 0: nextScale 0 ends the list's deltas
                w.se(delta)
        else:
            # 9, 10, 11, then 247 (wraps modulo 256), 246, 245, ...: never 0, so all are read.
            for step in range(16 if index < 6 else 64):
                w.se(1 if step < 3 else -20 if step == 3 else -1)
    w.ue(0).ue(1)  # log2_max_frame_num_minus4, pic_order_cnt_type 1
    w.u(1, 0).se(-3).se(2).ue(2).se(1).se(-1)  # POC type 1 fields, two offsets in the cycle
    w.ue(1).u(1, 0)  # max_num_ref_frames, gaps_in_frame_num_value_allowed_flag
    w.ue(79).ue(44)  # 80 x 45 macroblocks
    w.u(1, 1).u(1, 1)  # frame_mbs_only_flag, direct_8x8_inference_flag
    w.u(1, 1).ue(0).ue(4).ue(0).ue(2)  # frame cropping: right 4, bottom 2 (crop units)
    w.u(1, 0)  # vui_parameters_present_flag
    return b"\x67" + h26x.add_emulation_prevention(w.rbsp())


@pytest.mark.parametrize(("chroma_format_idc", "width", "height"), [(1, 1272, 716), (3, 1276, 718)])
def test_h264_sps_with_scaling_lists(chroma_format_idc: int, width: int, height: int) -> None:
    sps = handmade_h264_sps(chroma_format_idc)
    assert h26x.sps_dimensions("h264", sps) == (width, height)


def handmade_hevc_sps() -> bytes:
    """The start of an H.265 SPS (up to the bit depths, all that camgate reads) with sub-layer
    profile and level fields and a conformance window; FFmpeg's trace_headers agrees up to there.
    """
    w = BitWriter().u(4, 0).u(3, 2).u(1, 1)  # vps id, max_sub_layers_minus1 2, nesting
    w.u(2, 0).u(1, 1).u(5, 2).u(32, 0x20000000)  # Main 10, high tier, compatibility flag 2
    w.u(48, 0xB00000000000).u(8, 153)  # constraint flags, level 5.1
    w.u(1, 1).u(1, 1).u(1, 0).u(1, 1)  # sub-layer 0: profile + level; sub-layer 1: level
    w.u(2 * 6, 0)  # reserved_zero_2bits for sub-layers 2..7
    w.u(88, 0).u(8, 120).u(8, 123)
    w.ue(0).ue(1)  # sps id, chroma_format_idc 4:2:0
    w.ue(3840).ue(2176)  # coded size
    w.u(1, 1).ue(0).ue(0).ue(0).ue(8)  # conformance window: bottom 8 chroma rows
    w.ue(2).ue(2)  # bit depths 10
    return b"\x42\x01" + h26x.add_emulation_prevention(w.rbsp())


def test_hevc_sps_with_sub_layers_and_conformance_window() -> None:
    assert h26x.sps_dimensions("hevc", handmade_hevc_sps()) == (3840, 2160)


@pytest.mark.parametrize("codec", ["h264", "hevc"])
def test_truncated_sps_raises(codec: h26x.Codec) -> None:
    sps = x264("high 1080p") if codec == "h264" else x265("main 1080p")
    with pytest.raises(ValueError):
        h26x.sps_dimensions(codec, sps[:8])


# --- parameter sets and decoder configuration records --------------------------------------


H264_SETS = ParameterSets(x264("high 1080p"), X264_PPS)
HEVC_SETS = ParameterSets(x265("main 360p"), X265_PPS, X265_VPS)


def test_avcc_is_what_ffmpeg_writes() -> None:
    for name, record in FFMPEG_AVCC.items():
        pps = X264_PPS if name.startswith("high") else bytes.fromhex("68ce0fc8")
        built = h26x.decoder_config("h264", ParameterSets(x264(name), pps))
        assert built == bytes.fromhex(record)


def test_avcc_extension_follows_the_sps_chroma_format_and_bit_depth() -> None:
    high10 = h26x.decoder_config("h264", ParameterSets(x264("high 10 1080p"), X264_PPS))
    assert high10[-4:] == bytes((0xFD, 0xFA, 0xFA, 0))  # 4:2:0, 10-bit luma and chroma
    high422 = h26x.decoder_config("h264", ParameterSets(x264("high 4:2:2 1080p"), X264_PPS))
    assert high422[-4:] == bytes((0xFE, 0xF8, 0xF8, 0))


def test_hvcc_header_matches_ffmpeg_and_holds_complete_arrays() -> None:
    record = h26x.decoder_config("hevc", HEVC_SETS)
    assert record[:22] == bytes.fromhex(FFMPEG_HVCC_HEADER)
    assert record[22] == 3
    position = 23
    for nal_type, nal in ((32, X265_VPS), (33, HEVC_SETS.sps), (34, X265_PPS)):
        assert record[position] == 0x80 | nal_type  # array_completeness = 1
        assert struct.unpack_from(">HH", record, position + 1) == (1, len(nal))
        assert record[position + 5 : position + 5 + len(nal)] == nal
        position += 5 + len(nal)
    assert position == len(record)


def test_hvcc_of_a_main10_sps_with_sub_layers() -> None:
    record = h26x.decoder_config("hevc", ParameterSets(handmade_hevc_sps(), X265_PPS, X265_VPS))
    assert record[1:13] == bytes.fromhex("22 20000000 b00000000000 99")
    assert record[16:19] == bytes((0xFD, 0xFA, 0xFA))  # 4:2:0, 10-bit
    assert record[21] == (3 << 3) | (1 << 2) | 3  # three temporal layers, nested, 4-byte lengths


def test_hvcc_needs_a_vps() -> None:
    with pytest.raises(ValueError):
        h26x.decoder_config("hevc", ParameterSets(HEVC_SETS.sps, X265_PPS))


@pytest.mark.parametrize(("codec", "sets"), [("h264", H264_SETS), ("hevc", HEVC_SETS)])
def test_parameter_sets_from_records_and_annexb(codec: h26x.Codec, sets: ParameterSets) -> None:
    record = h26x.decoder_config(codec, sets)
    assert h26x.parameter_sets_from_extradata(codec, record) == sets
    nals = [sets.sps, sets.pps] if sets.vps is None else [sets.vps, sets.sps, sets.pps]
    assert h26x.parameter_sets_from_extradata(codec, annexb(nals)) == sets
    assert h26x.parameter_sets_from_extradata(codec, annexb(nals, b"\x00\x00\x01")) == sets


def test_parameter_sets_from_ffmpeg_records() -> None:
    record = bytes.fromhex(FFMPEG_AVCC["high 1080p"])
    assert h26x.parameter_sets_from_extradata("h264", record) == H264_SETS
    # FFmpeg's hvcC also carries x265's SEI, in a fourth array, with array_completeness 0.
    sei = b"\x4e\x01\x05\x02\xaa\xbb\x80"
    arrays = [(32, X265_VPS), (33, HEVC_SETS.sps), (34, X265_PPS), (39, sei)]
    body = b"".join(struct.pack(">BHH", t, 1, len(n)) + n for t, n in arrays)
    hvcc = bytes.fromhex(FFMPEG_HVCC_HEADER) + b"\x04" + body
    assert h26x.parameter_sets_from_extradata("hevc", hvcc) == HEVC_SETS


@pytest.mark.parametrize(
    ("codec", "extradata"),
    [
        ("h264", b""),
        ("h264", b"\x02\x64\x00\x28\xff\xe1\x00"),  # unknown configurationVersion
        ("h264", bytes.fromhex(FFMPEG_AVCC["high 1080p"])[:20]),  # truncated
        ("h264", annexb([x264("high 1080p")])),  # no PPS
        ("hevc", annexb([HEVC_SETS.sps, X265_PPS])),  # no VPS
        ("hevc", bytes.fromhex(FFMPEG_HVCC_HEADER) + b"\x01\x20\x00\x01\x00\x40"),  # truncated
    ],
)
def test_parameter_sets_absent_or_unreadable(codec: h26x.Codec, extradata: bytes) -> None:
    assert h26x.parameter_sets_from_extradata(codec, extradata) is None


# --- access unit normalization -------------------------------------------------------------


def test_normalizer_strips_and_reports_h264_parameter_sets_and_aud() -> None:
    normalizer = h26x.AccessUnitNormalizer()
    payload = annexb([H264_AUD, H264_SETS.sps, H264_SETS.pps, H264_SEI, H264_IDR])
    sample, sets = normalizer.feed("h264", payload)
    assert h26x.split_length_prefixed(sample) == [H264_SEI, H264_IDR]
    assert sets == H264_SETS
    sample, sets = normalizer.feed("h264", annexb([H264_AUD, H264_P], b"\x00\x00\x01"))
    assert h26x.split_length_prefixed(sample) == [H264_P]
    assert sets is None


def test_normalizer_strips_and_reports_hevc_parameter_sets_and_aud() -> None:
    normalizer = h26x.AccessUnitNormalizer()
    payload = h26x.join_length_prefixed(
        [HEVC_AUD, X265_VPS, HEVC_SETS.sps, X265_PPS, HEVC_IDR, HEVC_IDR]
    )
    sample, sets = normalizer.feed("hevc", payload)
    assert h26x.split_length_prefixed(sample) == [HEVC_IDR, HEVC_IDR]
    assert sets == HEVC_SETS


def test_normalizer_combines_parameter_sets_sent_apart_and_reports_changes() -> None:
    normalizer = h26x.AccessUnitNormalizer()
    assert normalizer.feed("h264", annexb([H264_SETS.sps])) == (b"", None)
    sample, sets = normalizer.feed("h264", annexb([H264_SETS.pps, H264_IDR]))
    assert sets == H264_SETS and h26x.split_length_prefixed(sample) == [H264_IDR]
    other_sps = x264("high 360p")
    _, sets = normalizer.feed("h264", annexb([other_sps, H264_IDR]))
    assert sets == ParameterSets(other_sps, X264_PPS)


def test_normalizer_passes_a_clean_sample_through_without_copying() -> None:
    sample = h26x.join_length_prefixed([H264_SEI, H264_P])
    assert h26x.AccessUnitNormalizer().feed("h264", sample) == (sample, None)


def test_normalizer_reads_a_one_byte_first_nal_as_length_prefixed() -> None:
    # An end-of-stream NAL unit (type 11) is one byte: its length looks like a 4-byte start code.
    sample = h26x.join_length_prefixed([b"\x0b", H264_IDR])
    assert sample.startswith(b"\x00\x00\x00\x01")
    assert h26x.AccessUnitNormalizer().feed("h264", sample) == (sample, None)


def test_normalizer_keeps_reading_annexb_when_a_payload_also_walks_as_lengths() -> None:
    # 00 00 01 41 ... of 4 + 0x141 bytes is also one 0x141-byte length-prefixed unit.
    slice_ = b"\x41" + bytes(range(1, 256)) + b"\x9a" * (0x141 - 255)
    ambiguous = b"\x00\x00\x01" + slice_
    assert len(ambiguous) == 4 + 0x141
    fresh, _ = h26x.AccessUnitNormalizer().feed("h264", ambiguous)
    assert fresh == ambiguous  # with nothing known yet, the length-prefixed reading wins
    normalizer = h26x.AccessUnitNormalizer()
    normalizer.feed("h264", annexb([H264_SETS.sps, H264_SETS.pps, H264_IDR]))
    sample, _ = normalizer.feed("h264", ambiguous)
    assert h26x.split_length_prefixed(sample) == [slice_]


def test_normalizer_gives_an_empty_sample_for_garbage() -> None:
    assert h26x.AccessUnitNormalizer().feed("h264", b"\x12\x34\x56") == (b"", None)


h264_units = st.sampled_from(
    [H264_AUD, H264_SETS.sps, H264_SETS.pps, H264_SEI, H264_IDR, H264_P, b"\x0c\xff"]
)


@given(st.lists(st.one_of(h264_units, nal_units), min_size=1, max_size=8))
def test_normalizer_gives_the_same_sample_for_both_framings(nals: list[bytes]) -> None:
    from_annexb = h26x.AccessUnitNormalizer()
    from_annexb.feed("h264", annexb([H264_AUD, H264_P]))  # the stream is known to be Annex B
    expected_nals = [n for n in nals if h26x.nal_type("h264", n) not in (7, 8, 9)]
    expected = h26x.join_length_prefixed(expected_nals)
    sample, _ = from_annexb.feed("h264", annexb(nals))
    assert sample == expected
    sample, _ = h26x.AccessUnitNormalizer().feed("h264", h26x.join_length_prefixed(nals))
    assert sample == expected


# --- keyframes -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("codec", "nals", "keyframe"),
    [
        ("h264", [H264_SEI, H264_IDR], True),
        ("h264", [H264_SEI, H264_P], False),
        ("hevc", [HEVC_IDR], True),
        ("hevc", [HEVC_CRA], True),
        ("hevc", [HEVC_TRAIL], False),
        ("h264", [], False),
    ],
)
def test_is_keyframe_sample(codec: h26x.Codec, nals: list[bytes], keyframe: bool) -> None:
    assert h26x.is_keyframe_sample(codec, h26x.join_length_prefixed(nals)) is keyframe


# --- the wall-clock SEI ----------------------------------------------------------------------


def test_sei_uuid_never_needs_escaping() -> None:
    assert b"\x00" not in h26x.CAMGATE_SEI_UUID and len(h26x.CAMGATE_SEI_UUID) == 16


@pytest.mark.parametrize("codec", ["h264", "hevc"])
def test_sei_layout(codec: h26x.Codec) -> None:
    sei = h26x.wallclock_sei(codec, 1_700_000_000.25)
    header = b"\x06" if codec == "h264" else b"\x4e\x01"
    assert sei.startswith(header + b"\x05\x18" + h26x.CAMGATE_SEI_UUID)
    assert sei[-9:] == struct.pack(">Q", 1_700_000_000_250_000) + b"\x80"


@pytest.mark.parametrize("codec", ["h264", "hevc"])
@pytest.mark.parametrize(
    "microseconds",
    [
        0x0006_0000_0100_0203,  # 00 00 01 inside
        0x0006_3000_0000_0003,  # 00 00 00 and 00 00 03
        0x0000_0000_0000_0000,
        0x0006_1234_5600_0000,  # ends in zeros before the trailing bits
    ],
)
def test_sei_round_trip_through_emulation_prevention(codec: h26x.Codec, microseconds: int) -> None:
    sei = h26x.wallclock_sei(codec, microseconds / 1_000_000)
    assert b"\x00\x00\x03" in sei  # each value needs emulation prevention
    assert _START_CODE_EMULATION.search(sei) is None
    sample = h26x.join_length_prefixed([sei, H264_IDR if codec == "h264" else HEVC_IDR])
    found = h26x.find_wallclock(codec, sample)
    assert found is not None and round(found * 1_000_000) == microseconds


@given(st.integers(0, 4_102_444_800_000_000))  # up to 2100-01-01
def test_sei_round_trip_any_time(microseconds: int) -> None:
    t = microseconds / 1_000_000
    sample = h26x.join_length_prefixed([h26x.wallclock_sei("h264", t), H264_P])
    found = h26x.find_wallclock("h264", sample)
    assert found is not None and round(found * 1_000_000) == microseconds


def test_find_wallclock_skips_other_sei_messages_and_units() -> None:
    ours = h26x.wallclock_sei("hevc", 1_700_000_000.5)
    # x265 writes a long user_data_unregistered SEI (its settings): payloadSize over 255.
    x265_info = b"\x4e\x01\x05\xff\x0f" + bytes.fromhex("2ca2de09b51747dbbb55a4fe7fc2fc4e")
    x265_info += b"x" * (255 + 15 - 16) + b"\x80"
    # Two messages in one NAL unit: a recovery point (type 6) before ours.
    combined = b"\x4e\x01\x06\x01\x8c" + ours[2:]
    for sample_nals in ([x265_info, ours, HEVC_IDR], [combined, HEVC_TRAIL]):
        found = h26x.find_wallclock("hevc", h26x.join_length_prefixed(sample_nals))
        assert found == 1_700_000_000.5


def test_find_wallclock_without_a_stamp() -> None:
    assert h26x.find_wallclock("h264", h26x.join_length_prefixed([H264_SEI, H264_IDR])) is None
    # The UUID alone, outside a SEI unit, is not a stamp.
    slice_with_uuid = H264_P + h26x.CAMGATE_SEI_UUID + bytes(8)
    assert h26x.find_wallclock("h264", h26x.join_length_prefixed([slice_with_uuid])) is None
