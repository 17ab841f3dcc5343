"""Exports' sound (ADR 0016): the recorded audio of the cuts, from their segments' sidecars, laid
on the export's clock; re-encoded for AVI, copied (or stored as FLAC) for Matroska.

Blocking, for the export's worker thread; :mod:`camgate.media.export` calls it.
"""

from __future__ import annotations

import bisect
import heapq
import io
import itertools
import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, TypeAlias, cast

import av
import numpy as np
from av.audio.codeccontext import AudioCodecContext
from av.audio.stream import AudioStream
from av.container import OutputContainer
from numpy.typing import NDArray

from camgate.media.audio import AudioConfig, RecordedAudio, read_sidecar, sidecar_path
from camgate.media.mp4file import Cut
from camgate.media.packet import TIMESCALE

log = logging.getLogger(__name__)

#: A hole in the recorded audio longer than this (seconds) is played as silence; a shorter one
#: is the jitter of its timestamps and closes up. An overlap as long is the same moment twice.
AUDIO_HOLE_S = 0.1
#: Silence is made this many seconds at a time: a long hole costs no memory.
SILENCE_CHUNK_S = 1.0
#: The AVI's sound is laid this far (seconds) behind its pictures, so that it never passes the
#: last picture before the end is known; well within the muxer's interleaving window.
AVI_AUDIO_LAG_S = 1.0
#: The sample format each AVI audio encoder is given.
AVI_AUDIO_FORMAT = {"libmp3lame": "fltp", "mp2": "s16"}
#: Samples by which the decoded sound of an AVI lags what its encoder took (measured with
#: FFmpeg's decoders): LAME's encoder delay (576) and the MP3 decoder's (529); the MP2 pair
#: keeps time.
AVI_AUDIO_DELAY = {"libmp3lame": 1105, "mp2": 0}
_LSF_KBPS = (8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160)
#: The bit rates (kbit/s) each AVI audio encoder takes, by the lowest sample rate of the MPEG
#: version of a rate: MPEG-1 (32–48 kHz), MPEG-2 (16–24 kHz), MPEG-2.5 (8–12 kHz, MP3 only,
#: where LAME goes no higher than 64).
AVI_AUDIO_KBPS = {
    ("libmp3lame", 32000): (32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320),
    ("libmp3lame", 16000): _LSF_KBPS,
    ("libmp3lame", 8000): _LSF_KBPS[:8],
    ("mp2", 32000): (32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384),
    ("mp2", 16000): _LSF_KBPS,
}
#: Recorded audio codecs that Matroska takes as they are; it has no ID for the others (G.711,
#: G.726), which are decoded and stored as FLAC.
MKV_COPIED_AUDIO = frozenset({"aac", "opus", "mp3", "mp2"})

#: A packet for the Matroska muxer with its decode time (ticks) and whether it is video (what
#: progress counts).
Muxed: TypeAlias = "tuple[int, bool, av.Packet[Any]]"

_TICK = Fraction(1, TIMESCALE)


@dataclass(frozen=True, slots=True)
class Sound:
    """A recorded audio packet at its capture time (wall seconds)."""

    wallclock: float
    recorded: RecordedAudio


def _capture_time(sound: Sound) -> float:
    return sound.wallclock


def sounds(cuts: Sequence[Cut], spans: Sequence[tuple[float, float]]) -> Iterator[Sound]:
    """The audio captured in ``spans`` (wall seconds: the cuts' video, lead-in included), in
    capture order, from the sidecars of the cuts' segments.

    A packet is in the sidecar of the segment that was open when it arrived: near a boundary,
    the one before or after its time. So a sidecar's packets wait, sorted, for the next
    sidecar, and go when it shows where it starts: two sidecars' packets are held at most.
    """
    covered = _Coverage(spans)
    held: list[Sound] = []
    segments = {cut.segment.path: cut.segment for cut in cuts}
    for segment in segments.values():
        fresh = sorted(
            (
                Sound(segment.wallclock_at(recorded.tick), recorded)
                for recorded in read_sidecar(sidecar_path(segment.path))
            ),
            key=_capture_time,
        )
        fresh = [sound for sound in fresh if covered.holds(sound.wallclock)]
        if fresh:
            ready = bisect.bisect_left(held, fresh[0].wallclock, key=_capture_time)
            yield from held[:ready]
            held = list(heapq.merge(held[ready:], fresh, key=_capture_time))
    yield from held


class _Coverage:
    """Wall-clock spans, which may overlap."""

    def __init__(self, spans: Sequence[tuple[float, float]]) -> None:
        spans = sorted(spans)
        self._starts = [start for start, _ in spans]
        # Spans may overlap (a lead-in reaching back): the furthest end so far bounds each.
        self._reach = list(itertools.accumulate((end for _, end in spans), max))

    def holds(self, wallclock: float) -> bool:
        index = bisect.bisect_right(self._starts, wallclock) - 1
        return index >= 0 and wallclock < self._reach[index]


