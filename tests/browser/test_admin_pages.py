"""The administrators' pages of the web client (server status, performance settings, privacy
masks), what other users get instead, and the keepalive: a real server, Debian's Chromium."""

from __future__ import annotations

import itertools
import json
import re
import time
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, Request, expect
from websockets.sync.client import connect

from tests.browser.test_transcoded import expect_badge, jpegs_advance
from tests.browser.test_web_client import cameras, log_in, playing
from tests.conftest import ADMIN, OPERATOR, login
from tests.support.server import RunningServer, auth

pytestmark = pytest.mark.browser

__all__ = ["cameras"]  # the fixture, shared with test_web_client

KEEPALIVE = "/api/v1/auth/keepalive"
PERCENT = re.compile(r"^\d+ %$")
WHOLE_NUMBER = re.compile(r"^\d+$")


def patch_settings(server: RunningServer, token: str, patch: dict[str, Any]) -> None:
    httpx.patch(
        f"{server.base_url}/api/v1/settings", json=patch, headers=auth(token)
    ).raise_for_status()


def performance(server: RunningServer, token: str) -> dict[str, Any]:
    response = httpx.get(f"{server.base_url}/api/v1/settings", headers=auth(token))
    response.raise_for_status()
    section: dict[str, Any] = response.json()["performance"]
    return section


def poll(page: Page, script: str, arg: Any = None, timeout_ms: int = 15_000) -> Any:
    """Evaluates ``script`` until it answers something truthy (wait_for_function breaks the CSP)."""
    deadline = time.monotonic() + timeout_ms / 1000
    while True:
        value = page.evaluate(script, arg)
        if value or time.monotonic() > deadline:
            return value
        page.wait_for_timeout(200)


def test_status_page_counts_the_viewers_and_draws_the_cpu_graph(
    page: Page, server: RunningServer, admin_token: str, cameras: list[str]
) -> None:
    httpx.put(
        f"{server.base_url}/api/v1/roles/operator/cameras",
        json={"camera_ids": [cameras[1]]},
        headers=auth(admin_token),
    ).raise_for_status()
    operator_token = login(server.base_url, *OPERATOR)
    # Two direct viewers: the grid of the administrator's session.
    log_in(page, server.base_url, *ADMIN)
    expect(page.locator("#grid .tile")).to_have_count(2, timeout=10_000)
    for camera_id in cameras:
        playing(page, f'#grid .tile[data-camera-id="{camera_id}"] video')

    # The status page, in another tab of the same session.
    status = page.context.new_page()
    status.goto(server.base_url + "/#/status")
    expect(status.locator("#status-view")).to_be_visible(timeout=10_000)
    expect(status.locator("#nav-status")).to_have_attribute("aria-current", "page")
    # One transcoded viewer: the operator's session asks for JPEGs.
    url = (
        f"{server.ws_url}/api/v1/cameras/{cameras[1]}/live"
        f"?transcode=1&width=320&height=180&token={operator_token}"
    )
    with connect(url) as watcher:
        assert json.loads(watcher.recv(timeout=10))["type"] == "transcoded"
        # One row per session: the test's own API session is an idle "admin" line of its own.
        wanted = [["admin", "Logged in", "2", "0"], ["olivia", "Logged in", "0", "1"]]
        rows = poll(
            status,
            """(wanted) => {
                 const keys = ['user', 'state', 'direct_video_streams', 'transcoded_video_streams'];
                 const rows = [...document.querySelectorAll('#status-users tbody tr')].map((tr) =>
                   keys.map((key) => tr.querySelector(`[data-column="${key}"]`)?.textContent));
                 const found = wanted.every((w) => rows.some((r) => r.join() === w.join()));
                 return found ? rows : null; }""",
            wanted,
        )
        assert rows, status.locator("#status-users").inner_text()
        headers = status.locator("#status-users thead th").all_text_contents()
    assert headers == [
        "User name",
        "State",
        "Video kB/s",
        "Audio kB/s",
        "Transcoded video streams",
        "Direct video streams",
        "Transcoded audio streams",
    ]
    for figure in ["active-since", "cpu", "bandwidth", "level", "hardware"]:
        expect(status.locator(f"#status-{figure}")).not_to_have_text("…")
    expect(status.locator("#status-level")).to_have_text("Level 1")
    expect(status.locator("#status-cpu")).to_have_text(PERCENT)

    # The server samples the CPU every 5 s: the line has a point per sample once there are two.
    graph = poll(
        status,
        """() => { const svg = document.querySelector('#cpu-graph');
                   const line = svg && svg.querySelector('polyline.cpu-line');
                   if (!line || Number(svg.dataset.samples) < 2) return null;
                   return {points: line.getAttribute('points').trim().split(/\\s+/).length,
                           samples: Number(svg.dataset.samples),
                           labels: [...svg.querySelectorAll('text')].map((t) => t.textContent),
                           width: svg.getBoundingClientRect().width}; }""",
        timeout_ms=20_000,
    )
    assert graph, "no CPU line with two samples"
    assert graph["points"] == graph["samples"]
    assert {"0 %", "50 %", "100 %"} <= set(graph["labels"])
    assert any(":" in label for label in graph["labels"])  # clock times across
    assert graph["width"] > 300

    # Leaving the page stops its refresh.
    asked: list[str] = []
    status.on("request", lambda r: asked.append(r.url) if "/api/v1/status" in r.url else None)
    status.locator("#nav-performance").click()
    expect(status.locator("#performance-view")).to_be_visible()
    status.wait_for_timeout(6000)
    assert asked == []


