"""Exports carry the recorded audio when asked: real H.264 and real AAC / G.711 recorded into
segments and their audio sidecars, as a source delivers them (audio written when it arrives)."""

from __future__ import annotations

import dataclasses
import functools
import io
import os
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from numpy.typing import NDArray

from camgate.investigations import verifier
from camgate.investigations.jobs import (
    ExportJob,
    ExportPlan,
    TrackPlan,
    planned_sidecars,
    run_job,
)
from camgate.investigations.models import ExportFormat
from camgate.investigations.sealed import SealedFile
from camgate.investigations.signing import SigningKey
from camgate.media import export
from camgate.media.audio import AudioConfig, AudioPacket, read_sidecar, sidecar_path
from camgate.media.export import ExportTrack, write_avi, write_mkv
from camgate.media.mp4file import Cut
from camgate.media.packet import TIMESCALE, MediaPacket
from camgate.media.segment import ClosedSegment, SegmentWriter
from tests.component.test_export_media import clip, data_of, later, read_mkv, whole
from tests.support.media import CLIP_EPOCH

#: Audio reaches the writer this long after its capture (a source's buffering): packets near
#: a segment boundary land in the next segment's sidecar.
ARRIVAL_DELAY_S = 0.25
Samples = NDArray[np.float64]


@dataclass(frozen=True)
class Sound:
    """Encoded audio of a signal: the packets as a source would give them."""

    config: AudioConfig
    #: (bytes, start in samples, duration in samples); the first may start before 0 (AAC's
    #: priming frame), so that sample 0 decodes at capture time 0.
    packets: list[tuple[bytes, int, int]]


def signal(rate: int, seconds: float, tones: Sequence[tuple[float, float, float]]) -> Samples:
    """Silence with 440 Hz ``(start, end, amplitude)`` tones (seconds)."""
    times = np.arange(round(rate * seconds)) / rate
    values = np.zeros_like(times)
    for start, end, amplitude in tones:
        inside = (times >= start) & (times < end)
        values[inside] = amplitude * np.sin(2 * np.pi * 440 * times[inside])
    return values


def encode(codec: str, rate: int, values: Samples) -> Sound:
    """``values`` encoded by FFmpeg's encoder of ``codec`` (G.726 as G.726-32)."""
    encoder = av.CodecContext.create(codec, "w")
    assert isinstance(encoder, av.AudioCodecContext)
    encoder.sample_rate = rate
    encoder.bit_rate = 32000 if codec == "adpcm_g726" else 0
    encoder.layout = "mono"
    encoder.format = encoder.codec.audio_formats[0].name
    encoder.time_base = Fraction(1, rate)
    encoder.open()
    size = encoder.frame_size or 160  # 20 ms of G.711 at 8 kHz, as RTP sends it
    packets = []
    for start in range(0, len(values), size):
        chunk = values[start : start + size]
        if encoder.format.name == "fltp":
            frame = av.AudioFrame.from_ndarray(chunk.astype(np.float32)[None, :], "fltp", "mono")
        else:
            frame = av.AudioFrame.from_ndarray(
                (chunk * 32767).astype(np.int16)[None, :], "s16", "mono"
            )
        frame.sample_rate, frame.pts, frame.time_base = rate, start, Fraction(1, rate)
        packets += encoder.encode(frame)
    packets += encoder.encode(None)
    config = AudioConfig(codec, rate, 1, bytes(encoder.extradata or b""))
    return Sound(config, [(bytes(p), p.pts or 0, p.duration or size) for p in packets])


@functools.cache
def aac_tone(seconds: float = 3.0) -> Sound:
    return encode("aac", 48000, signal(48000, seconds, [(0, seconds, 0.5)]))


def audio_packets(sound: Sound, at: float) -> list[AudioPacket]:
    """The sound captured from ``at`` seconds of the clip's timeline (and wall clock) on."""
    rate = sound.config.sample_rate
    packets = []
    for data, start, duration in sound.packets:
        seconds = at + start / rate
        packets.append(
            AudioPacket(
                data,
                round(seconds * TIMESCALE),
                round(duration * TIMESCALE / rate),
                CLIP_EPOCH + seconds + ARRIVAL_DELAY_S,
                sound.config,
            )
        )
    return packets


