"""Pure functions over H.264 (ITU-T H.264) and H.265 (ITU-T H.265) bitstreams: no I/O.

Cameras hand out the same pictures in two framings: RTSP/SDP gives Annex B byte streams
(start codes) while MP4 files give 4-byte length-prefixed samples and an avcC/hvcC record.
camgate keeps exactly one form inside (:class:`~camgate.media.packet.MediaPacket`): length-prefixed
samples without parameter sets, and the parameter sets in the stream's decoder configuration record.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from camgate.media.packet import Codec

# H.264 nal_unit_type values (H.264 Table 7-1).
H264_IDR = 5
H264_SEI = 6
H264_SPS = 7
H264_PPS = 8
H264_AUD = 9

# H.265 nal_unit_type values (H.265 Table 7-1).
HEVC_IRAP_FIRST = 16  # BLA_W_LP
HEVC_IRAP_LAST = 23  # RSV_IRAP_VCL23
HEVC_VPS = 32
HEVC_SPS = 33
HEVC_PPS = 34
HEVC_AUD = 35
HEVC_PREFIX_SEI = 39

#: The NAL unit types camgate keeps out of samples: parameter sets go to the decoder
#: configuration record, access unit delimiters are dropped (MP4 samples need none).
_PARAMETER_SET_TYPES: dict[Codec, frozenset[int]] = {
    "h264": frozenset({H264_SPS, H264_PPS}),
    "hevc": frozenset({HEVC_VPS, HEVC_SPS, HEVC_PPS}),
}
_DELIMITER: dict[Codec, int] = {"h264": H264_AUD, "hevc": HEVC_AUD}

#: The uuid_iso_iec_11578 of camgate's wall-clock SEI (H.264 D.1.6 / H.265 D.2.6,
#: user_data_unregistered). It has no zero byte, so emulation prevention never alters it and
#: :func:`find_wallclock` can look for it with a plain substring search first.
CAMGATE_SEI_UUID = bytes.fromhex("c4a9e35b7d2f4c1ab86e51f3d2972c8e")

#: sei_message payloadType of user_data_unregistered (H.264 Annex D.1, H.265 Annex D.2.1).
_SEI_USER_DATA_UNREGISTERED = 5
_START_CODE = b"\x00\x00\x01"
_START_CODES = (_START_CODE, b"\x00" + _START_CODE)
_LENGTH = struct.Struct(">I")
# H.264 7.4.1 / H.265 7.4.2: within a NAL unit, 00 00 followed by 00..03 must be escaped as
# 00 00 03 xx ("emulation_prevention_three_byte"), so no start code can appear inside.
_NEEDS_ESCAPE = re.compile(b"\x00\x00(?=[\x00-\x03])")
# H.264 7.3.2.1.1: profiles whose SPS carries chroma_format_idc, bit depths and scaling lists.
_H264_HIGH_PROFILES = frozenset({100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135})
# ISO 14496-15 5.3.3.1.2: the avcC record has its chroma/bit-depth extension for these profiles.
_AVCC_EXTENDED_PROFILES = frozenset({100, 110, 122, 144})
# (SubWidthC, SubHeightC) by chroma_format_idc (H.264 Table 6-1, H.265 Table 6-1).
_CHROMA_SUBSAMPLING = {0: (1, 1), 1: (2, 2), 2: (2, 1), 3: (1, 1)}


@dataclass(frozen=True, slots=True)
class ParameterSets:
    """The parameter set NAL units (without start code or length) a decoder needs first."""

    sps: bytes
    pps: bytes
    #: The video parameter set: H.265 only, None for H.264.
    vps: bytes | None = None


# --- framing ---------------------------------------------------------------------------------


def split_annexb(data: bytes) -> list[bytes]:
    """The NAL units of an Annex B byte stream (H.264/H.265 Annex B), 3- or 4-byte start codes.

    Bytes before the first start code are ignored (leading_zero_8bits), and so are the zero
    bytes before the next one (trailing_zero_8bits and the 4-byte start code's first byte): a NAL
    unit never ends in 0x00 (H.264 7.4.1).
    """
    nals: list[bytes] = []
    start = data.find(_START_CODE)
    while start >= 0:
        begin = start + 3
        following = data.find(_START_CODE, begin)
        end = len(data) if following < 0 else following
        while end > begin and data[end - 1] == 0:
            end -= 1
        if end > begin:
            nals.append(data[begin:end])
        start = following
    return nals


def _walk_length_prefixed(data: bytes, size: int = 4) -> list[bytes] | None:
    """The NAL units when ``data`` is exactly a chain of non-empty length-prefixed units."""
    nals: list[bytes] = []
    position, total = 0, len(data)
    while position < total:
        begin = position + size
        if begin > total:
            return None
        length = int.from_bytes(data[position:begin], "big")
        end = begin + length
        if length == 0 or end > total:
            return None
        nals.append(data[begin:end])
        position = end
    return nals


def split_length_prefixed(data: bytes, size: int = 4) -> list[bytes]:
    """The NAL units of an MP4 sample whose lengths are ``size``-byte big-endian integers."""
    nals = _walk_length_prefixed(data, size)
    if nals is None:
        raise ValueError("not a sequence of length-prefixed NAL units")
    return nals


def join_length_prefixed(nals: Iterable[bytes]) -> bytes:
    """An MP4 sample: each NAL unit after its 4-byte big-endian length (ISO 14496-15 4.3.2)."""
    parts: list[bytes] = []
    for nal in nals:
        parts.append(_LENGTH.pack(len(nal)))
        parts.append(nal)
    return b"".join(parts)


def nal_type(codec: Codec, nal: bytes) -> int:
    """nal_unit_type from the NAL unit header (H.264 7.3.1: 5 bits; H.265 7.3.1.2: 6 bits)."""
    if codec == "h264":
        return nal[0] & 0x1F
    return (nal[0] >> 1) & 0x3F


# --- emulation prevention and bit reading ----------------------------------------------------


def remove_emulation_prevention(nal: bytes) -> bytes:
    """The RBSP of a NAL unit: emulation_prevention_three_byte removed (H.264 7.4.1)."""
    return nal.replace(b"\x00\x00\x03", b"\x00\x00")


def add_emulation_prevention(rbsp: bytes) -> bytes:
    """The NAL unit payload of an RBSP: emulation_prevention_three_byte inserted (H.264 7.4.1)."""
    escaped = _NEEDS_ESCAPE.sub(b"\x00\x00\x03", rbsp)
    # When the RBSP ends in 0x00 (only a cabac_zero_word can), a final 0x03 is appended (7.4.1).
    return escaped + b"\x03" if escaped.endswith(b"\x00") else escaped


class _BitReader:
    """Reads u(n), ue(v) and se(v) (H.264 7.2 and 9.1) from an RBSP; only for parameter sets."""

    def __init__(self, rbsp: bytes) -> None:
        self._value = int.from_bytes(rbsp, "big")
        self._bits = len(rbsp) * 8
        self._position = 0

    def u(self, count: int) -> int:
        end = self._position + count
        if end > self._bits:
            raise ValueError("parameter set is truncated")
        self._position = end
        return (self._value >> (self._bits - end)) & ((1 << count) - 1)

    def skip(self, count: int) -> None:
        self.u(count)

    def ue(self) -> int:
        zeros = 0
        while self.u(1) == 0:
            zeros += 1
            if zeros > 31:
                raise ValueError("exp-Golomb code too long")
        return (1 << zeros) - 1 + self.u(zeros)

    def se(self) -> int:
        code = self.ue()
        return (code + 1) // 2 if code % 2 else -(code // 2)


# --- sequence parameter sets -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _SpsInfo:
    """What camgate needs from an SPS."""

    width: int
    height: int
    chroma_format_idc: int
    bit_depth_luma_minus8: int
    bit_depth_chroma_minus8: int


@dataclass(frozen=True, slots=True)
class _HevcSpsInfo:
    """What an hvcC record needs from an H.265 SPS, beyond :class:`_SpsInfo`."""

    info: _SpsInfo
    #: general_profile_space .. general_level_idc: 12 bytes (H.265 7.3.3, profile_tier_level).
    general_profile: bytes
    max_sub_layers: int
    temporal_id_nesting: bool


def _cropped(
    width: int, height: int, crop: tuple[int, int, int, int], unit_x: int, unit_y: int
) -> tuple[int, int]:
    """Dimensions after a (left, right, top, bottom) cropping window in crop units."""
    left, right, top, bottom = crop
    return width - unit_x * (left + right), height - unit_y * (top + bottom)


def _skip_h264_scaling_list(reader: _BitReader, size: int) -> None:
    """Consume scaling_list() (H.264 7.3.2.1.1.1): only its length matters here."""
    last_scale = next_scale = 8
    for _ in range(size):
        if next_scale != 0:
            next_scale = (last_scale + reader.se() + 256) % 256
        last_scale = next_scale or last_scale


def _parse_h264_sps(sps: bytes) -> _SpsInfo:
    """seq_parameter_set_data() (H.264 7.3.2.1.1) up to the frame cropping fields."""
    reader = _BitReader(remove_emulation_prevention(sps)[1:])
    profile_idc = reader.u(8)
    reader.skip(16)  # constraint_set flags, reserved_zero_2bits, level_idc
    reader.ue()  # seq_parameter_set_id
    chroma_format_idc, separate_colour_plane, depth_luma, depth_chroma = 1, 0, 0, 0
    if profile_idc in _H264_HIGH_PROFILES:
        chroma_format_idc = reader.ue()
        if chroma_format_idc == 3:
            separate_colour_plane = reader.u(1)
        depth_luma, depth_chroma = reader.ue(), reader.ue()
        reader.skip(1)  # qpprime_y_zero_transform_bypass_flag
        if reader.u(1):  # seq_scaling_matrix_present_flag
            for index in range(8 if chroma_format_idc != 3 else 12):
                if reader.u(1):  # seq_scaling_list_present_flag[i]
                    _skip_h264_scaling_list(reader, 16 if index < 6 else 64)
    reader.ue()  # log2_max_frame_num_minus4
    poc_type = reader.ue()
    if poc_type == 0:
        reader.ue()  # log2_max_pic_order_cnt_lsb_minus4
    elif poc_type == 1:
        reader.skip(1)  # delta_pic_order_always_zero_flag
        reader.se()  # offset_for_non_ref_pic
        reader.se()  # offset_for_top_to_bottom_field
        for _ in range(reader.ue()):  # num_ref_frames_in_pic_order_cnt_cycle
            reader.se()
    reader.ue()  # max_num_ref_frames
    reader.skip(1)  # gaps_in_frame_num_value_allowed_flag
    width_mbs = reader.ue() + 1
    height_map_units = reader.ue() + 1
    frame_mbs_only = reader.u(1)
    if not frame_mbs_only:
        reader.skip(1)  # mb_adaptive_frame_field_flag
    reader.skip(1)  # direct_8x8_inference_flag
    crop = (reader.ue(), reader.ue(), reader.ue(), reader.ue()) if reader.u(1) else (0, 0, 0, 0)
    # 7.4.2.1.1, frame_crop_*_offset: CropUnitX/Y from ChromaArrayType and frame_mbs_only_flag.
    chroma_array_type = 0 if separate_colour_plane else chroma_format_idc
    sub_width, sub_height = _CHROMA_SUBSAMPLING[chroma_array_type]
    field_factor = 2 - frame_mbs_only
    width, height = _cropped(
        width_mbs * 16,
        height_map_units * 16 * field_factor,
        crop,
        sub_width,
        sub_height * field_factor,
    )
    return _SpsInfo(width, height, chroma_format_idc, depth_luma, depth_chroma)


def _skip_sub_layers(reader: _BitReader, max_sub_layers_minus1: int) -> None:
    """The sub-layer part of profile_tier_level() (H.265 7.3.3), after general_level_idc."""
    present = [(reader.u(1), reader.u(1)) for _ in range(max_sub_layers_minus1)]
    if max_sub_layers_minus1 > 0:
        reader.skip(2 * (8 - max_sub_layers_minus1))  # reserved_zero_2bits
    for profile_present, level_present in present:
        reader.skip(88 * profile_present + 8 * level_present)


def _parse_hevc_sps(sps: bytes) -> _HevcSpsInfo:
    """seq_parameter_set_rbsp() (H.265 7.3.2.2) up to the bit depths."""
    rbsp = remove_emulation_prevention(sps)[2:]
    reader = _BitReader(rbsp)
    reader.skip(4)  # sps_video_parameter_set_id
    max_sub_layers_minus1 = reader.u(3)
    nesting = bool(reader.u(1))
    # general_profile_space(2) tier(1) profile_idc(5) compatibility(32) constraints(48) level(8)
    general_profile = rbsp[1:13]
    if len(general_profile) != 12:
        raise ValueError("parameter set is truncated")
    reader.skip(96)
    _skip_sub_layers(reader, max_sub_layers_minus1)
    reader.ue()  # sps_seq_parameter_set_id
    chroma_format_idc = reader.ue()
    separate_colour_plane = reader.u(1) if chroma_format_idc == 3 else 0
    width, height = reader.ue(), reader.ue()
    crop = (reader.ue(), reader.ue(), reader.ue(), reader.ue()) if reader.u(1) else (0, 0, 0, 0)
    # 7.4.3.2.1, conf_win_*_offset: in units of SubWidthC and SubHeightC.
    sub_width, sub_height = _CHROMA_SUBSAMPLING[0 if separate_colour_plane else chroma_format_idc]
    width, height = _cropped(width, height, crop, sub_width, sub_height)
    info = _SpsInfo(width, height, chroma_format_idc, reader.ue(), reader.ue())
    return _HevcSpsInfo(info, general_profile, max_sub_layers_minus1 + 1, nesting)


def sps_dimensions(codec: Codec, sps: bytes) -> tuple[int, int]:
    """(width, height) of the pictures after cropping, for sources that tell none.

    Raises ValueError for a truncated SPS.
    """
    info = _parse_h264_sps(sps) if codec == "h264" else _parse_hevc_sps(sps).info
    return info.width, info.height


# --- decoder configuration records -----------------------------------------------------------


def _read_nals(record: bytes, position: int, count: int) -> tuple[list[bytes], int]:
    """``count`` NAL units, each after its 16-bit length, inside an avcC/hvcC record."""
    nals: list[bytes] = []
    for _ in range(count):
        length = int.from_bytes(record[position : position + 2], "big")
        end = position + 2 + length
        if length == 0 or end > len(record):
            raise ValueError("decoder configuration record is truncated")
        nals.append(record[position + 2 : end])
        position = end
    return nals, position


def _nals_from_avcc(record: bytes) -> list[bytes]:
    """The SPS and PPS of an AVCDecoderConfigurationRecord (ISO 14496-15 5.3.3.1)."""
    # Byte 5: '111'b + numOfSequenceParameterSets (5 bits); numOfPictureParameterSets follows.
    sps, position = _read_nals(record, 6, record[5] & 0x1F)
    pps, _ = _read_nals(record, position + 1, record[position])
    return sps + pps


def _nals_from_hvcc(record: bytes) -> list[bytes]:
    """The NAL units of an HEVCDecoderConfigurationRecord (ISO 14496-15 8.3.3.1)."""
    nals: list[bytes] = []
    position = 23  # numOfArrays is byte 22
    for _ in range(record[22]):
        # array_completeness(1) reserved(1) NAL_unit_type(6), then numNalus(16)
        count = int.from_bytes(record[position + 1 : position + 3], "big")
        found, position = _read_nals(record, position + 3, count)
        nals += found
    return nals


def _collect(codec: Codec, nals: Iterable[bytes]) -> ParameterSets | None:
    """The first VPS/SPS/PPS among ``nals``, when all the codec needs are there."""
    needed = _PARAMETER_SET_TYPES[codec]
    found: dict[int, bytes] = {}
    for nal in nals:
        kind = nal_type(codec, nal)
        if kind in needed:
            found.setdefault(kind, nal)
    if found.keys() != needed:
        return None
    if codec == "h264":
        return ParameterSets(found[H264_SPS], found[H264_PPS])
    return ParameterSets(found[HEVC_SPS], found[HEVC_PPS], found[HEVC_VPS])


def parameter_sets_from_extradata(codec: Codec, extradata: bytes) -> ParameterSets | None:
    """The parameter sets of a stream's extradata: an avcC/hvcC record (MP4) or Annex B (SDP).

    None when it holds no complete set or cannot be parsed: the stream may still bring its
    parameter sets in band, which :class:`AccessUnitNormalizer` reports.
    """
    if extradata.startswith(_START_CODES):
        return _collect(codec, split_annexb(extradata))
    # Both records start with configurationVersion = 1 (ISO 14496-15 5.3.3.1 and 8.3.3.1).
    minimum = 7 if codec == "h264" else 23
    if len(extradata) < minimum or extradata[0] != 1:
        return None
    try:
        nals = _nals_from_avcc(extradata) if codec == "h264" else _nals_from_hvcc(extradata)
    except (ValueError, IndexError):
        return None
    return _collect(codec, nals)


def _avcc(ps: ParameterSets) -> bytes:
    """AVCDecoderConfigurationRecord (ISO 14496-15 5.3.3.1.1) with one SPS and one PPS."""
    sps, pps = ps.sps, ps.pps
    # configurationVersion 1, AVCProfileIndication, profile_compatibility, AVCLevelIndication
    # (the three bytes after the SPS NAL header), then '111111'b + lengthSizeMinusOne = 3
    # and '111'b + numOfSequenceParameterSets = 1.
    parts = [b"\x01", sps[1:4], b"\xff\xe1", struct.pack(">H", len(sps)), sps]
    parts += [b"\x01", struct.pack(">H", len(pps)), pps]
    if sps[1] in _AVCC_EXTENDED_PROFILES:
        info = _parse_h264_sps(sps)
        # '111111'b + chroma_format, '11111'b + bit_depth_luma_minus8,
        # '11111'b + bit_depth_chroma_minus8, numOfSequenceParameterSetExt = 0.
        chroma, luma_depth, chroma_depth = (
            info.chroma_format_idc,
            info.bit_depth_luma_minus8,
            info.bit_depth_chroma_minus8,
        )
        parts.append(struct.pack(">4B", 0xFC | chroma, 0xF8 | luma_depth, 0xF8 | chroma_depth, 0))
    return b"".join(parts)


def _hvcc_array(nal_unit_type: int, nal: bytes) -> bytes:
    """One hvcC NAL unit array: array_completeness = 1 (all of them are in the record: hvc1)."""
    return struct.pack(">BHH", 0x80 | nal_unit_type, 1, len(nal)) + nal


def _hvcc(ps: ParameterSets) -> bytes:
    """HEVCDecoderConfigurationRecord (ISO 14496-15 8.3.3.1.1) with one VPS, SPS and PPS."""
    if ps.vps is None:
        raise ValueError("an H.265 configuration needs a VPS")
    sps = _parse_hevc_sps(ps.sps)
    info = sps.info
    header = b"".join(
        (
            b"\x01",  # configurationVersion
            sps.general_profile,  # profile_space .. general_level_idc, as in the SPS
            # '1111'b + min_spatial_segmentation_idc = 0 (no constraint indicated),
            # '111111'b + parallelismType = 0 (unknown), '111111'b + chromaFormat,
            # '11111'b + bitDepthLumaMinus8, '11111'b + bitDepthChromaMinus8.
            struct.pack(
                ">HBBBB",
                0xF000,
                0xFC,
                0xFC | info.chroma_format_idc,
                0xF8 | info.bit_depth_luma_minus8,
                0xF8 | info.bit_depth_chroma_minus8,
            ),
            # avgFrameRate = 0 (unspecified); constantFrameRate(2) = 0, numTemporalLayers(3),
            # temporalIdNested(1), lengthSizeMinusOne(2) = 3; numOfArrays = 3.
            struct.pack(
                ">HBB",
                0,
                (sps.max_sub_layers << 3) | (int(sps.temporal_id_nesting) << 2) | 3,
                3,
            ),
        )
    )
    return b"".join(
        (
            header,
            _hvcc_array(HEVC_VPS, ps.vps),
            _hvcc_array(HEVC_SPS, ps.sps),
            _hvcc_array(HEVC_PPS, ps.pps),
        )
    )


def decoder_config(codec: Codec, ps: ParameterSets) -> bytes:
    """The avcC (H.264) or hvcC (H.265) record for these parameter sets, 4-byte NAL lengths."""
    return _avcc(ps) if codec == "h264" else _hvcc(ps)


# --- access units ----------------------------------------------------------------------------


class AccessUnitNormalizer:
    """Turns one stream's packets into MP4 samples and pulls out in-band parameter sets.

    One per stream: it remembers the parameter sets seen so far, so that a camera sending its
    SPS and PPS in different packets still yields a complete :class:`ParameterSets`, and the
    framing the stream used so far, which settles a payload that reads correctly both ways.
    """

    def __init__(self) -> None:
        self._latest: dict[int, bytes] = {}
        self._annex_b = False

    def _split(self, data: bytes) -> tuple[list[bytes], bool]:
        """The NAL units of a payload, and whether it already was a length-prefixed sample.

        A payload that is exactly a chain of length-prefixed units is one, unless it also starts
        with a start code and the stream has sent Annex B so far: a 1-byte NAL unit gives
        00 00 00 01 as a length, and an Annex B payload can happen to walk as lengths.
        """
        starts_with_start_code = data.startswith(_START_CODES)
        if starts_with_start_code and self._annex_b:
            return split_annexb(data), False
        walked = _walk_length_prefixed(data)
        if walked is None:
            self._annex_b = True
            return split_annexb(data), False
        if not starts_with_start_code:
            self._annex_b = False
        return walked, True

    def feed(self, codec: Codec, data: bytes) -> tuple[bytes, ParameterSets | None]:
        """The packet as a 4-byte length-prefixed sample without parameter sets or AUDs.

        Also returns the stream's parameter sets when this packet carried any (so a caller can
        notice a change), else None. A payload with neither framing gives an empty sample.
        """
        nals, length_prefixed = self._split(data)
        parameter_types, delimiter = _PARAMETER_SET_TYPES[codec], _DELIMITER[codec]
        kept: list[bytes] = []
        found = False
        for nal in nals:
            kind = nal_type(codec, nal)
            if kind in parameter_types:
                self._latest[kind] = nal
                found = True
            elif kind != delimiter:
                kept.append(nal)
        if length_prefixed and len(kept) == len(nals):
            return data, None  # already in the sample form: no copy
        sample = join_length_prefixed(kept)
        return sample, _collect(codec, self._latest.values()) if found else None


def is_keyframe_sample(codec: Codec, sample: bytes) -> bool:
    """Whether a length-prefixed sample holds an IDR (H.264) or IRAP (H.265) picture."""
    position, total = 0, len(sample)
    while position + 4 < total:
        header = sample[position + 4]
        if codec == "h264":
            if header & 0x1F == H264_IDR:
                return True
        elif HEVC_IRAP_FIRST <= (header >> 1) & 0x3F <= HEVC_IRAP_LAST:
            return True
        position += 4 + int.from_bytes(sample[position : position + 4], "big")
    return False


def continues_picture(codec: Codec, sample: bytes) -> bool:
    """Whether a length-prefixed sample's first slice is not its picture's first: the rest of a
    picture whose start came in an earlier packet (H.264 first_mb_in_slice > 0, 7.3.3; H.265
    first_slice_segment_in_pic_flag 0, 7.3.6.1). Both are the first bit after the NAL header,
    where no emulation prevention byte can be."""
    position, total = 0, len(sample)
    header_size = 1 if codec == "h264" else 2
    while position + 4 + header_size < total:
        nal_at = position + 4
        kind = nal_type(codec, sample[nal_at : nal_at + 1])
        vcl = 1 <= kind <= H264_IDR if codec == "h264" else kind < HEVC_VPS
        if vcl:
            return not sample[nal_at + header_size] & 0x80
        position = nal_at + int.from_bytes(sample[position:nal_at], "big")
    return False


# --- wall-clock SEI --------------------------------------------------------------------------


def wallclock_sei(codec: Codec, t: float) -> bytes:
    """A SEI NAL unit carrying the capture time ``t`` (seconds since the epoch).

    user_data_unregistered (H.264 D.1.6, H.265 D.2.6): CAMGATE_SEI_UUID then the time as a
    64-bit big-endian count of microseconds. Decoders skip unregistered user data.
    """
    payload = CAMGATE_SEI_UUID + struct.pack(">Q", round(t * 1_000_000))
    # sei_message(): payloadType 5 and payloadSize 24 (each < 255: one byte), then the payload
    # and rbsp_trailing_bits (stop bit + alignment: 0x80).
    rbsp = bytes((_SEI_USER_DATA_UNREGISTERED, len(payload))) + payload + b"\x80"
    # NAL unit header: H.264 nal_ref_idc 0, type 6 (7.3.1); H.265 type 39, layer 0,
    # nuh_temporal_id_plus1 1 (7.3.1.2).
    header = bytes((H264_SEI,)) if codec == "h264" else bytes((HEVC_PREFIX_SEI << 1, 1))
    return header + add_emulation_prevention(rbsp)


def _sei_messages(rbsp: bytes) -> Iterator[tuple[int, bytes]]:
    """(payloadType, payload) of each sei_message() in a SEI RBSP (H.264 7.3.2.3)."""
    position, total = 0, len(rbsp)
    # The rbsp_trailing_bits byte (0x80) reads as a payloadType with no payloadSize after it,
    # which ends the loop.
    while position < total:
        values = []
        for _ in range(2):  # payloadType, then payloadSize: runs of 0xFF plus a last byte
            value = 0
            while position < total and rbsp[position] == 0xFF:
                value += 255
                position += 1
            if position >= total:
                return
            values.append(value + rbsp[position])
            position += 1
        kind, size = values
        yield kind, rbsp[position : position + size]
        position += size


def find_wallclock(codec: Codec, sample: bytes) -> float | None:
    """The capture time that :func:`wallclock_sei` put into a length-prefixed sample, if any."""
    if CAMGATE_SEI_UUID not in sample:
        return None
    nals = _walk_length_prefixed(sample)
    header_size, sei_type = (1, H264_SEI) if codec == "h264" else (2, HEVC_PREFIX_SEI)
    for nal in nals or ():
        if nal_type(codec, nal) != sei_type or CAMGATE_SEI_UUID not in nal:
            continue
        for kind, payload in _sei_messages(remove_emulation_prevention(nal[header_size:])):
            is_ours = len(payload) >= 24 and payload[:16] == CAMGATE_SEI_UUID
            if kind == _SEI_USER_DATA_UNREGISTERED and is_ours:
                return int.from_bytes(payload[16:24], "big") / 1_000_000
    return None
