"""The reference client library's folder, served read-only for its sample pages.

``camgate serve --xpmobile-samples DIR`` serves a checkout of Milestone's web client library
(``XPMobileSDK.js``, ``Lib/``, ``Samples/``) under :data:`PATH`, so that its sample pages run on
camgate's own origin: they find the server at ``window.location.origin``. Nothing is served
without the option. camgate ships none of the library.
"""

from __future__ import annotations

from pathlib import Path

from fastapi.responses import PlainTextResponse
from fastapi.staticfiles import StaticFiles
from starlette.responses import Response
from starlette.types import Scope

#: Where the folder is served. The sample pages load ``../../XPMobileSDK.js`` and
#: ``../../Lib/…``, so the whole checkout must sit under one path.
PATH = "/XProtectMobile/sdk"
#: The file that tells a checkout of the library from another folder.
LIBRARY_FILE = "XPMobileSDK.js"
#: Printed at start, in this order when a checkout has them.
SAMPLE_PAGES = (
    "Samples/Thumbnail/thumbnailSample.html",
    "Samples/Video/videoSample.html",
)

#: camgate's own policy, but the samples set inline styles (``style`` attributes, and ``<style>``
#: in their custom elements' shadow roots), which camgate's pages never do.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; "
    "connect-src 'self' ws: wss:; style-src 'self' 'unsafe-inline'; script-src 'self'; "
    "worker-src 'self'; object-src 'none'; frame-ancestors 'none'; base-uri 'none'"
)


class SamplesFolderError(ValueError):
    """The folder given is not a checkout of the library."""


def checked_folder(folder: Path) -> Path:
    """The folder, resolved, when it holds the library; otherwise says what is wrong."""
    resolved = folder.expanduser().resolve()
    if not resolved.is_dir():
        raise SamplesFolderError(f"{folder} is not a folder")
    if not (resolved / LIBRARY_FILE).is_file():
        raise SamplesFolderError(
            f"{folder} holds no {LIBRARY_FILE}: give the folder of a checkout of the "
            "XProtect Mobile web client library (mipsdkmobile-web)"
        )
    return resolved


def pages(folder: Path) -> list[str]:
    """The sample pages to print at start: the known ones this checkout has."""
    return [page for page in SAMPLE_PAGES if (folder / page).is_file()]


class SampleFiles(StaticFiles):
    """The library's files. StaticFiles keeps requests inside the folder (no ``..``, no link
    out of it) and lists no folder; hidden files (a checkout's ``.git``) are not served."""

    def __init__(self, folder: Path) -> None:
        super().__init__(directory=folder, html=False, check_dir=True)

    async def get_response(self, path: str, scope: Scope) -> Response:
        if any(part.startswith(".") for part in Path(path).parts):
            return PlainTextResponse("Not Found", status_code=404)
        response = await super().get_response(path, scope)
        response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
        return response
