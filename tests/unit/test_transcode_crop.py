"""Digital zoom in the JPEG transcoder: the crop's pixels, the cropped picture, and privacy
masks that stay exactly where they cover the uncropped picture."""

from __future__ import annotations

from types import SimpleNamespace
from typing import cast

import av
import numpy as np
import pytest
import simplejpeg
from numpy.typing import NDArray

from camgate.live.jpeg import JpegRequest, plan
from camgate.live.runtime import LiveRuntime
from camgate.media.limits import Level
from camgate.media.transcode import JpegEncoder, Rect, crop_box, crop_frame
from camgate.settings import Performance


def _quadrants(width: int = 64, height: int = 32, fmt: str = "yuv420p") -> av.VideoFrame:
    """White top-left, black top-right, grey bottom-left, dark grey bottom-right."""
    picture = np.zeros((height, width, 3), np.uint8)
    half_h, half_w = height // 2, width // 2
    picture[:half_h, :half_w] = 255
    picture[half_h:, :half_w] = 128
    picture[half_h:, half_w:] = 64
    return av.VideoFrame.from_ndarray(picture, format="rgb24").reformat(format=fmt)


def _luma(jpeg: bytes) -> NDArray[np.uint8]:
    grey: NDArray[np.uint8] = simplejpeg.decode_jpeg(jpeg, colorspace="GRAY")[:, :, 0]
    return grey


@pytest.mark.parametrize(
    ("crop", "size", "box"),
    [
        (Rect(0.0, 0.0, 1.0, 1.0), (64, 32), (0, 0, 64, 32)),
        (Rect(0.25, 0.5, 0.5, 0.5), (64, 32), (16, 16, 48, 32)),
        # Odd edges round outwards to even pixels (4:2:0 chroma).
        (Rect(0.1, 0.1, 0.3, 0.3), (100, 50), (10, 4, 40, 20)),
        # A sliver still makes a picture: 2×2 at the least, inside the frame.
        (Rect(0.99, 0.99, 0.01, 0.01), (100, 50), (98, 48, 100, 50)),
        # An odd-sized picture: the last column is left out.
        (Rect(0.5, 0.0, 0.5, 1.0), (65, 33), (32, 0, 64, 32)),
    ],
)
def test_crop_boxes_are_even_and_inside(
    crop: Rect, size: tuple[int, int], box: tuple[int, int, int, int]
) -> None:
    assert crop_box(crop, *size) == box


@pytest.mark.parametrize("fmt", ["yuv420p", "yuvj420p", "nv12"])
def test_a_cropped_frame_is_the_part_inside_the_box(fmt: str) -> None:
    frame = _quadrants(fmt=fmt)
    cropped = crop_frame(frame, (32, 16, 64, 32))
    assert (cropped.width, cropped.height) == (32, 16)
    assert cropped.format.name in ("yuv420p", "yuvj420p")
    luma = cropped.to_ndarray(format="gray")
    assert abs(int(luma.mean()) - 64) <= 6  # the dark grey quarter alone


def test_the_encoder_zooms_into_the_crop_at_the_output_size() -> None:
    frame = _quadrants()
    white = JpegEncoder(32, 16, 90, (), Rect(0.0, 0.0, 0.5, 0.5)).encode(frame)
    black = JpegEncoder(32, 16, 90, (), Rect(0.5, 0.0, 0.5, 0.5)).encode(frame)
    assert _luma(white).shape == (16, 32) and _luma(white).min() >= 240
    assert _luma(black).max() <= 16


def test_masks_cover_the_same_pixels_of_a_cropped_picture() -> None:
    frame = _quadrants()
    # The mask covers the left quarter of the picture; the crop is the top-left quarter, so the
    # mask fills the crop's left half, and only that.
    mask = Rect(0.0, 0.0, 0.25, 1.0)
    luma = _luma(JpegEncoder(64, 32, 95, [mask], Rect(0.0, 0.0, 0.5, 0.5)).encode(frame))
    assert luma[:, :30].max() <= 16
    assert luma[:, 34:].min() >= 240
    # A mask outside the crop leaves it alone.
    outside = Rect(0.75, 0.75, 0.25, 0.25)
    clear = _luma(JpegEncoder(64, 32, 95, [outside], Rect(0.0, 0.0, 0.5, 0.5)).encode(frame))
    assert clear.min() >= 240


def test_a_mask_never_shrinks_on_a_crop_of_odd_pixels() -> None:
    frame = _quadrants(width=100, height=50)
    mask = Rect(0.2, 0.0, 0.1, 1.0)  # source pixels 20 to 30
    crop = Rect(0.15, 0.0, 0.3, 1.0)  # source pixels 14 to 46 once even: 32 wide
    luma = _luma(JpegEncoder(64, 50, 95, [mask], crop).encode(frame))
    # Pixels 20..30 of the source are 6..16 of the crop, 12..32 of the output (×2).
    assert luma[:, 13:31].max() <= 20


class _Runtime:
    """One running stream of 1920×1080 (what ``plan`` reads of the live runtime)."""

    def camera_hubs(self, camera_id: str) -> list[tuple[SimpleNamespace, SimpleNamespace]]:
        config = SimpleNamespace(width=1920, height=1080)
        return [(SimpleNamespace(id="main"), SimpleNamespace(config=config))]


@pytest.mark.parametrize(
    ("request_", "size"),
    [
        (JpegRequest(width=240), (240, 270)),
        (JpegRequest(width=320, height=180), (320, 180)),
        (JpegRequest(), (480, 540)),
        # A box the picture fits in: the crop's 8:9 within 320×180, and within 400×900.
        (JpegRequest(width=320, height=180, fit=True), (160, 180)),
        (JpegRequest(width=400, height=900, fit=True), (400, 450)),
    ],
)
def test_a_crop_asks_for_its_own_aspect_ratio(request_: JpegRequest, size: tuple[int, int]) -> None:
    crop = Rect(0.0, 0.0, 0.25, 0.5)  # 480×540 pixels of the stream
    level = Level(1, 30.0, 1920, 1080)
    chosen = plan(
        cast(LiveRuntime, _Runtime()), "cam", request_, Performance(), level, None, (), crop
    )
    assert (chosen.requested.width, chosen.requested.height) == size
    assert chosen.crop == crop


@pytest.mark.parametrize(
    ("request_", "size"),
    [
        (JpegRequest(width=400, height=300, fit=True), (400, 225)),
        (JpegRequest(width=400, height=100, fit=True), (178, 100)),
        (JpegRequest(width=400, height=300), (400, 300)),
    ],
)
def test_a_box_keeps_the_aspect_ratio_of_the_picture(
    request_: JpegRequest, size: tuple[int, int]
) -> None:
    level = Level(1, 30.0, 1920, 1080)
    chosen = plan(cast(LiveRuntime, _Runtime()), "cam", request_, Performance(), level, None)
    assert (chosen.requested.width, chosen.requested.height) == size