def test_performance_settings_are_saved_and_a_bad_level_is_refused(
    page: Page, server: RunningServer, admin_token: str
) -> None:
    log_in(page, server.base_url, *ADMIN)
    page.locator("#nav-performance").click()
    expect(page.locator("#performance-form")).to_be_visible()
    fps1 = page.locator("#perf-level1-fps")
    expect(fps1).to_be_enabled(timeout=10_000)
    expect(fps1).to_have_value("30")
    expect(page.locator("#perf-direct")).to_be_checked()
    expect(page.locator("#perf-level2-fps")).to_be_disabled()  # level 2 is off by default

    fps1.fill("25")
    page.locator("#perf-level1-width").fill("1280")
    page.locator("#perf-level1-height").fill("720")
    page.locator("#perf-hardware").select_option("off")
    page.locator("#performance-form button[type=submit]").click()
    expect(page.locator("#performance-saved")).to_have_text("Saved")
    saved = performance(server, admin_token)
    assert saved["level1"] == {"max_fps": 25, "max_resolution": {"width": 1280, "height": 720}}
    assert saved["hardware_decoding"] == "off"
    assert saved["level2"]["enabled"] is False

    page.reload()
    expect(page.locator("#perf-level1-fps")).to_have_value("25", timeout=10_000)
    expect(page.locator("#perf-level1-width")).to_have_value("1280")
    expect(page.locator("#perf-hardware")).to_have_value("off")

    # Level 2 may not allow more frames than level 1: the server says so, nothing is saved.
    page.locator("#perf-level2-enabled").check()
    level2_fps = page.locator("#perf-level2-fps")
    expect(level2_fps).to_be_enabled()
    level2_fps.fill("40")
    page.locator("#performance-form button[type=submit]").click()
    problem = page.locator("#performance-error")
    expect(problem).to_contain_text("level 2 max FPS (40) must be lower than level 1's (25)")
    expect(page.locator("#performance-saved")).to_have_text("")
    expect(level2_fps).to_have_value("40")  # as typed
    expect(page.locator("#perf-level2-enabled")).to_be_checked()
    after = performance(server, admin_token)
    assert after == saved

    # Corrected, it saves, and the message goes.
    level2_fps.fill("10")
    page.locator("#perf-level2-width").fill("640")
    page.locator("#perf-level2-height").fill("360")
    page.locator("#performance-form button[type=submit]").click()
    expect(page.locator("#performance-saved")).to_have_text("Saved")
    expect(problem).to_be_empty()
    level2 = performance(server, admin_token)["level2"]
    assert (level2["enabled"], level2["max_fps"]) == (True, 10)


