"""Exports of recordings (investigations): the media part.

* :func:`write_mkv` remuxes several cameras into one Matroska file, never decoding video: one
  video track per camera and stream config, each packet byte for byte as recorded (Matroska, like
  MP4, stores length-prefixed samples, with the avcC/hvcC record as the track's CodecPrivate; the
  muxer writes an hvcC again with its arrays' completeness bits cleared, nothing else changed).
  With ``audio``, one audio track per camera and audio config: AAC, Opus, MP3 and MP2 packets
  byte for byte; G.711 and G.726, which Matroska has no ID for, decoded and stored as FLAC
  (lossless: the decoded samples exactly).
* :func:`write_avi` re-encodes one camera into an AVI file for players that know nothing newer,
  optionally with the capture date and time burnt into the picture, and with ``audio_bit_rate``
  the recorded sound re-encoded as MP3, in sync with the pictures over gaps.

Both take each cut as :func:`~camgate.media.mp4file.build_mp4_cuts` does: from the keyframe at
or before its start, up to the last packet that decodes before its end; audio is what was
captured in that time, gathered from the sidecars of the cuts' segments (ADR 0016). Both
stream: they hold a GOP's frame table and a packet per track (plus the decoder's and encoder's
own few frames) and two sidecars' audio packets, never a recording. Blocking, for a worker
thread; ``progress`` is told the fraction done and ``cancelled`` asked every
:data:`PROGRESS_EVERY` video packets.
"""

from __future__ import annotations

import heapq
import io
import logging
import math
import os
import statistics
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo
from fractions import Fraction
from typing import Any, BinaryIO, cast

import av
import numpy as np
from av.container import OutputContainer
from av.video.reformatter import VideoReformatter
from av.video.stream import VideoStream
from numpy.typing import NDArray
from PIL import Image, ImageDraw, ImageFont

from camgate.media import fmp4
from camgate.media.export_audio import AviSound, Muxed, audio_feeds, sounds
from camgate.media.hwaccel import SOFTWARE, DecoderContext, open_context
from camgate.media.mp4file import Cut, gops_in_range, open_segment
from camgate.media.packet import TIMESCALE, StreamConfig
from camgate.media.player import RecordingUnreadable, read_gop
from camgate.media.transcode import plane_array

log = logging.getLogger(__name__)

#: Packets between two progress reports and cancellation checks: several a second even while
#: re-encoding 1080p, and no measurable cost when remuxing.
PROGRESS_EVERY = 64
#: Decoder and encoder threads of an AVI export: it is background work, so it leaves the other
#: cores to live viewers and recording.
EXPORT_THREADS = 4
#: AVI encoders offered, in order of preference, where this FFmpeg build has them.
AVI_ENCODERS = ("mpeg4", "msmpeg4v2", "msmpeg4", "mjpeg", "libx264")
DEFAULT_AVI_CODEC = "mpeg4"
#: Fixed quantizer per encoder when no bit rate is asked for (lower is better): MPEG-4 part 2 at
#: 3 looks good at 1080p (about 12 Mbit/s on a detailed 30 fps test picture); MJPEG at 4.
AVI_QSCALE = {"mpeg4": 3, "msmpeg4v2": 3, "msmpeg4": 3, "mjpeg": 4}
#: libx264 without a bit rate: its default constant quality; veryfast, as exports run for hours.
X264_OPTIONS = {"preset": "veryfast", "crf": "23"}
#: The timestamp's text height as a fraction of the picture's (40 px at 1080p), and its least.
STAMP_HEIGHT = 1 / 27
STAMP_MIN_SIZE = 12
#: Video-range luma of the timestamp's box and text; its chroma is neutral (grey, not tinted).
STAMP_DARK = 16
STAMP_LIGHT = 235
#: Frames whose durations tell an AVI's frame rate, and the highest rate it may have.
RATE_FRAMES = 60
MAX_FPS = 240
#: Packets arrive in decode-time order across tracks already, so FFmpeg's interleaving queue
#: only ever waits for a track that is silent (not recording then): bound that wait (µs).
MAX_INTERLEAVE_DELTA_US = 1_000_000
#: AVI audio encoders, in order of preference, where this FFmpeg build has them: MP3 is what
#: AVI players know; MPEG-1 layer II is FFmpeg's own.
AVI_AUDIO_ENCODERS = ("libmp3lame", "mp2")

