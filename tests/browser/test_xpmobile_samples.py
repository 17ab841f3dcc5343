"""The reference client library's own sample pages, in headless Chromium, against camgate.

Milestone's web client library (``mipsdkmobile-web``, MIT) ships sample pages. camgate serves a
checkout of it with ``--xpmobile-samples DIR`` (here ``running_server(xpmobile_samples_dir=…)``)
at ``/XProtectMobile/sdk/``: the pages then find the server at their own origin, as they find
the original server. Skipped unless ``XPMOBILE_SDK_DIR`` names the checkout; nothing of the
library is part of camgate.

Every sample logs in through the library's login form (``Samples/lib/loginManagerTemplate.htm``):
Connect with the server field left empty (the page's origin), then Basic authentication. The
pages show the cameras of the "All cameras" view (``items[0].Items[0].Items[0].Items``); a user
of the operator role sees the cameras granted to the role.

The samples as tried against camgate (issue 7, with live video, recordings and bookmarks):

- **Thumbnail** (``Samples/Thumbnail``, tested here): works. "Get Thumbnail" sends
  ``GetThumbnailByTime`` (``SeekType=Time``, ``Time`` = now, 400×225) and draws the answer's
  ``Thumbnail`` on the camera's canvas (400×224 from a 16:9 camera), its ``Timestamp`` as the time:
  the latest recorded frame (code 32 while the camera has recorded nothing).
- **Video** (``Samples/Video``, tested here): live and playback work. A click on a camera sends
  ``RequestStream`` (Live, Push, Transcoded, 400×300, 25 fps, ``ComprLevel`` 71,
  ``RequestSize=Yes``), opens the WebSocket ``/XProtectMobile/Video/<VideoId>`` and draws each
  JPEG frame on the camera's canvas (about 25 a second). A second click switches to playback:
  ``CloseStream``, then ``RequestStream`` with ``SignalType=Playback`` and no time (camgate:
  paused at now, the last frame recorded) on a new WebSocket; the page shows its play buttons,
  which send ``ChangeStream`` with ``Speed`` -1, 1 or 0, and the time of each frame drawn.
- **VideoStream** (direct streaming: fMP4 in MediaSource, in its ``videos-stream`` elements):
  works; ``RequestStream`` with ``StreamType=FragmentedMP4`` and the 640×360 video plays.
- **Bookmarks**: works; lists (``GetBookmarks``), creates (``CreateBookmark``) and removes
  (``DeleteBookmark``) bookmarks.
- **MultiCameraPlayback** (``Samples/MultiCameraPlayback``, tested here): works. After LogIn it
  sends ``CreatePlaybackController`` (``Time`` = now) and opens the controller's video channel;
  a click on a camera sends ``RequestStream`` (Playback) with the ``PlaybackControllerId``, and
  the common buttons send ``ChangeMultipleStreams`` with ``Speed`` -1, 1 or 0: every camera
  clicked plays as one, and the bar shows the controller's time from its channel's frames.
- **PTZ**: logs in and lists no camera (camgate's cameras have no PTZ).
- **Audio**, **PushToTalk**, **VideoPush**: log in, then alert that the server does not offer the
  feature (they read LogIn's ``SupportsOutgoingAudio``, ``SupportsIncomingAudio`` and
  ``VideoPush``, which are ``No``).
- **ThirdPartyLogin**: not tried; it needs an external identity provider, and LogIn with
  ``LoginType=External`` answers 24 (feature disabled).
"""

from __future__ import annotations

import os
import re
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import ConsoleMessage, Dialog, Page, Request, Response, WebSocket, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from camgate.protocols.xpmobile.samples import PATH
from tests.conftest import ADMIN, OPERATOR, login
from tests.support.media_checks import wait_for_online
from tests.support.server import RunningServer, add_user, auth, running_server

