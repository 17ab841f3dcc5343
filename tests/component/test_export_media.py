"""Exports' media part on real H.264 recorded into segment files: the Matroska file keeps every
recorded packet byte for byte on the shared wall clock; the AVI file re-encodes the pictures."""

from __future__ import annotations

import dataclasses
import functools
import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, timedelta, timezone
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from numpy.typing import NDArray

from camgate.media import h26x
from camgate.media.export import (
    ExportCancelled,
    ExportTrack,
    avi_codecs,
    write_avi,
    write_mkv,
)
from camgate.media.mp4file import Cut, build_mp4_cuts
from camgate.media.packet import TIMESCALE, Codec, MediaPacket
from camgate.media.segment import ClosedSegment, SegmentWriter
from tests.support.media import CLIP_EPOCH, encode_clip, fmp4_stream, to_media_packets

FRAME = 3000  # 30 fps in the 90 kHz clock
GOP = 15

Picture = NDArray[np.int16]


@functools.cache
def clip(
    codec: Codec = "h264", width: int = 640, height: int = 360, frames: int = 90, bframes: int = 0
) -> tuple[MediaPacket, ...]:
    """3 s of 30 fps video, a keyframe every half second, captured from CLIP_EPOCH on."""
    encoded = encode_clip(codec, width, height, frames, gop=GOP, bframes=bframes)
    return tuple(to_media_packets(encoded))


def later(packets: Sequence[MediaPacket], seconds: float) -> list[MediaPacket]:
    """The packets captured ``seconds`` later, on a timeline moved alike (a gap if in a run)."""
    ticks = round(seconds * TIMESCALE)
    return [
        dataclasses.replace(
            p, pts=p.pts + ticks, dts=p.dts + ticks, wallclock=p.wallclock + seconds
        )
        for p in packets
    ]


def record(root: Path, camera: str, packets: Sequence[MediaPacket]) -> list[ClosedSegment]:
    """Segments of one second (so that cuts cross segment boundaries)."""
    writer = SegmentWriter(root, camera, "main", segment_duration=TIMESCALE)
    closed = [segment for packet in packets for segment in writer.append(packet)]
    last = writer.close()
    return [*closed, last] if last else closed


def whole(segments: Sequence[ClosedSegment]) -> list[Cut]:
    return [Cut(segment, segment.start_dts, segment.end_dts) for segment in segments]


def mkv(tracks: Sequence[ExportTrack], origin: float = CLIP_EPOCH) -> bytes:
    out = io.BytesIO()
    write_mkv(tracks, out, origin=origin, progress=lambda _: None, cancelled=lambda: False)
    return out.getvalue()


@dataclass
class Track:
    title: str
    codec_private: bytes
    #: (bytes, presentation time in seconds, keyframe) in the file's order.
    packets: list[tuple[bytes, float, bool]]

    @property
    def data(self) -> list[bytes]:
        return [packet[0] for packet in self.packets]

    @property
    def start(self) -> float:
        return self.packets[0][1]


def read_mkv(data: bytes) -> list[Track]:
    with av.open(io.BytesIO(data), "r", format="matroska") as container:
        tracks = [
            Track(s.metadata.get("title", ""), bytes(s.codec_context.extradata or b""), [])
            for s in container.streams
        ]
        for packet in container.demux():
            if packet.size and packet.pts is not None:
                time = float(packet.pts * packet.time_base)
                entry = (bytes(packet), time, bool(packet.is_keyframe))
                tracks[packet.stream.index].packets.append(entry)
    return tracks


def data_of(packets: Sequence[MediaPacket]) -> list[bytes]:
    return [packet.data for packet in packets]


# --- Matroska --------------------------------------------------------------------------------


@pytest.mark.parametrize("bframes", [0, 2])
def test_mkv_holds_every_camera_as_a_track_of_the_recorded_packets(
    tmp_path: Path, bframes: int
) -> None:
    first, second = clip(bframes=bframes), clip(width=320, height=180)
    tracks = [
        ExportTrack("Front door", whole(record(tmp_path, "a", first))),
        ExportTrack("Yard", whole(record(tmp_path, "b", second))),
    ]
    front, yard = read_mkv(mkv(tracks))
    assert (front.title, yard.title) == ("Front door", "Yard")
    assert front.data == data_of(first)
    assert yard.data == data_of(second)
    assert front.codec_private == first[0].config.extradata  # avcC as recorded
    assert [p[2] for p in front.packets] == [p.is_keyframe for p in first]


