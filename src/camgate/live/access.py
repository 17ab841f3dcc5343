"""Who may watch a camera, and the registration of every stream they open."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, Mapping

from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

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
    ended: asyncio.Event | None = None,
) -> contextlib.AbstractContextManager[Viewer]:
    return svc.viewers.watching(
        session_id=principal.session_id,
        username=principal.user.username,
        camera_id=camera_id,
        stream_id=stream_id,
        delivery=delivery,
        protocol=protocol,
        now=svc.clock.now(),
        ended=ended,
    )


class ViewerStream(StreamingResponse):
    """A streamed response that stops when the server ends its viewer (logout, client timeout),
    even while no video comes or the client reads nothing and the sending is stuck."""

    def __init__(
        self,
        content: AsyncGenerator[bytes, None],
        *,
        ended: asyncio.Event,
        media_type: str,
        headers: Mapping[str, str],
    ) -> None:
        super().__init__(content, media_type=media_type, headers=headers)
        self._content = content
        self._ended = ended

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        streaming = asyncio.create_task(super().__call__(scope, receive, send))
        ended = asyncio.create_task(self._ended.wait())
        try:
            await asyncio.wait({streaming, ended}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (streaming, ended):
                task.cancel()
            await asyncio.gather(ended, return_exceptions=True)
            # Cut short, the response is incomplete: the server closes the connection.
            with contextlib.suppress(asyncio.CancelledError):
                await streaming
            await self._content.aclose()
