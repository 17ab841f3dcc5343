from __future__ import annotations

from camgate.media import h26x
from camgate.media.packet import StreamConfig
from camgate.media.source import (
    Normalized,
    PictureJoiner,
    SourceError,
    SourceKind,
    SourceSpec,
    describe_error,
)

SPEC = SourceSpec("rtsp://user:SECRETPW@10.0.0.9/x", SourceKind.RTSP)


def test_failure_reasons_never_hold_credentials() -> None:
    refused = ConnectionRefusedError(111, "Connection refused")
    assert describe_error(refused, SPEC) == "Connection refused"
    opaque = RuntimeError(f"cannot open {SPEC.url}")
    assert "SECRETPW" not in describe_error(opaque, SPEC)
    assert "10.0.0.9" in describe_error(opaque, SPEC)
    assert describe_error(SourceError("unsupported codec mjpeg"), SPEC) == "unsupported codec mjpeg"
    assert "SECRETPW" not in SPEC.display_url


CONFIG = StreamConfig("h264", 640, 360, b"")


def _slice(idr: bool, first: bool) -> bytes:
    """A length-prefixed H.264 slice: first_mb_in_slice 0 (first bit 1) or 300 (its ue(v) starts
    with zeros)."""
    header = bytes([0x65 if idr else 0x41])
    body = bytes([0x88 if first else 0x00, 0x09, 0x5A])
    return len(header + body).to_bytes(4, "big") + header + body


def _picture(dts: int, idr: bool, first: bool = True) -> Normalized:
    return (_slice(idr, first), dts, dts, 3000, idr, CONFIG)


def test_a_picture_whose_first_slice_is_not_its_first_continues_the_one_before() -> None:
    assert not h26x.continues_picture("h264", _slice(True, True))
    assert h26x.continues_picture("h264", _slice(True, False))
    assert not h26x.continues_picture("h264", b"")
    hevc_first = (5).to_bytes(4, "big") + bytes([0x26, 0x01, 0x80, 0, 0])  # IDR_W_RADL
    hevc_rest = (5).to_bytes(4, "big") + bytes([0x26, 0x01, 0x40, 0, 0])
    assert not h26x.continues_picture("hevc", hevc_first)
    assert h26x.continues_picture("hevc", hevc_rest)


def test_a_keyframe_sent_in_two_packets_goes_out_whole_and_once() -> None:
    joiner = PictureJoiner("h264")
    assert joiner.feed(_picture(0, True), 1.0) == []  # a keyframe waits for the next packet
    assert joiner.feed(_picture(0, True, first=False), 1.0) == []
    ready = joiner.feed(_picture(3000, False), 1.1)
    assert [(p[1], p[0]) for p, _ in ready] == [
        (0, _slice(True, True) + _slice(True, False)),
        (3000, _slice(False, True)),
    ]
    # Whole pictures go at once, and a keyframe that came whole at the next packet.
    assert joiner.feed(_picture(6000, False), 1.2) == [(_picture(6000, False), 1.2)]
    assert joiner.feed(_picture(9000, True), 1.3) == []
    assert joiner.flush() == [(_picture(9000, True), 1.3)]
    assert joiner.flush() == []


def test_pictures_seen_split_wait_for_their_rest_from_then_on() -> None:
    joiner = PictureJoiner("h264")
    assert joiner.feed(_picture(3000, False), 1.0) == [(_picture(3000, False), 1.0)]
    # Its rest came after it went out: dropped, and such pictures wait from now on.
    assert joiner.feed(_picture(3000, False, first=False), 1.0) == []
    assert joiner.feed(_picture(6000, False), 1.1) == []
    assert joiner.feed(_picture(6000, False, first=False), 1.1) == []
    ((joined, _),) = joiner.feed(_picture(9000, False), 1.2)
    assert joined[0] == _slice(False, True) + _slice(False, False)