def test_mkv_keeps_hevc_packets_and_its_hvcc(tmp_path: Path) -> None:
    packets = clip("hevc", frames=30)
    (track,) = read_mkv(mkv([ExportTrack("cam", whole(record(tmp_path, "a", packets)))]))
    assert track.data == data_of(packets)
    # The muxer writes the hvcC again, clearing its arrays' completeness bits: the same record
    # and parameter sets otherwise.
    recorded = packets[0].config.extradata
    assert len(track.codec_private) == len(recorded)
    assert h26x.parameter_sets_from_extradata("hevc", track.codec_private) == (
        h26x.parameter_sets_from_extradata("hevc", recorded)
    )


def test_mkv_tracks_share_the_wall_clock_and_keep_gaps(tmp_path: Path) -> None:
    packets = clip()
    with_gap = [*packets[:45], *later(packets[45:], 2.0)]  # a 2 s hole after 1.5 s
    tracks = [
        ExportTrack("early", whole(record(tmp_path, "a", with_gap))),
        ExportTrack("late", whole(record(tmp_path, "b", later(packets, 2.0)))),
    ]
    early, late = read_mkv(mkv(tracks))
    assert early.data == data_of(packets)
    assert early.start == 0.0
    assert late.start == pytest.approx(2.0, abs=0.002)
    expected = [n / 30 for n in range(45)] + [n / 30 + 2.0 for n in range(45, 90)]
    assert [p[1] for p in early.packets] == pytest.approx(expected, abs=0.002)
    assert [p[1] for p in late.packets] == pytest.approx(
        [n / 30 + 2.0 for n in range(90)], abs=0.002
    )


def test_mkv_follows_on_where_the_clock_went_back(tmp_path: Path) -> None:
    packets = clip()
    # After 1.5 s the source reconnects (its timeline jumps) with the wall clock set 1 s back.
    jump = 10 * TIMESCALE
    back = [
        dataclasses.replace(p, pts=p.pts + jump, dts=p.dts + jump, wallclock=p.wallclock - 1.0)
        for p in packets[45:]
    ]
    (track,) = read_mkv(
        mkv([ExportTrack("cam", whole(record(tmp_path, "a", [*packets[:45], *back])))])
    )
    assert track.data == data_of(packets)
    times = [p[1] for p in track.packets]
    assert times == pytest.approx([n / 30 for n in range(90)], abs=0.002)


def test_mkv_gives_a_config_change_its_own_track(tmp_path: Path) -> None:
    big, small = clip()[:45], later(clip(width=320, height=180)[:45], 1.5)
    segments = record(tmp_path, "a", [*big, *small])
    assert len({segment.config for segment in segments}) == 2
    first, second = read_mkv(mkv([ExportTrack("cam", whole(segments))]))
    assert (first.title, second.title) == ("cam", "cam (2)")
    assert first.data == data_of(big)
    assert second.data == data_of(small)
    assert second.codec_private == small[0].config.extradata
    assert second.start == pytest.approx(1.5, abs=0.002)


def test_mkv_takes_a_range_as_the_virtual_mp4_does(tmp_path: Path) -> None:
    packets = clip()
    segments = record(tmp_path, "a", packets)
    cuts = [Cut(segment, 20 * FRAME, 40 * FRAME) for segment in segments[:2]]
    origin = CLIP_EPOCH + 20 / 30
    (track,) = read_mkv(mkv([ExportTrack("cam", cuts)], origin))
    mp4 = build_mp4_cuts(cuts)
    with av.open(io.BytesIO(mp4.read(0, mp4.size)), "r", format="mp4") as container:
        expected = [bytes(p) for p in container.demux(container.streams.video[0]) if p.size]
    # From the keyframe before the start (frame 15) to the last frame before the end.
    assert track.data == expected == data_of(packets[15:40])
    assert track.packets[0][2]
    # Matroska has no negative times: the lead-in starts the file.
    assert track.start == 0.0