def test_privacy_mask_drawn_with_the_mouse_masks_the_live_video(
    page: Page, server: RunningServer, admin_token: str, cameras: list[str]
) -> None:
    camera_id = cameras[1]
    log_in(page, server.base_url, *ADMIN)
    expect(page.locator("#grid .tile")).to_have_count(2, timeout=10_000)
    page.locator(f'#grid .tile[data-camera-id="{camera_id}"]').click()
    expect(page.locator("#camera-view")).to_be_visible()
    page.locator("#camera-masks").click()
    expect(page.locator("#masks-title")).to_have_text("Privacy masks: Cam B", timeout=10_000)
    expect(page.locator("#mask-list .mask-item")).to_have_count(0)
    loaded = poll(
        page, "() => { const i = document.querySelector('#mask-snapshot'); return i.naturalWidth; }"
    )
    assert loaded == 640  # the camera's picture, at its own size

    box = page.locator("#mask-overlay").bounding_box()
    assert box is not None
    assert abs(box["width"] / box["height"] - 16 / 9) < 0.02  # the picture's shape

    def at(fx: float, fy: float) -> tuple[float, float]:
        return box["x"] + fx * box["width"], box["y"] + fy * box["height"]  # type: ignore[index]

    def drag(start: tuple[float, float], end: tuple[float, float]) -> None:
        page.mouse.move(*at(*start))
        page.mouse.down()
        page.mouse.move(*at((start[0] + end[0]) / 2, (start[1] + end[1]) / 2), steps=4)
        page.mouse.move(*at(*end), steps=4)
        page.mouse.up()

    # A stray one first, then the one wanted; a click selects the stray one, and it goes.
    drag((0.05, 0.7), (0.2, 0.9))
    drag((0.25, 0.25), (0.75, 0.6))
    items = page.locator("#mask-list .mask-item")
    expect(items).to_have_count(2)
    expect(items.nth(1)).to_have_attribute("aria-pressed", "true")  # the newest is selected
    page.mouse.click(*at(0.1, 0.8))
    expect(items.nth(0)).to_have_attribute("aria-pressed", "true")
    expect(page.locator("#mask-overlay rect.mask.selected")).to_have_count(1)
    page.locator("#mask-remove").click()
    expect(items).to_have_count(1)
    expect(items.nth(0)).to_contain_text("from 25 % across, 25 % down; 50 % × 35 %")
    page.locator("#mask-save").click()
    expect(page.locator("#mask-saved")).to_have_text("Saved")

    camera = httpx.get(
        f"{server.base_url}/api/v1/cameras/{camera_id}", headers=auth(admin_token)
    ).json()
    [mask] = camera["privacy_masks"]
    assert mask == pytest.approx({"x": 0.25, "y": 0.25, "width": 0.5, "height": 0.35}, abs=0.01)

    page.locator("#masks-back").click()
    expect(page.locator("#camera-view")).to_be_visible()
    expect_badge(
        page, "#camera-view .delivery", "transcoded", "privacy_mask", "transcoded: privacy mask"
    )
    jpegs_advance(page, "#camera-view img.jpeg")
    # The shown picture: black inside the mask (JPEG blurs its edges), the pattern elsewhere.
    pixels = page.eval_on_selector(
        "#camera-view img.jpeg",
        """(img, m) => {
             const canvas = document.createElement('canvas');
             canvas.width = img.naturalWidth;
             canvas.height = img.naturalHeight;
             const g = canvas.getContext('2d');
             g.drawImage(img, 0, 0);
             const region = (x0, y0, x1, y1) => {
               const [w, h] = [canvas.width, canvas.height];
               const data = g.getImageData(Math.round(x0 * w), Math.round(y0 * h),
                 Math.round((x1 - x0) * w), Math.round((y1 - y0) * h)).data;
               let max = 0, sum = 0;
               for (let i = 0; i < data.length; i += 4) {
                 const v = Math.max(data[i], data[i + 1], data[i + 2]);
                 max = Math.max(max, v);
                 sum += v;
               }
               return {max, mean: sum / (data.length / 4)};
             };
             const inset = 0.03;
             return {
               inside: region(m.x + inset, m.y + inset,
                              m.x + m.width - inset, m.y + m.height - inset),
               outside: region(0, 0.7, 1, 1),
               width: canvas.width,
             };
           }""",
        mask,
    )
    assert pixels["width"] > 0
    assert pixels["inside"]["max"] <= 24, pixels
    assert pixels["outside"]["mean"] > 40, pixels


