"""Camera audio: the packets a source demuxes beside the video, and their recorded form.

Audio is recorded as it arrives, never decoded, in a sidecar of the video segment that was open
(ADR 0016): ``<start_ms>.audio`` beside ``<start_ms>.mp4``. A sidecar is a short header and a
run of records, each a type byte, a payload length and the payload: ``C``, the audio config
(JSON) that the packets after it have; ``P``, one packet (its time on the stream's 90 kHz
timeline, its duration, its bytes). Records are only appended, so a crash leaves at most a
truncated last record, which :func:`read_sidecar` stops before.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

MAGIC = b"CGAU\x01"
SUFFIX = ".audio"
#: A record longer than this is garbage: an audio packet is a few kB at most.
MAX_RECORD = 1 << 20
#: The codecs a source records (FFmpeg's decoder names): what cameras send over RTSP.
CODECS = frozenset(
    {"aac", "pcm_mulaw", "pcm_alaw", "adpcm_g726", "adpcm_g726le", "opus", "mp3", "mp2"}
)

_RECORD = struct.Struct(">cI")
_PACKET = struct.Struct(">qI")
_CONFIG = b"C"
_DATA = b"P"


@dataclass(frozen=True, slots=True)
class AudioConfig:
    """What a decoder needs to start."""

    #: FFmpeg's decoder name, one of :data:`CODECS`.
    codec: str
    sample_rate: int
    channels: int
    #: The codec's configuration (AudioSpecificConfig for AAC), empty when it has none.
    extradata: bytes = b""


@dataclass(frozen=True, slots=True)
class AudioPacket:
    """One audio packet of a stream, on the same 90 kHz timeline as its video."""

    data: bytes
    tick: int
    duration: int
    #: When it was received, seconds since the epoch.
    wallclock: float
    config: AudioConfig

    @property
    def is_keyframe(self) -> bool:
        """Every audio packet decodes alone (what the fan-out's cache asks)."""
        return True


@dataclass(frozen=True, slots=True)
class RecordedAudio:
    """A packet read back from a sidecar."""

    tick: int
    duration: int
    data: bytes
    config: AudioConfig


def sidecar_path(segment_path: Path) -> Path:
    """The audio sidecar of a segment (closed or ``.partial``): the same start, ``.audio``."""
    return segment_path.with_name(segment_path.name.split(".", 1)[0] + SUFFIX)


def records(packets: Sequence[AudioPacket], current: AudioConfig | None) -> bytes:
    """The records of ``packets``, appended to a sidecar whose last config is ``current``
    (None: a new sidecar, which starts with its header)."""
    parts = [MAGIC] if current is None else []
    for packet in packets:
        if packet.config != current:
            current = packet.config
            parts.append(_record(_CONFIG, _config_json(current)))
        parts.append(_record(_DATA, _PACKET.pack(packet.tick, packet.duration) + packet.data))
    return b"".join(parts)


def read_sidecar(path: Path) -> Iterator[RecordedAudio]:
    """The sidecar's packets, in the order they were written; a missing sidecar has none.

    Stops at a truncated or garbage tail (what a crash or a full disk leaves).
    """
    try:
        file = path.open("rb")
    except FileNotFoundError:
        return
    with file:
        if file.read(len(MAGIC)) != MAGIC:
            return
        config: AudioConfig | None = None
        while len(head := file.read(_RECORD.size)) == _RECORD.size:
            kind, size = _RECORD.unpack(head)
            if size > MAX_RECORD:
                return
            payload = file.read(size)
            if len(payload) != size:
                return
            if kind == _CONFIG:
                config = _parse_config(payload)
                if config is None:
                    return
            elif kind == _DATA and config is not None and size >= _PACKET.size:
                tick, duration = _PACKET.unpack_from(payload)
                yield RecordedAudio(tick, duration, payload[_PACKET.size :], config)
            else:
                return


def remove_sidecar(segment_path: Path) -> None:
    """Delete a segment's sidecar, if it has one (a segment is deleted)."""
    sidecar_path(segment_path).unlink(missing_ok=True)


def _record(kind: bytes, payload: bytes) -> bytes:
    return _RECORD.pack(kind, len(payload)) + payload


def _config_json(config: AudioConfig) -> bytes:
    fields = {
        "codec": config.codec,
        "sample_rate": config.sample_rate,
        "channels": config.channels,
        "extradata": config.extradata.hex(),
    }
    return json.dumps(fields, separators=(",", ":")).encode()


def _parse_config(payload: bytes) -> AudioConfig | None:
    try:
        fields = json.loads(payload)
        config = AudioConfig(
            str(fields["codec"]),
            int(fields["sample_rate"]),
            int(fields["channels"]),
            bytes.fromhex(fields["extradata"]),
        )
    except (ValueError, KeyError, TypeError):
        return None
    valid = config.codec in CODECS and config.sample_rate > 0 and config.channels > 0
    return config if valid else None