SDK_DIR = os.environ.get("XPMOBILE_SDK_DIR", "")
THUMBNAIL_PAGE = "Samples/Thumbnail/thumbnailSample.html"
VIDEO_PAGE = "Samples/Video/videoSample.html"
MULTI_PAGE = "Samples/MultiCameraPlayback/videoSample.html"
CAMERA = "Cam A"


def _missing() -> str:
    """Why the tests cannot run here ("" when they can)."""
    if not SDK_DIR:
        return "XPMOBILE_SDK_DIR does not name the reference client library"
    folder = Path(SDK_DIR)
    wanted = ("XPMobileSDK.js", THUMBNAIL_PAGE, VIDEO_PAGE, MULTI_PAGE)
    if not all((folder / name).is_file() for name in wanted):
        return f"no {', '.join(wanted)} in {SDK_DIR}"
    return ""


# Decided before the server starts: a skip costs nothing. Chromium is the browser fixture's
# concern (conftest.py): skipped locally without it, required in CI.
pytestmark = [pytest.mark.browser, pytest.mark.skipif(bool(_missing()), reason=_missing() or "")]


@dataclass
class Samples:
    server: RunningServer
    camera_id: str

    def url(self, page: str) -> str:
        return f"{self.server.base_url}{PATH}/{page}"


@pytest.fixture(scope="module")
def samples(tmp_path_factory: pytest.TempPathFactory, clip_cache: Path) -> Iterator[Samples]:
    """camgate serving the library, with one camera granted to the operator role."""
    folder = tmp_path_factory.mktemp("samples") / "data"
    folder.mkdir()
    shutil.copytree(clip_cache, folder / "cache")
    add_user(folder, *ADMIN, "administrator")
    add_user(folder, *OPERATOR, "operator")
    # Short segments: the first recording, which GetThumbnailByTime needs, comes soon.
    with running_server(
        folder, backoff=lambda n: 0.2, segment_s=2, xpmobile_samples_dir=Path(SDK_DIR)
    ) as server:
        token = login(server.base_url, *ADMIN)
        added = httpx.post(
            f"{server.base_url}/api/v1/cameras",
            json={"name": CAMERA, "urls": ["synthetic:360p"]},
            headers=auth(token),
        )
        added.raise_for_status()
        camera_id: str = added.json()["id"]
        httpx.put(
            f"{server.base_url}/api/v1/roles/operator/cameras",
            json={"camera_ids": [camera_id]},
            headers=auth(token),
        ).raise_for_status()
        wait_for_online(server.base_url, token, camera_id)
        wait_for_recording(server, token, camera_id)
        yield Samples(server, camera_id)