_TICK = Fraction(1, TIMESCALE)


class ExportCancelled(Exception):
    """``cancelled()`` turned true: the export stopped, and its file is incomplete."""


@dataclass(frozen=True, slots=True)
class ExportTrack:
    """One camera's part of an export: its cuts in time order (they may span config changes)."""

    #: The camera's name: the track's title.
    name: str
    cuts: Sequence[Cut]


@dataclass(frozen=True, slots=True)
class _Sample:
    """A recorded packet on the export's clock: 90 kHz ticks from the export's zero."""

    data: bytes
    pts: int
    dts: int
    duration: int
    keyframe: bool
    config: StreamConfig
    #: When it was captured (its segment's wall clock at its pts), which the clock's pushes
    #: (see :func:`_samples`) leave alone.
    wallclock: float
    #: Presented at or after its cut's start; the others only lead in from the GOP's keyframe.
    shown: bool


@dataclass(frozen=True, slots=True)
class _Run:
    """One camera's cuts of one stream config: one Matroska track."""

    title: str
    config: StreamConfig
    cuts: list[Cut]


class _Ticker:
    """Counts packets, tells progress and checks cancellation every PROGRESS_EVERY of them."""

    def __init__(
        self, total: int, progress: Callable[[float], None], cancelled: Callable[[], bool]
    ) -> None:
        self._total = max(1, total)
        self._done = 0
        self._progress = progress
        self._cancelled = cancelled

    def step(self) -> None:
        self._done += 1
        if self._done % PROGRESS_EVERY == 0:
            if self._cancelled():
                raise ExportCancelled
            # The total counts whole GOPs, so it may exceed what the cuts' ends let through.
            self._progress(min(1.0, self._done / self._total))

    def finish(self) -> None:
        self._progress(1.0)


# --- reading the cuts ------------------------------------------------------------------------


def _gops(cut: Cut) -> list[int]:
    """The cut's GOPs (indices into its segment's keyframes), chosen as build_mp4_cuts does."""
    segment = cut.segment
    index_of = {entry: index for index, entry in enumerate(segment.keyframes)}
    return [index_of[entry] for entry, _ in gops_in_range(segment, cut.start, cut.end)]


def _recorded(cuts: Sequence[Cut]) -> list[Cut]:
    return [cut for cut in cuts if _gops(cut)]


def _packet_count(cuts: Sequence[Cut]) -> int:
    """The packets of the cuts' GOPs, from the index alone: the measure of progress."""
    return sum(cut.segment.keyframes[index].samples for cut in cuts for index in _gops(cut))


def _first_wallclock(cut: Cut) -> float:
    """The wall clock of the cut's first packet (its first GOP's keyframe)."""
    segment = cut.segment
    return segment.wallclock_at(segment.keyframes[_gops(cut)[0]].dts)


def _samples(cuts: Sequence[Cut], zero: float) -> Iterator[_Sample]:
    """The cuts' packets in decode order, on the clock that starts at wall time ``zero``.

    Each segment maps to the wall clock by its own anchor (ADR 0009). A packet that would decode
    before the previous one ends (anchors a millisecond apart, or the clock set back) pushes its
    cut later to follow it: muxers need increasing decode times, and the bytes stay untouched.
    """
    end_of_previous: int | None = None
    for cut in cuts:
        segment = cut.segment
        shift = round((segment.start_wallclock - zero) * TIMESCALE) - segment.start_dts
        with open_segment(segment.path) as file:
            for index in _gops(cut):
                for frame in read_gop(segment, index).frames:
                    if frame.dts >= cut.end:
                        break
                    if end_of_previous is not None:
                        shift = max(shift, end_of_previous - frame.dts)
                    duration = round(frame.duration * TIMESCALE)
                    end_of_previous = frame.dts + shift + duration
                    yield _Sample(
                        _read(file, frame.offset, frame.size),
                        frame.pts + shift,
                        frame.dts + shift,
                        duration,
                        frame.keyframe,
                        segment.config,
                        frame.time,
                        frame.pts >= cut.start,
                    )


