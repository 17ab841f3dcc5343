"""Pull a camera's cable while the grid is open: the tile says offline, then plays again."""

from __future__ import annotations

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.browser.test_web_client import log_in, playing
from tests.conftest import ADMIN
from tests.support import rtsp
from tests.support.media_checks import wait_for_online
from tests.support.server import RunningServer

pytestmark = [pytest.mark.browser, pytest.mark.rtsp]


def test_tile_goes_offline_and_resumes_without_a_reload(
    page: Page, server: RunningServer, admin_token: str, rtsp_camera: rtsp.RtspCamera
) -> None:
    created = httpx.post(
        f"{server.base_url}/api/v1/cameras",
        json={"name": "Gate", "urls": [rtsp_camera.url]},
        headers={"Authorization": f"Bearer {admin_token}"},
    )
    created.raise_for_status()
    camera_id = created.json()["id"]
    wait_for_online(server.base_url, admin_token, camera_id)
    log_in(page, server.base_url, *ADMIN)
    tile = page.locator(f'#grid .tile[data-camera-id="{camera_id}"]')
    video = f'#grid .tile[data-camera-id="{camera_id}"] video'
    playing(page, video)
    page.evaluate("() => { window.loads = (window.loads || 0) + 1; }")

    rtsp_camera.stop()
    expect(tile.locator(".tile-status")).to_have_text("Offline", timeout=20_000)

    rtsp_camera.start()
    expect(tile.locator(".tile-status")).to_have_text("Live", timeout=30_000)
    info = playing(page, video)
    assert (info["w"], info["h"]) == (640, 360)
    assert page.evaluate("() => window.loads") == 1  # the same page: no reload