def wait_for_recording(server: RunningServer, token: str, camera_id: str) -> None:
    """Until the camera has a recorded segment: GetThumbnailByTime shows recorded frames."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        response = httpx.get(
            f"{server.base_url}/api/v1/cameras/{camera_id}/recordings", headers=auth(token)
        )
        response.raise_for_status()
        if response.json()["intervals"]:
            return
        time.sleep(0.5)
    raise AssertionError("the camera recorded nothing in 30 s")


@dataclass
class SampleLog:
    """What a sample page did: the commands it sent and their answers, the video channel, and
    what it complained about. Shown with every failed check, so that a failure says where the
    conversation with camgate went wrong."""

    commands: list[str] = field(default_factory=list)
    sockets: list[str] = field(default_factory=list)
    frames: int = 0
    complaints: list[str] = field(default_factory=list)

    def watch(self, page: Page) -> None:
        page.on("response", self._response)
        page.on("requestfailed", self._failed)
        page.on("websocket", self._socket)
        page.on("pageerror", lambda error: self.complaints.append(f"page error: {error}"))
        page.on("dialog", self._dialog)
        page.on("console", self._console)

    def _response(self, response: Response) -> None:
        if response.status >= 400:
            self.complaints.append(f"HTTP {response.status} {response.url}")
        if not response.url.endswith("/XProtectMobile/Communication"):
            return
        sent = re.search(r"<Name>(\w+)</Name>", response.request.post_data or "")
        body = response.text()
        result = re.search(r"<Result>(\w+)</Result>", body)
        code = re.search(r"<ErrorCode>(\d+)</ErrorCode>", body)
        reason = re.search(r"<ErrorString>([^<]*)</ErrorString>", body)
        name = sent[1] if sent else "?"
        signal = re.search(r'Name="SignalType" Value="(\w+)"', response.request.post_data or "")
        if signal:
            name += f"({signal[1]})"
        line = f"{name} → {result[1] if result else '?'}"
        if code:
            line += f" {code[1]} ({reason[1] if reason else ''})"
        self.commands.append(line)

    def _console(self, message: ConsoleMessage) -> None:
        # A failed load is a response of its own (with its URL): the favicon's is not one.
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            self.complaints.append(f"console: {message.text[:300]}")

    def _failed(self, request: Request) -> None:
        self.complaints.append(f"request failed: {request.url} {request.failure}")

    def _socket(self, socket: WebSocket) -> None:
        self.sockets.append(socket.url)
        socket.on("framereceived", self._frame)
        socket.on("close", lambda closed: self.complaints.append(f"closed: {closed.url}"))

    def _frame(self, _payload: Any) -> None:
        self.frames += 1

    def _dialog(self, dialog: Dialog) -> None:
        self.complaints.append(f"alert: {dialog.message}")
        dialog.dismiss()

    def __str__(self) -> str:
        return (
            f"commands: {self.commands}\nvideo channels: {self.sockets}, frames: {self.frames}\n"
            f"complaints: {self.complaints}"
        )


def open_sample(page: Page, samples: Samples, sample: str) -> SampleLog:
    """Opens a sample page and logs in as the operator through the library's login form."""
    log = SampleLog()
    log.watch(page)
    page.goto(samples.url(sample))
    # The server field stays empty: the page's origin, camgate.
    page.locator(".connect-button").click()
    expect(page.locator(".login-form-content")).to_be_visible(timeout=15_000)
    page.locator("#authentication").select_option("Basic")
    page.locator(".username").fill(OPERATOR[0])
    page.locator(".password").fill(OPERATOR[1])
    page.locator(".login-button").click()
    camera = page.locator(f"#container{samples.camera_id}")
    try:
        expect(camera).to_be_visible(timeout=15_000)
    except AssertionError as error:
        raise AssertionError(f"the camera is not listed\n{log}") from error
    return log


#: Luma statistics of a canvas: its size, the darkest and lightest pixel, how many levels
#: occur, and a hash of the picture (to tell one frame from the next).
PIXELS = """(canvas) => {
  const width = canvas.width, height = canvas.height;
  const data = canvas.getContext("2d").getImageData(0, 0, width, height).data;
  let low = 255, high = 0, hash = 0;
  const levels = new Set();
  for (let i = 0; i < data.length; i += 4) {
    const luma = (data[i] * 299 + data[i + 1] * 587 + data[i + 2] * 114) / 1000 | 0;
    low = Math.min(low, luma);
    high = Math.max(high, luma);
    levels.add(luma);
    hash = (hash * 31 + data[i] + 3 * data[i + 1] + 7 * data[i + 2] + data[i + 3]) | 0;
  }
  return {width, height, low, high, levels: levels.size, hash};
}"""

#: A decoded picture, not a blank canvas: a camera's frame spans dark and light, in many levels
#: (the synthetic cameras show colour bars, moving shapes and noise).
DRAWN = f"""(canvas) => {{
  const stats = ({PIXELS})(canvas);
  return stats.high - stats.low > 96 && stats.levels > 32;
}}"""


