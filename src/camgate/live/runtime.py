"""The running ingest: one hub and one source per enabled camera stream."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from camgate.cameras.models import Camera, CameraStream, Credentials
from camgate.cameras.urls import synthetic_profile
from camgate.core.redact import with_credentials
from camgate.media.hub import LiveHub
from camgate.media.source import DemuxSource, SourceKind, SourceSpec
from camgate.media.synthetic import ClipCancelled, ensure_clip
from camgate.media.timeline import backoff_delay

log = logging.getLogger(__name__)


@dataclass(slots=True)
class Ingest:
    camera_id: str
    stream: CameraStream
    hub: LiveHub
    source: DemuxSource | None = None


class LiveRuntime:
    """Starts and stops ingests; the one place that knows which hubs exist."""

    def __init__(self, cache_dir: Path, *, backoff: Callable[[int], float] = backoff_delay) -> None:
        self._cache_dir = cache_dir
        self._backoff = backoff
        self._ingests: dict[str, Ingest] = {}
        self._by_camera: dict[str, list[str]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        #: Set when the server stops: clip encodings still running give up.
        self._closing = threading.Event()

    def hub(self, stream_id: str) -> LiveHub | None:
        ingest = self._ingests.get(stream_id)
        return ingest.hub if ingest else None

    def camera_hubs(self, camera_id: str) -> list[tuple[CameraStream, LiveHub]]:
        return [
            (self._ingests[sid].stream, self._ingests[sid].hub)
            for sid in self._by_camera.get(camera_id, [])
        ]

    def running(self) -> dict[str, tuple[str, ...]]:
        """The running cameras and the ids of their streams, in order."""
        return {camera_id: tuple(ids) for camera_id, ids in self._by_camera.items()}

    def start_camera(self, camera: Camera, credentials: Credentials | None) -> None:
        if camera.id in self._by_camera or not camera.enabled:
            return
        self._by_camera[camera.id] = []
        for stream in camera.streams:
            ingest = Ingest(camera.id, stream, LiveHub(f"{camera.name}/{stream.position}"))
            self._ingests[stream.id] = ingest
            self._by_camera[camera.id].append(stream.id)
            task = asyncio.create_task(self._start_source(ingest, camera.name, credentials))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _start_source(
        self, ingest: Ingest, name: str, credentials: Credentials | None
    ) -> None:
        try:
            spec = await self._spec(ingest.stream, name, credentials)
        except ClipCancelled:
            return
        except Exception as error:  # a clip that cannot be made leaves the stream offline
            log.exception("cannot prepare stream %s", ingest.hub.name)
            ingest.hub.source_failed(f"cannot prepare the stream: {error}")
            return
        if self._ingests.get(ingest.stream.id) is not ingest:
            return  # removed while preparing
        ingest.source = DemuxSource(
            spec,
            ingest.hub,
            asyncio.get_running_loop(),
            backoff=self._backoff,
            name=ingest.hub.name,
        )
        ingest.source.start()

    async def _spec(
        self, stream: CameraStream, name: str, credentials: Credentials | None
    ) -> SourceSpec:
        if stream.kind is SourceKind.SYNTHETIC:
            profile = synthetic_profile(stream.url)
            path = await asyncio.to_thread(
                ensure_clip, self._cache_dir, name, profile, self._closing
            )
            return SourceSpec(str(path), SourceKind.SYNTHETIC, loop=True, stamp_wallclock=True)
        if stream.kind is SourceKind.FILE:
            return SourceSpec(stream.url, SourceKind.FILE, loop=True)
        url = stream.url
        if credentials is not None:
            url = with_credentials(url, credentials.username, credentials.password)
        return SourceSpec(url, SourceKind.RTSP)

    async def stop_camera(self, camera_id: str) -> None:
        sources = []
        for stream_id in self._by_camera.pop(camera_id, []):
            ingest = self._ingests.pop(stream_id)
            ingest.hub.close()
            if ingest.source is not None:
                sources.append(ingest.source.aclose())
        await asyncio.gather(*sources)

    async def aclose(self) -> None:
        self._closing.set()
        for task in tuple(self._tasks):
            task.cancel()
        await asyncio.gather(*(self.stop_camera(c) for c in list(self._by_camera)))
