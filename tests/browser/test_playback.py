"""Playback in the web client: the timeline, frame steps, bookmarks, a phone, transcoded video.

One server records for the whole module (the recordings take wall time to make): "Cam A" plays
directly (playback.mp4 in a <video>); "Cam B" has a privacy mask, so its recordings only leave
the server as JPEGs (the controlled-playback WebSocket).
"""

from __future__ import annotations

import io
import itertools
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qs, urlparse
from zoneinfo import ZoneInfo

import av
import httpx
import numpy as np
import pytest
from numpy.typing import NDArray
from PIL import Image
from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests.browser.test_web_client import log_in
from tests.conftest import ADMIN, OPERATOR, login
from tests.support.media_checks import wait_for_online
from tests.support.server import RunningServer, add_user, auth, running_server

pytestmark = pytest.mark.browser

#: Recorded before the first test, so that there is video on both sides of the moments used.
RECORDED_S = 14
#: A zone far from UTC (and from the machine's), so that local and UTC times cannot be mixed up.
ZONE = "Pacific/Auckland"
#: The synthetic cameras' frame interval (30 fps), and a frame step's tolerance: wall times come
#: rounded to the millisecond.
FRAME_MS = 1000 / 30
STEP_TOLERANCE_MS = 3
#: Pictures are compared this small: the moving bar and square of the synthetic video still
#: tell every frame of its two-second loop apart.
THUMBNAIL = (160, 90)


@dataclass(frozen=True)
class Recording:
    server: RunningServer
    token: str
    camera_id: str
    masked_id: str


