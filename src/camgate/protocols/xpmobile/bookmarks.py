"""Bookmarks over the protocol: GetBookmarks, RequestBookmarkCreation, CreateBookmark,
UpdateBookmark and DeleteBookmark, on camgate's bookmark service with the REST API's rules:
the bookmarks toggle first (24), then the role's bookmark permission (25, the REST routes'
``require``), then the service's own (only cameras the user may view; only the creator or an
administrator changes a bookmark).

A camgate bookmark is a span (``StartTime`` to ``EndTime``, equal for a single moment) with a
headline (``Name``) and a description; it keeps no separate moment, so ``Time`` reads as its
start, and no reference apart from its id (``Reference``). Answers list the latest start
first.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Iterable

from camgate.bookmarks.models import DEFAULT_LIMIT, MAX_LIMIT, Bookmark, BookmarkQuery
from camgate.bookmarks.service import TURNED_OFF
from camgate.core.errors import CamgateError, ErrorKind
from camgate.identity.models import Permission, User
from camgate.protocols.xpmobile.call import Call, Command, Needs, viewable
from camgate.protocols.xpmobile.errors import CommandError, ErrorCode
from camgate.protocols.xpmobile.evidence import (
    feature_refusal,
    flag,
    optional_time,
    permitted_user,
    required_time,
)
from camgate.protocols.xpmobile.messages import Item, Reply, guid
from camgate.protocols.xpmobile.times import render_time

#: As the REST API bounds its ``q``.
MAX_KEYWORD = 200
MAX_SEARCH_CAMERAS = 100
#: RequestBookmarkCreation's suggestion: this much before and after the moment, as camgate's
#: web client makes a bookmark.
AROUND_S = 10
#: The description of a bookmark made without one (the protocol's documented default).
DEFAULT_DESCRIPTION = "Mobile bookmark"
BOOKMARK = "Bookmark"
CAMERA = "Camera"
_CAMERA_UNKNOWN = {ErrorKind.NOT_FOUND: ErrorCode.UNKNOWN_CAMERA_ID}


def bookmark_item(bookmark: Bookmark, camera_name: str) -> Item:
    """A bookmark as the clients read it: ``Name`` is the headline; its camera is the one
    nested item. Pure."""
    start = render_time(bookmark.start)
    return Item(
        BOOKMARK,
        bookmark.id,
        bookmark.headline,
        properties=(
            ("Description", bookmark.description),
            ("Reference", bookmark.id),
            ("Time", start),
            ("StartTime", start),
            ("EndTime", render_time(bookmark.end)),
            ("CameraId", bookmark.camera_id),
            ("Username", bookmark.username),
        ),
        items=(Item(CAMERA, bookmark.camera_id, camera_name),),
    )


def newest_first(found: Iterable[list[Bookmark]], limit: int) -> list[Bookmark]:
    """The ``limit`` latest of several searches' answers (each the latest first). Pure."""
    merged = heapq.merge(*found, key=lambda bookmark: -bookmark.start)
    return list(merged)[:limit]


def search_cameras(text: str | None) -> list[str]:
    """``SearchCameraIds``: GUIDs separated by commas (14 otherwise). Pure."""
    parts = [part.strip() for part in (text or "").split(",") if part.strip()]
    if len(parts) > MAX_SEARCH_CAMERAS:
        raise CommandError(
            ErrorCode.INPUT_PARAMETER_TOO_LONG, f"SearchCameraIds lists over {MAX_SEARCH_CAMERAS}"
        )
    try:
        return list(dict.fromkeys(guid(part) for part in parts))
    except ValueError:
        raise CommandError(
            ErrorCode.WRONG_INPUT_PARAMETER, "SearchCameraIds holds something other than GUIDs"
        ) from None


def _allowed(call: Call, permission: Permission) -> User:
    """The toggle, then the permission, as the REST routes' dependencies check them."""
    try:
        call.svc.bookmarks.require_enabled()
    except CamgateError as error:
        raise feature_refusal(error, TURNED_OFF) from None
    return permitted_user(call, permission)


def _optional_guid(call: Call, name: str) -> str | None:
    value = call.request.get(name)
    return call.guid(name) if value is not None and value.strip() else None


async def _reply(call: Call, bookmarks: list[Bookmark], **out: str) -> Reply:
    names = {camera.id: camera.name for camera in await call.svc.cameras.list()}
    items = tuple(bookmark_item(b, names.get(b.camera_id, "")) for b in bookmarks)
    return Reply(params=tuple(out.items()), items=items)


async def _search(call: Call, user: User, after: str | None, limit: int) -> list[Bookmark]:
    """The search runs from ``StartTime`` (or the start of bookmark ``after``: the next page)
    towards ``EndTime``; without them, over all time."""
    svc = call.svc
    keyword = call.request.get("Keyword") or None
    if keyword is not None and len(keyword) > MAX_KEYWORD:
        raise CommandError(ErrorCode.INPUT_PARAMETER_TOO_LONG, "Keyword is too long")
    mine = flag(call, "MyBookmarks", False)
    cameras = search_cameras(call.request.get("SearchCameraIds"))
    origin = optional_time(call, "StartTime")
    towards = optional_time(call, "EndTime")
    if after is not None:
        origin = (await svc.bookmarks.get(user, after)).start
    if origin is not None and towards is not None and towards > origin:
        origin, towards = towards, origin
    # One search per camera asked for (the service searches one camera, or all).
    targets: list[str | None] = [*cameras] if cameras else [None]
    searches = [
        await svc.bookmarks.search(
            user, BookmarkQuery(camera_id, towards, origin, keyword, mine, limit)
        )
        for camera_id in targets
    ]
    return newest_first(searches, limit)