def _layout(channels: int) -> str:
    return "mono" if channels == 1 else "stereo"


class _AudioDecoding:
    """Decodes sounds into float planar frames at one rate and layout: a decoder per audio
    config in turn, opened from the config."""

    def __init__(self, rate: int, layout: str) -> None:
        self._rate = rate
        self._layout = layout
        self._current: tuple[AudioConfig, AudioCodecContext, av.AudioResampler] | None = None

    def decode(self, sound: Sound) -> Iterator[tuple[float, av.AudioFrame]]:
        """The sound's frames, each with its capture time; none when the packet does not
        decode (logged): one bad packet must not fail an export of hours."""
        recorded = sound.recorded
        if self._current is None or self._current[0] != recorded.config:
            # A new resampler too: one takes the format it was first given only.
            resampler = av.AudioResampler("fltp", self._layout, self._rate)
            self._current = recorded.config, _audio_decoder(recorded), resampler
        _config, decoder, resampler = self._current
        try:
            frames = decoder.decode(av.Packet(recorded.data))
        except av.FFmpegError as error:
            log.info("export: an audio packet did not decode, it is left out (%s)", error)
            return
        wallclock = sound.wallclock
        for frame in frames:
            for converted in resampler.resample(frame):
                yield wallclock, converted
            wallclock += frame.samples / frame.sample_rate


def _audio_decoder(first: RecordedAudio) -> AudioCodecContext:
    """A decoder of the config of ``first``, the first packet it will decode."""
    config = first.config
    decoder = cast(AudioCodecContext, av.CodecContext.create(config.codec, "r"))
    decoder.sample_rate = config.sample_rate
    if config.channels <= 2:
        decoder.layout = _layout(config.channels)
    if config.extradata:
        decoder.extradata = config.extradata
    if config.codec.startswith("adpcm_g726"):
        decoder.options = {"bits_per_coded_sample": str(_g726_bits(config, first))}
    return decoder


def _g726_bits(config: AudioConfig, packet: RecordedAudio) -> int:
    """G.726's bits per sample (2 to 5), which its config does not carry: from a packet's size
    and duration; G.726-32's 4 where they do not tell."""
    samples = packet.duration * config.sample_rate / TIMESCALE
    bits = round(len(packet.data) * 8 / samples) if samples else 0
    return bits if 2 <= bits <= 5 else 4


class _SoundLine:
    """Sound laid on one continuous run of samples from wall time ``origin`` on, cut into the
    frames ``encoder`` takes.

    Each frame goes where its capture time says: a hole longer than :data:`AUDIO_HOLE_S` before
    it is filled with silence, a shorter one closes up (the jitter of timestamps), and what
    would overlap sound already laid, or come before the origin or past the end, is dropped.
    So the sound stays in sync with the pictures over gaps, whatever the recording missed.
    A hole may be filled before the sound after it comes (:meth:`fill`): that sound then goes
    exactly where it belongs.
    """

    def __init__(self, origin: float, rate: int, layout: str, encoder: AudioCodecContext) -> None:
        self._origin = origin
        self._rate = rate
        self._layout = layout
        self._channels = av.AudioLayout(layout).nb_channels
        self._hole = round(AUDIO_HOLE_S * rate)
        self._position = 0
        self._end: int | None = None
        self._emitted = 0
        #: Silence was laid last: the hole it is in has no jitter to close up.
        self._in_hole = False
        self._framer = av.AudioResampler(
            encoder.format.name, layout, rate, encoder.frame_size or None
        )

    @property
    def origin(self) -> float:
        return self._origin

    def end_at(self, wallclock: float) -> None:
        """Lay nothing past ``wallclock`` from now on."""
        self._end = self._sample(wallclock)

    def add(self, wallclock: float, frame: av.AudioFrame) -> Iterator[av.AudioFrame]:
        """Lay ``frame`` (float planar, at the line's rate and layout), captured at
        ``wallclock``; gives the frames ready for the encoder."""
        at = self._sample(wallclock)
        if at - self._position > (0 if self._in_hole else self._hole):
            yield from self._silence(at)
        samples = frame.to_ndarray()[:, max(0, self._position - at) :]
        if self._end is not None:
            samples = samples[:, : max(0, self._end - self._position)]
        if samples.shape[1]:
            self._in_hole = False
            yield from self._lay(samples)

    def fill(self, wallclock: float) -> Iterator[av.AudioFrame]:
        """Silence up to ``wallclock``, which no sound still to come starts before, when that
        is a hole."""
        at = self._sample(wallclock)
        if at - self._position > (0 if self._in_hole else self._hole):
            yield from self._silence(at)

    def close(self) -> Iterator[av.AudioFrame]:
        """Silence up to the end, if one is set, and the last, shorter frame."""
        if self._end is not None:
            yield from self._silence(self._end)
        yield from self._framed(None)

    def _sample(self, wallclock: float) -> int:
        return round((wallclock - self._origin) * self._rate)

    def _silence(self, until: int) -> Iterator[av.AudioFrame]:
        if self._end is not None:
            until = min(until, self._end)
        chunk = round(SILENCE_CHUNK_S * self._rate)
        while self._position < until:
            count = min(chunk, until - self._position)
            self._in_hole = True
            yield from self._lay(np.zeros((self._channels, count), np.float32))

    def _lay(self, samples: NDArray[Any]) -> Iterator[av.AudioFrame]:
        frame = av.AudioFrame.from_ndarray(
            np.ascontiguousarray(samples), format="fltp", layout=self._layout
        )
        frame.sample_rate = self._rate
        self._position += samples.shape[1]
        yield from self._framed(frame)

    def _framed(self, frame: av.AudioFrame | None) -> Iterator[av.AudioFrame]:
        for framed in self._framer.resample(frame):
            framed.pts = self._emitted
            framed.time_base = Fraction(1, self._rate)
            self._emitted += framed.samples
            yield framed