def test_other_users_get_no_admin_links_and_a_clear_message(
    page: Page, server: RunningServer, admin_token: str, cameras: list[str]
) -> None:
    httpx.put(
        f"{server.base_url}/api/v1/roles/operator/cameras",
        json={"camera_ids": [cameras[1]]},
        headers=auth(admin_token),
    ).raise_for_status()
    log_in(page, server.base_url, *OPERATOR)
    expect(page.locator("#grid .tile")).to_have_count(1, timeout=10_000)
    expect(page.locator("#session")).to_be_visible()
    expect(page.locator("#admin-nav")).to_be_hidden()

    page.locator("#grid .tile").click()
    expect(page.locator("#camera-view")).to_be_visible()
    expect(page.locator("#camera-view .camera-controls")).to_be_attached()
    assert page.locator("#camera-masks").count() == 0

    for hash_ in ["#/status", "#/settings/performance", f"#/camera/{cameras[1]}/masks"]:
        page.evaluate("(hash) => { location.hash = hash; }", hash_)
        expect(page.locator("main h1")).to_have_text("Administrators only")
        expect(page.locator("main")).to_contain_text("Only an administrator may open this page.")
        assert page.locator("#status-view, #performance-view, #masks-view").count() == 0
    # The server refuses too.
    assert page.evaluate("() => fetch('/api/v1/status').then((r) => r.status)") == 403


def test_admin_links_and_status_fit_a_phone(
    browser: Browser, server: RunningServer, admin_token: str
) -> None:
    context = browser.new_context(
        viewport={"width": 360, "height": 740}, is_mobile=True, has_touch=True
    )
    phone = context.new_page()
    try:
        log_in(phone, server.base_url, *ADMIN)
        expect(phone.locator("#nav-status")).to_be_visible(timeout=10_000)
        expect(phone.locator("#nav-performance")).to_be_visible()
        expect(phone.locator("#logout")).to_be_visible()
        phone.locator("#nav-status").tap()
        expect(phone.locator("#status-view")).to_be_visible()
        expect(phone.locator("#cpu-graph")).to_have_attribute("width", WHOLE_NUMBER, timeout=10_000)
        layout = phone.evaluate(
            """() => ({scroll: document.documentElement.scrollWidth, inner: innerWidth,
                       header: document.querySelector('.topbar').getBoundingClientRect().height,
                       graph: document.querySelector('#cpu-graph').getBoundingClientRect().right,
                       links: document.querySelector('#nav-performance')
                                .getBoundingClientRect().right,
                       logout: document.querySelector('#logout').getBoundingClientRect().left,
                       label: getComputedStyle(document.querySelector('#cpu-graph text'))
                                .fontSize})"""
        )
        assert layout["scroll"] <= layout["inner"], layout  # nothing sticks out sideways
        assert layout["header"] < 80, layout  # one row
        assert layout["links"] <= layout["logout"], layout  # side by side, not on top
        assert layout["graph"] <= layout["inner"], layout
        assert layout["label"] == "12px", layout  # drawn at its size, not scaled down
    finally:
        context.close()