async def get_bookmarks(call: Call) -> Reply:
    """One bookmark (``BookmarkId`` alone), or a search (``Count`` of them at most)."""
    user = _allowed(call, Permission.BOOKMARKS_VIEW)
    bookmark_id = _optional_guid(call, "BookmarkId")
    count = call.number("Count", 1, MAX_LIMIT, None)
    try:
        if bookmark_id is not None and count is None:
            found = [await call.svc.bookmarks.get(user, bookmark_id)]
        else:
            found = await _search(call, user, bookmark_id, count or DEFAULT_LIMIT)
    except CamgateError as error:
        raise feature_refusal(error, TURNED_OFF) from None
    return await _reply(call, found)


async def request_bookmark_creation(call: Call) -> Reply:
    """What a client needs to make a bookmark on the camera now: the moment and a span
    around it (``BeforeTime``/``AfterTime`` in seconds, as the protocol's clients read them)."""
    _allowed(call, Permission.BOOKMARKS_CREATE)
    await viewable(call)
    now = call.svc.clock.now()
    return Reply(
        params=(
            ("Time", render_time(now)),
            ("StartTime", render_time(now - AROUND_S)),
            ("EndTime", render_time(now + AROUND_S)),
            ("BeforeTime", str(AROUND_S)),
            ("AfterTime", str(AROUND_S)),
        )
    )


def _span(moment: float, start: float | None, end: float | None) -> tuple[float, float]:
    start = moment if start is None else start
    end = moment if end is None else end
    if not start <= moment <= end:
        raise CommandError(ErrorCode.WRONG_INPUT_PARAMETER, "Time lies outside StartTime–EndTime")
    return start, end


async def create_bookmark(call: Call) -> Reply:
    user = _allowed(call, Permission.BOOKMARKS_CREATE)
    if call.request.get("VideoId") and not call.request.get("CameraId"):
        # At what the client sees on that stream: its camera, the frame shown (live: now).
        stream = call.streams.of(call.current.id, call.guid("VideoId"))
        camera_id, shown = stream.camera_id, stream.position()
        if camera_id is None:
            raise CommandError(ErrorCode.UNKNOWN_ITEM_ID, "a playback controller shows no camera")
        moment = shown if math.isfinite(shown) else call.svc.clock.now()
        time = optional_time(call, "Time")
        moment = moment if time is None else time
    else:
        camera_id = call.guid("CameraId")
        moment = required_time(call, "Time")
    headline = call.param("Name")
    start, end = _span(moment, optional_time(call, "StartTime"), optional_time(call, "EndTime"))
    description = call.request.get("Description") or DEFAULT_DESCRIPTION
    try:
        bookmark = await call.svc.bookmarks.create(
            user, camera_id, start, end, headline, description
        )
    except CamgateError as error:
        raise feature_refusal(error, TURNED_OFF, _CAMERA_UNKNOWN) from None
    return await _reply(call, [bookmark], BookmarkId=bookmark.id)


async def update_bookmark(call: Call) -> Reply:
    """Changes the fields sent. ``Time`` alone moves the bookmark, keeping its length."""
    user = _allowed(call, Permission.BOOKMARKS_EDIT)
    bookmark_id = call.guid("BookmarkId")
    moment = optional_time(call, "Time")
    start = optional_time(call, "StartTime")
    end = optional_time(call, "EndTime")
    svc = call.svc
    try:
        if moment is not None and start is None and end is None:
            current = await svc.bookmarks.get(user, bookmark_id)
            start, end = moment, moment + current.end - current.start
        elif moment is not None and start is not None and end is not None:
            _span(moment, start, end)
        bookmark = await svc.bookmarks.update(
            user,
            bookmark_id,
            start=start,
            end=end,
            headline=call.request.get("Name") or None,
            description=call.request.get("Description"),
        )
    except CamgateError as error:
        raise feature_refusal(error, TURNED_OFF) from None
    return await _reply(call, [bookmark], BookmarkId=bookmark.id)


async def delete_bookmark(call: Call) -> Reply:
    user = _allowed(call, Permission.BOOKMARKS_EDIT)
    bookmark_id = call.guid("BookmarkId")
    try:
        await call.svc.bookmarks.delete(user, bookmark_id)
    except CamgateError as error:
        raise feature_refusal(error, TURNED_OFF) from None
    return Reply()


COMMANDS: dict[str, Command] = {
    "GetBookmarks": Command(get_bookmarks, Needs.SESSION),
    "RequestBookmarkCreation": Command(request_bookmark_creation, Needs.SESSION),
    "CreateBookmark": Command(create_bookmark, Needs.SESSION),
    "UpdateBookmark": Command(update_bookmark, Needs.SESSION),
    "DeleteBookmark": Command(delete_bookmark, Needs.SESSION),
}
