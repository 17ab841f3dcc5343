"""Hardware decoding through PyAV (CUDA/NVDEC, VAAPI, QSV, ...), with software as the fallback.

:class:`HardwareDecoders` opens every decoder of the process. With hardware preferred it tries the
device types this FFmpeg build offers for the codec, best first (:func:`candidates`), and keeps
the first that opens. A hardware decoder is *on probation* until its first picture: if it fails
before that, the decoder switches to software, decodes again the packets the device was given,
and the device type is remembered as failed for that codec, so later decoders do not pay for the
failing attempt again (until the process restarts). :meth:`HardwareDecoders.in_use` tells the
status page what the open decoders actually use.

PyAV 18.1 copies every hardware picture back to system memory (``av_hwframe_transfer_data``):
frames come out in the device's download format, NV12 (P010 for 10-bit video) rather than the
software decoder's yuv420p, and the scaler takes either. The PyAV default,
``allow_software_fallback``, is turned off: it would let FFmpeg decode in software behind an
"accelerated" context when the device cannot take the stream, and the status would lie; the
explicit failure is caught here instead.

Blocking: opening a device can take a while (CUDA initialises a context), so decoders are opened
and used in worker threads; only :meth:`HardwareDecoders.in_use` is meant for the event loop.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections import Counter
from collections.abc import Callable, Collection
from typing import Any, Protocol, cast

import av
from av.codec.hwaccel import HWAccel, hwdevices_available
from av.video.codeccontext import VideoCodecContext

log = logging.getLogger(__name__)

SOFTWARE = "software"
#: Device types tried for hardware decoding, best first. FFmpeg's others (drm, amf, vulkan, ...)
#: are not tried: no hardware path of its H.264/H.265 decoders, or one never tested with camgate.
PREFERENCE = ("cuda", "vaapi", "qsv", "d3d11va", "videotoolbox")
#: Packets a hardware decoder may take without a picture before it counts as failed, and which
#: are kept meanwhile to decode again in software: above H.264/H.265's deepest reordering (16).
PROBATION_PACKETS = 32
#: (device type, codec) pairs remembered as failed: far more than the pairs that exist.
FAILED_MEMORY = 32

_DECODERS = {"h264": "h264", "hevc": "hevc"}


class HardwareUnavailable(Exception):
    """The device type cannot decode this codec (the FFmpeg build has no such path)."""


class DecoderContext(Protocol):
    """The part of a PyAV decoder context used here (a seam for tests)."""

    def decode(self, packet: av.Packet[Any] | None = None) -> list[av.VideoFrame]: ...

    def flush_buffers(self) -> None: ...


#: Opens a decoder context: (codec, kind, extradata, threads) → context. Raises
#: :class:`HardwareUnavailable` or :class:`av.FFmpegError` when a hardware kind cannot be used.
ContextOpener = Callable[[str, str, bytes, int | None], DecoderContext]


def candidates(
    prefer_hardware: bool, offered: Collection[str], failed: Collection[str]
) -> tuple[str, ...]:
    """The kinds to open a decoder with, in order: usable device types best first, then software.

    ``offered`` are the device types this FFmpeg build has for the codec, ``failed`` those that
    already failed for it. Off (``prefer_hardware`` false) is software alone.
    """
    if not prefer_hardware:
        return (SOFTWARE,)
    hardware = (kind for kind in PREFERENCE if kind in offered and kind not in failed)
    return (*hardware, SOFTWARE)


@functools.lru_cache(maxsize=len(_DECODERS))
def offered_devices(codec: str) -> tuple[str, ...]:
    """Device types this FFmpeg build can decode ``codec`` on (built in; a device may be absent)."""
    built = set(hwdevices_available())
    configs = av.Codec(_DECODERS[codec], "r").hardware_configs
    return tuple(
        config.device_type.name
        for config in configs
        if config.is_supported and config.device_type.name in built
    )


def open_context(codec: str, kind: str, extradata: bytes, threads: int | None) -> DecoderContext:
    """A PyAV decoder context of ``kind``; ``threads`` (frame and slice) apply to software only.

    A hardware context decodes on one thread: the device does the work, and frame threads would
    only hold pictures back.
    """
    if kind == SOFTWARE:
        context = cast(VideoCodecContext, av.CodecContext.create(_DECODERS[codec], "r"))
        if threads is not None:
            context.thread_type = "AUTO"
            context.thread_count = threads
    else:
        accel = HWAccel(kind, allow_software_fallback=False)
        context = cast(VideoCodecContext, av.CodecContext.create(_DECODERS[codec], "r", accel))
        if not context.is_hwaccel:  # PyAV quietly decodes in software when the codec has no path
            raise HardwareUnavailable(f"no {kind} decoding path for {codec}")
        context.thread_count = 1
    context.extradata = extradata
    return context


class FailedDevices:
    """Device types that failed, per codec, so that later decoders skip them. Thread-safe."""

    def __init__(self, limit: int = FAILED_MEMORY) -> None:
        self._limit = limit
        self._failed: dict[tuple[str, str], None] = {}  # an ordered set: the oldest goes first
        self._lock = threading.Lock()

    def add(self, codec: str, kind: str) -> None:
        with self._lock:
            self._failed.pop((codec, kind), None)
            self._failed[(codec, kind)] = None
            while len(self._failed) > self._limit:
                del self._failed[next(iter(self._failed))]

    def of(self, codec: str) -> frozenset[str]:
        """The device types that failed for ``codec``."""
        with self._lock:
            return frozenset(kind for failed_codec, kind in self._failed if failed_codec == codec)


class HardwareDecoders:
    """Opens decoders (hardware first when preferred) and counts the open ones per kind.

    One per process: its memo of failed devices and its count serve every transcoder and
    snapshot. ``devices`` (:func:`offered_devices`) and ``opener`` (:func:`open_context`) are
    seams for tests.
    """

    def __init__(
        self,
        *,
        devices: Callable[[str], Collection[str]] = offered_devices,
        opener: ContextOpener = open_context,
    ) -> None:
        self.failed = FailedDevices()
        self._devices = devices
        self._opener = opener
        self._open: Counter[str] = Counter()
        self._last = SOFTWARE
        self._lock = threading.Lock()

    def open(
        self, codec: str, extradata: bytes, *, prefer_hardware: bool, threads: int | None = None
    ) -> Decoder:
        """A decoder for ``codec`` (blocking: a worker thread's call). Close it when done.

        ``threads`` sets frame and slice threads of a software decoder (None: PyAV's default).
        """
        kinds = candidates(prefer_hardware, self._devices(codec), self.failed.of(codec))
        for kind in kinds[:-1]:
            try:
                context = self._opener(codec, kind, extradata, threads)
            except (av.FFmpegError, HardwareUnavailable) as error:
                log.info("%s decoding of %s unavailable (%s): trying the next", kind, codec, error)
                self.failed.add(codec, kind)
                continue
            return Decoder(self, codec, extradata, threads, kind, context)
        software = self._software(codec, extradata, threads)
        return Decoder(self, codec, extradata, threads, SOFTWARE, software)

    def in_use(self) -> str:
        """What the open decoders use, for the status: "software", "cuda", "cuda+software", ...

        Every kind in use, hardware first, joined by "+"; with none open, what the last one used.
        """
        with self._lock:
            kinds = [kind for kind in (*PREFERENCE, SOFTWARE) if self._open[kind]]
            return "+".join(kinds) if kinds else self._last

    def _software(self, codec: str, extradata: bytes, threads: int | None) -> DecoderContext:
        return self._opener(codec, SOFTWARE, extradata, threads)

    def _counted(self, kind: str, *, opened: bool) -> None:
        """Count a decoder of ``kind`` as opened, or as closed."""
        with self._lock:
            if opened:
                self._open[kind] += 1
                self._last = kind
            else:
                self._open[kind] -= 1


class Decoder:
    """One stream's decoder; one thread at a time. :attr:`kind` is what decodes now.

    A hardware decoder stays on probation until its first picture (see the module's notes).
    """

    def __init__(
        self,
        owner: HardwareDecoders,
        codec: str,
        extradata: bytes,
        threads: int | None,
        kind: str,
        context: DecoderContext,
    ) -> None:
        self.kind = kind
        self._owner = owner
        self._codec = codec
        self._extradata = extradata
        self._threads = threads
        self._context = context
        #: The packets of the probation, None once proven (or in software).
        self._held: list[av.Packet[Any]] | None = None if kind == SOFTWARE else []
        self._closed = False
        owner._counted(kind, opened=True)

    def decode(self, packet: av.Packet[Any] | None) -> list[av.VideoFrame]:
        """The frames that came out (None drains the decoder)."""
        if self._held is None:
            return self._context.decode(packet)
        try:
            frames = self._context.decode(packet)
        except av.FFmpegError as error:
            return self._fall_back(packet, error)
        if frames:
            self._held = None
        elif packet is not None:
            if len(self._held) >= PROBATION_PACKETS:
                return self._fall_back(packet, f"no picture from {PROBATION_PACKETS} packets")
            self._held.append(packet)
        return frames

    def flush_buffers(self) -> None:
        """Forget every packet in flight (to start again at a keyframe)."""
        self._context.flush_buffers()
        if self._held is not None:
            self._held.clear()

    def close(self) -> None:
        """Flushed first: freeing a frame-threaded decoder with packets in flight hangs (PyAV
        18.1, see :mod:`camgate.media.transcode`)."""
        if not self._closed:
            self._closed = True
            self._context.flush_buffers()
            self._owner._counted(self.kind, opened=False)

    def _fall_back(self, packet: av.Packet[Any] | None, reason: object) -> list[av.VideoFrame]:
        """Go on in software, from the packets the device was given."""
        device, held = self.kind, self._held or []
        self._held = None
        self._context.flush_buffers()
        self._context = self._owner._software(self._codec, self._extradata, self._threads)
        self._owner._counted(device, opened=False)
        self.kind = SOFTWARE
        self._owner._counted(SOFTWARE, opened=True)
        frames = [frame for earlier in held for frame in self._context.decode(earlier)]
        frames += self._context.decode(packet)
        # Only now: had software failed too, the packets were broken, not the device.
        log.warning(
            "%s decoding of %s failed (%s): decoding in software", device, self._codec, reason
        )
        self._owner.failed.add(self._codec, device)
        return frames
