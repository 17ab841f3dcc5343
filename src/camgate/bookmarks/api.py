"""``/api/v1/bookmarks``: headlines and descriptions on time spans of a camera's video."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, status
from pydantic import AwareDatetime, BaseModel, Field

from camgate.api.deps import CurrentPrincipal, ServicesDep, require
from camgate.api.times import iso
from camgate.bookmarks.models import (
    DEFAULT_LIMIT,
    MAX_DESCRIPTION,
    MAX_HEADLINE,
    MAX_LIMIT,
    Bookmark,
    BookmarkQuery,
)
from camgate.identity.models import Permission, Principal


async def _turned_on(_principal: CurrentPrincipal, svc: ServicesDep) -> None:
    # As a dependency, the toggle answers before the body and query are validated: a server
    # with bookmarks off says so (403) even to a malformed request. The principal comes first so
    # that an anonymous caller still gets 401.
    svc.bookmarks.require_enabled()


router = APIRouter(
    prefix="/api/v1/bookmarks", tags=["bookmarks"], dependencies=[Depends(_turned_on)]
)

# Each route needs its permission of the role, checked after the toggle: a server with
# bookmarks off says so to everyone.
Viewer = Annotated[Principal, Depends(require(Permission.BOOKMARKS_VIEW))]
Creator = Annotated[Principal, Depends(require(Permission.BOOKMARKS_CREATE))]
Editor = Annotated[Principal, Depends(require(Permission.BOOKMARKS_EDIT))]


def _seconds(moment: datetime | None) -> float | None:
    return None if moment is None else moment.timestamp()


class BookmarkOut(BaseModel):
    id: str
    camera_id: str
    start: str = Field(description="UTC, ISO 8601")
    end: str = Field(description="UTC, ISO 8601; equal to start for a single moment")
    headline: str
    description: str
    user: str = Field(description="The name of the user who made it")

    @classmethod
    def of(cls, bookmark: Bookmark) -> BookmarkOut:
        return cls(
            id=bookmark.id,
            camera_id=bookmark.camera_id,
            start=iso(bookmark.start),
            end=iso(bookmark.end),
            headline=bookmark.headline,
            description=bookmark.description,
            user=bookmark.username,
        )


class NewBookmark(BaseModel):
    camera_id: str
    start: AwareDatetime
    end: AwareDatetime = Field(description="At or after start, at most 24 h later")
    headline: str = Field(min_length=1, max_length=MAX_HEADLINE)
    description: str = Field(default="", max_length=MAX_DESCRIPTION)


class BookmarkPatch(BaseModel):
    start: AwareDatetime | None = None
    end: AwareDatetime | None = None
    headline: str | None = Field(default=None, min_length=1, max_length=MAX_HEADLINE)
    description: str | None = Field(default=None, max_length=MAX_DESCRIPTION)


@router.get("", summary="The bookmarks on cameras this user may view, the latest start first")
async def list_bookmarks(
    principal: Viewer,
    svc: ServicesDep,
    camera_id: str | None = None,
    start: Annotated[
        AwareDatetime | None, Query(description="Only bookmarks overlapping [start, end)")
    ] = None,
    end: AwareDatetime | None = None,
    q: Annotated[
        str | None, Query(max_length=200, description="Text in the headline or description")
    ] = None,
    mine: Annotated[bool, Query(description="Only the bookmarks this user made")] = False,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
) -> list[BookmarkOut]:
    query = BookmarkQuery(camera_id, _seconds(start), _seconds(end), q, mine, limit)
    return [BookmarkOut.of(b) for b in await svc.bookmarks.search(principal.user, query)]


@router.get("/{bookmark_id}")
async def get_bookmark(bookmark_id: str, principal: Viewer, svc: ServicesDep) -> BookmarkOut:
    return BookmarkOut.of(await svc.bookmarks.get(principal.user, bookmark_id))


@router.post("", status_code=status.HTTP_201_CREATED)
async def create_bookmark(body: NewBookmark, principal: Creator, svc: ServicesDep) -> BookmarkOut:
    bookmark = await svc.bookmarks.create(
        principal.user,
        body.camera_id,
        body.start.timestamp(),
        body.end.timestamp(),
        body.headline,
        body.description,
    )
    return BookmarkOut.of(bookmark)


@router.patch("/{bookmark_id}", summary="Change a bookmark (its creator or an administrator)")
async def update_bookmark(
    bookmark_id: str, body: BookmarkPatch, principal: Editor, svc: ServicesDep
) -> BookmarkOut:
    bookmark = await svc.bookmarks.update(
        principal.user,
        bookmark_id,
        start=_seconds(body.start),
        end=_seconds(body.end),
        headline=body.headline,
        description=body.description,
    )
    return BookmarkOut.of(bookmark)


@router.delete(
    "/{bookmark_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete a bookmark (its creator or an administrator)",
)
async def delete_bookmark(bookmark_id: str, principal: Editor, svc: ServicesDep) -> None:
    await svc.bookmarks.delete(principal.user, bookmark_id)