def keepalives(page: Page) -> list[float]:
    """Records when the page sends a keepalive."""
    times: list[float] = []

    def seen(request: Request) -> None:
        if request.method == "POST" and request.url.endswith(KEEPALIVE):
            times.append(time.monotonic())

    page.on("request", seen)
    return times


def test_keepalives_follow_the_server_timeout_and_a_401_ends_the_session(
    page: Page, server: RunningServer, admin_token: str
) -> None:
    patch_settings(server, admin_token, {"connectivity": {"client_timeout_s": 3}})
    times = keepalives(page)
    log_in(page, server.base_url, *ADMIN)
    expect(page.locator("#session")).to_be_visible(timeout=10_000)
    # A page that asks the server nothing by itself: only the keepalives keep the session.
    page.evaluate("() => { location.hash = '#/settings/performance'; }")
    expect(page.locator("#performance-form")).to_be_visible()
    page.wait_for_timeout(5000)  # longer than the timeout
    assert len(times) >= 4, times  # one at once, then every second (a third of 3 s)
    gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
    assert all(0.7 < gap < 2.0 for gap in gaps), gaps
    assert page.evaluate("() => fetch('/api/v1/auth/me').then((r) => r.status)") == 200

    # The session ends elsewhere: the next keepalive gets 401 and the login page says why.
    [session] = [c for c in page.context.cookies() if c["name"] == "camgate_session"]
    httpx.post(
        f"{server.base_url}/api/v1/auth/logout", headers=auth(session["value"])
    ).raise_for_status()
    expect(page.locator("form#login")).to_be_visible(timeout=5000)
    expect(page.locator("#error")).to_have_text("Your session has ended. Please log in again.")
    count = len(times)
    page.wait_for_timeout(2500)
    assert len(times) == count  # logged out: no more keepalives


def test_a_keepalive_goes_out_when_the_page_is_shown_again(
    page: Page, server: RunningServer, admin_token: str
) -> None:
    patch_settings(server, admin_token, {"connectivity": {"client_timeout_s": 300}})
    with page.expect_request(lambda r: r.url.endswith(KEEPALIVE)) as first:
        log_in(page, server.base_url, *ADMIN)
    assert first.value.method == "POST"
    answer = first.value.response()
    assert answer is not None and answer.json() == {"timeout_s": 300}
    page.evaluate("() => { location.hash = '#/settings/performance'; }")
    expect(page.locator("#performance-form")).to_be_visible()
    times = keepalives(page)
    page.wait_for_timeout(1500)
    assert times == []  # every 100 s now
    with page.expect_request(lambda r: r.url.endswith(KEEPALIVE), timeout=2000):
        page.evaluate("() => document.dispatchEvent(new Event('visibilitychange'))")


def test_the_status_page_shows_lockouts_and_lets_an_account_in(
    page: Page, server: RunningServer
) -> None:
    base = f"{server.base_url}/api/v1"
    token = login(server.base_url, *ADMIN)
    for _ in range(5):
        httpx.post(f"{base}/auth/login", json={"username": OPERATOR[0], "password": "wrong one"})
    # Loopback is the only address a test has: its own lockout is lifted through the API, so
    # that the administrator can log in in the browser.
    lifted = httpx.delete(f"{base}/lockouts/address/127.0.0.1", headers=auth(token))
    assert lifted.status_code == 204
    log_in(page, server.base_url, *ADMIN)
    page.goto(f"{server.base_url}/#/status")
    line = page.locator(f'#status-lockouts li[data-kind="user"][data-name="{OPERATOR[0]}"]')
    expect(line).to_contain_text(f"User {OPERATOR[0]}: about 5 min left", timeout=10_000)
    right = {"username": OPERATOR[0], "password": OPERATOR[1]}
    assert httpx.post(f"{base}/auth/login", json=right).status_code == 429
    line.locator(".lockout-lift").click()
    expect(line).to_have_count(0)
    expect(page.locator("#status-lockouts li")).to_have_count(0)
    assert httpx.post(f"{base}/auth/login", json=right).status_code == 200
