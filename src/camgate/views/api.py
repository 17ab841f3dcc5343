"""``/api/v1/views``: named camera layouts, and the built-in "All cameras" view."""

from __future__ import annotations

from fastapi import APIRouter, status
from pydantic import BaseModel, Field

from camgate.api.deps import CurrentPrincipal, ServicesDep
from camgate.views.models import MAX_CAMERAS, MAX_COLUMNS, View

router = APIRouter(prefix="/api/v1/views", tags=["views"])


class ViewOut(BaseModel):
    id: str = Field(description='"all-cameras" for the built-in view')
    name: str
    shared: bool
    builtin: bool
    columns: int = Field(description="0: the client chooses")
    camera_ids: list[str]
    mine: bool

    @classmethod
    def of(cls, view: View, user_id: str) -> ViewOut:
        return cls(
            id=view.id,
            name=view.name,
            shared=view.shared,
            builtin=view.builtin,
            columns=view.columns,
            camera_ids=list(view.camera_ids),
            mine=view.owner_id == user_id,
        )


class NewView(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    camera_ids: list[str] = Field(max_length=MAX_CAMERAS)
    columns: int = Field(default=2, ge=1, le=MAX_COLUMNS)
    shared: bool = Field(default=False, description="Offered to everyone (administrators only)")


class ViewPatch(BaseModel):
    name: str | None = Field(default=None, min_length=1, max_length=100)
    camera_ids: list[str] | None = Field(default=None, max_length=MAX_CAMERAS)
    columns: int | None = Field(default=None, ge=1, le=MAX_COLUMNS)


async def _camera_ids(svc: ServicesDep) -> list[str]:
    return [camera.id for camera in await svc.cameras.list()]


@router.get("", summary='The views this user may open, "All cameras" first when enabled')
async def list_views(principal: CurrentPrincipal, svc: ServicesDep) -> list[ViewOut]:
    user = principal.user
    views = await svc.views.visible(user, await _camera_ids(svc))
    return [ViewOut.of(view, user.id) for view in views]


@router.get("/{view_id}")
async def get_view(view_id: str, principal: CurrentPrincipal, svc: ServicesDep) -> ViewOut:
    user = principal.user
    return ViewOut.of(await svc.views.get(user, view_id, await _camera_ids(svc)), user.id)


@router.post("", status_code=status.HTTP_201_CREATED)
async def create_view(body: NewView, principal: CurrentPrincipal, svc: ServicesDep) -> ViewOut:
    user = principal.user
    view = await svc.views.create(user, body.name, body.camera_ids, body.columns, body.shared)
    return ViewOut.of(view, user.id)


@router.patch("/{view_id}")
async def update_view(
    view_id: str, body: ViewPatch, principal: CurrentPrincipal, svc: ServicesDep
) -> ViewOut:
    user = principal.user
    view = await svc.views.update(
        user, view_id, name=body.name, camera_ids=body.camera_ids, columns=body.columns
    )
    return ViewOut.of(view, user.id)


@router.delete("/{view_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_view(view_id: str, principal: CurrentPrincipal, svc: ServicesDep) -> None:
    await svc.views.delete(principal.user, view_id)
