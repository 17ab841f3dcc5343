"""Transcoded live video in the web client: JPEG frames on the live WebSocket, and the badge."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.browser.test_web_client import cameras, log_in, playing
from tests.conftest import ADMIN
from tests.support.server import RunningServer

pytestmark = pytest.mark.browser

__all__ = ["cameras"]  # the fixture, shared with test_web_client


def set_direct_streaming(server: RunningServer, token: str, on: bool) -> None:
    httpx.patch(
        f"{server.base_url}/api/v1/settings",
        json={"performance": {"direct_streaming": on}},
        headers={"Authorization": f"Bearer {token}"},
    ).raise_for_status()


def jpegs_advance(page: Page, selector: str) -> dict[str, Any]:
    """Waits until the JPEG image shows frames, then checks that more keep coming."""

    def state() -> dict[str, Any]:
        info: dict[str, Any] = page.eval_on_selector(
            selector,
            "i => ({state: i.dataset.state, frames: Number(i.dataset.frames || 0),"
            " hidden: i.hidden, w: i.naturalWidth, h: i.naturalHeight,"
            " src: i.src, video_hidden: i.parentElement.querySelector('video').hidden})",
        )
        return info

    for _ in range(60):
        first = state()
        if first["state"] == "playing" and first["frames"] > 0:
            break
        page.wait_for_timeout(250)
    else:
        raise AssertionError(f"no JPEG shown: {first}")
    # Sampled every 20 ms for 1.5 s: the image never goes blank between two pictures.
    blank = page.eval_on_selector(
        selector,
        """i => new Promise((resolve) => {
             let blank = 0, n = 0;
             const timer = setInterval(() => {
               if (!(i.complete && i.naturalWidth > 0)) blank++;
               if (++n === 75) { clearInterval(timer); resolve(blank); }
             }, 20);
           })""",
    )
    assert blank == 0
    later = state()
    assert later["frames"] >= first["frames"] + 5, (first, later)
    assert later["src"].startswith("blob:")
    assert not later["hidden"] and later["video_hidden"]
    assert later["w"] > 0 and later["h"] > 0
    return later


def expect_badge(page: Page, selector: str, delivery: str, reason: str, words: str) -> None:
    badge = page.locator(selector)
    expect(badge).to_have_attribute("data-delivery", delivery, timeout=15_000)
    expect(badge).to_have_attribute("data-reason", reason)
    expect(badge).to_have_text(words)


def test_direct_streaming_off_gives_jpegs_in_grid_and_single_view(
    page: Page, server: RunningServer, admin_token: str, cameras: list[str]
) -> None:
    set_direct_streaming(server, admin_token, False)
    log_in(page, server.base_url, *ADMIN)
    expect(page.locator("#grid .tile")).to_have_count(2, timeout=10_000)
    for camera_id in cameras:
        tile = f'#grid .tile[data-camera-id="{camera_id}"]'
        expect_badge(
            page,
            f"{tile} .delivery",
            "transcoded",
            "direct_disabled",
            "transcoded: direct streaming is off",
        )
        info = jpegs_advance(page, f"{tile} img.jpeg")
        # The size asked is the tile's (16:9, like the cameras), in device pixels.
        box = page.locator(tile).bounding_box()
        assert box is not None
        assert abs(info["w"] - box["width"]) <= 2 and abs(info["h"] - box["height"]) <= 2
    urls = page.evaluate("() => performance.getEntriesByType('resource').map(e => e.name)")
    assert not [u for u in urls if "/live.m3u8" in u]

    page.locator(f'#grid .tile[data-camera-id="{cameras[0]}"]').click()
    expect(page.locator("#camera-view")).to_be_visible()
    expect_badge(
        page,
        "#camera-view .delivery",
        "transcoded",
        "direct_disabled",
        "transcoded: direct streaming is off",
    )
    jpegs_advance(page, "#camera-view img.jpeg")
    expect(page.locator("#camera-view .camera-info")).to_contain_text("JPEG")

    set_direct_streaming(server, admin_token, True)
    page.go_back()
    page.reload()
    expect(page.locator("#grid .tile")).to_have_count(2, timeout=10_000)
    for camera_id in cameras:
        tile = f'#grid .tile[data-camera-id="{camera_id}"]'
        expect_badge(page, f"{tile} .delivery", "direct", "", "direct")
        playing(page, f"{tile} video")
        expect(page.locator(f"{tile} img.jpeg")).to_be_hidden()


NO_MSE = "delete window.MediaSource; delete window.ManagedMediaSource;"
NO_HLS = "HTMLMediaElement.prototype.canPlayType = () => '';"
NO_CODEC = "MediaSource.isTypeSupported = () => false;"
# The data goes nowhere: the video never starts, and after 10 s the player gives up on it.
NEVER_PLAYS = "SourceBuffer.prototype.appendBuffer = function () {};"


@pytest.mark.parametrize(
    ("script", "reason"),
    [
        # Debian's Chromium (156) plays HLS natively: without MediaSource it uses live.m3u8.
        pytest.param(NO_MSE, None, id="no-mse-hls"),
        pytest.param(NO_MSE + NO_HLS, "requested", id="no-mse-no-hls"),
        pytest.param(NO_CODEC, "not_started", id="codec-refused"),
        pytest.param(NEVER_PLAYS, "not_started", id="never-plays"),
    ],
)
def test_browser_that_cannot_play_direct_video_falls_back(
    page: Page, server: RunningServer, cameras: list[str], script: str, reason: str | None
) -> None:
    page.add_init_script(script)
    log_in(page, server.base_url, *ADMIN)
    expect(page.locator("#grid .tile")).to_have_count(2, timeout=10_000)
    tile = f'#grid .tile[data-camera-id="{cameras[1]}"]'
    if reason is None:
        expect_badge(page, f"{tile} .delivery", "direct", "", "direct")
        playing(page, f"{tile} video")
        assert "live.m3u8" in page.eval_on_selector(f"{tile} video", "v => v.src")
        return
    words = {"requested": "requested", "not_started": "video did not start"}[reason]
    expect_badge(page, f"{tile} .delivery", "transcoded", reason, f"transcoded: {words}")
    jpegs_advance(page, f"{tile} img.jpeg")
    expect(page.locator(tile)).to_have_attribute("data-state", "playing")