def record(
    root: Path, camera: str, video: Sequence[MediaPacket], audio: Sequence[AudioPacket] = ()
) -> list[ClosedSegment]:
    """Segments of one second, the audio written as it arrives."""
    writer = SegmentWriter(root, camera, "main", segment_duration=TIMESCALE)
    arrivals: list[tuple[float, int, MediaPacket | AudioPacket]] = [
        *((p.wallclock, 0, p) for p in video),
        *((p.wallclock, 1, p) for p in audio),
    ]
    closed = []
    for _, _, packet in sorted(arrivals, key=lambda item: item[:2]):
        if isinstance(packet, AudioPacket):
            writer.append_audio([packet])
        else:
            closed += writer.append(packet)
    last = writer.close()
    return [*closed, last] if last else closed


def avi(track: ExportTrack, audio_bit_rate: int | None = 128_000) -> bytes:
    out = io.BytesIO()
    write_avi(
        track,
        out,
        audio_bit_rate=audio_bit_rate,
        progress=lambda _: None,
        cancelled=lambda: False,
    )
    return out.getvalue()


def mkv(tracks: Sequence[ExportTrack], audio: bool = True) -> bytes:
    out = io.BytesIO()
    write_mkv(
        tracks,
        out,
        origin=CLIP_EPOCH,
        audio=audio,
        progress=lambda _: None,
        cancelled=lambda: False,
    )
    return out.getvalue()


@dataclass
class Heard:
    codec: str
    rate: int
    channels: int
    declared_bit_rate: int
    #: The stream's bytes per second of its decoded length.
    measured_bit_rate: float
    samples: Samples
    video_seconds: float

    @property
    def seconds(self) -> float:
        return len(self.samples) / self.rate

    def loudness(self, start: float, end: float) -> float:
        part = self.samples[round(start * self.rate) : round(end * self.rate)]
        return float(np.sqrt(np.mean(part**2)))

    def onset(self, after: float) -> float:
        """When the sound first gets loud after ``after`` seconds."""
        start = round(after * self.rate)
        loud = np.flatnonzero(np.abs(self.samples[start:]) > 0.1)
        return (start + int(loud[0])) / self.rate


def audio_streams(data: bytes, fmt: str) -> int:
    with av.open(io.BytesIO(data), "r", format=fmt) as container:
        return len(container.streams.audio)


def hear_avi(data: bytes) -> Heard:
    with av.open(io.BytesIO(data), "r", format="avi") as container:
        video = container.streams.video[0]
        rate = Fraction(video.average_rate or 0)
        frames = 1 + max(f.pts or 0 for f in container.decode(video))  # the last one's slot
    with av.open(io.BytesIO(data), "r", format="avi") as container:
        stream = container.streams.audio[0]
        size = sum(p.size for p in container.demux(stream))
    with av.open(io.BytesIO(data), "r", format="avi") as container:
        stream = container.streams.audio[0]
        samples = np.concatenate(
            [f.to_ndarray().astype(np.float64).mean(axis=0) for f in container.decode(stream)]
        )
        heard = Heard(
            stream.codec_context.name,
            stream.sample_rate,
            stream.channels,
            stream.bit_rate or 0,
            0.0,
            samples,
            float(frames / rate),
        )
    heard.measured_bit_rate = size * 8 / heard.seconds
    return heard