def _read(file: BinaryIO, offset: int, size: int) -> bytes:
    data = os.pread(file.fileno(), size, offset)
    if len(data) != size:
        raise RecordingUnreadable(f"{file.name}: shorter than its index")
    return data


def _av_packet(sample: _Sample) -> av.Packet[Any]:
    packet = av.Packet(sample.data)
    packet.pts, packet.dts, packet.duration = sample.pts, sample.dts, sample.duration
    packet.time_base = _TICK
    packet.is_keyframe = sample.keyframe
    return packet


# --- Matroska --------------------------------------------------------------------------------


def write_mkv(
    tracks: Sequence[ExportTrack],
    out: BinaryIO,
    *,
    origin: float,
    audio: bool = False,
    progress: Callable[[float], None],
    cancelled: Callable[[], bool],
) -> None:
    """Remux the tracks' cuts into one Matroska file written to ``out`` (seekable).

    One video track per camera and stream config, titled with the camera's name (" (2)" and on
    for its later configs; a config seen again goes back to its track). Every track is on the
    shared wall clock, so cameras play in sync and gaps stay gaps: time 0 is ``origin`` (wall
    seconds), or the earliest packet when a cut's first GOP starts before it, since Matroska has
    no negative times (every track moves alike).

    With ``audio``, each camera's recorded audio in its cuts' time follows its video tracks:
    one track per audio config, titled likewise, none for a camera that recorded no audio then.
    Copied packets keep their capture times, except that one starting before the previous one
    takes its time (a track's packets go in order), and one overlapping it by more than
    :data:`~camgate.media.export_audio.AUDIO_HOLE_S` (the same moment twice) is left out. A
    FLAC track (see :data:`~camgate.media.export_audio.MKV_COPIED_AUDIO`) is one continuous
    sound from its first packet on, silent where nothing was recorded.
    Raises ValueError when nothing is recorded in the cuts, ExportCancelled when cancelled.
    """
    runs = [run for track in tracks for run in _runs(track)]
    if not runs:
        raise ValueError("nothing recorded in the range")
    zero = min(origin, *(_first_wallclock(run.cuts[0]) for run in runs))
    ticker = _Ticker(sum(_packet_count(run.cuts) for run in runs), progress, cancelled)
    options = {"max_interleave_delta": str(MAX_INTERLEAVE_DELTA_US)}
    with av.open(out, "w", format="matroska", container_options=options) as container:
        streams = [_copying_stream(container, run) for run in runs]
        feeds = [
            _video_packets(stream, _samples(run.cuts, zero))
            for stream, run in zip(streams, runs, strict=True)
        ]
        if audio:
            feeds += [feed for track in tracks for feed in _audio_feeds(container, track, zero)]
        for _dts, video, packet in heapq.merge(*feeds, key=lambda item: item[0]):
            container.mux(packet)
            if video:
                ticker.step()
    ticker.finish()


def _video_packets(stream: VideoStream, samples: Iterator[_Sample]) -> Iterator[Muxed]:
    for sample in samples:
        packet = _av_packet(sample)
        packet.stream = stream
        yield sample.dts, True, packet


def _runs(track: ExportTrack) -> list[_Run]:
    """The track's recorded cuts grouped by stream config, in the order the configs appear."""
    by_config: dict[StreamConfig, list[Cut]] = {}
    for cut in _recorded(track.cuts):
        by_config.setdefault(cut.segment.config, []).append(cut)
    return [
        _Run(track.name if number == 1 else f"{track.name} ({number})", config, cuts)
        for number, (config, cuts) in enumerate(by_config.items(), start=1)
    ]


def _copying_stream(container: OutputContainer, run: _Run) -> VideoStream:
    """A track that takes the config's packets as they are.

    Made from the stream of the config's own init segment: FFmpeg then knows the codec
    parameters and the avcC/hvcC as a demuxer gives them. ``opaque`` keeps the template's codec
    (the decoder): a remux needs no encoder, and a build may lack libx265.
    """
    with av.open(io.BytesIO(fmp4.init_segment(run.config)), format="mp4") as init:
        stream = container.add_stream_from_template(init.streams.video[0], opaque=True)
    stream.metadata["title"] = run.title
    return stream


# --- AVI -------------------------------------------------------------------------------------