def test_mkv_reports_progress_up_to_the_end(tmp_path: Path) -> None:
    tracks = [
        ExportTrack("a", whole(record(tmp_path, "a", clip()))),
        ExportTrack("b", whole(record(tmp_path, "b", clip()))),
    ]
    reported: list[float] = []
    out = io.BytesIO()
    write_mkv(tracks, out, origin=CLIP_EPOCH, progress=reported.append, cancelled=lambda: False)
    assert reported == sorted(reported)
    assert 0 < reported[0] < 1
    assert reported[-1] == 1.0


def test_mkv_stops_when_cancelled(tmp_path: Path) -> None:
    tracks = [ExportTrack("a", whole(record(tmp_path, "a", clip())))]
    reported: list[float] = []
    with pytest.raises(ExportCancelled):
        write_mkv(
            tracks,
            io.BytesIO(),
            origin=CLIP_EPOCH,
            progress=reported.append,
            cancelled=lambda: True,
        )
    assert reported == []


def test_an_empty_range_is_refused(tmp_path: Path) -> None:
    segments = record(tmp_path, "a", clip())
    after = [Cut(segments[-1], segments[-1].end_dts, segments[-1].end_dts + TIMESCALE)]
    with pytest.raises(ValueError, match="nothing recorded"):
        mkv([ExportTrack("a", after)])
    with pytest.raises(ValueError, match="nothing recorded"):
        avi(ExportTrack("a", after))


# --- AVI -------------------------------------------------------------------------------------


def avi(
    track: ExportTrack,
    codec: str = "mpeg4",
    *,
    timestamp: bool = False,
    cancelled: bool = False,
    progress: list[float] | None = None,
) -> bytes:
    out = io.BytesIO()
    write_avi(
        track,
        out,
        codec=codec,
        timestamp=timestamp,
        tz=UTC,
        progress=(progress if progress is not None else []).append,
        cancelled=lambda: cancelled,
    )
    return out.getvalue()


@dataclass
class Decoded:
    codec: str
    rate: Fraction
    #: Frame times in frames (the stream's time base is one frame).
    slots: list[int]
    pictures: list[Picture]


def read_avi(data: bytes) -> Decoded:
    with av.open(io.BytesIO(data), "r", format="avi") as container:
        stream = container.streams.video[0]
        frames = list(container.decode(stream))
        return Decoded(
            stream.codec_context.name,
            Fraction(stream.average_rate or 0),
            [frame.pts for frame in frames if frame.pts is not None],
            [rgb(frame) for frame in frames],
        )


def rgb(frame: av.VideoFrame) -> Picture:
    return frame.to_ndarray(format="rgb24").astype(np.int16)


def source_pictures(packets: Sequence[MediaPacket]) -> list[Picture]:
    with av.open(io.BytesIO(fmp4_stream(packets)), "r", format="mp4") as container:
        return [rgb(frame) for frame in container.decode(container.streams.video[0])]


def difference(a: Picture, b: Picture) -> float:
    return float(np.mean(np.abs(a - b)))


@pytest.mark.parametrize(
    ("codec", "bframes"),
    [("mpeg4", 0), ("mjpeg", 0), ("msmpeg4v2", 0), ("libx264", 0), ("mpeg4", 2)],
)
def test_avi_holds_every_recorded_picture(tmp_path: Path, codec: str, bframes: int) -> None:
    assert codec in avi_codecs()
    packets = clip(bframes=bframes)
    decoded = read_avi(avi(ExportTrack("cam", whole(record(tmp_path, "a", packets))), codec))
    assert decoded.codec == ("h264" if codec == "libx264" else codec)
    assert decoded.rate == 30
    # FFmpeg's AVI demuxer guesses H.264 presentation one frame after decoding.
    first = decoded.slots[0]
    assert decoded.slots == list(range(first, first + len(packets)))
    assert first == (1 if codec == "libx264" else 0)
    source = source_pictures(packets)
    assert max(map(difference, decoded.pictures, source)) < 4


def test_avi_bit_rate_replaces_the_fixed_quality(tmp_path: Path) -> None:
    track = ExportTrack("cam", whole(record(tmp_path, "a", clip())))
    fixed = avi(track)
    out = io.BytesIO()
    write_avi(track, out, bit_rate=300_000, progress=lambda _: None, cancelled=lambda: False)
    assert len(out.getvalue()) < len(fixed) / 2
    assert len(read_avi(out.getvalue()).slots) == 90