def dominant_frequency(samples: Samples, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
    return float(np.fft.rfftfreq(len(samples), 1 / rate)[np.argmax(spectrum)])


# --- AVI -------------------------------------------------------------------------------------


def test_avi_carries_the_recorded_sound_as_mp3(tmp_path: Path) -> None:
    segments = record(tmp_path, "a", clip(), audio_packets(aac_tone(), 0.0))
    heard = hear_avi(avi(ExportTrack("cam", whole(segments))))
    assert (heard.codec, heard.rate, heard.channels) == ("mp3float", 48000, 1)
    assert heard.declared_bit_rate == 128_000
    assert heard.measured_bit_rate == pytest.approx(128_000, rel=0.1)
    assert heard.video_seconds == 3.0
    assert heard.seconds == pytest.approx(heard.video_seconds, abs=0.1)
    assert dominant_frequency(heard.samples, heard.rate) == pytest.approx(440, abs=2)
    # Loud from the first picture to the last (the encoder's delay made up for).
    assert heard.onset(0.0) < 0.03
    assert heard.loudness(0.05, 2.95) > 0.3


def test_avi_sound_stays_in_sync_over_a_gap(tmp_path: Path) -> None:
    """1.5 s of tone, a 2 s hole in the recording, then 1.5 s: silent for 0.5 s, a tone from
    capture time 4.0 s on. The AVI's clock is capture time from its first picture."""
    packets = clip()
    video = [*packets[:45], *later(packets[45:], 2.0)]
    before = encode("aac", 48000, signal(48000, 1.5, [(0, 1.5, 0.5)]))
    after = encode("aac", 48000, signal(48000, 1.5, [(0.5, 1.5, 0.5)]))
    audio = [*audio_packets(before, 0.0), *audio_packets(after, 3.5)]
    heard = hear_avi(avi(ExportTrack("cam", whole(record(tmp_path, "a", video, audio)))))
    assert heard.video_seconds == 5.0
    assert heard.seconds == pytest.approx(5.0, abs=0.1)
    assert heard.loudness(0.05, 1.45) > 0.3
    assert heard.loudness(1.55, 3.95) < 0.01  # the hole, and the silence recorded after it
    assert heard.onset(1.6) == pytest.approx(4.0, abs=0.005)
    assert heard.loudness(4.05, 4.95) > 0.3


def test_avi_sound_from_g711_keeps_its_rate_and_the_bit_rate_mp3_allows(tmp_path: Path) -> None:
    mulaw = encode("pcm_mulaw", 8000, signal(8000, 3.0, [(0, 3.0, 0.5)]))
    segments = record(tmp_path, "a", clip(), audio_packets(mulaw, 0.0))
    heard = hear_avi(avi(ExportTrack("cam", whole(segments)), audio_bit_rate=160_000))
    assert (heard.codec, heard.rate, heard.channels) == ("mp3float", 8000, 1)
    assert heard.declared_bit_rate == 64_000  # MP3's highest at 8 kHz
    assert heard.measured_bit_rate == pytest.approx(64_000, rel=0.1)
    assert heard.seconds == pytest.approx(3.0, abs=0.1)
    assert dominant_frequency(heard.samples, heard.rate) == pytest.approx(440, abs=2)


def test_avi_sound_is_mpeg_layer_2_without_lame(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(export, "AVI_AUDIO_ENCODERS", ("mp2",))
    wideband = encode("aac", 16000, signal(16000, 3.0, [(0.5, 3.0, 0.5)]))
    segments = record(tmp_path, "a", clip(), audio_packets(wideband, 0.0))
    heard = hear_avi(avi(ExportTrack("cam", whole(segments)), audio_bit_rate=200_000))
    assert (heard.codec, heard.rate, heard.channels) == ("mp2", 16000, 1)
    assert heard.declared_bit_rate == 160_000  # MPEG-2's highest, at 16 kHz
    assert heard.seconds == pytest.approx(3.0, abs=0.1)
    assert heard.onset(0.0) == pytest.approx(0.5, abs=0.01)  # a filter bank spreads it a little
    assert dominant_frequency(heard.samples, heard.rate) == pytest.approx(440, abs=2)


def test_avi_leaves_out_an_audio_packet_that_does_not_decode(tmp_path: Path) -> None:
    audio = audio_packets(aac_tone(), 0.0)
    audio[70] = dataclasses.replace(audio[70], data=b"\xff" * 200)
    heard = hear_avi(avi(ExportTrack("cam", whole(record(tmp_path, "a", clip(), audio)))))
    assert heard.seconds == pytest.approx(3.0, abs=0.1)
    assert heard.loudness(2.0, 2.95) > 0.3  # the rest in its place


def test_avi_has_no_sound_unless_asked_and_recorded(tmp_path: Path) -> None:
    with_audio = ExportTrack(
        "a", whole(record(tmp_path, "a", clip(), audio_packets(aac_tone(), 0)))
    )
    assert audio_streams(avi(with_audio, audio_bit_rate=None), "avi") == 0
    silent_camera = ExportTrack("b", whole(record(tmp_path, "b", clip())))
    assert audio_streams(avi(silent_camera), "avi") == 0


# --- Matroska --------------------------------------------------------------------------------


def test_mkv_copies_the_recorded_audio_byte_for_byte_on_the_shared_clock(tmp_path: Path) -> None:
    tone = aac_tone()
    audio = audio_packets(tone, 0.0)
    segments = record(tmp_path, "a", clip(), audio)
    # The delayed arrival put packets captured in one segment into the next one's sidecar.
    first_sidecar = [r.tick for r in read_sidecar(sidecar_path(segments[1].path))]
    assert min(first_sidecar) < segments[1].start_dts
    tracks = [
        ExportTrack("Front door", whole(segments)),
        ExportTrack("Yard", whole(record(tmp_path, "b", later(clip(), 1.0)))),
    ]
    with av.open(io.BytesIO(mkv(tracks)), "r", format="matroska") as container:
        (stream,) = container.streams.audio
        assert stream.metadata.get("title") == "Front door"
        assert stream.codec_context.name == "aac"
        assert bytes(stream.codec_context.extradata or b"") == tone.config.extradata
    front, yard, sound = read_mkv(mkv(tracks))
    assert front.data == data_of(clip()) and len(yard.data) == 90
    # Audio from the first picture's capture (the priming packet before it is not in range).
    kept = [p for p in audio if p.tick >= 0]
    assert sound.data == [p.data for p in kept]
    assert [p[1] for p in sound.packets] == pytest.approx(
        [p.tick / TIMESCALE for p in kept], abs=0.001
    )


@pytest.mark.parametrize("codec", ["pcm_mulaw", "adpcm_g726"])
def test_mkv_stores_g711_and_g726_as_flac_with_the_decoded_samples(
    tmp_path: Path, codec: str
) -> None:
    recorded = encode(codec, 8000, signal(8000, 3.0, [(0, 3.0, 0.5)]))
    video = later(clip(), 0.5)
    segments = record(tmp_path, "a", video, audio_packets(recorded, 0.5))
    with av.open(io.BytesIO(mkv([ExportTrack("cam", whole(segments))])), "r") as container:
        stream = container.streams.audio[0]
        assert (stream.codec_context.name, stream.sample_rate, stream.channels) == ("flac", 8000, 1)
        frames = list(container.decode(stream))
        start = float(frames[0].pts * frames[0].time_base)
        stored = np.concatenate([f.to_ndarray()[0] for f in frames])
    decoder = av.CodecContext.create(codec, "r")
    assert isinstance(decoder, av.AudioCodecContext)
    decoder.sample_rate, decoder.layout = 8000, "mono"
    decoder.options = {"bits_per_coded_sample": "4"}  # G.726-32's (G.711 has no such option)
    decoded = np.concatenate(
        [
            f.to_ndarray()[0]
            for data, _, _ in recorded.packets
            for f in decoder.decode(av.Packet(data))
        ]
    )
    assert start == pytest.approx(0.5, abs=0.001)  # captured 0.5 s after the origin
    assert np.array_equal(stored, decoded)


def test_mkv_gives_an_audio_config_change_its_own_track(tmp_path: Path) -> None:
    first = encode("aac", 48000, signal(48000, 1.5, [(0, 1.5, 0.5)]))
    second = encode("aac", 16000, signal(16000, 1.5, [(0, 1.5, 0.5)]))
    audio = [*audio_packets(first, 0.0), *audio_packets(second, 1.5)]
    segments = record(tmp_path, "a", clip(), audio)
    with av.open(io.BytesIO(mkv([ExportTrack("cam", whole(segments))])), "r") as container:
        streams = container.streams.audio
        assert [s.metadata.get("title") for s in streams] == ["cam", "cam (2)"]
        assert [s.sample_rate for s in streams] == [48000, 16000]


def test_mkv_has_no_audio_unless_asked(tmp_path: Path) -> None:
    segments = record(tmp_path, "a", clip(), audio_packets(aac_tone(), 0.0))
    assert audio_streams(mkv([ExportTrack("cam", whole(segments))], audio=False), "matroska") == 0


# --- native ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def signer(tmp_path_factory: pytest.TempPathFactory) -> SigningKey:
    return SigningKey.load_or_create(tmp_path_factory.mktemp("keys") / "signing.key")


def prepared(
    tmp_path: Path,
    cuts: list[Cut],
    signer: SigningKey,
    sidecars: tuple[tuple[Path, int], ...] | None,
    export_format: ExportFormat = ExportFormat.NATIVE,
) -> Path:
    """The export of the cuts (with audio when ``sidecars`` were planned) as a download gives
    it (decrypted from the investigations folder)."""
    plan = ExportPlan(
        format=export_format,
        investigation_name="Break-in",
        start=CLIP_EPOCH,
        end=CLIP_EPOCH + 3,
        tracks=(TrackPlan("yard", "Yard", tuple(cuts), sidecars or ()),),
        include_audio=sidecars is not None,
        password=None,
        avi_codec="mpeg4",
        avi_timestamp=False,
        avi_audio_bitrate=96_000,
    )
    key = os.urandom(32)
    job = ExportJob(plan, tmp_path / "exports" / "export", key, signer, None)
    run_job(job)
    path = tmp_path / "download"
    with SealedFile.open(job.target, key) as sealed:
        path.write_bytes(sealed.read())
    return path


@pytest.mark.parametrize(
    ("export_format", "container"), [(ExportFormat.AVI, "avi"), (ExportFormat.MKV, "matroska")]
)
def test_an_export_job_has_audio_when_asked(
    tmp_path: Path, signer: SigningKey, export_format: ExportFormat, container: str
) -> None:
    cuts = whole(record(tmp_path, "a", clip(), audio_packets(aac_tone(), 0.0)))
    with_audio = prepared(tmp_path / "with", cuts, signer, planned_sidecars(cuts), export_format)
    assert audio_streams(with_audio.read_bytes(), container) == 1
    if export_format is ExportFormat.AVI:
        assert hear_avi(with_audio.read_bytes()).declared_bit_rate == 96_000
    without = prepared(tmp_path / "without", cuts, signer, None, export_format)
    assert audio_streams(without.read_bytes(), container) == 0


def test_a_native_export_holds_the_audio_sidecars_signed(
    tmp_path: Path, signer: SigningKey
) -> None:
    segments = record(tmp_path, "a", clip(), audio_packets(aac_tone(), 0.0))
    sidecars = [sidecar_path(s.path) for s in segments]
    cuts = whole(segments)
    planned = planned_sidecars(cuts)
    assert [path for path, _ in planned] == [s.path for s in segments]
    # A sidecar still being written grows after the export was planned: it keeps its size then.
    size = sidecars[-1].stat().st_size
    with sidecars[-1].open("ab") as growing:
        growing.write(b"P\x00\x00")
    path = prepared(tmp_path, cuts, signer, planned)
    report = verifier.verify(path, fingerprint=signer.fingerprint)
    assert report.ok, (report.errors, report.files)
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        for segment, sidecar in zip(segments, sidecars, strict=True):
            stored = archive.read(f"recordings/Yard/{sidecar.name}")
            assert stored == sidecar.read_bytes()[: len(stored)]
            assert f"recordings/Yard/{segment.path.name}" in names
        assert len(archive.read(f"recordings/Yard/{sidecars[-1].name}")) == size
        manifest = archive.read("manifest.json").decode()
    assert f'"recordings/Yard/{sidecars[0].name}"' in manifest

    # One byte changed in a sidecar fails verification.
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo(f"recordings/Yard/{sidecars[0].name}")
    offset = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra) + 20
    data[offset] ^= 0x01
    tampered = tmp_path / "tampered.zip"
    tampered.write_bytes(data)
    report = verifier.verify(tampered)
    assert not report.ok
    assert [f.name for f in report.files if not f.ok] == [info.filename]


def test_a_native_export_without_audio_has_no_sidecars(tmp_path: Path, signer: SigningKey) -> None:
    segments = record(tmp_path, "a", clip(), audio_packets(aac_tone(), 0.0))
    path = prepared(tmp_path, whole(segments), signer, None)
    with zipfile.ZipFile(path) as archive:
        assert not [name for name in archive.namelist() if name.endswith(".audio")]
    assert verifier.verify(path).ok
