"""Recorded audio: the sidecar beside each segment (ADR 0016), written by the segment writer,
read back after crashes and deleted with its segment."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

import pytest

from camgate.media.audio import (
    MAGIC,
    AudioConfig,
    AudioPacket,
    read_sidecar,
    records,
    sidecar_path,
)
from camgate.media.packet import MediaPacket
from camgate.media.segment import PARTIAL_SUFFIX, SegmentWriter, salvage
from tests.support.media import encode_clip, to_media_packets

G711 = AudioConfig("pcm_mulaw", 8000, 1)
AAC = AudioConfig("aac", 48000, 2, bytes.fromhex("1190"))
#: 20 ms of G.711 at 8 kHz: 160 bytes, 1800 ticks.
TICKS = 1800


def sound(tick: int, config: AudioConfig = G711, fill: int = 0x7F) -> AudioPacket:
    return AudioPacket(bytes([fill]) * 160, tick, TICKS, 0.0, config)


def video(seconds: int = 2) -> list[MediaPacket]:
    return to_media_packets(encode_clip("h264", 160, 90, 30 * seconds, gop=15))


def test_packets_and_config_changes_read_back(tmp_path: Path) -> None:
    path = tmp_path / "1.audio"
    first = [sound(i * TICKS, fill=i) for i in range(3)]
    later = [sound(10_000 + i * 1920, AAC, fill=9) for i in range(2)]
    path.write_bytes(records(first, None) + records(later, G711))
    read = list(read_sidecar(path))
    assert [(r.tick, r.duration, r.data, r.config) for r in read] == [
        (p.tick, p.duration, p.data, p.config) for p in first + later
    ]


@pytest.mark.parametrize("cut", [1, 3, 9, 170])
def test_a_torn_tail_ends_the_reading_before_it(tmp_path: Path, cut: int) -> None:
    whole = records([sound(0), sound(TICKS)], None)
    path = tmp_path / "1.audio"
    path.write_bytes(whole[:-cut])
    assert [r.tick for r in read_sidecar(path)] == [0]


def test_garbage_and_strangers_give_nothing(tmp_path: Path) -> None:
    path = tmp_path / "1.audio"
    assert list(read_sidecar(path)) == []  # no sidecar: a camera without a microphone
    path.write_bytes(b"RIFF" + bytes(100))
    assert list(read_sidecar(path)) == []
    unknown = dataclasses.replace(G711, codec="speex")
    path.write_bytes(records([sound(0, unknown)], None))
    assert list(read_sidecar(path)) == []
    huge = MAGIC + b"P" + (1 << 30).to_bytes(4, "big")
    path.write_bytes(huge)
    assert list(read_sidecar(path)) == []


def _record(
    writer: SegmentWriter, frames: Sequence[MediaPacket], audio_per_frame: int = 2
) -> list[AudioPacket]:
    """Each video frame, then the audio that came with it (written as the recorder does)."""
    written: list[AudioPacket] = []
    for packet in frames:
        writer.append(packet)
        batch = [
            sound(packet.dts + n * TICKS, fill=len(written) % 256) for n in range(audio_per_frame)
        ]
        writer.append_audio(batch)
        written += batch
    return written


def test_audio_goes_beside_the_segment_open_when_it_came(tmp_path: Path) -> None:
    frames = video()
    writer = SegmentWriter(tmp_path, "cam", "s0", segment_duration=90_000)
    writer.append_audio([sound(0)])  # before any video: no segment to go with
    written = _record(writer, frames)
    last = writer.close()
    assert last is not None
    segments = sorted((tmp_path / "cam" / "s0").rglob("*.mp4"))
    assert len(segments) == 2
    read = [r for segment in segments for r in read_sidecar(sidecar_path(segment))]
    assert [(r.tick, r.data) for r in read] == [(p.tick, p.data) for p in written]
    first, second = (list(read_sidecar(sidecar_path(segment))) for segment in segments)
    assert first[-1].tick < frames[30].dts <= second[0].tick


def test_a_camera_without_audio_leaves_no_sidecar(tmp_path: Path) -> None:
    writer = SegmentWriter(tmp_path, "cam", "s0")
    for packet in video(1):
        writer.append(packet)
    writer.close()
    assert [p.suffix for p in (tmp_path / "cam" / "s0").rglob("*.*")] == [".mp4"]


def test_after_a_crash_the_sidecar_keeps_what_reached_the_disk(tmp_path: Path) -> None:
    frames = video()
    writer = SegmentWriter(tmp_path, "cam", "s0")
    written = _record(writer, frames)
    partial = writer.open_path
    assert partial is not None and partial.name.endswith(PARTIAL_SUFFIX)
    # The process dies here: nothing is closed. A torn last record is what a crash may leave.
    sidecar = sidecar_path(partial)
    sidecar.write_bytes(sidecar.read_bytes()[:-7])
    closed = salvage(partial)
    assert closed is not None and sidecar_path(closed.path) == sidecar
    assert [r.tick for r in read_sidecar(sidecar)] == [p.tick for p in written[:-1]]


def test_a_segment_salvaged_to_nothing_takes_its_sidecar(tmp_path: Path) -> None:
    writer = SegmentWriter(tmp_path, "cam", "s0")
    writer.append(video(1)[0])  # a keyframe, held in memory: no fragment reaches the file
    writer.append_audio([sound(0)])
    partial = writer.open_path
    assert partial is not None and sidecar_path(partial).exists()
    assert salvage(partial) is None
    assert not sidecar_path(partial).exists()
