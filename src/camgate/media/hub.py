"""The live hub of one camera stream: everything a source delivers passes through here once.

A hub keeps three fan-outs: raw packets (for snapshots, recording and transcoders), fMP4
fragments, muxed once per frame and shared, bytes and all, by every direct viewer, and the
camera's audio packets (for recording).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from camgate.media import fmp4
from camgate.media.audio import AudioPacket
from camgate.media.fanout import FanOut, Notice, Subscription
from camgate.media.packet import MediaPacket, StreamConfig

#: A subscriber may fall this many frames behind (about 4 s at 30 fps) before it skips.
SUBSCRIBER_CAPACITY = 120
#: The GOP cache holds at most this many frames; longer GOPs make late joiners wait.
GOP_LIMIT = 120
#: Audio packets a subscriber may fall behind: about 5 s of AAC or G.711 (~50 packets a second).
AUDIO_CAPACITY = 250


class StreamStatus(StrEnum):
    CONNECTING = "connecting"
    ONLINE = "online"
    OFFLINE = "offline"


@dataclass(frozen=True, slots=True, eq=False)
class InitSegment:
    """An fMP4 initialization segment. A new object each time the source (re)starts."""

    config: StreamConfig
    data: bytes
    mime: str


@dataclass(frozen=True, slots=True, eq=False)
class Fragment:
    """One frame as ``moof``+``mdat``, valid after :attr:`init`."""

    data: bytes
    is_keyframe: bool
    init: InitSegment
    packet: MediaPacket


@dataclass(frozen=True, slots=True)
class StreamInfo:
    """What a client is told about a stream."""

    codec: str
    width: int
    height: int
    fps: float
    bitrate_bps: float
    status: StreamStatus
    detail: str
    #: The codec of the camera's sound (FFmpeg's name: "aac", "pcm_mulaw", …), "" when the
    #: stream has brought none since it (re)connected.
    audio: str = ""


class RateMeter:
    """Frames and bits per second over a sliding window of packet timestamps."""

    def __init__(self, window: int = 60) -> None:
        self._window = window
        self._dts: list[int] = []
        self._sizes: list[int] = []

    def add(self, dts: int, size: int) -> None:
        self._dts.append(dts)
        self._sizes.append(size)
        if len(self._dts) > self._window:
            del self._dts[0], self._sizes[0]

    def reset(self) -> None:
        self._dts.clear()
        self._sizes.clear()

    def rates(self) -> tuple[float, float]:
        if len(self._dts) < 2 or self._dts[-1] <= self._dts[0]:
            return 0.0, 0.0
        seconds = (self._dts[-1] - self._dts[0]) / 90_000
        frames = len(self._dts) - 1
        return frames / seconds, sum(self._sizes[1:]) * 8 / seconds


class LiveHub:
    """Fan-out point of one stream. All methods run on the event loop."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.packets: FanOut[MediaPacket] = FanOut(
            subscriber_capacity=SUBSCRIBER_CAPACITY, gop_limit=GOP_LIMIT
        )
        self.fragments: FanOut[Fragment] = FanOut(
            subscriber_capacity=SUBSCRIBER_CAPACITY, gop_limit=GOP_LIMIT
        )
        #: Every audio packet decodes alone: a late subscriber starts with the latest one.
        self.audio: FanOut[AudioPacket] = FanOut(subscriber_capacity=AUDIO_CAPACITY, gop_limit=1)
        self.status = StreamStatus.CONNECTING
        self.detail = ""
        self._init: InitSegment | None = None
        self._sequence = 0
        self._meter = RateMeter()
        self._audio_codec = ""

    @property
    def init(self) -> InitSegment | None:
        return self._init

    @property
    def config(self) -> StreamConfig | None:
        return self._init.config if self._init else None

    def info(self) -> StreamInfo:
        fps, bitrate = self._meter.rates()
        config = self.config
        return StreamInfo(
            codec=config.codec if config else "",
            width=config.width if config else 0,
            height=config.height if config else 0,
            fps=round(fps, 2),
            bitrate_bps=round(bitrate),
            status=self.status,
            detail=self.detail,
            audio=self._audio_codec,
        )

    def publish(self, packet: MediaPacket) -> None:
        if self._init is None or packet.config != self._init.config:
            self._start_generation(packet.config)
        assert self._init is not None
        if self.status is not StreamStatus.ONLINE:
            self._set_status(StreamStatus.ONLINE, "")
        self._sequence += 1
        self._meter.add(packet.dts, len(packet.data))
        self.packets.publish(packet)
        data = fmp4.fragment(self._sequence, packet)
        self.fragments.publish(Fragment(data, packet.is_keyframe, self._init, packet))

    def publish_audio(self, packet: AudioPacket) -> None:
        self._audio_codec = packet.config.codec
        self.audio.publish(packet)

    def source_started(self) -> None:
        """The source (re)connected: its next packets start a new timeline generation."""
        self._init = None
        self._meter.reset()
        self._audio_codec = ""

    def source_failed(self, detail: str) -> None:
        self.packets.reset()
        self.fragments.reset()
        self.audio.reset()
        self._set_status(StreamStatus.OFFLINE, detail)

    def _start_generation(self, config: StreamConfig) -> None:
        self.packets.reset()
        self.fragments.reset()
        self._init = InitSegment(config, fmp4.init_segment(config), fmp4.mime_type(config))

    def _set_status(self, status: StreamStatus, detail: str) -> None:
        self.status = status
        self.detail = detail
        notice = Notice(status.value, detail)
        self.fragments.notify(notice)
        self.packets.notify(notice)

    def subscribe_fragments(self) -> Subscription[Fragment]:
        return self.fragments.subscribe()

    def subscribe_packets(self) -> Subscription[MediaPacket]:
        return self.packets.subscribe()

    def subscribe_audio(self) -> Subscription[AudioPacket]:
        return self.audio.subscribe()

    def latest_keyframe(self) -> MediaPacket | None:
        gop = self.packets.gop
        return gop[0] if gop else None

    def close(self) -> None:
        self.packets.close()
        self.fragments.close()
        self.audio.close()