def avi_codecs() -> list[str]:
    """The AVI encoders this FFmpeg build has, the default first."""
    return [name for name in AVI_ENCODERS if _has_encoder(name)]


def _has_encoder(name: str) -> bool:
    try:
        av.Codec(name, "w")
    except av.codec.codec.UnknownCodecError:
        return False
    return True


def write_avi(
    track: ExportTrack,
    out: BinaryIO,
    *,
    codec: str = DEFAULT_AVI_CODEC,
    timestamp: bool = False,
    bit_rate: int | None = None,
    audio_bit_rate: int | None = None,
    tz: tzinfo | None = None,
    progress: Callable[[float], None],
    cancelled: Callable[[], bool],
) -> None:
    """Re-encode one camera's cuts with ``codec`` (one of :func:`avi_codecs`) into an AVI file.

    The frames are those :func:`write_mkv` copies less each cut's lead-in (the frames shown
    before its start), at the first config's size (later configs are scaled to it). They keep
    their capture times on a grid at the stream's frame rate (see :class:`_AviEncoder`); the
    file starts with the first frame (an AVI cannot start later). ``timestamp`` burns each
    frame's capture date and time (in ``tz``; None: the server's zone) into its bottom-left
    corner. ``bit_rate`` (bit/s) replaces the codec's fixed quality.

    ``audio_bit_rate`` (bit/s; None: no sound) adds the recorded audio as one stream, MP3
    (``libmp3lame``; MPEG-1 layer II where this FFmpeg lacks it), laid by capture time from the
    first frame to the last one's end: silent where nothing was
    recorded, so it stays in sync with the pictures over gaps. It keeps the first audio
    config's sample rate where the encoder has it (MP3 has every rate cameras send, 8 to 48
    kHz; otherwise the next higher one) and its channels (mono or stereo; more are mixed down
    to stereo); later configs are resampled to them. The bit rate is the highest that MPEG
    allows at that sample rate up to the one asked, or the lowest allowed when it asks less:
    MP3 takes 32–320 kbit/s at 32–48 kHz, 8–160 at 16–24 kHz, 8–64 at 8–12 kHz. A camera that
    recorded no audio in the cuts' time gives a file without a sound stream.
    Raises ValueError when nothing is recorded or the codec is not offered, ExportCancelled.
    """
    if codec not in avi_codecs():
        raise ValueError(f"not an AVI encoder here: {codec}")
    cuts = _recorded(track.cuts)
    if not cuts:
        raise ValueError("nothing recorded in the range")
    zero = _first_wallclock(cuts[0])
    config = cuts[0].segment.config
    ticker = _Ticker(_packet_count(cuts), progress, cancelled)
    stamp = _Stamp(config.height, tz) if timestamp else None
    with av.open(out, "w", format="avi") as container:
        encoder = _AviEncoder(container, codec, config, _frame_rate(cuts[0]), bit_rate)
        sound = None if audio_bit_rate is None else _avi_sound(container, cuts, audio_bit_rate)
        for ticks, wallclock, picture in _pictures(cuts, zero, ticker):
            picture = encoder.scale(picture)
            if stamp is not None:
                picture = stamp.burn(picture, wallclock)
            encoder.encode(picture, ticks)
            if sound is not None:
                sound.follow(zero + ticks / TIMESCALE)
        encoder.finish()
        if sound is not None:
            sound.finish(encoder.duration)
    ticker.finish()


def _frame_rate(cut: Cut) -> Fraction:
    """The stream's frame rate, from the frame durations (decode time steps) of the cut's first
    GOPs, :data:`RATE_FRAMES` frames where it has them.

    The median, so that a dropped frame or a stray one does not count (a camera that splits a
    keyframe in two packets makes a GOP of one frame a tick long); rounded to 1/100 fps, which
    keeps the time base within MPEG-4's 16 bits and costs nothing: frames are placed by capture
    time. At most :data:`MAX_FPS`.
    """
    durations: list[int] = []
    for index in _gops(cut):
        durations += (round(f.duration * TIMESCALE) for f in read_gop(cut.segment, index).frames)
        if len(durations) >= RATE_FRAMES:
            break
    ticks = max(round(TIMESCALE / MAX_FPS), statistics.median_low(durations))
    return Fraction(round(TIMESCALE * 100 / ticks), 100)