def test_avi_holds_a_gap_on_the_frame_grid(tmp_path: Path) -> None:
    packets = clip()
    with_gap = [*packets[:45], *later(packets[45:], 2.0)]
    decoded = read_avi(avi(ExportTrack("cam", whole(record(tmp_path, "a", with_gap)))))
    assert decoded.slots == [*range(45), *range(45 + 60, 90 + 60)]


def test_avi_takes_exactly_the_frames_shown_in_the_range(tmp_path: Path) -> None:
    packets = clip()
    cuts = [Cut(segment, 20 * FRAME, 40 * FRAME) for segment in record(tmp_path, "a", packets)]
    decoded = read_avi(avi(ExportTrack("cam", cuts)))
    assert decoded.slots == list(range(20))
    source = source_pictures(packets)[20:40]
    assert max(map(difference, decoded.pictures, source)) < 4


def test_avi_scales_a_later_config_to_the_first_size(tmp_path: Path) -> None:
    big, small = clip()[:45], later(clip(width=320, height=180)[:45], 1.5)
    decoded = read_avi(avi(ExportTrack("cam", whole(record(tmp_path, "a", [*big, *small])))))
    assert decoded.slots == list(range(90))
    assert {picture.shape for picture in decoded.pictures} == {(360, 640, 3)}


def test_avi_burns_the_capture_time_into_the_bottom_left(tmp_path: Path) -> None:
    packets = clip()
    track = ExportTrack("cam", whole(record(tmp_path, "a", packets)))
    stamped = read_avi(avi(track, timestamp=True)).pictures
    source = source_pictures(packets)
    box = np.s_[-20:-6, 8:138]  # inside the stamp at 360p: 13 px text, from 4 px off the corner
    seconds = np.s_[-20:-6, 110:138]
    outside = np.s_[:-40, :]
    for n in (0, 45, 89):
        assert difference(stamped[n][box], source[n][box]) > 40
        assert difference(stamped[n][outside], source[n][outside]) < 4
    # Dark box, light text.
    assert np.median(stamped[0][box]) < 40 and np.max(stamped[0][box]) > 200
    # The text changes with the second (frames 0 and 45: 00:00:00 and 00:00:01), not within it.
    assert difference(stamped[0][seconds], stamped[45][seconds]) > 10
    assert difference(stamped[0][seconds], stamped[14][seconds]) < 4


def test_avi_timestamp_follows_the_time_zone(tmp_path: Path) -> None:
    track = ExportTrack("cam", whole(record(tmp_path, "a", clip()[:15])))
    out = {}
    for name, tz in (("utc", UTC), ("plus_one", timezone(timedelta(hours=1)))):
        buffer = io.BytesIO()
        write_avi(
            track, buffer, timestamp=True, tz=tz, progress=lambda _: None, cancelled=lambda: False
        )
        out[name] = read_avi(buffer.getvalue()).pictures[0]
    box = np.s_[-20:-6, 8:138]
    assert difference(out["utc"][box], out["plus_one"][box]) > 2  # 00:00:00 and 01:00:00


def test_avi_leaves_out_a_frame_that_does_not_decode(tmp_path: Path) -> None:
    packets = list(clip())
    packets[20] = dataclasses.replace(packets[20], data=b"\x00\x00\x00\x04\xff\xff\xff\xff")
    decoded = read_avi(avi(ExportTrack("cam", whole(record(tmp_path, "a", packets)))))
    assert len(packets) - 3 <= len(decoded.slots) < len(packets)
    assert decoded.slots[-1] == len(packets) - 1  # the rest keep their times


def test_avi_reports_progress_and_stops_when_cancelled(tmp_path: Path) -> None:
    track = ExportTrack("cam", whole(record(tmp_path, "a", clip())))
    reported: list[float] = []
    avi(track, progress=reported)
    assert reported == sorted(reported) and 0 < reported[0] < 1 and reported[-1] == 1.0
    with pytest.raises(ExportCancelled):
        avi(track, cancelled=True)


def test_avi_refuses_an_unknown_codec(tmp_path: Path) -> None:
    track = ExportTrack("cam", whole(record(tmp_path, "a", clip()[:15])))
    with pytest.raises(ValueError, match="not an AVI encoder"):
        avi(track, "libvpx-vp9")
