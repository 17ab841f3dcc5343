"""Investigations in the web client: the header link, a new investigation over recorded video, an
MKV export prepared and downloaded in the browser (and played), the way in from playback, a
phone, and who sees what.

One server records "Cam A" for the whole module. Its administrator has set a data protection
password (as ``camgate password`` does) and enabled every export format.
"""

from __future__ import annotations

import math
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse
from zoneinfo import ZoneInfo

import av
import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from camgate.identity.models import Permission
from tests.browser.test_web_client import log_in
from tests.conftest import ADMIN, OPERATOR, login
from tests.integration.test_investigations_api import ALL_FORMATS, set_data_password
from tests.integration.test_recording_api import add_camera
from tests.support.server import RunningServer, add_user, auth, running_server

pytestmark = pytest.mark.browser

#: Recorded before the first test: the investigations cover a span well inside it.
RECORDED_S = 10
#: The investigation's span, in whole seconds (what the form's fields take).
SPAN_S = 6
#: A zone far from UTC (and from the machine's), so that local and UTC times cannot be mixed up.
ZONE = "Pacific/Auckland"
#: The synthetic camera's keyframe interval: an MKV begins at the keyframe before its start.
KEYFRAME_INTERVAL_S = 1.0
#: An export of a few seconds takes far less; a busy CI machine gets room.
EXPORT_TIMEOUT_MS = 120_000


@dataclass(frozen=True)
class Recording:
    server: RunningServer
    camera_id: str
    #: The recorded interval, in ms.
    start: float
    end: float