def ms(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() * 1000


def iso(milliseconds: float) -> str:
    return datetime.fromtimestamp(milliseconds / 1000, UTC).isoformat().replace("+00:00", "Z")


def add_camera(server: RunningServer, token: str, name: str) -> str:
    response = httpx.post(
        f"{server.base_url}/api/v1/cameras",
        json={"name": name, "urls": ["synthetic:360p"]},
        headers=auth(token),
    )
    response.raise_for_status()
    camera_id: str = response.json()["id"]
    wait_for_online(server.base_url, token, camera_id)
    return camera_id


def intervals(recording: Recording, camera_id: str | None = None) -> list[tuple[float, float]]:
    body = httpx.get(
        f"{recording.server.base_url}/api/v1/cameras/{camera_id or recording.camera_id}/recordings",
        headers=auth(recording.token),
    ).json()
    return [(ms(i["start"]), ms(i["end"])) for i in body["intervals"]]


@pytest.fixture(scope="module")
def recording(tmp_path_factory: pytest.TempPathFactory, clip_cache: Path) -> Iterator[Recording]:
    folder = tmp_path_factory.mktemp("playback") / "data"
    folder.mkdir()
    shutil.copytree(clip_cache, folder / "cache")
    add_user(folder, *ADMIN, "administrator")
    add_user(folder, *OPERATOR, "operator")
    with running_server(folder, backoff=lambda n: 0.2) as server:
        token = login(server.base_url, *ADMIN)
        camera_id = add_camera(server, token, "Cam A")
        masked_id = add_camera(server, token, "Cam B")
        httpx.put(
            f"{server.base_url}/api/v1/cameras/{masked_id}/privacy-masks",
            json={"masks": [{"x": 0.1, "y": 0.1, "width": 0.3, "height": 0.3}]},
            headers=auth(token),
        ).raise_for_status()
        made = Recording(server, token, camera_id, masked_id)
        deadline = time.monotonic() + RECORDED_S + 30
        while time.monotonic() < deadline:
            found = [intervals(made, camera) for camera in (camera_id, masked_id)]
            if all(each and each[-1][1] - each[-1][0] >= RECORDED_S * 1000 for each in found):
                break
            time.sleep(0.5)
        else:
            raise AssertionError(f"not {RECORDED_S} s recorded: {intervals(made)}")
        yield made


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    made = browser.new_context(viewport={"width": 1280, "height": 800}, timezone_id=ZONE)
    yield made
    made.close()


def open_playback(page: Page, recording: Recording, camera_id: str | None = None) -> None:
    """Logs in and opens a camera's live screen, then its playback through the button."""
    log_in(page, recording.server.base_url, *ADMIN)
    expect(page.locator("#grid")).to_be_visible(timeout=10_000)
    page.evaluate("(id) => { location.hash = `#/camera/${id}`; }", camera_id or recording.camera_id)
    page.locator("#camera-playback").click()
    expect(page.locator("#playback-view")).to_be_visible()
    expect(page.locator("#timeline .recorded").first).to_be_attached(timeout=10_000)


def shown(page: Page) -> float | None:
    """The capture time of the frame on screen (the label's), in ms."""
    value = page.locator("#playback-time").get_attribute("data-time")
    return ms(value) if value else None


def wait_shown(page: Page, check: Callable[[float], bool], timeout_s: float = 10.0) -> float:
    """Polls the label until ``check(time)`` holds; returns that time."""
    deadline = time.monotonic() + timeout_s
    last = None
    while time.monotonic() < deadline:
        last = shown(page)
        if last is not None and check(last):
            return last
        page.wait_for_timeout(40)
    raise AssertionError(f"the label shows {last and iso(last)}")


def timeline_point(page: Page, moment: float) -> tuple[int, int, float]:
    """The whole pixel of the timeline's track nearest a moment, and the moment that pixel
    stands for (the client computes the same from the pointer)."""
    box = page.locator("#timeline").bounding_box()
    assert box is not None
    start, end = page.eval_on_selector(
        "#timeline", "e => [Date.parse(e.dataset.start), Date.parse(e.dataset.end)]"
    )
    x = round(box["x"] + (moment - start) / (end - start) * box["width"])
    at = start + (x - box["x"]) / box["width"] * (end - start)
    return x, round(box["y"] + 37), at  # the track's middle


def video_advances(page: Page) -> None:
    """The <video> plays: its position and the label move on."""
    before = page.eval_on_selector("#playback-view video", "v => v.currentTime")
    label = shown(page)
    page.wait_for_timeout(1200)
    after = page.eval_on_selector("#playback-view video", "v => v.currentTime")
    assert after > before + 0.5, (before, after)
    later = shown(page)
    assert label is not None and later is not None and later > label + 500


def picture_shown(page: Page) -> NDArray[np.float32]:
    """The frame on screen, as a grey thumbnail."""
    width, height = THUMBNAIL
    rgba = page.eval_on_selector(
        "#playback-view video",
        """(v, [w, h]) => { const c = document.createElement('canvas'); c.width = w; c.height = h;
             const g = c.getContext('2d'); g.drawImage(v, 0, 0, w, h);
             return Array.from(g.getImageData(0, 0, w, h).data); }""",
        [width, height],
    )
    grey: NDArray[np.float32] = (
        np.array(rgba, dtype=np.float32).reshape(height, width, 4)[..., :3].mean(axis=2)
    )
    return grey


def recorded_pictures(
    recording: Recording, url: str, around: float
) -> list[tuple[float, NDArray[np.float32], float]]:
    """The frames of a playback.mp4 within a second of a moment, as FFmpeg presents the file
    (which is also Chromium's demuxer): the wall times of its spans, grey thumbnails, and their
    times in the file."""
    query = parse_qs(urlparse(url).query)
    params = {"start": query["start"][0], "end": query["end"][0]}
    described = f"{recording.server.base_url}/api/v1/cameras/{recording.camera_id}/playback.json"
    spans = httpx.get(described, params=params, headers=auth(recording.token)).json()["spans"]
    data = httpx.get(url, headers=auth(recording.token)).content
    pictures = []
    with av.open(io.BytesIO(data), mode="r", format="mp4") as container:
        stream = container.streams.video[0]
        assert stream.time_base is not None
        for frame in container.decode(stream):
            if frame.pts is None or frame.pts < 0:
                continue  # before the edit list's start: decoded, never shown
            at = float(frame.pts * stream.time_base)
            span = [s for s in spans if s["at"] <= at + 1e-6][-1]
            wall = ms(span["wallclock"]) + (at - span["at"]) * 1000
            if abs(wall - around) < 1000:
                plane = Image.fromarray(frame.to_ndarray(format="gray"))
                grey = plane.resize(THUMBNAIL, Image.Resampling.BILINEAR)
                pictures.append((wall, np.asarray(grey, dtype=np.float32), at))
    return pictures


def test_a_click_on_the_timeline_plays_from_that_moment(
    context: BrowserContext, recording: Recording
) -> None:
    page = context.new_page()
    open_playback(page, recording)
    wait_shown(page, lambda _: True)  # the first frame (a minute ago, or the first recorded)
    start, end = intervals(recording)[-1]
    x, y, moment = timeline_point(page, (start + end) / 2)
    assert start + 1000 < moment < end - 1000, "pick a moment well inside the recording"
    clicked = time.monotonic()
    page.mouse.click(x, y)
    wait_shown(page, lambda t: abs(t - moment) < 1000, timeout_s=5)
    assert time.monotonic() - clicked < 3, "video starts there quickly"
    assert page.locator("#playback-view .delivery").get_attribute("data-delivery") == "direct"
    video_advances(page)
    # The address names the moment, so that a reload shows it again.
    assert iso(moment)[:19] in page.evaluate("() => decodeURIComponent(location.hash)")


def test_a_typed_time_and_frame_steps(context: BrowserContext, recording: Recording) -> None:
    page = context.new_page()
    start, _ = intervals(recording)[-1]
    # Opened at a moment (as a shared link does), the file begins a few seconds before it, half
    # a keyframe interval after a keyframe: one the edit list makes the browser skip into.
    log_in(page, recording.server.base_url, *ADMIN)
    expect(page.locator("#grid")).to_be_visible(timeout=10_000)
    page.evaluate(
        "(hash) => { location.hash = hash; }",
        f"#/camera/{recording.camera_id}/playback?t={iso(start + 8500)}",
    )
    wait_shown(page, lambda t: abs(t - (start + 8500)) < 1000)
    page.locator("#playback-play").click()  # pause
    expect(page.locator("#playback-play")).to_have_attribute("aria-label", "Play")
    moment = (start // 1000 + 10) * 1000  # whole seconds: what the field takes
    local = datetime.fromtimestamp(moment / 1000, ZoneInfo(ZONE)).strftime("%Y-%m-%dT%H:%M:%S")
    page.locator("#playback-goto-time").fill(local)
    page.locator("#playback-goto button[type=submit]").click()
    # Up to a hole of a frame (see below) before it: not the frames shown while it seeks.
    first = wait_shown(page, lambda t: moment - 2 * FRAME_MS - STEP_TOLERANCE_MS <= t <= moment)
    expect(page.locator("#playback-view video")).to_have_attribute("data-state", "paused")
    # The frames as recorded (the synthetic camera leaves a hole of about a frame each time its
    # clip loops, so neighbours are not always one frame interval apart).
    url = page.eval_on_selector("#playback-view video", "v => v.currentSrc")
    walls = sorted(wall for wall, _, _ in recorded_pictures(recording, url, moment))
    assert len(walls) > 40, walls
    # The frame shown is the last one captured at or before that moment; one captured within
    # the rounding tolerance after it may be named at the moment itself.
    candidates = [max(w for w in walls if w <= moment)]
    candidates += [w for w in walls if moment < w <= moment + STEP_TOLERANCE_MS]
    assert any(abs(first - w) <= STEP_TOLERANCE_MS for w in candidates), (first, candidates)
    assert moment - first <= 2 * FRAME_MS, (moment, first)

    page.locator("#playback-next-frame").click()
    after = wait_shown(page, lambda t: t != first)
    expected = min(w for w in walls if w > first + STEP_TOLERANCE_MS)
    assert abs(after - expected) <= STEP_TOLERANCE_MS, (first, after, expected)
    page.locator("#playback-previous-frame").click()
    page.locator("#playback-previous-frame").click()
    back = wait_shown(page, lambda t: t < first)
    expected = max(w for w in walls if w < first - STEP_TOLERANCE_MS)
    assert abs(back - expected) <= STEP_TOLERANCE_MS, (first, back, expected)
    page.wait_for_timeout(300)
    assert shown(page) == back, "a paused video stays on its frame"

    # The label names the picture on screen: of the frames around it in the file playing, the
    # one that looks the same is the one the spans put at the label's time (whatever the
    # browser did with the file's edit list).
    picture = picture_shown(page)
    candidates = recorded_pictures(recording, url, back)
    differences = [(float(np.abs(picture - grey).mean()), wall) for wall, grey, _ in candidates]
    best = min(differences)
    assert abs(best[1] - back) <= STEP_TOLERANCE_MS, (iso(back), sorted(differences)[:3])


def test_a_bookmark_made_while_watching_is_found_and_opens_playback(
    context: BrowserContext, recording: Recording
) -> None:
    page = context.new_page()
    open_playback(page, recording)
    # Far enough into the recording that the bookmark (from 10 s before) begins in it too.
    start, _ = intervals(recording)[-1]
    x, y, moment = timeline_point(page, start + 13_000)
    page.mouse.click(x, y)
    watching = wait_shown(page, lambda t: abs(t - moment) < 1000)
    page.locator("#playback-bookmark").click()
    form = page.locator(".bookmark-form")
    headline = "Forklift <b>at</b> gate 3"
    form.locator("input[name=headline]").fill(headline)
    form.locator("textarea[name=description]").fill("Reversed into the barrier & left.")
    form.locator("button[type=submit]").click()
    expect(page.locator("#playback-view .saved")).to_have_text("Bookmark saved")
    expect(page.locator("#timeline .bookmark")).to_have_count(1, timeout=5000)

    saved = httpx.get(
        f"{recording.server.base_url}/api/v1/bookmarks",
        params={"q": "forklift"},
        headers=auth(recording.token),
    ).json()
    assert [(b["headline"], b["camera_id"], b["user"]) for b in saved] == [
        (headline, recording.camera_id, ADMIN[0])
    ]
    start, end = ms(saved[0]["start"]), ms(saved[0]["end"])
    # Around the moment watched, to the second (what the form's fields hold).
    assert start - 1000 <= watching - 10_000 <= start + 1000 and end - start == 20_000

    page.locator("#playback-bookmarks").click()
    expect(page.locator("#bookmarks-view")).to_be_visible()
    page.locator("#bookmark-q").fill("FORKLIFT")
    page.locator("#bookmark-search button[type=submit]").click()
    found = page.locator("#bookmark-list .bookmark")
    expect(found).to_have_count(1)
    # The user's text is text: no markup made of it.
    expect(found.locator(".bookmark-headline")).to_have_text(headline)
    assert found.locator(".bookmark-headline b").count() == 0
    page.locator("#bookmark-q").fill("no such words")
    page.locator("#bookmark-search button[type=submit]").click()
    expect(found).to_have_count(0)
    expect(page.locator("#bookmark-count")).to_have_text("No bookmarks found.")
    page.locator("#bookmark-q").fill("gate 3")
    page.locator("#bookmark-search button[type=submit]").click()
    expect(found).to_have_count(1)

    found.locator(".bookmark-go").click()
    expect(page.locator("#playback-view")).to_be_visible()
    wait_shown(page, lambda t: abs(t - start) < 1000)


def test_a_phone_has_the_timeline_and_controls_at_hand(
    browser: Browser, recording: Recording
) -> None:
    context = browser.new_context(
        viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True, timezone_id=ZONE
    )
    try:
        page = context.new_page()
        open_playback(page, recording)
        wait_shown(page, lambda _: True)
        for selector in [
            "#timeline",
            "#playback-play",
            "#playback-previous-frame",
            "#playback-next-frame",
            "#playback-previous-recording",
            "#playback-next-recording",
            "#playback-speed",
            "#playback-time",
        ]:
            box = page.locator(selector).bounding_box()
            assert box is not None, selector
            assert box["x"] >= 0 and box["x"] + box["width"] <= 390, (selector, box)
            assert box["y"] + box["height"] <= 844, (selector, box)  # no scrolling needed
        layout = page.evaluate(
            "() => ({scroll: document.documentElement.scrollWidth, inner: innerWidth,"
            " timeline: document.querySelector('#timeline').getBoundingClientRect().width})"
        )
        assert layout["scroll"] <= layout["inner"], layout  # nothing sticks out sideways
        assert layout["timeline"] > 300, layout

        start, end = intervals(recording)[-1]
        x, y, moment = timeline_point(page, start + 0.4 * (end - start))
        page.touchscreen.tap(x, y)
        wait_shown(page, lambda t: abs(t - moment) < 1000, timeout_s=5)
        video_advances(page)
        page.locator("#playback-play").tap()
        expect(page.locator("#playback-view video")).to_have_attribute("data-state", "paused")
    finally:
        context.close()


def test_a_masked_camera_plays_back_as_jpegs(context: BrowserContext, recording: Recording) -> None:
    page = context.new_page()
    open_playback(page, recording, recording.masked_id)
    badge = page.locator("#playback-view .delivery")
    expect(badge).to_have_attribute("data-delivery", "transcoded")
    expect(badge).to_have_attribute("data-reason", "privacy_mask")
    image = page.locator("#playback-view img.jpeg")
    expect(image).to_be_visible()
    expect(page.locator("#playback-view video")).to_be_hidden()
    first = wait_shown(page, lambda _: True)
    page.wait_for_timeout(1200)
    later = shown(page)
    assert later is not None and later > first + 500, "the frames move on"
    assert image.evaluate("i => i.naturalWidth > 0 && i.src.startsWith('blob:')")

    start, end = intervals(recording, recording.masked_id)[-1]
    x, y, moment = timeline_point(page, (start + end) / 2)
    page.mouse.click(x, y)
    wait_shown(page, lambda t: abs(t - moment) < 1000, timeout_s=5)
    page.locator("#playback-play").click()  # pause
    expect(page.locator("#playback-view img.jpeg")).to_have_attribute("data-state", "paused")
    page.wait_for_timeout(300)  # a frame sent before the pause may still be on its way
    paused = wait_shown(page, lambda _: True)
    page.locator("#playback-next-frame").click()
    after = wait_shown(page, lambda t: t > paused)
    assert abs(after - paused - FRAME_MS) <= STEP_TOLERANCE_MS, (paused, after)


def set_bookmarks(recording: Recording, on: bool) -> None:
    httpx.patch(
        f"{recording.server.base_url}/api/v1/settings",
        json={"general": {"features": {"bookmarks": on}}},
        headers=auth(recording.token),
    ).raise_for_status()


def test_bookmarks_from_live_and_who_may_change_them(
    context: BrowserContext, recording: Recording
) -> None:
    base = recording.server.base_url
    httpx.put(
        f"{base}/api/v1/roles/operator/cameras",
        json={"camera_ids": [recording.camera_id]},
        headers=auth(recording.token),
    ).raise_for_status()
    now = time.time() * 1000
    httpx.post(
        f"{base}/api/v1/bookmarks",
        json={
            "camera_id": recording.camera_id,
            "start": iso(now - 5000),
            "end": iso(now),
            "headline": "Checked by the administrator",
        },
        headers=auth(recording.token),
    ).raise_for_status()

    page = context.new_page()
    log_in(page, base, *OPERATOR)
    expect(page.locator("#grid .tile")).to_have_count(1, timeout=10_000)
    page.locator("#grid .tile").click()
    page.locator("#camera-bookmark").click()
    form = page.locator(".bookmark-form")
    form.locator("input[name=headline]").fill("Delivery van")
    form.locator("button[type=submit]").click()
    expect(page.locator("#camera-view .saved")).to_have_text("Bookmark saved")
    mine = httpx.get(
        f"{base}/api/v1/bookmarks", params={"q": "delivery van"}, headers=auth(recording.token)
    ).json()
    assert [(b["user"], b["camera_id"]) for b in mine] == [(OPERATOR[0], recording.camera_id)]
    # Live, the bookmark is around now: 10 s before to 10 s after (to the second).
    assert abs(ms(mine[0]["start"]) - (time.time() * 1000 - 10_000)) < 15_000

    page.evaluate("() => { location.hash = '#/bookmarks'; }")
    page.locator("#bookmark-mine").select_option("true")
    page.locator("#bookmark-search button[type=submit]").click()
    found = page.locator("#bookmark-list .bookmark")
    expect(found).to_have_count(1)
    expect(found.locator(".bookmark-headline")).to_have_text("Delivery van")
    found.locator(".bookmark-edit").click()
    found.locator("input[name=headline]").fill("Delivery van, blue")
    found.locator("button[type=submit]").click()
    expect(found.locator(".bookmark-headline")).to_have_text("Delivery van, blue")

    # Someone else's: no way to change it here (and the server would refuse).
    page.locator("#bookmark-mine").select_option("")
    page.locator("#bookmark-q").fill("administrator")
    page.locator("#bookmark-search button[type=submit]").click()
    expect(found).to_have_count(1)
    expect(found.locator(".bookmark-edit")).to_be_hidden()
    expect(found.locator(".bookmark-delete")).to_be_hidden()
    expect(found.locator(".bookmark-go")).to_be_visible()

    page.locator("#bookmark-q").fill("van")
    page.locator("#bookmark-search button[type=submit]").click()
    expect(found).to_have_count(1)
    page.once("dialog", lambda dialog: dialog.accept())
    found.locator(".bookmark-delete").click()
    expect(found).to_have_count(0)
    expect(page.locator("#bookmark-count")).to_have_text("No bookmarks found.")
    left = httpx.get(f"{base}/api/v1/bookmarks", params={"q": "van"}, headers=auth(recording.token))
    assert left.json() == []

    set_bookmarks(recording, False)
    try:
        page.locator("#bookmark-search button[type=submit]").click()
        expect(page.locator("#bookmark-count")).to_have_text(
            "bookmarks are turned off on this server"
        )
        # The live screen asks the server whether bookmarks are on; its answer keeps them off.
        with page.expect_response(lambda r: "/api/v1/bookmarks" in r.url) as asked:
            page.evaluate("(id) => { location.hash = `#/camera/${id}`; }", recording.camera_id)
        assert asked.value.status == 403
        expect(page.locator("#camera-playback")).to_be_visible()
        expect(page.locator("#camera-bookmark")).to_be_hidden()
    finally:
        set_bookmarks(recording, True)


def test_playback_falls_back_to_jpegs_when_the_server_refuses_the_file(
    context: BrowserContext, recording: Recording
) -> None:
    base = recording.server.base_url
    direct = {"performance": {"direct_streaming": False}}
    httpx.patch(
        f"{base}/api/v1/settings", json=direct, headers=auth(recording.token)
    ).raise_for_status()
    try:
        page = context.new_page()
        with page.expect_response(lambda r: "/playback.json" in r.url) as refused:
            open_playback(page, recording)
        assert refused.value.status == 403
        badge = page.locator("#playback-view .delivery")
        expect(badge).to_have_attribute("data-delivery", "transcoded")
        expect(badge).to_have_attribute("data-reason", "direct_disabled")
        expect(badge).to_have_text("transcoded: direct streaming is off")
        expect(page.locator("#playback-view img.jpeg")).to_be_visible()
        first = wait_shown(page, lambda _: True)
        wait_shown(page, lambda t: t > first + 500)  # the pictures move on
    finally:
        direct["performance"]["direct_streaming"] = True
        httpx.patch(
            f"{base}/api/v1/settings", json=direct, headers=auth(recording.token)
        ).raise_for_status()


def test_a_step_forward_crosses_a_hole_between_frames(
    context: BrowserContext, recording: Recording
) -> None:
    """A dropped frame (here: the synthetic camera's pause where its clip loops) leaves a hole
    longer than a frame interval; the next frame is still one step away."""
    page = context.new_page()
    log_in(page, recording.server.base_url, *ADMIN)
    expect(page.locator("#grid")).to_be_visible(timeout=10_000)
    start, _ = intervals(recording)[-1]
    around = start + 9000
    page.evaluate(
        "(hash) => { location.hash = hash; }",
        f"#/camera/{recording.camera_id}/playback?t={iso(around)}",
    )
    wait_shown(page, lambda t: abs(t - around) < 1000)
    page.locator("#playback-play").click()  # pause
    expect(page.locator("#playback-play")).to_have_attribute("aria-label", "Play")
    url = page.eval_on_selector("#playback-view video", "v => v.currentSrc")
    frames = sorted((wall, at) for wall, _, at in recorded_pictures(recording, url, around))
    gap, (before, at), (after, _) = max((b[0] - a[0], a, b) for a, b in itertools.pairwise(frames))
    assert gap > 1.6 * FRAME_MS, f"no hole to cross near {iso(around)}: {gap:.0f} ms at most"
    # On the frame before the hole (set on the element: the UI's own seeks are tested above).
    # A quarter of a frame in: the browser shows the last frame at or before the time set.
    quarter = FRAME_MS / 4000
    page.eval_on_selector(
        "#playback-view video", "(v, at) => { v.currentTime = at; }", at + quarter
    )
    wait_shown(page, lambda t: abs(t - before) <= STEP_TOLERANCE_MS)
    page.locator("#playback-next-frame").click()
    crossed = wait_shown(page, lambda t: t > before + STEP_TOLERANCE_MS, timeout_s=5)
    assert abs(crossed - after) <= STEP_TOLERANCE_MS, (iso(before), iso(crossed), iso(after))
