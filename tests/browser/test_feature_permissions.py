"""The web client shows each user what their role may do (ADR 0013): no live video, and a
clear message instead, for a role without live; no way to playback or bookmarks without their
permissions; the administrators' links with administration. A real server, Debian's
Chromium."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from playwright.sync_api import Page, WebSocket, expect

from camgate.identity.models import Permission
from tests.browser.test_web_client import log_in
from tests.conftest import OPERATOR, login
from tests.support.media_checks import wait_for_online
from tests.support.server import RunningServer, auth

pytestmark = pytest.mark.browser

DEFAULTS = {p.value for p in Permission.role_defaults()}
NO_LIVE = "Your role may not watch live video."


@pytest.fixture
def camera_id(server: RunningServer, admin_token: str) -> Iterator[str]:
    """A camera of the operator's role, with a bookmark the operator made on it."""
    base = f"{server.base_url}/api/v1"
    created = httpx.post(
        f"{base}/cameras",
        json={"name": "Yard", "urls": ["synthetic:360p"]},
        headers=auth(admin_token),
    )
    created.raise_for_status()
    camera: str = created.json()["id"]
    httpx.put(
        f"{base}/roles/operator/cameras", json={"camera_ids": [camera]}, headers=auth(admin_token)
    ).raise_for_status()
    wait_for_online(server.base_url, admin_token, camera)
    now = datetime.now(UTC)
    httpx.post(
        f"{base}/bookmarks",
        json={
            "camera_id": camera,
            "start": (now - timedelta(seconds=5)).isoformat(),
            "end": now.isoformat(),
            "headline": "Ladder left by the fence",
        },
        headers=auth(login(server.base_url, *OPERATOR)),
    ).raise_for_status()
    yield camera


def grant(server: RunningServer, admin_token: str, permissions: set[str]) -> None:
    httpx.put(
        f"{server.base_url}/api/v1/roles/operator/permissions",
        json={"permissions": sorted(permissions)},
        headers=auth(admin_token),
    ).raise_for_status()


def sockets(page: Page) -> list[str]:
    """The URLs of the WebSockets the page opens from now on."""
    opened: list[str] = []

    def seen(socket: WebSocket) -> None:
        opened.append(socket.url)

    page.on("websocket", seen)
    return opened


def test_a_role_without_live_sees_why_and_still_plays_back(
    page: Page, server: RunningServer, admin_token: str, camera_id: str
) -> None:
    grant(server, admin_token, DEFAULTS - {"live"})
    opened = sockets(page)
    snapshots: list[str] = []
    page.on("request", lambda r: snapshots.append(r.url) if "snapshot.jpg" in r.url else None)
    log_in(page, server.base_url, *OPERATOR)

    # The grid: the camera's tile without video, and why.
    tile = page.locator(f'#grid .tile[data-camera-id="{camera_id}"]')
    expect(tile).to_have_attribute("data-state", "no-live", timeout=10_000)
    expect(tile.locator(".tile-status")).to_have_text("No live video")
    expect(tile.locator(".tile-detail")).to_have_text(NO_LIVE)
    expect(page.locator("#grid-no-live")).to_have_text(
        f"{NO_LIVE} Open a camera to play back its recordings."
    )
    expect(page.locator("#grid-bookmarks")).to_be_visible()  # the role sees bookmarks

    # The camera: the same message where the video would be, and the way to its recordings.
    tile.click()
    stage = page.locator("#camera-view .stage")
    expect(stage).to_have_attribute("data-state", "no-live")
    expect(stage.locator(".camera-detail")).to_have_text(NO_LIVE)
    expect(page.locator("#camera-bookmark")).to_be_hidden()  # a live bookmark needs live
    page.locator("#camera-playback").click()
    expect(page.locator("#playback-view")).to_be_visible()
    back = page.locator("#playback-back")
    expect(back).to_contain_text("Cameras")
    expect(back).to_have_attribute("href", "#/")
    expect(page.locator("#playback-live")).to_have_count(0)
    expect(page.locator("#playback-bookmark")).to_be_visible(timeout=10_000)
    page.wait_for_timeout(1000)
    # Live video was never asked for: neither its WebSocket nor a snapshot.
    assert not [url for url in opened if url.split("?")[0].endswith("/live")], opened
    assert snapshots == []


def test_a_role_without_playback_and_bookmarks_sees_no_way_there(
    page: Page, server: RunningServer, admin_token: str, camera_id: str
) -> None:
    grant(server, admin_token, {"live"})
    log_in(page, server.base_url, *OPERATOR)
    tile = page.locator(f'#grid .tile[data-camera-id="{camera_id}"]')
    expect(tile).to_have_attribute("data-state", "playing", timeout=15_000)
    expect(page.locator("#grid-no-live")).to_be_hidden()
    expect(page.locator("#grid-bookmarks")).to_be_hidden()
    expect(page.locator("#admin-nav")).to_be_hidden()

    tile.click()
    expect(page.locator("#camera-view .stage")).to_have_attribute(
        "data-state", "playing", timeout=15_000
    )
    expect(page.locator("#camera-playback")).to_have_count(0)
    expect(page.locator("#camera-bookmark")).to_be_hidden()

    # Opened by their addresses anyway: a clear message (the server refuses too).
    page.evaluate(f"() => {{ location.hash = '#/camera/{camera_id}/playback'; }}")
    expect(page.locator("main h1")).to_have_text("No playback")
    expect(page.locator("main")).to_contain_text("Your role may not play back recordings.")
    page.evaluate("() => { location.hash = '#/bookmarks'; }")
    expect(page.locator("main h1")).to_have_text("No bookmarks")
    expect(page.locator("main")).to_contain_text("Your role may not see bookmarks.")
    status = page.evaluate("() => fetch('/api/v1/bookmarks').then((r) => r.status)")
    assert status == 403


def test_bookmarks_seen_but_not_editable_nor_played_back(
    page: Page, server: RunningServer, admin_token: str, camera_id: str
) -> None:
    grant(server, admin_token, {"live", "bookmarks_view"})
    log_in(page, server.base_url, *OPERATOR)
    expect(page.locator("#grid-bookmarks")).to_be_visible(timeout=10_000)
    page.locator("#grid-bookmarks").click()
    item = page.locator("#bookmark-list .bookmark")
    expect(item).to_have_count(1, timeout=10_000)
    expect(item.locator(".bookmark-headline")).to_have_text("Ladder left by the fence")
    # The operator made it, but their role may not change bookmarks, nor play back.
    expect(item.locator(".bookmark-edit")).to_be_hidden()
    expect(item.locator(".bookmark-delete")).to_be_hidden()
    expect(item.locator(".bookmark-go")).to_be_hidden()

    grant(server, admin_token, {"live", "playback", "bookmarks_view", "bookmarks_edit"})
    page.reload()
    expect(item.locator(".bookmark-edit")).to_be_visible(timeout=10_000)
    expect(item.locator(".bookmark-delete")).to_be_visible()
    expect(item.locator(".bookmark-go")).to_be_visible()


def test_administration_brings_the_administrators_links(
    page: Page, server: RunningServer, admin_token: str, camera_id: str
) -> None:
    grant(server, admin_token, DEFAULTS | {"administration"})
    log_in(page, server.base_url, *OPERATOR)
    expect(page.locator("#admin-nav")).to_be_visible(timeout=10_000)
    page.locator("#nav-status").click()
    expect(page.locator("#status-view")).to_be_visible(timeout=10_000)
    page.locator("#nav-audit").click()
    expect(page.locator("#audit-search")).to_be_visible(timeout=10_000)