def drawn(page: Page, canvas: str, log: SampleLog, timeout_ms: int = 20_000) -> dict[str, int]:
    """Waits until the canvas shows a picture; its statistics."""
    handle = page.locator(canvas).element_handle()
    assert handle is not None, f"no {canvas}\n{log}"
    try:
        page.wait_for_function(DRAWN, arg=handle, timeout=timeout_ms)
    except PlaywrightTimeout as error:
        blank = page.eval_on_selector(canvas, PIXELS)
        raise AssertionError(f"nothing drawn on {canvas}: {blank}\n{log}") from error
    stats: dict[str, int] = page.eval_on_selector(canvas, PIXELS)
    return stats


def test_the_thumbnail_sample_draws_a_thumbnail(page: Page, samples: Samples) -> None:
    log = open_sample(page, samples, THUMBNAIL_PAGE)
    camera = f"#container{samples.camera_id}"
    page.locator(f"{camera} .get-thumbnail-button").click()
    stats = drawn(page, f"{camera} canvas", log)
    # Asked for at most 400×225: the 16:9 camera fills it (sizes may round to even).
    width, height = stats["width"], stats["height"]
    assert 398 <= width <= 400 and 222 <= height <= 225, f"{stats}\n{log}"
    # The answer's Timestamp, shown as the picture's time (h:mm:ss).
    shown = page.locator(f"{camera} .playTimeIndex").inner_text()
    assert re.fullmatch(r"\d{1,2}:\d\d:\d\d", shown), f"time shown: {shown!r}\n{log}"
    assert not log.complaints, log


def test_the_video_sample_plays_live_video(page: Page, samples: Samples) -> None:
    log = open_sample(page, samples, VIDEO_PAGE)
    camera = f"#container{samples.camera_id}"
    page.locator(camera).click()
    first = drawn(page, f"{camera} canvas", log)
    assert [url for url in log.sockets if "/XProtectMobile/Video/" in url], log
    frames = log.frames
    page.wait_for_timeout(3000)
    later: dict[str, int] = page.eval_on_selector(f"{camera} canvas", PIXELS)
    # Live: frames keep coming and each is drawn (the picture moves).
    assert log.frames - frames >= 15, f"{log.frames - frames} frames in 3 s\n{log}"
    assert later["hash"] != first["hash"], f"the picture does not change\n{log}"
    assert later["high"] - later["low"] > 96, later
    assert not log.complaints, log


#: A time as the Video sample shows it (local h:mm:ss).
SHOWN_TIME = re.compile(r"(\d{1,2}):(\d\d):(\d\d)")


def shown_time(page: Page, where: str, log: SampleLog) -> int:
    """The time the sample shows (in ``where``: under a camera's picture, or the common bar),
    in seconds of its day."""
    text = page.locator(f"{where} .playTimeIndex").inner_text()
    found = SHOWN_TIME.fullmatch(text)
    assert found, f"time shown: {text!r}\n{log}"
    hours, minutes, seconds = (int(part) for part in found.groups())
    return hours * 3600 + minutes * 60 + seconds


def recorded_for(samples: Samples, seconds: float) -> None:
    """Until the camera's recordings span ``seconds``, so that there is video to play back."""
    token = login(samples.server.base_url, *ADMIN)
    url = f"{samples.server.base_url}/api/v1/cameras/{samples.camera_id}/recordings"
    deadline = time.monotonic() + seconds + 30
    while time.monotonic() < deadline:
        intervals = httpx.get(url, headers=auth(token)).json()["intervals"]
        if intervals:
            start, end = (datetime.fromisoformat(intervals[-1][edge]) for edge in ("start", "end"))
            if (end - start).total_seconds() >= seconds:
                return
        time.sleep(0.5)
    raise AssertionError(f"the camera did not record {seconds} s")