def ms(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() * 1000


def iso(milliseconds: float) -> str:
    return datetime.fromtimestamp(milliseconds / 1000, UTC).isoformat().replace("+00:00", "Z")


def local(milliseconds: float) -> str:
    """A datetime-local field's value for a moment (in the browser's zone, to the second)."""
    moment = datetime.fromtimestamp(milliseconds / 1000, ZoneInfo(ZONE))
    return moment.strftime("%Y-%m-%dT%H:%M:%S")


def admin(server: RunningServer) -> dict[str, str]:
    """An administrator's headers. A fresh session each time: one left silent for longer than
    the client timeout (30 s) between the steps of a test ends."""
    return auth(login(server.base_url, *ADMIN))


def typed(value: str) -> float:
    """The moment a datetime-local field's value names (Chromium drops ":00" seconds)."""
    return datetime.fromisoformat(value).replace(tzinfo=ZoneInfo(ZONE)).timestamp() * 1000


def patch_settings(server: RunningServer, patch: dict[str, Any]) -> None:
    response = httpx.patch(
        f"{server.base_url}/api/v1/settings",
        json=patch,
        headers={**admin(server), "Content-Type": "application/merge-patch+json"},
    )
    assert response.status_code == 200, response.text


@pytest.fixture(scope="module")
def recording(tmp_path_factory: pytest.TempPathFactory, clip_cache: Path) -> Iterator[Recording]:
    folder = tmp_path_factory.mktemp("investigations") / "data"
    folder.mkdir()
    shutil.copytree(clip_cache, folder / "cache")
    add_user(folder, *ADMIN, "administrator")
    add_user(folder, *OPERATOR, "operator")
    with running_server(folder, backoff=lambda n: 0.2) as server:
        token = login(server.base_url, *ADMIN)
        set_data_password(server.data_dir)  # it may be set while the server runs
        camera_id = add_camera(server, token, "Cam A")
        patch_settings(server, ALL_FORMATS)
        deadline = time.monotonic() + RECORDED_S + 30
        while time.monotonic() < deadline:
            body = httpx.get(
                f"{server.base_url}/api/v1/cameras/{camera_id}/recordings", headers=auth(token)
            ).json()
            if body["intervals"]:
                last = body["intervals"][-1]
                start, end = ms(last["start"]), ms(last["end"])
                if end - start >= RECORDED_S * 1000:
                    yield Recording(server, camera_id, start, end)
                    return
            time.sleep(0.5)
        raise AssertionError(f"not {RECORDED_S} s recorded")


@pytest.fixture
def context(zoned_context: BrowserContext) -> BrowserContext:
    return zoned_context


def span(recording: Recording) -> tuple[float, float]:
    """Whole seconds well inside the recording: SPAN_S of them, a second after it began."""
    start = (math.ceil(recording.start / 1000) + 1) * 1000
    end = start + SPAN_S * 1000
    assert end < recording.end, "record longer"
    return start, end


def create(recording: Recording, name: str) -> str:
    start, end = span(recording)
    response = httpx.post(
        f"{recording.server.base_url}/api/v1/investigations",
        json={
            "name": name,
            "camera_ids": [recording.camera_id],
            "start": iso(start),
            "end": iso(end),
        },
        headers=admin(recording.server),
    )
    assert response.status_code == 201, response.text
    investigation_id: str = response.json()["id"]
    return investigation_id


def watch_exports(page: Page) -> None:
    """Records every state the export list shows from now on (with the progress bar's value
    and whether it is shown): a quick export may pass "running" between two polls of a test."""
    page.evaluate(
        """() => {
          window.seenExports = [];
          const note = () => {
            for (const item of document.querySelectorAll('#export-list .export')) {
              const bar = item.querySelector('progress');
              window.seenExports.push([item.dataset.state, !bar.hidden, bar.value]);
            }
          };
          new MutationObserver(note).observe(document.querySelector('#export-list'), {
            subtree: true, childList: true, attributes: true, characterData: true,
          });
        }"""
    )


def test_an_mkv_export_is_prepared_in_the_browser_downloaded_and_plays(
    context: BrowserContext, recording: Recording, tmp_path: Path
) -> None:
    page = context.new_page()
    log_in(page, recording.server.base_url, *ADMIN)
    expect(page.locator("#grid")).to_be_visible(timeout=10_000)
    link = page.locator("#nav-investigations")
    expect(link).to_be_visible()
    link.click()
    expect(page.locator("#investigations-view")).to_be_visible()
    expect(link).to_have_attribute("aria-current", "page")
    expect(page.locator("#investigation-count")).to_have_text("No investigations yet.")

    page.locator("#investigation-new").click()
    form = page.locator("#investigation-form")
    start, end = span(recording)
    name = "Broken <b>window</b>"
    form.locator("input[name=name]").fill(name)
    form.locator(f'input[name=camera][value="{recording.camera_id}"]').check()
    form.locator("input[name=start]").fill(local(start))
    form.locator("input[name=end]").fill(local(end))
    form.locator("button[type=submit]").click()
    expect(page.locator("#investigation-view")).to_be_visible()
    expect(page.locator("#investigation-title")).to_have_text(name)
    saved = httpx.get(
        f"{recording.server.base_url}/api/v1/investigations", headers=admin(recording.server)
    ).json()
    assert [(i["name"], i["camera_ids"], i["owner"]) for i in saved] == [
        (name, [recording.camera_id], ADMIN[0])
    ]
    # The local times typed are the moments meant.
    assert (ms(saved[0]["start"]), ms(saved[0]["end"])) == (start, end)

    # "Back" goes to the list (not to the form), which holds it; it opens from there.
    page.go_back()
    found = page.locator("#investigation-list .investigation")
    expect(found).to_have_count(1)
    expect(found.locator(".investigation-name")).to_have_text(name)
    assert found.locator(".investigation-name b").count() == 0  # text, not markup
    meta = found.locator(".investigation-meta")
    expect(meta).to_contain_text("Cam A")
    expect(meta).to_contain_text(local(start)[11:])  # local time, to the second
    expect(meta).to_contain_text("by admin")
    found.locator(".investigation-open").click()
    expect(page.locator("#investigation-title")).to_have_text(name)
    expect(page.locator("#investigation-cameras")).to_have_text("Cam A")
    expect(page.locator("#investigation-edit")).to_be_visible()
    expect(page.locator("#export-count")).to_have_text("No exports yet.")

    watch_exports(page)
    page.locator("#export-format").select_option("mkv")
    page.locator("#export-prepare").click()
    item = page.locator("#export-list .export")
    expect(item).to_have_count(1)
    expect(item).to_have_attribute("data-state", "done", timeout=EXPORT_TIMEOUT_MS)
    seen: list[list[Any]] = page.evaluate("() => window.seenExports")
    unfinished = [s for s in seen if s[0] in ("queued", "running")]
    assert unfinished, seen
    assert all(shown and 0 <= value <= 100 for _, shown, value in unfinished), seen
    assert seen[-1][:2] == ["done", False], seen  # no bar once done
    expect(item.locator(".export-state")).to_have_text("Ready")
    expect(item.locator(".export-size")).not_to_be_empty()
    exports = httpx.get(
        f"{recording.server.base_url}/api/v1/investigations/{saved[0]['id']}/exports",
        headers=admin(recording.server),
    ).json()
    assert [(e["format"], e["state"]) for e in exports] == [("mkv", "done")]

    download = item.locator(".export-download")
    expect(download).to_be_visible()
    with page.expect_download() as caught:
        download.click()
    path = tmp_path / caught.value.suggested_filename
    caught.value.save_as(path)
    assert path.suffix == ".mkv" and path.stat().st_size == exports[0]["size"]

    # The file plays: every frame decodes, and it lasts the investigation's span.
    with av.open(str(path)) as container:
        (stream,) = container.streams.video
        assert stream.metadata.get("title") == "Cam A"  # a track per camera, named
        assert stream.time_base is not None
        times = [
            float(frame.pts * stream.time_base)
            for frame in container.decode(stream)
            if frame.pts is not None
        ]
    assert len(times) > SPAN_S * 20, len(times)  # the synthetic camera sends 30 fps
    # From the keyframe at or before the start (time 0) to the last frame before the end.
    duration = max(times) - min(times)
    assert SPAN_S - 0.2 < duration < SPAN_S + KEYFRAME_INTERVAL_S + 0.2, (min(times), max(times))

    # Its owner renames it: only the name changes.
    page.locator("#investigation-edit").click()
    form = page.locator("#investigation-form")
    form.locator("input[name=name]").fill("Broken window, north gate")
    form.locator("button[type=submit]").click()
    expect(page.locator("#investigation-title")).to_have_text("Broken window, north gate")
    expect(form).to_have_count(0)
    edited = httpx.get(
        f"{recording.server.base_url}/api/v1/investigations/{saved[0]['id']}",
        headers=admin(recording.server),
    ).json()
    assert edited == {**saved[0], "name": "Broken window, north gate"}

    # Its owner deletes it (after confirming), and the export goes with it.
    page.once("dialog", lambda dialog: dialog.accept())
    page.locator("#investigation-delete").click()
    expect(page.locator("#investigations-view")).to_be_visible()
    expect(page.locator("#investigation-count")).to_have_text("No investigations yet.")


def shown(page: Page, near: float) -> float:
    """Waits until playback shows a frame within a second of a moment; returns its time."""
    deadline = time.monotonic() + 10
    value = None
    while time.monotonic() < deadline:
        value = page.locator("#playback-time").get_attribute("data-time")
        if value and abs(ms(value) - near) < 1000:
            return ms(value)
        page.wait_for_timeout(50)
    raise AssertionError(f"playback shows {value}, not {iso(near)}")


def marked(page: Page) -> tuple[str, float, float]:
    """The camera and the range of the "New investigation" link from playback."""
    link = page.locator("#playback-investigation")
    link.focus()  # the link's address follows the moment watched
    href = link.get_attribute("href") or ""
    assert href.startswith("#/investigations/new?"), href
    query = parse_qs(urlparse(href[1:]).query)
    return query["camera"][0], ms(query["start"][0]), ms(query["end"][0])


def test_playback_marks_open_a_new_investigation_filled_in(
    context: BrowserContext, recording: Recording
) -> None:
    page = context.new_page()
    log_in(page, recording.server.base_url, *ADMIN)
    expect(page.locator("#grid")).to_be_visible(timeout=10_000)
    start, end = span(recording)
    page.evaluate(
        "(hash) => { location.hash = hash; }",
        f"#/camera/{recording.camera_id}/playback?t={iso(start + 500)}",
    )
    watched = shown(page, start + 500)
    expect(page.locator("#playback-marks")).to_be_empty()
    # Nothing marked: the 5 minutes around the moment watched.
    camera_id, first, last = marked(page)
    assert camera_id == recording.camera_id
    assert last - first == 300_000 and first < watched < last, (iso(first), iso(last))

    page.locator("#playback-mark-start").click()
    expect(page.locator("#playback-marks")).to_contain_text("Start")
    page.locator("#playback-goto-time").fill(local(end - 1000))
    page.locator("#playback-goto button[type=submit]").click()
    shown(page, end - 1000)
    page.locator("#playback-mark-end").click()
    expect(page.locator("#playback-marks")).to_contain_text("–")
    camera_id, first, last = marked(page)
    assert camera_id == recording.camera_id
    assert abs(first - (start + 500)) < 3000 and abs(last - (end - 1000)) < 3000, (first, last)

    page.locator("#playback-investigation").click()
    form = page.locator("#investigation-form")
    expect(form).to_be_visible()
    box = form.locator(f'input[name=camera][value="{recording.camera_id}"]')
    expect(box).to_be_checked()
    # To the second, outward: the range holds both marks.
    assert typed(form.locator("input[name=start]").input_value()) == math.floor(first / 1000) * 1000
    assert typed(form.locator("input[name=end]").input_value()) == math.ceil(last / 1000) * 1000
    form.locator("button", has_text="Cancel").click()
    expect(form).to_have_count(0)
    assert page.evaluate("() => location.hash") == "#/investigations"


def set_operator_permissions(recording: Recording, permissions: list[str]) -> None:
    httpx.put(
        f"{recording.server.base_url}/api/v1/roles/operator/permissions",
        json={"permissions": permissions},
        headers=admin(recording.server),
    ).raise_for_status()


def test_the_link_follows_the_export_permission_and_the_server_says_why(
    context: BrowserContext, recording: Recording
) -> None:
    page = context.new_page()
    log_in(page, recording.server.base_url, *OPERATOR)
    # Logged in (the operator's role may view no camera: the grid is empty).
    expect(page.locator("#grid-title")).to_be_visible(timeout=10_000)
    expect(page.locator("#user-name")).to_have_text(OPERATOR[0])
    expect(page.locator("#nav-investigations")).to_be_hidden()
    # Opened by its address anyway: the server refuses (403), and its reason is shown.
    page.evaluate("() => { location.hash = '#/investigations'; }")
    expect(page.locator("#investigation-count")).to_have_text(
        "preparing video evidence needs the Export permission"
    )
    expect(page.locator("#investigation-new")).to_be_hidden()

    # Given the permission, an operator (no administrator) gets the link after a reload.
    defaults = sorted(Permission.role_defaults())
    set_operator_permissions(recording, [*defaults, "export"])
    try:
        page.reload()
        expect(page.locator("#nav-investigations")).to_be_visible(timeout=10_000)
        expect(page.locator("#admin-nav")).to_be_hidden()
        expect(page.locator("#investigation-count")).to_have_text("No investigations yet.")
        expect(page.locator("#investigation-new")).to_be_visible()
    finally:
        set_operator_permissions(recording, defaults)


def test_a_phone_prepares_exports_and_sees_refusals(browser: Browser, recording: Recording) -> None:
    context = browser.new_context(
        viewport={"width": 360, "height": 740}, is_mobile=True, has_touch=True, timezone_id=ZONE
    )
    investigation_id = create(recording, "Car park, level 2: the blue van that left at night")
    patch_settings(recording.server, {"investigations": {"export_formats": {"avi": False}}})
    try:
        page = context.new_page()
        log_in(page, recording.server.base_url, *ADMIN)
        expect(page.locator("#grid")).to_be_visible(timeout=10_000)
        page.locator("#nav-investigations").tap()
        found = page.locator(f'.investigation[data-investigation-id="{investigation_id}"]')
        expect(found).to_be_visible()
        fits(page)
        found.locator(".investigation-open").tap()
        expect(page.locator("#export-form")).to_be_visible()
        fits(page)

        # A format the administrator did not enable is listed but cannot be chosen.
        avi = page.locator('#export-format option[value="avi"]')
        expect(avi).to_be_disabled()
        expect(avi).to_have_text("AVI (not enabled)")
        expect(page.locator("#export-list .export")).to_have_count(0)

        # Native, with a password typed twice (the two must match).
        page.locator("#export-format").select_option("native")
        page.locator("#export-password").fill("evidence-123")
        page.locator("#export-password-again").fill("evidence-124")
        page.locator("#export-prepare").tap()
        expect(page.locator("#export-error")).to_have_text("The two passwords differ.")
        page.locator("#export-password-again").fill("evidence-123")
        page.locator("#export-prepare").tap()
        item = page.locator("#export-list .export")
        expect(item).to_have_attribute("data-state", "done", timeout=EXPORT_TIMEOUT_MS)
        expect(item.locator(".export-meta")).to_contain_text("password protected")
        expect(item.locator(".export-download")).to_be_visible()
        fits(page)

        page.once("dialog", lambda dialog: dialog.accept())
        item.locator(".export-delete").tap()
        expect(item).to_have_count(0)
        expect(page.locator("#export-count")).to_have_text("No exports yet.")
    finally:
        patch_settings(recording.server, {"investigations": {"export_formats": {"avi": True}}})
        httpx.delete(
            f"{recording.server.base_url}/api/v1/investigations/{investigation_id}",
            headers=admin(recording.server),
        )
        context.close()


def fits(page: Page) -> None:
    """Nothing sticks out sideways, and the header's links are on the screen."""
    layout = page.evaluate(
        """() => ({scroll: document.documentElement.scrollWidth, inner: innerWidth,
                   link: document.querySelector('#nav-investigations').getBoundingClientRect()
                         .right,
                   logout: document.querySelector('#logout').getBoundingClientRect().right})"""
    )
    assert layout["scroll"] <= layout["inner"], layout
    assert layout["link"] <= layout["inner"] and layout["logout"] <= layout["inner"], layout