class AviSound:
    """The AVI's sound stream: the recorded audio decoded, laid on the pictures' clock (see
    :class:`_SoundLine`) and re-encoded."""

    def __init__(
        self,
        container: OutputContainer,
        name: str,
        first: Sound,
        sounds: Iterator[Sound],
        bit_rate: int,
    ) -> None:
        config = first.recorded.config
        rate = _avi_sample_rate(name, config.sample_rate)
        self._layout = _layout(config.channels)
        self._stream = cast(AudioStream, container.add_stream(name, rate=rate))
        encoder = self._stream.codec_context
        encoder.layout = self._layout
        encoder.format = AVI_AUDIO_FORMAT[name]
        encoder.bit_rate = _avi_bit_rate(name, rate, bit_rate)
        encoder.open()  # now, for its frame size
        self._container = container
        self._rate = rate
        self._delay = AVI_AUDIO_DELAY[name]
        self._next: Sound | None = first
        self._sounds = sounds
        self._decoding = _AudioDecoding(rate, self._layout)
        self._line: _SoundLine | None = None
        self._lead: int | None = None

    @classmethod
    def open(
        cls, container: OutputContainer, encoder: str, sounds: Iterator[Sound], bit_rate: int
    ) -> AviSound | None:
        """The sound stream of ``sounds`` made with ``encoder`` (one of
        :data:`AVI_AUDIO_KBPS`'s), None when there is no sound."""
        first = next(sounds, None)
        return None if first is None else cls(container, encoder, first, sounds, bit_rate)

    def follow(self, wallclock: float) -> None:
        """Lay the sound up to :data:`AVI_AUDIO_LAG_S` before ``wallclock``, the time of the
        picture just encoded; the first picture's starts the file's clock."""
        if self._line is None:
            # The decoded sound lags what the encoder took: start that much into it.
            origin = wallclock + self._delay / self._rate
            self._line = _SoundLine(origin, self._rate, self._layout, self._stream.codec_context)
        until = wallclock - AVI_AUDIO_LAG_S
        self._lay_until(self._line, until)
        self._encode(self._line.fill(until))

    def finish(self, duration: float) -> None:
        """Lay the rest, up to the end of the video (``duration`` seconds from its first
        picture; silence where there is no sound), and flush the encoder."""
        line = self._line
        if line is not None:
            end = line.origin - self._delay / self._rate + duration
            line.end_at(end)
            self._lay_until(line, end)
            self._encode(line.close())
        self._encode(iter([None]))

    def _lay_until(self, line: _SoundLine, wallclock: float) -> None:
        while self._next is not None and self._next.wallclock < wallclock:
            sound, self._next = self._next, next(self._sounds, None)
            for captured, frame in self._decoding.decode(sound):
                self._encode(line.add(captured, frame))

    def _encode(self, frames: Iterator[av.AudioFrame | None]) -> None:
        """Encode and mux the frames (None: flush the encoder)."""
        for frame in frames:
            for packet in self._stream.encode(frame):
                # The encoder's first packets come before its input (its delay), but an AVI's
                # sound plays from its first packet: so the file's clock starts there, and the
                # muxer has no negative time to move every stream for.
                if self._lead is None:
                    self._lead = -(packet.pts or 0)
                packet.pts = packet.dts = (packet.pts or 0) + self._lead
                self._container.mux(packet)


def _avi_sample_rate(encoder: str, rate: int) -> int:
    """``rate`` where the encoder has it, else the next higher one it has (or its highest)."""
    rates = sorted(av.Codec(encoder, "w").audio_rates or ())
    return next((r for r in rates if r >= rate), rates[-1]) if rates else rate