def played(page: Page, camera: str, log: SampleLog, button: str) -> tuple[int, int]:
    """Clicks a play button and watches the picture for 3 s: the frames that came and how far
    the time shown moved (seconds)."""
    canvas = f"{camera} canvas"
    before: dict[str, int] = page.eval_on_selector(canvas, PIXELS)
    start, frames = shown_time(page, camera, log), log.frames
    page.locator(f"{camera} {button}").click()
    page.wait_for_timeout(3000)
    after: dict[str, int] = page.eval_on_selector(canvas, PIXELS)
    assert after["hash"] != before["hash"], f"the picture does not change\n{log}"
    assert after["high"] - after["low"] > 96, after
    moved = (shown_time(page, camera, log) - start + 43200) % 86400 - 43200
    return log.frames - frames, moved


def test_the_video_sample_plays_recordings_back(page: Page, samples: Samples) -> None:
    recorded_for(samples, 8)
    log = open_sample(page, samples, VIDEO_PAGE)
    camera = f"#container{samples.camera_id}"
    page.locator(camera).click()
    drawn(page, f"{camera} canvas", log)
    # A second click: playback, paused at now, its buttons shown.
    page.locator(camera).click()
    expect(page.locator(f"{camera} .playBackButton")).to_be_visible(timeout=10_000)
    deadline = time.monotonic() + 10
    while len([url for url in log.sockets if "/XProtectMobile/Video/" in url]) < 2:
        assert time.monotonic() < deadline, f"no playback video channel\n{log}"
        page.wait_for_timeout(200)
    assert "RequestStream(Playback) → OK" in log.commands, log
    page.wait_for_timeout(1000)  # the paused frame

    # Backward at 1×: frames at the sample's rate, each drawn, the time going back.
    frames, moved = played(page, camera, log, ".playBackButton")
    assert frames >= 15, f"{frames} frames in 3 s backward\n{log}"
    assert -4 <= moved <= -2, f"moved {moved} s in 3 s backward\n{log}"
    # Forward again from there.
    frames, moved = played(page, camera, log, ".playForwardButton")
    assert frames >= 15, f"{frames} frames in 3 s forward\n{log}"
    assert 2 <= moved <= 4, f"moved {moved} s in 3 s forward\n{log}"
    changes = [line for line in log.commands if line.startswith("ChangeStream")]
    assert changes == ["ChangeStream → OK"] * 2, log
    # The sample closed the live channel itself (CloseStream) when it switched.
    live = next(url for url in log.sockets if "/XProtectMobile/Video/" in url)
    assert [c for c in log.complaints if c != f"closed: {live}"] == [], log


def test_the_multi_camera_playback_sample_plays_cameras_as_one(
    page: Page, samples: Samples
) -> None:
    recorded_for(samples, 8)
    log = open_sample(page, samples, MULTI_PAGE)
    bar = ".bottombar.topbar"
    expect(page.locator(f"{bar} .playBackButton")).to_be_visible(timeout=10_000)
    assert "CreatePlaybackController → OK" in log.commands, log
    camera = f"#container{samples.camera_id}"
    page.locator(camera).click()
    first = drawn(page, f"{camera} canvas", log)
    assert "RequestStream(Playback) → OK" in log.commands, log
    page.wait_for_timeout(1000)  # the controller's first frame: its time in the bar
    start, frames = shown_time(page, bar, log), log.frames
    # Backward at 1× for all the cameras clicked: frames drawn, the common time going back.
    page.locator(f"{bar} .playBackButton").click()
    page.wait_for_timeout(3000)
    later: dict[str, int] = page.eval_on_selector(f"{camera} canvas", PIXELS)
    assert later["hash"] != first["hash"], f"the picture does not change\n{log}"
    assert log.frames - frames >= 15, f"{log.frames - frames} frames in 3 s\n{log}"
    moved = (shown_time(page, bar, log) - start + 43200) % 86400 - 43200
    assert -4 <= moved <= -2, f"the bar moved {moved} s in 3 s backward\n{log}"
    assert "ChangeMultipleStreams → OK" in log.commands, log
    assert not log.complaints, log