def _pictures(
    cuts: Sequence[Cut], zero: float, ticker: _Ticker
) -> Iterator[tuple[int, float, av.VideoFrame]]:
    """The pictures shown in the cuts, decoded, each with its time on the export's clock and
    its capture time.

    A decoder per stream config in turn, opened from the config's avcC/hvcC.
    """
    decoder: DecoderContext | None = None
    config: StreamConfig | None = None
    # Decoders hand out pictures a few packets late: their times say which to keep, and when
    # they were captured.
    shown: dict[int, float] = {}
    try:
        for sample in _samples(cuts, zero):
            if decoder is None or sample.config != config:
                if decoder is not None:
                    yield from _kept(_decode(decoder, None), shown)
                config = sample.config
                decoder = open_context(config.codec, SOFTWARE, config.extradata, EXPORT_THREADS)
            if sample.shown:
                shown[sample.pts] = sample.wallclock
            yield from _kept(_decode(decoder, _av_packet(sample)), shown)
            ticker.step()
        if decoder is not None:
            yield from _kept(_decode(decoder, None), shown)
    finally:
        if decoder is not None:
            # Freeing a frame-threaded decoder with packets in flight hangs (PyAV 18.1).
            decoder.flush_buffers()


def _decode(decoder: DecoderContext, packet: av.Packet[Any] | None) -> list[av.VideoFrame]:
    """The pictures that came out (None drains the decoder).

    A broken packet gives none, and its frame's slot stays empty (the frame before is held):
    one bad frame must not fail an export of hours. Frame threads report it a few packets late.
    """
    try:
        return decoder.decode(packet)
    except av.InvalidDataError as error:
        log.info("export: a packet did not decode, its frame is left out (%s)", error)
        return []


def _kept(
    pictures: Sequence[av.VideoFrame], shown: dict[int, float]
) -> Iterator[tuple[int, float, av.VideoFrame]]:
    for picture in pictures:
        if picture.pts is not None and picture.pts in shown:
            yield picture.pts, shown.pop(picture.pts), picture


class _AviEncoder:
    """Encodes pictures into the AVI file's one video stream.

    AVI has no timestamps, only a frame rate: frame n shows at n / rate. So the time base is
    one frame at the stream's measured rate, and each picture goes to the grid slot of its
    capture time (counted from the first picture); a slot left empty (a dropped frame, a gap in
    the recording, a slower rate) becomes one of AVI's empty chunks, which players show as the
    previous frame held. So the file plays in real time without duplicating or dropping frames
    in the encoder; a picture that rounds onto a taken slot moves to the next free one. A finer
    time base would keep capture times closer but declare, say, a 1000 fps stream, with ~32
    empty chunks (index entries) per frame, which some players handle badly.
    """

    def __init__(
        self,
        container: OutputContainer,
        codec: str,
        config: StreamConfig,
        rate: Fraction,
        bit_rate: int | None,
    ) -> None:
        self._container = container
        self._rate = rate
        self._stream = cast(VideoStream, container.add_stream(codec, rate=rate))
        self._stream.width, self._stream.height = config.width, config.height
        self._stream.pix_fmt = "yuvj420p" if codec == "mjpeg" else "yuv420p"
        context = self._stream.codec_context
        context.max_b_frames = 0  # decode order must be presentation order: AVI has only one
        context.thread_type = "AUTO"
        context.thread_count = EXPORT_THREADS
        if bit_rate is not None:
            context.bit_rate = bit_rate
        if codec == "libx264":
            context.options = X264_OPTIONS if bit_rate is None else {"preset": "veryfast"}
        elif bit_rate is None:
            # Rate control bounded to one quantizer: FFmpeg's ``-q:v``, which sets each
            # frame's quality, cannot be set through PyAV.
            context.qmin = context.qmax = AVI_QSCALE[codec]
        self._reformatter = VideoReformatter()
        self._first: int | None = None
        self._last_slot = -1

    @property
    def duration(self) -> float:
        """Seconds from the first picture to the end of the last one."""
        return float((self._last_slot + 1) / self._rate)

    def scale(self, picture: av.VideoFrame) -> av.VideoFrame:
        """The picture at the stream's size and pixel format (often the same object)."""
        stream = self._stream
        return self._reformatter.reformat(
            picture, stream.width, stream.height, stream.pix_fmt, threads=1
        )

    def encode(self, picture: av.VideoFrame, ticks: int) -> None:
        if self._first is None:
            self._first = ticks
        slot = max(
            self._last_slot + 1, round(Fraction(ticks - self._first, TIMESCALE) * self._rate)
        )
        self._last_slot = slot
        picture.pts = slot
        picture.time_base = 1 / self._rate
        self._container.mux(self._stream.encode(picture))

    def finish(self) -> None:
        self._container.mux(self._stream.encode(None))


