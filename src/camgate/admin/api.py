"""``/api/v1/settings``: the whole settings tree, administrators only."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Request

from camgate.admin.service import changes
from camgate.api.deps import AdminPrincipal, ServicesDep, actor

router = APIRouter(prefix="/api/v1/settings", tags=["settings"])


@router.get("", summary="The whole settings tree, one section per tab of the manual")
async def get_settings(_admin: AdminPrincipal, services: ServicesDep) -> dict[str, Any]:
    return services.settings.public()


@router.patch(
    "",
    summary="Change settings with a JSON merge patch (RFC 7396)",
    responses={422: {"description": "the result breaks a range or rule of the manual"}},
)
async def patch_settings(
    admin: AdminPrincipal,
    request: Request,
    services: ServicesDep,
    patch: Annotated[dict[str, Any], Body(media_type="application/merge-patch+json")],
) -> dict[str, Any]:
    before = services.settings.public()
    await services.settings.patch(patch)
    after = services.settings.public()
    if changed := changes(before, after):
        await services.audit.record(actor(admin, request), "settings.change", "settings", **changed)
    return after
