"""``--xpmobile-samples DIR``: a checkout of the XProtect Mobile web client library, served
read-only at ``/XProtectMobile/sdk/`` so that its sample pages run on camgate's origin. A folder
made here stands for the library (the real one is tested in tests/browser)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from camgate.protocols.xpmobile.samples import PATH
from tests.integration.test_serve import started
from tests.support.server import RunningServer, free_port, running_server

CAMGATE = [sys.executable, "-m", "camgate.cli"]
SDK_SOURCE = "var XPMobileSDKSettings = {};\n"
PAGE = "<!doctype html><title>Video Sample</title>\n"


def make_library(folder: Path) -> Path:
    """A folder shaped like a checkout of the library, with a hidden file and a link out."""
    (folder / "Samples" / "Video").mkdir(parents=True)
    (folder / "Lib" / "modules").mkdir(parents=True)
    (folder / "XPMobileSDK.js").write_text(SDK_SOURCE)
    (folder / "Samples" / "Video" / "videoSample.html").write_text(PAGE)
    (folder / "Lib" / "modules" / "main.js").write_text("export default 1;\n")
    (folder / ".git").mkdir()
    (folder / ".git" / "config").write_text("[core]\n")
    (folder / ".env").write_text("SECRET=1\n")
    secret = folder.parent / "outside.txt"
    secret.write_text("not for the web\n")
    (folder / "Samples" / "outside.txt").symlink_to(secret)
    return folder


@pytest.fixture
def library(tmp_path: Path) -> Path:
    return make_library(tmp_path / "mipsdk")


@pytest.fixture
def samples_server(tmp_path: Path, library: Path) -> Iterator[RunningServer]:
    with running_server(tmp_path / "data", xpmobile_samples_dir=library) as server:
        yield server


def test_the_library_is_served_read_only(samples_server: RunningServer) -> None:
    base = f"{samples_server.base_url}{PATH}"
    sdk = httpx.get(f"{base}/XPMobileSDK.js")
    assert sdk.status_code == 200 and sdk.text == SDK_SOURCE
    assert "javascript" in sdk.headers["content-type"]
    # Module scripts are refused by browsers without a JavaScript type.
    module = httpx.get(f"{base}/Lib/modules/main.js")
    assert "javascript" in module.headers["content-type"]
    page = httpx.get(f"{base}/Samples/Video/videoSample.html")
    assert page.status_code == 200 and page.text == PAGE
    assert page.headers["content-type"].startswith("text/html")
    policy = page.headers["content-security-policy"]
    # The samples' inline styles; nothing looser for scripts, and no framing.
    assert "style-src 'self' 'unsafe-inline'" in policy
    assert "script-src 'self';" in policy and "frame-ancestors 'none'" in policy
    assert page.headers["x-content-type-options"] == "nosniff"
    assert httpx.post(f"{base}/Samples/Video/videoSample.html").status_code == 405


@pytest.mark.parametrize(
    "path",
    [
        "/",  # no folder listing
        "/Samples/",
        "/Samples/Video",
        "/.git/config",  # hidden files of a checkout
        "/.env",
        "/Samples/../.git/config",
        "/Samples/outside.txt",  # a link out of the folder
        "/%2e%2e/outside.txt",  # out of the folder
        "/Samples/%2e%2e/%2e%2e/outside.txt",
        "/..%2foutside.txt",
        "/missing.js",
    ],
)
def test_nothing_else_is_served(samples_server: RunningServer, path: str) -> None:
    response = httpx.get(f"{samples_server.base_url}{PATH}{path}")
    assert response.status_code == 404, response.text
    assert "not for the web" not in response.text and "[core]" not in response.text


def test_nothing_is_served_without_the_option(tmp_path: Path) -> None:
    with running_server(tmp_path / "data") as server:
        response = httpx.get(f"{server.base_url}{PATH}/XPMobileSDK.js")
    assert response.status_code == 404


def run(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CAMGATE, "--data-dir", str(tmp_path / "data"), *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize("command", ["serve", "demo"])
def test_a_folder_that_is_not_the_library_is_refused_at_start(tmp_path: Path, command: str) -> None:
    missing = run(tmp_path, command, "--xpmobile-samples", str(tmp_path / "nowhere"))
    assert missing.returncode == 2
    assert f"--xpmobile-samples: {tmp_path / 'nowhere'} is not a folder" in missing.stderr
    other = tmp_path / "other"
    other.mkdir()
    wrong = run(tmp_path, command, "--xpmobile-samples", str(other))
    assert wrong.returncode == 2
    assert "holds no XPMobileSDK.js" in wrong.stderr
    # Refused before anything was made.
    assert not (tmp_path / "data").exists()


def test_serve_prints_the_samples_url(tmp_path: Path, library: Path) -> None:
    port = free_port()
    args = ["--data-dir", str(tmp_path / "data"), "serve", "--host", "127.0.0.1"]
    args += ["--http-port", str(port), "--https-port", "0", "--xpmobile-samples", str(library)]
    with started(args) as (_, printed):
        base = f"http://127.0.0.1:{port}{PATH}/"
        assert f"{base}\n" in printed
        video = f"{base}Samples/Video/videoSample.html"
        assert f"sample: {video}" in printed
        # Only the pages the checkout has.
        assert "thumbnailSample.html" not in printed
        assert httpx.get(video).text == PAGE
