"""Who may watch a camera, and the registration of every stream they open."""

from __future__ import annotations

import contextlib

from camgate.api.deps import Services
from camgate.cameras.models import Camera
from camgate.core.errors import not_found
from camgate.identity.models import Principal
from camgate.live.viewers import Delivery, Viewer


async def viewable_camera(svc: Services, principal: Principal, camera_id: str) -> Camera:
    camera = await svc.cameras.get(camera_id)
    if not svc.can_view(principal.user, camera.id):
        # Not found, not forbidden: a user does not learn which cameras exist beyond their own.
        raise not_found("camera")
    return camera


def watching(
    svc: Services,
    principal: Principal,
    camera_id: str,
    stream_id: str,
    protocol: str,
    delivery: Delivery = Delivery.DIRECT,
) -> contextlib.AbstractContextManager[Viewer]:
    return svc.viewers.watching(
        session_id=principal.session_id,
        username=principal.user.username,
        camera_id=camera_id,
        stream_id=stream_id,
        delivery=delivery,
        protocol=protocol,
        now=svc.clock.now(),
    )
