"""Built-in synthetic cameras: a moving test pattern with the camera's name burnt in, and a
microphone that beeps as each loop starts (the sweeping bar at the left edge), so that a
recording's sound and picture can be seen and heard to line up.

Encoding live would cost a core per camera, so each resolution is encoded once into a short clip
(cached in the data folder) that a looping :class:`~camgate.media.source.DemuxSource` plays with
continuous timestamps and the capture time stamped into every frame.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from av.video.frame import PictureType
from numpy.typing import NDArray
from PIL import Image, ImageDraw, ImageFont

#: Bump when the clip's content or encoding changes, so cached clips are made again.
CLIP_VERSION = 2
FPS = 30
GOP = 30
CLIP_SECONDS = 2
#: The microphone: AAC, mono, 16 kHz (about 16 packets a second, 4 kB/s), a 1 kHz beep of
#: 0.1 s at the start of each loop.
AUDIO_RATE = 16_000
AUDIO_BIT_RATE = 32_000
BEEP_HZ = 1000
BEEP_S = 0.1


@dataclass(frozen=True, slots=True)
class SyntheticProfile:
    width: int
    height: int
    bitrate: int


#: The issue's demo streams: 1080p, 720p and 360p at about 4, 2 and 0.5 Mbit/s.
PROFILES = (
    SyntheticProfile(1920, 1080, 4_000_000),
    SyntheticProfile(1280, 720, 2_000_000),
    SyntheticProfile(640, 360, 500_000),
)


def _label(text: str, width: int, height: int) -> NDArray[np.uint8]:
    """The camera name as a white-on-black mask, a tenth of the picture high."""
    size = max(12, height // 10)
    font = ImageFont.load_default(size=size)
    image = Image.new("L", (width, size + size // 2), 0)
    ImageDraw.Draw(image).text((size // 2, size // 6), text, fill=255, font=font)
    return np.asarray(image, dtype=np.uint8)


def _frames(name: str, profile: SyntheticProfile) -> Iterator[NDArray[np.uint8]]:
    """RGB frames: colour bars, a sweeping bar, a bouncing square, noise and the name."""
    w, h = profile.width, profile.height
    bars = np.array(
        [
            [192, 192, 192],
            [192, 192, 0],
            [0, 192, 192],
            [0, 192, 0],
            [192, 0, 192],
            [192, 0, 0],
            [0, 0, 192],
            [16, 16, 16],
        ],
        dtype=np.uint8,
    )
    background = np.repeat(bars, -(-w // len(bars)), axis=0)[:w][np.newaxis, :, :]
    background = np.repeat(background, h, axis=0)
    label = _label(name, w, h)
    rng = np.random.default_rng(int.from_bytes(hashlib.sha256(name.encode()).digest()[:4]))
    count = FPS * CLIP_SECONDS
    square = max(8, h // 6)
    for index in range(count):
        frame = background.copy()
        phase = index / count
        x = int(phase * (w - w // 20))
        frame[:, x : x + w // 20] = 255
        sy = int((0.5 + 0.4 * np.sin(2 * np.pi * phase)) * (h - square))
        sx = int((0.5 + 0.4 * np.cos(2 * np.pi * phase)) * (w - square))
        frame[sy : sy + square, sx : sx + square] = (255, 64, 32)
        noise = rng.integers(-12, 13, size=(h, w, 1), dtype=np.int16)
        frame = np.clip(frame.astype(np.int16) + noise, 0, 255).astype(np.uint8)
        top = h - label.shape[0] - h // 20
        region = frame[top : top + label.shape[0], : label.shape[1]]
        region[label > 0] = 255
        region[label == 0] //= 3
        yield frame


def clip_path(cache_dir: Path, name: str, profile: SyntheticProfile) -> Path:
    key = hashlib.sha256(f"{CLIP_VERSION}:{name}".encode()).hexdigest()[:12]
    return cache_dir / "synthetic" / f"{key}-{profile.height}p.mp4"


#: One clip is encoded at a time: x264 already uses every core, and memory stays small.
_ENCODING = threading.Lock()


class ClipCancelled(Exception):
    """The server is stopping: the clip was not made (nothing partial is left behind)."""


_NEVER = threading.Event()


def ensure_clip(
    cache_dir: Path, name: str, profile: SyntheticProfile, cancel: threading.Event = _NEVER
) -> Path:
    """The cached clip for this camera and resolution, encoded first if missing (blocking).

    ``cancel`` stops a wait or an encoding within a frame, so that shutting down never waits for
    clips that nobody will play.
    """
    path = clip_path(cache_dir, name, profile)
    while not _ENCODING.acquire(timeout=0.1):
        if cancel.is_set():
            raise ClipCancelled
    try:
        if path.exists():
            return path
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(f".{os.getpid()}.tmp")
        try:
            _encode(partial, name, profile, cancel)
        except ClipCancelled:
            partial.unlink(missing_ok=True)
            raise
        os.replace(partial, path)
        return path
    finally:
        _ENCODING.release()


def _encode(path: Path, name: str, profile: SyntheticProfile, cancel: threading.Event) -> None:
    kbps = profile.bitrate // 1000
    with av.open(str(path), "w", format="mp4") as output:
        stream = output.add_stream("libx264", rate=FPS)
        stream.width, stream.height = profile.width, profile.height
        stream.pix_fmt = "yuv420p"
        stream.bit_rate = profile.bitrate
        stream.codec_context.gop_size = GOP
        # Like an IP camera: fixed GOP, no B-frames, a capped bit rate.
        stream.codec_context.options = {
            "preset": "veryfast",
            "profile": "main",
            "x264-params": (
                f"keyint={GOP}:min-keyint={GOP}:scenecut=0:bframes=0:"
                f"vbv-maxrate={kbps}:vbv-bufsize={kbps}"
            ),
        }
        microphone = output.add_stream("aac", rate=AUDIO_RATE, layout="mono")
        microphone.bit_rate = AUDIO_BIT_RATE
        for index, rgb in enumerate(_frames(name, profile)):
            if cancel.is_set():
                raise ClipCancelled
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format="yuv420p")
            frame.pts = index
            frame.time_base = Fraction(1, FPS)
            frame.pict_type = PictureType.NONE
            output.mux(stream.encode(frame))
        output.mux(stream.encode(None))
        output.mux(microphone.encode(_beep()))
        output.mux(microphone.encode(None))


def _beep() -> av.AudioFrame:
    """The clip's sound: the beep, then silence to the clip's end."""
    t = np.arange(CLIP_SECONDS * AUDIO_RATE) / AUDIO_RATE
    wave = 0.5 * np.sin(2 * np.pi * BEEP_HZ * t) * (t < BEEP_S)
    frame = av.AudioFrame.from_ndarray(
        wave.astype(np.float32).reshape(1, -1), format="fltp", layout="mono"
    )
    frame.sample_rate = AUDIO_RATE
    frame.pts = 0
    frame.time_base = Fraction(1, AUDIO_RATE)
    return frame
