"""The web client in a real browser (Debian's Chromium, headless, on loopback)."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.conftest import ADMIN, OPERATOR
from tests.support.media_checks import wait_for_online
from tests.support.server import RunningServer

pytestmark = pytest.mark.browser


@pytest.fixture
def cameras(server: RunningServer, admin_token: str) -> list[str]:
    headers = {"Authorization": f"Bearer {admin_token}"}
    ids = []
    for name, urls in [
        ("Cam A", ["synthetic:720p", "synthetic:360p"]),
        ("Cam B", ["synthetic:360p"]),
    ]:
        response = httpx.post(
            f"{server.base_url}/api/v1/cameras", json={"name": name, "urls": urls}, headers=headers
        )
        response.raise_for_status()
        ids.append(response.json()["id"])
    for camera_id in ids:
        wait_for_online(server.base_url, admin_token, camera_id)
    return ids


def log_in(page: Page, base_url: str, username: str, password: str) -> None:
    page.goto(base_url + "/")
    form = page.locator("form#login")
    expect(form).to_be_visible(timeout=10_000)
    form.locator("input[name=username]").fill(username)
    form.locator("input[name=password]").fill(password)
    form.locator("button[type=submit]").click()


def playing(page: Page, selector: str) -> dict[str, Any]:
    """Waits until the video advances; returns its size and times."""
    page.wait_for_function(
        """(sel) => { const v = document.querySelector(sel);
                      return v && v.videoWidth > 0 && v.currentTime > 0 && !v.paused; }""",
        arg=selector,
        timeout=15_000,
    )
    before = page.eval_on_selector(selector, "v => v.currentTime")
    page.wait_for_timeout(1500)
    info: dict[str, Any] = page.eval_on_selector(
        selector,
        "v => ({t: v.currentTime, w: v.videoWidth, h: v.videoHeight, state: v.dataset.state,"
        " lag: v.buffered.length ? v.buffered.end(v.buffered.length - 1) - v.currentTime : -1})",
    )
    assert info["t"] > before + 0.5, "the video does not advance"
    return info


def test_grid_plays_every_camera_then_single_view_then_logout(
    page: Page, server: RunningServer, cameras: list[str]
) -> None:
    log_in(page, server.base_url, *ADMIN)
    expect(page.locator("#grid .tile")).to_have_count(2, timeout=10_000)
    tile_a = f'#grid .tile[data-camera-id="{cameras[0]}"] video'
    tile_b = f'#grid .tile[data-camera-id="{cameras[1]}"] video'
    info_a = playing(page, tile_a)
    info_b = playing(page, tile_b)
    assert (info_a["w"], info_a["h"]) == (640, 360)  # the grid uses the lowest resolution
    assert (info_b["w"], info_b["h"]) == (640, 360)
    assert info_a["lag"] < 2.0  # near the live edge

    page.locator(f'#grid .tile[data-camera-id="{cameras[0]}"]').click()
    single = "#camera-view video"
    expect(page.locator("#camera-view")).to_be_visible()
    info = playing(page, single)
    assert (info["w"], info["h"]) == (1280, 720)  # full size: the highest resolution
    # The streams to choose from, each with what it is: the demo camera has a microphone.
    expect(page.locator("#stream-select option").nth(1)).to_have_text(
        re.compile(r"1280×720 · H\.264 · \d+ fps · AAC sound")
    )

    page.go_back()
    expect(page.locator("#grid")).to_be_visible()
    page.locator("#logout").click()
    expect(page.locator("form#login")).to_be_visible()
    assert page.locator("video").count() == 0


def test_wrong_password_shows_an_error(page: Page, server: RunningServer) -> None:
    log_in(page, server.base_url, ADMIN[0], "not the password")
    expect(page.locator("#error")).not_to_be_empty(timeout=5000)
    expect(page.locator("form#login")).to_be_visible()


def test_logged_out_page_gets_no_video(
    page: Page, server: RunningServer, cameras: list[str]
) -> None:
    page.goto(server.base_url + "/")
    expect(page.locator("form#login")).to_be_visible()
    assert page.locator("video").count() == 0
    status = page.evaluate("() => fetch('/api/v1/cameras').then(r => r.status)")
    assert status == 401
    code = page.evaluate(
        """(id) => new Promise((resolve) => {
             const ws = new WebSocket(`ws://${location.host}/api/v1/cameras/${id}/live`);
             ws.binaryType = 'arraybuffer';
             let binary = 0;
             ws.onmessage = (e) => { if (typeof e.data !== 'string') binary++; };
             ws.onclose = (e) => resolve({code: e.code, binary});
           })""",
        cameras[0],
    )
    assert code == {"code": 4401, "binary": 0}


def test_operator_grid_shows_only_granted_cameras(
    page: Page, server: RunningServer, admin_token: str, cameras: list[str]
) -> None:
    httpx.put(
        f"{server.base_url}/api/v1/roles/operator/cameras",
        json={"camera_ids": [cameras[1]]},
        headers={"Authorization": f"Bearer {admin_token}"},
    ).raise_for_status()
    log_in(page, server.base_url, *OPERATOR)
    expect(page.locator("#grid .tile")).to_have_count(1, timeout=10_000)
    assert page.locator(f'#grid .tile[data-camera-id="{cameras[1]}"]').count() == 1
    playing(page, f'#grid .tile[data-camera-id="{cameras[1]}"] video')


def test_phone_screen_shows_one_column(
    browser: Browser, server: RunningServer, cameras: list[str]
) -> None:
    context = browser.new_context(
        viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True
    )
    phone = context.new_page()
    try:
        log_in(phone, server.base_url, *ADMIN)
        expect(phone.locator("#grid .tile")).to_have_count(2, timeout=10_000)
        boxes = [phone.locator("#grid .tile").nth(i).bounding_box() for i in range(2)]
        assert all(box is not None for box in boxes)
        assert boxes[0]["x"] == boxes[1]["x"]  # type: ignore[index]
        assert boxes[0]["width"] > 300  # type: ignore[index]
        playing(phone, f'#grid .tile[data-camera-id="{cameras[0]}"] video')
    finally:
        context.close()