class _Stamp:
    """Burns a capture date and time into pictures' bottom-left corner, legibly: light text on
    a dark box, on the luma plane with neutral chroma (no conversion to RGB and back).

    The box is rendered once per second of capture time and pasted into a copy of each picture:
    the decoder's picture may be the reference of the frames after it, so it is never drawn on.
    """

    def __init__(self, height: int, tz: tzinfo | None) -> None:
        size = max(STAMP_MIN_SIZE, round(height * STAMP_HEIGHT))
        self._font = ImageFont.load_default(size=size)
        self._padding = _even(size // 4)
        self._tz = tz
        self._second: int | None = None
        self._box: NDArray[np.uint8] = np.zeros((0, 0), np.uint8)

    def burn(self, picture: av.VideoFrame, wallclock: float) -> av.VideoFrame:
        second = math.floor(wallclock)
        if second != self._second:
            self._second = second
            self._box = self._render(datetime.fromtimestamp(second, self._tz))
        stamped = _copy(picture)
        luma, blue, red = (plane_array(plane) for plane in stamped.planes)
        rows, columns = luma.shape
        height, width = min(self._box.shape[0], rows), min(self._box.shape[1], columns)
        top = max(0, rows - height - self._padding) // 2 * 2
        left = min(self._padding, columns - width)
        luma[top : top + height, left : left + width] = self._box[:height, :width]
        chroma = slice(top // 2, (top + height + 1) // 2), slice(left // 2, (left + width + 1) // 2)
        blue[chroma] = 128
        red[chroma] = 128
        return stamped

    def _render(self, moment: datetime) -> NDArray[np.uint8]:
        text = moment.strftime("%Y-%m-%d %H:%M:%S")
        left, top, right, bottom = (round(value) for value in self._font.getbbox(text))
        pad = self._padding
        size = (_even(right - left + 2 * pad), _even(bottom - top + 2 * pad))
        image = Image.new("L", size, STAMP_DARK)
        ImageDraw.Draw(image).text((pad - left, pad - top), text, fill=STAMP_LIGHT, font=self._font)
        return np.asarray(image)


def _even(value: int) -> int:
    """Rounded up to even: 4:2:0 chroma covers two by two pixels."""
    return value + value % 2


def _copy(picture: av.VideoFrame) -> av.VideoFrame:
    copy = av.VideoFrame(picture.width, picture.height, picture.format.name)
    for source, target in zip(picture.planes, copy.planes, strict=True):
        plane_array(target)[:] = plane_array(source)
    return copy


# --- audio (see export_audio) ----------------------------------------------------------------


def _spans(cuts: Sequence[Cut]) -> list[tuple[float, float]]:
    """The wall-clock spans of the cuts' video: each from its first packet to its end."""
    return [
        (_first_wallclock(cut), cut.segment.wallclock_at(min(cut.end, cut.segment.end_dts)))
        for cut in cuts
    ]


def _avi_sound(container: OutputContainer, cuts: Sequence[Cut], bit_rate: int) -> AviSound | None:
    encoder = next(name for name in AVI_AUDIO_ENCODERS if _has_encoder(name))
    return AviSound.open(container, encoder, sounds(cuts, _spans(cuts)), bit_rate)


def _audio_feeds(
    container: OutputContainer, track: ExportTrack, zero: float
) -> list[Iterator[Muxed]]:
    cuts = _recorded(track.cuts)
    spans = _spans(cuts)
    return audio_feeds(container, track.name, lambda: sounds(cuts, spans), zero)
