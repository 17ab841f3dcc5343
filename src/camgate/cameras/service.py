"""Camera use cases: add, list, remove; keeps the live runtime in step with the database."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from camgate.cameras import store
from camgate.cameras.models import Camera, Credentials
from camgate.cameras.urls import parse_stream_url
from camgate.core.clock import Clock
from camgate.core.errors import CamgateError, ErrorKind, invalid, not_found
from camgate.core.secrets import ServerKey
from camgate.db.tables import CameraRow, CameraStreamRow
from camgate.live.runtime import LiveRuntime
from camgate.media.transcode import Rect

MAX_STREAMS = 8
MAX_MASKS = 32


def _sealing_context(camera_id: str) -> str:
    return f"camera:{camera_id}"


class CameraService:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        clock: Clock,
        key: ServerKey,
        runtime: LiveRuntime | None = None,
    ) -> None:
        self._db = sessions
        self._clock = clock
        self._key = key
        self._runtime = runtime

    async def add(
        self, name: str, urls: list[str], credentials: Credentials | None = None
    ) -> Camera:
        name = name.strip()
        if not name or len(name) > 100:
            raise invalid("a camera name is 1 to 100 characters")
        if not urls or len(urls) > MAX_STREAMS:
            raise invalid(f"a camera has 1 to {MAX_STREAMS} stream URLs")
        camera_id = str(uuid.uuid4())
        streams: list[CameraStreamRow] = []
        for position, url in enumerate(urls):
            kind, bare, url_user, url_password = parse_stream_url(url)
            if url_user is not None and credentials is None:
                credentials = Credentials(url_user, url_password or "")
            streams.append(
                CameraStreamRow(
                    id=str(uuid.uuid4()),
                    camera_id=camera_id,
                    position=position,
                    kind=kind,
                    url=bare,
                )
            )
        row = CameraRow(id=camera_id, name=name, enabled=True, created_at=self._clock.now())
        if credentials is not None:
            row.username = credentials.username
            row.password_sealed = self._key.seal(
                credentials.password, context=_sealing_context(camera_id)
            )
        async with self._db() as db:
            store.add_camera(db, row, streams)
            try:
                await db.commit()
            except IntegrityError as error:
                raise CamgateError(ErrorKind.CONFLICT, f"camera {name!r} already exists") from error
            camera = await store.camera(db, camera_id)
        assert camera is not None
        if self._runtime is not None:
            self._runtime.start_camera(camera, credentials)
        return camera

    async def list(self) -> list[Camera]:
        async with self._db() as db:
            return await store.cameras(db)

    async def get(self, camera_id: str) -> Camera:
        async with self._db() as db:
            camera = await store.camera(db, camera_id)
        if camera is None:
            raise not_found("camera")
        return camera

    async def resolve(self, id_or_name: str) -> Camera:
        """A camera by id or, for the command line, by name."""
        async with self._db() as db:
            camera = await store.camera(db, id_or_name)
            if camera is None:
                row = await store.camera_row_by_name(db, id_or_name)
                camera = await store.camera(db, row.id) if row else None
        if camera is None:
            raise not_found(f"camera {id_or_name!r}")
        return camera

    async def remove(self, camera_id: str) -> None:
        async with self._db() as db:
            row = await store.camera_row(db, camera_id)
            if row is None:
                raise not_found("camera")
            await db.delete(row)
            await db.commit()
        if self._runtime is not None:
            await self._runtime.stop_camera(camera_id)

    async def set_privacy_masks(self, camera_id: str, masks: Sequence[Rect]) -> Camera:
        if len(masks) > MAX_MASKS:
            raise invalid(f"a camera has at most {MAX_MASKS} privacy masks")
        async with self._db() as db:
            row = await store.camera_row(db, camera_id)
            if row is None:
                raise not_found("camera")
            row.privacy_masks = json.dumps([[m.x, m.y, m.width, m.height] for m in masks])
            await db.commit()
            camera = await store.camera(db, camera_id)
        assert camera is not None
        return camera

    async def credentials(self, camera_id: str) -> Credentials | None:
        async with self._db() as db:
            row = await store.camera_row(db, camera_id)
        if row is None or row.username is None or row.password_sealed is None:
            return None
        password = self._key.unseal(row.password_sealed, context=_sealing_context(camera_id))
        return Credentials(row.username, password)

    async def reconcile(self) -> None:
        """Run exactly the enabled cameras of the database, as they are configured there.

        The command line edits the database directly, even while the server runs; this is how
        the server follows.
        """
        if self._runtime is None:
            return
        wanted = {camera.id: camera for camera in await self.list() if camera.enabled}
        for camera_id, stream_ids in self._runtime.running().items():
            camera = wanted.get(camera_id)
            if camera is None or stream_ids != tuple(s.id for s in camera.streams):
                await self._runtime.stop_camera(camera_id)
        running = self._runtime.running()
        for camera in wanted.values():
            if camera.id not in running:
                self._runtime.start_camera(camera, await self.credentials(camera.id))
