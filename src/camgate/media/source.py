"""Sources: a demux thread per camera stream (RTSP over TCP, or a file played in real time).

Nothing here decodes. Each video packet is normalized (4-byte length-prefixed NAL units, parameter
sets moved into the stream config), placed on the stream's continuous timeline and handed to the
event loop with ``call_soon_threadsafe``; the hub's methods never run on this thread. The camera's
audio, when it sends some in a codec of :data:`~camgate.media.audio.CODECS`, comes along as it is,
moved onto the same timeline as the video of its session (ADR 0016).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from fractions import Fraction
from pathlib import Path
from typing import Any, Protocol

import av

from camgate.core.redact import redact_url
from camgate.media import h26x
from camgate.media.audio import CODECS as AUDIO_CODECS
from camgate.media.audio import AudioConfig, AudioPacket
from camgate.media.packet import TIMESCALE, Codec, MediaPacket, StreamConfig
from camgate.media.timeline import DEFAULT_DURATION, Timeline, backoff_delay, to_timescale

log = logging.getLogger(__name__)

_CODECS: dict[str, Codec] = {"h264": "h264", "hevc": "hevc"}
#: A source that has run this long without failing starts its backoff again from the bottom.
HEALTHY_AFTER_S = 30.0


class SourceKind(StrEnum):
    RTSP = "rtsp"
    FILE = "file"
    SYNTHETIC = "synthetic"


@dataclass(frozen=True, slots=True)
class SourceSpec:
    #: What the demuxer opens; may hold credentials, so it is never logged or shown.
    url: str
    kind: SourceKind
    #: Play a file in real time and start over at its end (files and synthetic cameras).
    loop: bool = False
    #: Put the capture time into each frame as an SEI message (synthetic cameras).
    stamp_wallclock: bool = False
    open_timeout_s: float = 10.0
    read_timeout_s: float = 5.0

    @property
    def display_url(self) -> str:
        return redact_url(self.url)


class SourceError(Exception):
    """A source cannot deliver video; the message is safe to show."""


class SourceListener(Protocol):
    """The loop-side receiver of a source (a :class:`~camgate.media.hub.LiveHub`)."""

    def source_started(self) -> None: ...

    def publish(self, packet: MediaPacket) -> None: ...

    def publish_audio(self, packet: AudioPacket) -> None: ...

    def source_failed(self, detail: str) -> None: ...


def _open_options(spec: SourceSpec) -> dict[str, str]:
    if spec.kind is SourceKind.RTSP:
        return {
            "rtsp_transport": "tcp",
            "timeout": str(int(spec.read_timeout_s * 1_000_000)),
            "fflags": "nobuffer",
        }
    return {}


def describe_error(error: BaseException, spec: SourceSpec) -> str:
    """A short, credential-free reason for a failure."""
    if isinstance(error, SourceError):
        return str(error)
    text = getattr(error, "strerror", None) or str(error) or type(error).__name__
    return str(text).replace(spec.url, spec.display_url)


#: A normalized picture: sample, dts, pts, duration, keyframe, config (see PacketNormalizer).
Normalized = tuple[bytes, int, int, int, bool, StreamConfig]


class PacketNormalizer:
    """Turns demuxed packets of one source session into :class:`MediaPacket`\\ s."""

    def __init__(self, codec: Codec, width: int, height: int, extradata: bytes | None) -> None:
        self._codec = codec
        self._width = width
        self._height = height
        self._normalizer = h26x.AccessUnitNormalizer()
        self._params = h26x.parameter_sets_from_extradata(codec, extradata) if extradata else None
        self._config: StreamConfig | None = None
        self._pending_untimed: bytes | None = None

    def _update_config(self, params: h26x.ParameterSets) -> None:
        if self._config is not None and params == self._params:
            return
        self._params = params
        width, height = self._width, self._height
        if not width or not height:
            width, height = h26x.sps_dimensions(self._codec, params.sps)
        self._config = StreamConfig(
            self._codec, width, height, h26x.decoder_config(self._codec, params)
        )

    def normalize(
        self,
        payload: bytes,
        dts: int | None,
        pts: int | None,
        duration: int,
        keyframe_flag: bool,
        wallclock: float,
    ) -> Normalized | None:
        """The normalized sample, or None when the packet carries no picture to send yet."""
        sample, in_band = self._normalizer.feed(self._codec, payload)
        if in_band is not None:
            self._update_config(in_band)
        elif self._config is None and self._params is not None:
            self._update_config(self._params)
        if not sample:
            return None
        if dts is None:
            # RTSP's first packet may come without timestamps; keep it for the next one's.
            self._pending_untimed = sample
            return None
        if self._pending_untimed is not None:
            sample = self._pending_untimed + sample if not keyframe_flag else sample
            self._pending_untimed = None
        keyframe = keyframe_flag or h26x.is_keyframe_sample(self._codec, sample)
        if self._config is None:
            return None
        return sample, dts, pts if pts is not None else dts, duration, keyframe, self._config


class PictureJoiner:
    """Joins the packets of one picture that a camera's stream delivers apart.

    FFmpeg's RTSP demuxer gives whole pictures, except where a camera repeats its parameter
    sets before each slice of a keyframe (GStreamer's payloader does): then a picture comes as
    several packets with one time, the later ones starting with a slice that is not the
    picture's first. So a keyframe goes out when the next packet shows it complete: one frame
    interval later, once per GOP, and the first keyframe (where every viewer and recording
    starts) is whole. Other pictures wait only once one was seen split; the rest of a picture
    already sent alone is dropped: alone it would be a broken picture of its own.
    """

    def __init__(self, codec: Codec) -> None:
        self._codec = codec
        self._held: tuple[Normalized, float] | None = None
        self._last: tuple[int, bool] | None = None  # the last picture's dts and keyframe flag
        #: The kinds of picture (keyframe or not) that wait for their rest.
        self._split: set[bool] = {True}

    def feed(self, picture: Normalized, received: float) -> list[tuple[Normalized, float]]:
        """The pictures ready to go out, with when they were received."""
        sample, dts = picture[0], picture[1]
        last = self._last
        if last is not None and dts == last[0] and h26x.continues_picture(self._codec, sample):
            return self._join(sample, last[1])
        ready = self.flush()
        self._last = dts, picture[4]
        if picture[4] in self._split:
            self._held = picture, received
        else:
            ready.append((picture, received))
        return ready

    def flush(self) -> list[tuple[Normalized, float]]:
        held, self._held = self._held, None
        return [held] if held is not None else []

    def _join(self, rest: bytes, keyframe: bool) -> list[tuple[Normalized, float]]:
        if self._held is not None:
            (sample, dts, pts, duration, key, config), received = self._held
            self._held = (sample + rest, dts, pts, duration, key, config), received
        elif keyframe not in self._split:
            self._split.add(keyframe)
            log.info("the camera sends pictures in several packets: they are joined")
        return []


def read_packets(path: Path, wallclock_origin: float = 0.0) -> list[MediaPacket]:
    """A video file's packets as a source delivers them, all at once (blocking).

    Demuxed and normalized with :class:`PacketNormalizer`, timestamps in 90 kHz units as the
    file has them (not placed on a stream timeline, not paced); each packet's wall clock is
    ``wallclock_origin`` plus its dts in seconds. For tests and benchmarks: short clips only.
    """
    with av.open(str(path)) as container:
        if not container.streams.video:
            raise SourceError("no video stream")
        stream = container.streams.video[0]
        context = stream.codec_context
        codec = _CODECS.get(context.name)
        if codec is None:
            raise SourceError(f"unsupported codec {context.name}")
        if stream.time_base is None:
            raise SourceError("no time base")
        normalizer = PacketNormalizer(codec, context.width, context.height, context.extradata)
        time_base = Fraction(stream.time_base)
        packets: list[MediaPacket] = []
        for raw in container.demux(stream):
            if raw.size == 0 or raw.dts is None:
                continue
            dts = to_timescale(raw.dts, time_base)
            pts = to_timescale(raw.pts, time_base) if raw.pts is not None else dts
            duration = to_timescale(raw.duration, time_base) if raw.duration else DEFAULT_DURATION
            wallclock = wallclock_origin + dts / TIMESCALE
            normalized = normalizer.normalize(
                bytes(raw), dts, pts, duration, bool(raw.is_keyframe), wallclock
            )
            if normalized is not None:
                sample, n_dts, n_pts, n_duration, keyframe, config = normalized
                packets.append(
                    MediaPacket(sample, n_pts, n_dts, n_duration, keyframe, wallclock, config)
                )
    return packets


class DemuxSource:
    """Reads one camera stream in a thread and feeds a listener on the event loop."""

    def __init__(
        self,
        spec: SourceSpec,
        listener: SourceListener,
        loop: asyncio.AbstractEventLoop,
        *,
        backoff: Callable[[int], float] = backoff_delay,
        name: str = "source",
    ) -> None:
        self.spec = spec
        self._listener = listener
        self._loop = loop
        self._backoff = backoff
        self._stop = threading.Event()
        self._timeline = Timeline()
        self._pacer = _Pacer(self._stop) if spec.loop else None
        #: Whether the listener was told that this (re)connection started.
        self._announced = False
        self._thread = threading.Thread(target=self._run, name=f"demux-{name}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    async def aclose(self) -> None:
        """Stop and wait for the thread (bounded by the read timeout)."""
        self.stop()
        if self._thread.is_alive():
            await asyncio.to_thread(self._thread.join, self.spec.read_timeout_s + 2)

    def _post(self, callback: Callable[..., None], *args: Any) -> None:
        try:
            self._loop.call_soon_threadsafe(callback, *args)
        except RuntimeError:  # the loop is closed: the server is shutting down
            self._stop.set()

    def _run(self) -> None:
        failures = 0
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                self._session()
                if self.spec.loop:
                    continue  # the end of a looped file: start over at once
                if self.spec.kind is not SourceKind.RTSP:
                    self._post(self._listener.source_failed, "end of file")
                    return
                raise SourceError("the camera ended the stream")
            except Exception as error:  # every failure of a camera is reported, then retried
                detail = describe_error(error, self.spec)
                # Said once per outage; the retries of a camera that stays away are quiet.
                level = logging.WARNING if self._announced or failures == 0 else logging.DEBUG
                log.log(level, "source %s failed: %s", self.spec.display_url, detail)
                self._announced = False
                self._post(self._listener.source_failed, detail)
            if time.monotonic() - started > HEALTHY_AFTER_S:
                failures = 0
            failures += 1
            self._stop.wait(self._backoff(failures))

    def _session(self) -> None:
        options = _open_options(self.spec)
        timeout = (self.spec.open_timeout_s, self.spec.read_timeout_s)
        with av.open(self.spec.url, options=options, timeout=timeout) as container:
            if not container.streams.video:
                raise SourceError("no video stream")
            stream = container.streams.video[0]
            codec = _CODECS.get(stream.codec_context.name)
            if codec is None:
                raise SourceError(f"unsupported codec {stream.codec_context.name}")
            normalizer = PacketNormalizer(
                codec,
                stream.codec_context.width,
                stream.codec_context.height,
                stream.codec_context.extradata,
            )
            self._timeline.new_session()
            if not self._announced:
                self._announced = True
                self._post(self._listener.source_started)
            audio = _AudioTrack.of(container)
            self._pump(container, stream, normalizer, codec, audio)

    def _pump(
        self,
        container: Any,
        stream: Any,
        normalizer: PacketNormalizer,
        codec: Codec,
        audio: _AudioTrack | None,
    ) -> None:
        time_base = Fraction(stream.time_base)
        rate = stream.average_rate or stream.guessed_rate
        frame_duration = round(90_000 / rate) if rate else DEFAULT_DURATION
        streams = (stream,) if audio is None else (stream, audio.stream)
        joiner = PictureJoiner(codec)
        for raw in container.demux(*streams):
            if self._stop.is_set():
                return
            if raw.size == 0:
                continue
            if audio is not None and raw.stream is audio.stream:
                if (sound := audio.packet(raw, self._timeline)) is not None:
                    self._post(self._listener.publish_audio, sound)
                continue
            dts = to_timescale(raw.dts, time_base) if raw.dts is not None else None
            pts = to_timescale(raw.pts, time_base) if raw.pts is not None else None
            duration = to_timescale(raw.duration, time_base) if raw.duration else frame_duration
            received = time.time()
            normalized = normalizer.normalize(
                bytes(raw), dts, pts, duration, bool(raw.is_keyframe), received
            )
            if normalized is None:
                continue
            for picture, picture_received in joiner.feed(normalized, received):
                if not self._send(picture, picture_received, codec):
                    return
        for picture, picture_received in joiner.flush():
            self._send(picture, picture_received, codec)

    def _send(self, picture: Normalized, received: float, codec: Codec) -> bool:
        """Place a picture on the timeline and hand it to the loop (paced for files); False
        when the source is stopping."""
        sample, n_dts, n_pts, n_duration, keyframe, config = picture
        out_dts, out_pts = self._timeline.place(n_dts, n_pts, n_duration, received)
        if self._pacer is not None and not self._pacer.wait_until(out_dts):
            return False
        wallclock = time.time()
        if self.spec.stamp_wallclock:
            sei = h26x.wallclock_sei(codec, wallclock)
            sample = len(sei).to_bytes(4, "big") + sei + sample
        packet = MediaPacket(sample, out_pts, out_dts, n_duration, keyframe, wallclock, config)
        self._post(self._listener.publish, packet)
        return True


@dataclass(frozen=True, slots=True)
class _AudioTrack:
    """The audio stream of a source session that camgate records."""

    stream: Any
    config: AudioConfig
    time_base: Fraction

    @classmethod
    def of(cls, container: Any) -> _AudioTrack | None:
        """The container's first audio stream, when its codec is one camgate records."""
        if not container.streams.audio:
            return None
        stream = container.streams.audio[0]
        context = stream.codec_context
        if context.name not in AUDIO_CODECS or not context.sample_rate or stream.time_base is None:
            log.info("the camera's audio is not recorded: codec %s", context.name)
            return None
        channels = context.channels or 1
        config = AudioConfig(context.name, context.sample_rate, channels, context.extradata or b"")
        return cls(stream, config, Fraction(stream.time_base))

    def packet(self, raw: Any, timeline: Timeline) -> AudioPacket | None:
        """The packet on the stream timeline; None before the session's first video."""
        if raw.pts is None:
            return None
        tick = timeline.follow(to_timescale(raw.pts, self.time_base))
        if tick is None:
            return None
        duration = to_timescale(raw.duration, self.time_base) if raw.duration else 0
        return AudioPacket(bytes(raw), tick, duration, time.time(), self.config)


class _Pacer:
    """Releases a file's packets at the pace they were recorded."""

    def __init__(self, stop: threading.Event) -> None:
        self._stop = stop
        self._origin: tuple[float, int] | None = None

    def wait_until(self, dts: int) -> bool:
        now = time.monotonic()
        if self._origin is None:
            self._origin = (now, dts)
            return True
        start, first_dts = self._origin
        due = start + (dts - first_dts) / 90_000
        if due - now > 0:
            return not self._stop.wait(due - now)
        return not self._stop.is_set()
