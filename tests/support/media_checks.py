"""Helpers that decode what camgate serves, with PyAV, to prove it is real, playable video."""

from __future__ import annotations

import io
import time
from dataclasses import dataclass

import av
import httpx


@dataclass(frozen=True)
class Decoded:
    frames: int
    width: int
    height: int
    first_is_keyframe: bool
    pts: list[int]


def decode_mp4(data: bytes) -> Decoded:
    with av.open(io.BytesIO(data), format="mp4") as container:
        stream = container.streams.video[0]
        pts: list[int] = []
        first_key = None
        width = height = 0
        for frame in container.decode(stream):
            if first_key is None:
                first_key = frame.key_frame
            width, height = frame.width, frame.height
            pts.append(int(frame.pts))
    return Decoded(len(pts), width, height, bool(first_key), pts)


def read_progressive(url: str, seconds: float, **kwargs: object) -> bytes:
    """Read a never-ending HTTP body for ``seconds``."""
    chunks = []
    deadline = time.monotonic() + seconds
    with httpx.stream("GET", url, timeout=10, **kwargs) as response:  # type: ignore[arg-type]
        response.raise_for_status()
        for chunk in response.iter_bytes():
            chunks.append(chunk)
            if time.monotonic() > deadline:
                break
    return b"".join(chunks)


def wait_for_status(
    base_url: str, token: str, camera_id: str, status: str, timeout: float = 20.0
) -> dict[str, object]:
    deadline = time.monotonic() + timeout
    camera: dict[str, object] = {}
    while time.monotonic() < deadline:
        camera = httpx.get(
            f"{base_url}/api/v1/cameras/{camera_id}", headers={"Authorization": f"Bearer {token}"}
        ).json()
        if camera.get("status") == status:
            return camera
        time.sleep(0.1)
    raise AssertionError(f"camera not {status} in {timeout} s: {camera}")


def wait_for_online(
    base_url: str, token: str, camera_id: str, timeout: float = 20.0
) -> dict[str, object]:
    return wait_for_status(base_url, token, camera_id, "online", timeout)