def _avi_bit_rate(encoder: str, rate: int, asked: int) -> int:
    """The highest bit rate the encoder allows at ``rate`` up to ``asked``, or its lowest."""
    family = 32000 if rate >= 32000 else 16000 if rate >= 16000 else 8000
    allowed = AVI_AUDIO_KBPS[encoder, family]
    return 1000 * max((k for k in allowed if 1000 * k <= asked), default=allowed[0])


def audio_feeds(
    container: OutputContainer, name: str, read: Callable[[], Iterator[Sound]], zero: float
) -> list[Iterator[Muxed]]:
    """The Matroska audio tracks of one camera (``name``, its sound read by ``read``): one per
    audio config, in the order they come, on the clock that starts at wall time ``zero``.

    The configs are found by reading the sidecars once more before: a track must exist before
    the file's header is written.
    """
    configs = dict.fromkeys(sound.recorded.config for sound in read())
    feeds = []
    for number, config in enumerate(configs, start=1):
        title = name if number == 1 else f"{name} ({number})"
        sounds = (sound for sound in read() if sound.recorded.config == config)
        if config.codec in MKV_COPIED_AUDIO:
            stream = _copying_audio_stream(container, config)
            feeds.append(_copied(stream, sounds, zero))
        else:
            stream = _flac_stream(container, config)
            feeds.append(_flac(stream, sounds, zero))
        stream.metadata["title"] = title
    return feeds


def _copying_audio_stream(container: OutputContainer, config: AudioConfig) -> AudioStream:
    """A track that takes the config's packets as they are.

    PyAV makes a stream that encodes nothing only from a template stream: here one of the
    codec's encoder in a container never written, whose parameters are then set to the
    config's.
    """
    with av.open(io.BytesIO(), "w", format="matroska") as factory:
        template = factory.add_stream(av.Codec(config.codec, "w").name)
        stream = cast(AudioStream, container.add_stream_from_template(template, opaque=True))
    context = stream.codec_context
    context.sample_rate = config.sample_rate
    context.layout = _layout(config.channels)
    if config.extradata:
        context.extradata = config.extradata
    return stream


def _copied(stream: AudioStream, sounds: Iterator[Sound], zero: float) -> Iterator[Muxed]:
    previous: tuple[int, int] | None = None  # the last packet's start and end (ticks)
    for sound in sounds:
        recorded = sound.recorded
        ticks = round((sound.wallclock - zero) * TIMESCALE)
        if previous is not None:
            if ticks < previous[1] - AUDIO_HOLE_S * TIMESCALE:
                continue
            # To its start, not its end: durations are rounded to ticks, so pushes to ends
            # would add up.
            ticks = max(ticks, previous[0])
        previous = ticks, ticks + recorded.duration
        packet = av.Packet(recorded.data)
        packet.pts = packet.dts = ticks
        packet.duration = recorded.duration
        packet.time_base = _TICK
        packet.is_keyframe = True
        packet.stream = stream
        yield ticks, False, packet


def _flac_stream(container: OutputContainer, config: AudioConfig) -> AudioStream:
    stream = container.add_stream("flac", rate=config.sample_rate)
    encoder = stream.codec_context
    encoder.layout = _layout(config.channels)
    encoder.format = "s16"  # what G.711 and G.726 decode to
    encoder.open()  # now, for its frame size
    return stream


def _flac(stream: AudioStream, sounds: Iterator[Sound], zero: float) -> Iterator[Muxed]:
    encoder = stream.codec_context
    layout = encoder.layout.name
    decoding = _AudioDecoding(encoder.sample_rate, layout)
    line: _SoundLine | None = None
    for sound in sounds:
        if line is None:
            line = _SoundLine(sound.wallclock, encoder.sample_rate, layout, encoder)
        for captured, frame in decoding.decode(sound):
            yield from _flac_packets(stream, line, line.add(captured, frame), zero)
    if line is not None:
        yield from _flac_packets(stream, line, itertools.chain(line.close(), [None]), zero)


def _flac_packets(
    stream: AudioStream,
    line: _SoundLine,
    frames: Iterator[av.AudioFrame | None],
    zero: float,
) -> Iterator[Muxed]:
    """The encoded frames (None: flush) on the export's clock."""
    start = round((line.origin - zero) * TIMESCALE)
    for frame in frames:
        for packet in stream.encode(frame):
            base = packet.time_base or Fraction(1, stream.codec_context.sample_rate)
            ticks = start + round((packet.pts or 0) * base * TIMESCALE)
            packet.pts = packet.dts = ticks
            packet.duration = round((packet.duration or 0) * base * TIMESCALE)
            packet.time_base = _TICK
            yield ticks, False, packet
