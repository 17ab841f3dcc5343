"""A real RTSP camera with a microphone: its audio is recorded beside the video, on the
video's timeline, as it came (ADR 0016)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import av
import numpy as np
import pytest

from camgate.media.audio import RecordedAudio, read_sidecar, sidecar_path
from camgate.media.hub import LiveHub
from camgate.media.packet import TIMESCALE
from camgate.media.segment import ClosedSegment
from camgate.media.source import DemuxSource, SourceKind, SourceSpec
from camgate.recording.recorder import StreamRecorder
from tests.conftest import need
from tests.support import rtsp
from tests.support.server import free_port

pytestmark = pytest.mark.rtsp

#: What the test camera sends: (FFmpeg's decoder, sample rate).
CODECS = {"aac": ("aac", 48_000), "pcmu": ("pcm_mulaw", 8_000)}
TONE_HZ = 440


@pytest.fixture(params=sorted(CODECS))
def camera(request: pytest.FixtureRequest) -> Iterator[rtsp.RtspCamera]:
    need(rtsp.available(), "Debian's GStreamer RTSP server (make system-deps)")
    camera = rtsp.RtspCamera(free_port(), audio=request.param)
    camera.start()
    try:
        yield camera
    finally:
        camera.stop()


async def _record(url: str, root: Path, seconds: float) -> list[ClosedSegment]:
    closed: list[ClosedSegment] = []

    async def on_closed(_camera: str, _stream: str, segment: ClosedSegment) -> None:
        closed.append(segment)

    async def on_error(_recorder: StreamRecorder, error: OSError) -> None:
        raise AssertionError(f"the recorder failed: {error}")

    hub = LiveHub("mic")
    source = DemuxSource(
        SourceSpec(url, SourceKind.RTSP), hub, asyncio.get_running_loop(), name="mic"
    )
    with ThreadPoolExecutor(1) as executor:
        recorder = StreamRecorder(
            "cam",
            "s0",
            hub,
            root,
            executor,
            on_closed=on_closed,
            on_error=on_error,
            segment_duration=TIMESCALE,
        )
        recorder.start()
        source.start()
        await asyncio.sleep(seconds)
        await source.aclose()
        await recorder.stop()
    return closed


def _tone(audio: list[RecordedAudio]) -> float:
    """The dominant frequency of the recorded packets, decoded."""
    config = audio[0].config
    decoder = av.CodecContext.create(config.codec, "r")
    assert isinstance(decoder, av.AudioCodecContext)
    decoder.sample_rate = config.sample_rate
    decoder.layout = "mono" if config.channels == 1 else "stereo"
    decoder.extradata = config.extradata or None
    samples = []
    for recorded in audio:
        for frame in decoder.decode(av.Packet(recorded.data)):
            samples.append(frame.to_ndarray().astype(np.float64).reshape(-1)[: frame.samples])
    signal = np.concatenate(samples)
    spectrum = np.abs(np.fft.rfft(signal * np.hanning(len(signal))))
    return float(np.fft.rfftfreq(len(signal), 1 / config.sample_rate)[spectrum.argmax()])


def test_the_cameras_audio_is_recorded_beside_its_video(
    camera: rtsp.RtspCamera, tmp_path: Path
) -> None:
    segments = asyncio.run(_record(camera.url, tmp_path, 4.5))
    assert len(segments) >= 3, "one-second segments over four seconds"
    audio = [r for s in segments for r in read_sidecar(sidecar_path(s.path))]
    codec, rate = CODECS[camera.audio or ""]
    assert {(r.config.codec, r.config.sample_rate, r.config.channels) for r in audio} == {
        (codec, rate, 1)
    }
    ticks = [r.tick for r in audio]
    assert ticks == sorted(ticks)
    # As much sound as picture, on the same timeline (the camera starts both at once).
    start, end = segments[0].start_dts, segments[-1].end_dts
    covered = ticks[-1] + audio[-1].duration - ticks[0]
    assert abs(covered - (end - start)) < 0.5 * TIMESCALE
    assert start - 0.5 * TIMESCALE < ticks[0] and ticks[-1] < end + 0.5 * TIMESCALE
    assert abs(_tone(audio) - TONE_HZ) < 5
