"""A fragmented MP4 (ISO 14496-12) writer for one video track.

camgate muxes each frame exactly once and hands the same bytes to every viewer, so a fragment must
be a self-contained ``moof`` + ``mdat`` pair, which PyAV's muxer cannot give (its AVIO writes do
not line up with fragments). Timestamps are written as they come: packets are in the 90 kHz clock
of :data:`~camgate.media.packet.TIMESCALE`, so the init segment's timescale must be that clock.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from camgate.media.packet import TIMESCALE, MediaPacket, StreamConfig

TRACK_ID = 1

# ISO 14496-12 8.8.3.1 sample flags: sample_depends_on = 2 (an I picture) for sync samples;
# sample_depends_on = 1 and sample_is_non_sync_sample = 1 for the others.
SYNC_SAMPLE_FLAGS = 0x02000000
NON_SYNC_SAMPLE_FLAGS = 0x01010000

# 8.8.7.1 tfhd flags: default-base-is-moof (data offsets count from the moof's first byte).
_TFHD_DEFAULT_BASE_IS_MOOF = 0x020000
# 8.8.8.1 trun flags: data-offset, sample-duration, -size, -flags, -composition-time-offset.
_TRUN_FLAGS = 0x000001 | 0x000100 | 0x000200 | 0x000400 | 0x000800
# The 3x3 transformation matrix of mvhd/tkhd (8.2.2.3): unity, in 16.16 and 2.30 fixed point.
_UNITY_MATRIX = struct.pack(">9I", 0x10000, 0, 0, 0, 0x10000, 0, 0, 0, 0x40000000)
# ISO 639-2/T "und" packed into three 5-bit letters (8.4.2.3).
_LANGUAGE_UND = ((ord("u") - 0x60) << 10) | ((ord("n") - 0x60) << 5) | (ord("d") - 0x60)
#: The same two, for writers of other MP4 forms.
UNITY_MATRIX = _UNITY_MATRIX
LANGUAGE_UND = _LANGUAGE_UND

_U32 = struct.Struct(">I")
_SAMPLE = struct.Struct(">IIIi")  # trun v1 entry: duration, size, flags, composition offset


def _box(kind: bytes, *payload: bytes) -> bytes:
    """A box (8.1.1): 32-bit size, four-character type, payload."""
    body = b"".join(payload)
    return _U32.pack(8 + len(body)) + kind + body


def _full_box(kind: bytes, version: int, flags: int, *payload: bytes) -> bytes:
    """A FullBox (8.1.1): a box whose payload starts with version (8 bits) and flags (24)."""
    return _box(kind, _U32.pack((version << 24) | flags), *payload)


def box(kind: bytes, *payload: bytes) -> bytes:
    """A box (8.1.1), for writers of other MP4 forms (the recordings' progressive files)."""
    return _box(kind, *payload)


def full_box(kind: bytes, version: int, flags: int, *payload: bytes) -> bytes:
    """A FullBox (8.1.1), for writers of other MP4 forms."""
    return _full_box(kind, version, flags, *payload)


# --- init segment ----------------------------------------------------------------------------


def _ftyp(codec_brand: bytes) -> bytes:
    """ftyp (4.3): iso5 for default-base-is-moof, iso6 for tfdt v1, plus the codec's brand."""
    return _box(b"ftyp", b"iso5", _U32.pack(0), b"iso5iso6mp41", codec_brand)


def _mvhd(timescale: int) -> bytes:
    """mvhd v0 (8.2.2): duration 0 (live), rate 1.0, volume 1.0, next_track_ID 2."""
    return _full_box(
        b"mvhd",
        0,
        0,
        struct.pack(">IIIIIH10x", 0, 0, timescale, 0, 0x00010000, 0x0100),
        _UNITY_MATRIX,
        bytes(24),  # pre_defined
        _U32.pack(TRACK_ID + 1),
    )


def _tkhd(width: int, height: int) -> bytes:
    """tkhd v0 (8.3.2), flags track_enabled | track_in_movie; width/height in 16.16."""
    return _full_box(
        b"tkhd",
        0,
        0x000003,
        # creation_time, modification_time, track_ID, reserved, duration, reserved,
        # layer, alternate_group, volume (0: not audio), reserved
        struct.pack(">IIIII8xhhH2x", 0, 0, TRACK_ID, 0, 0, 0, 0, 0),
        _UNITY_MATRIX,
        struct.pack(">II", width << 16, height << 16),
    )


def _sample_entry(config: StreamConfig) -> bytes:
    """VisualSampleEntry (12.1.3) avc1 + avcC or hvc1 + hvcC (ISO 14496-15 5.4.2 and 8.4.1).

    avc1/hvc1 (not avc3/hev1): parameter sets live only in the record, never in samples.
    """
    kind, record = (b"avc1", b"avcC") if config.codec == "h264" else (b"hvc1", b"hvcC")
    fields = struct.pack(
        ">6xH2x2x12xHHIIIH32sHh",
        1,  # data_reference_index
        config.width,
        config.height,
        0x00480000,  # horizresolution 72 dpi
        0x00480000,  # vertresolution 72 dpi
        0,  # reserved
        1,  # frame_count
        bytes(32),  # compressorname: empty Pascal string
        0x0018,  # depth: colour, no alpha
        -1,  # pre_defined
    )
    return _box(kind, fields, _box(record, config.extradata))


def sample_entry(config: StreamConfig) -> bytes:
    """The stream's sample entry (avc1/hvc1), as the init segment's stsd holds it."""
    return _sample_entry(config)


def _stbl(config: StreamConfig) -> bytes:
    """stbl (8.5.1): the sample description, and empty tables since samples live in fragments."""
    empty = _U32.pack(0)  # entry_count
    return _box(
        b"stbl",
        _full_box(b"stsd", 0, 0, _U32.pack(1), _sample_entry(config)),
        _full_box(b"stts", 0, 0, empty),
        _full_box(b"stsc", 0, 0, empty),
        _full_box(b"stsz", 0, 0, _U32.pack(0), empty),  # sample_size, sample_count
        _full_box(b"stco", 0, 0, empty),
    )


def _mdia(config: StreamConfig, timescale: int) -> bytes:
    """mdia (8.4): mdhd, a 'vide' handler and the media information."""
    mdhd = _full_box(b"mdhd", 0, 0, struct.pack(">IIIIHH", 0, 0, timescale, 0, _LANGUAGE_UND, 0))
    hdlr = _full_box(b"hdlr", 0, 0, _U32.pack(0), b"vide", bytes(12), b"VideoHandler\x00")
    vmhd = _full_box(b"vmhd", 0, 1, bytes(8))  # graphicsmode copy, opcolor 0 (12.1.2)
    # dref with one 'url ' entry, flags 1: the media data is in this file (8.7.2).
    dinf = _box(b"dinf", _full_box(b"dref", 0, 0, _U32.pack(1), _full_box(b"url ", 0, 1)))
    minf = _box(b"minf", vmhd, dinf, _stbl(config))
    return _box(b"mdia", mdhd, hdlr, minf)


def init_segment(config: StreamConfig, timescale: int = TIMESCALE) -> bytes:
    """ftyp + moov for one video track (id 1), durations 0 since the stream is live."""
    brand = b"avc1" if config.codec == "h264" else b"hvc1"
    trak = _box(b"trak", _tkhd(config.width, config.height), _mdia(config, timescale))
    # trex (8.8.3): default_sample_description_index 1; every other default is given per sample.
    trex = _full_box(b"trex", 0, 0, struct.pack(">IIIII", TRACK_ID, 1, 0, 0, 0))
    moov = _box(b"moov", _mvhd(timescale), trak, _box(b"mvex", trex))
    return _ftyp(brand) + moov


# --- media fragments -------------------------------------------------------------------------

_MFHD_SIZE = 16
_TFHD_SIZE = 16
_TFDT_SIZE = 20  # version 1: 64-bit baseMediaDecodeTime
_TRUN_HEADER_SIZE = 20  # header, version/flags, sample_count, data_offset
_MDAT_HEADER_SIZE = 8


def _moof_size(samples: int) -> int:
    traf = 8 + _TFHD_SIZE + _TFDT_SIZE + _TRUN_HEADER_SIZE + _SAMPLE.size * samples
    return 8 + _MFHD_SIZE + traf


# A moof up to its trun sample entries (8.8.4 to 8.8.8): moof header, mfhd, traf header, tfhd,
# tfdt header and version/flags; then baseMediaDecodeTime and the trun header.
_MOOF_HEAD = struct.Struct(">I4s I4sII I4s I4sII I4sI")
_TFDT_TRUN = struct.Struct(">Q I4sIIi")
#: mfhd sequence_number is 32 bits (8.8.5): a stream that runs for years wraps around.
_SEQUENCE_MASK = 0xFFFFFFFF


def _moof_head(sequence: int, samples: int, dts: int) -> bytes:
    """moof, mfhd, traf, tfhd, tfdt and the trun header for ``samples`` samples."""
    moof_size = _moof_size(samples)
    return _MOOF_HEAD.pack(
        moof_size,
        b"moof",
        _MFHD_SIZE,
        b"mfhd",
        0,
        sequence & _SEQUENCE_MASK,
        moof_size - 8 - _MFHD_SIZE,
        b"traf",
        _TFHD_SIZE,
        b"tfhd",
        _TFHD_DEFAULT_BASE_IS_MOOF,
        TRACK_ID,
        _TFDT_SIZE,
        b"tfdt",
        0x01000000,  # version 1, flags 0
    ) + _TFDT_TRUN.pack(
        dts,
        _TRUN_HEADER_SIZE + _SAMPLE.size * samples,
        b"trun",
        0x01000000 | _TRUN_FLAGS,  # version 1: signed composition offsets
        samples,
        moof_size + _MDAT_HEADER_SIZE,  # data_offset: from the moof's start to the mdat payload
    )


# fragment() runs for every frame of every camera, so its header is one struct.pack of the
# three fields that change (sequence_number, baseMediaDecodeTime, the sample) between the
# constant byte runs of a one-sample moof made once here.
_ONE_SAMPLE_HEAD = _moof_head(0, 1, 0)
_SEQUENCE_AT = 8 + 12  # moof header; mfhd header and version/flags
_DTS_AT = _SEQUENCE_AT + 4 + 8 + _TFHD_SIZE + 12  # traf header, tfhd; tfdt header, version/flags
_FRAGMENT = struct.Struct(
    f">{_SEQUENCE_AT}sI{_DTS_AT - _SEQUENCE_AT - 4}sQ{len(_ONE_SAMPLE_HEAD) - _DTS_AT - 8}s"
    "IIIi"  # the trun sample entry
    "I4s"  # the mdat header
)
_BEFORE_SEQUENCE = _ONE_SAMPLE_HEAD[:_SEQUENCE_AT]
_BEFORE_DTS = _ONE_SAMPLE_HEAD[_SEQUENCE_AT + 4 : _DTS_AT]
_AFTER_DTS = _ONE_SAMPLE_HEAD[_DTS_AT + 8 :]


def fragment(sequence: int, packet: MediaPacket) -> bytes:
    """moof + mdat holding one sample: what a live viewer receives for each frame.

    Equal to ``media_segment(sequence, [packet])``, only faster.
    """
    data = packet.data
    head = _FRAGMENT.pack(
        _BEFORE_SEQUENCE,
        sequence & _SEQUENCE_MASK,
        _BEFORE_DTS,
        packet.dts,
        _AFTER_DTS,
        packet.duration,
        len(data),
        SYNC_SAMPLE_FLAGS if packet.is_keyframe else NON_SYNC_SAMPLE_FLAGS,
        packet.pts - packet.dts,
        _MDAT_HEADER_SIZE + len(data),
        b"mdat",
    )
    return head + data


def media_segment(sequence: int, packets: Sequence[MediaPacket]) -> bytes:
    """moof + mdat holding consecutive samples of one track (HLS parts, recordings).

    The samples must follow each other in decode order: only the first one's dts is written,
    the others follow from the durations.
    """
    if not packets:
        raise ValueError("a media segment needs at least one sample")
    parts = [_moof_head(sequence, len(packets), packets[0].dts)]
    size = 0
    for packet in packets:
        flags = SYNC_SAMPLE_FLAGS if packet.is_keyframe else NON_SYNC_SAMPLE_FLAGS
        parts.append(
            _SAMPLE.pack(packet.duration, len(packet.data), flags, packet.pts - packet.dts)
        )
        size += len(packet.data)
    parts.append(_U32.pack(_MDAT_HEADER_SIZE + size) + b"mdat")
    parts.extend(packet.data for packet in packets)
    return b"".join(parts)


#: The bytes of a moof before its trun entries, and of one trun entry.
MOOF_HEAD_SIZE = _MOOF_HEAD.size + _TFDT_TRUN.size
SAMPLE_ENTRY_SIZE = _SAMPLE.size


@dataclass(frozen=True, slots=True)
class FragmentHeader:
    """What a moof written by :func:`media_segment` says about its fragment."""

    sequence: int
    dts: int
    #: (duration, size, flags, composition offset) of each sample, as the trun holds them.
    samples: list[tuple[int, int, int, int]]


def parse_moof(moof: bytes) -> FragmentHeader:
    """Read back a moof that :func:`media_segment` (or :func:`fragment`) wrote.

    Recordings are read by the program that wrote them, so rather than a general parser this
    checks the header byte for byte against a rewrite of it. Raises ValueError for anything else.
    """
    if len(moof) < MOOF_HEAD_SIZE:
        raise ValueError("too short for a moof")
    head = _MOOF_HEAD.unpack_from(moof)
    size, kind, sequence = head[0], head[1], head[5]
    dts, _, _, _, count, _ = _TFDT_TRUN.unpack_from(moof, _MOOF_HEAD.size)
    if kind != b"moof" or size != len(moof) or size != _moof_size(count):
        raise ValueError("not a moof of media_segment's form")
    if moof[:MOOF_HEAD_SIZE] != _moof_head(sequence, count, dts):
        raise ValueError("a moof header of another form")
    return FragmentHeader(sequence, dts, list(_SAMPLE.iter_unpack(moof[MOOF_HEAD_SIZE:])))


# --- codec strings and box walking -----------------------------------------------------------


def _avc_codec_string(avcc: bytes) -> str:
    """avc1.PPCCLL (RFC 6381 3.3): profile, constraint flags and level from avcC bytes 1..3."""
    return "avc1." + avcc[1:4].hex()


def _hevc_codec_string(hvcc: bytes) -> str:
    """hvc1.<space+profile>.<compatibility>.<tier+level>.<constraints> (ISO 14496-15 E.3)."""
    profile_space, tier, profile_idc = hvcc[1] >> 6, (hvcc[1] >> 5) & 1, hvcc[1] & 0x1F
    # general_profile_compatibility_flags in reverse bit order, hexadecimal, no leading zeros.
    compatibility = int(f"{int.from_bytes(hvcc[2:6], 'big'):032b}"[::-1], 2)
    constraints = hvcc[6:12].rstrip(b"\x00")
    fields = [
        "hvc1",
        ("", "A", "B", "C")[profile_space] + str(profile_idc),
        f"{compatibility:X}",
        ("L", "H")[tier] + str(hvcc[12]),
        *(f"{byte:X}" for byte in constraints),
    ]
    return ".".join(fields)


def codec_string(config: StreamConfig) -> str:
    """The RFC 6381 ``codecs`` parameter of the stream, from its decoder configuration record."""
    if config.codec == "h264":
        return _avc_codec_string(config.extradata)
    return _hevc_codec_string(config.extradata)


def mime_type(config: StreamConfig) -> str:
    """The MIME type a browser's MediaSource needs for this stream's init segment."""
    return f'video/mp4; codecs="{codec_string(config)}"'


def iter_boxes(
    data: bytes, offset: int = 0, end: int | None = None
) -> Iterator[tuple[str, int, int]]:
    """(type, start, size) of each box in ``data[offset:end]``, without descending into them.

    Handles size 1 (a 64-bit largesize follows the type) and size 0 (the box runs to ``end``),
    as 8.1.1 defines them. Raises ValueError for a box that overruns ``end``.
    """
    end = len(data) if end is None else end
    position = offset
    while position < end:
        if position + 8 > end:
            raise ValueError(f"truncated box header at {position}")
        size = _U32.unpack_from(data, position)[0]
        kind = data[position + 4 : position + 8].decode("latin-1")
        header = 8
        if size == 1:
            if position + 16 > end:
                raise ValueError(f"truncated largesize at {position}")
            size = struct.unpack_from(">Q", data, position + 8)[0]
            header = 16
        elif size == 0:
            size = end - position
        if size < header or position + size > end:
            raise ValueError(f"box {kind!r} at {position} has a bad size {size}")
        yield kind, position, size
        position += size
