"""``create_app(settings)``: wiring and lifespan. Nothing is created at import time."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psutil
from fastapi import FastAPI, Request, Response
from fastapi.responses import PlainTextResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from starlette.types import Scope

from camgate import __version__
from camgate.admin import api as admin_api
from camgate.api import errors
from camgate.api.deps import REFUSALS, Services
from camgate.audit import api as audit_api
from camgate.audit.models import SERVER
from camgate.audit.service import AuditLog
from camgate.bookmarks import api as bookmarks_api
from camgate.bookmarks.service import BookmarkService
from camgate.cameras import api as cameras_api
from camgate.cameras.service import CameraService
from camgate.context import open_core
from camgate.core.clock import Clock, SystemClock
from camgate.identity import api as identity_api
from camgate.identity.liveness import Liveness
from camgate.identity.models import Permission, User
from camgate.investigations import api as investigations_api
from camgate.investigations.keys import DataKeys
from camgate.investigations.service import InvestigationService
from camgate.live import api as live_api
from camgate.live import jpeg_api
from camgate.live.hls import HlsOutputs
from camgate.live.limiting import Limits
from camgate.live.runtime import LiveRuntime
from camgate.live.timeout import ClientTimeout
from camgate.live.viewers import ViewerRegistry
from camgate.media.timeline import backoff_delay
from camgate.media.transcode import TranscoderRegistry
from camgate.protocols.xpmobile import api as xpmobile_api
from camgate.protocols.xpmobile import channel as xpmobile_channel
from camgate.protocols.xpmobile import investigations as xpmobile_investigations
from camgate.protocols.xpmobile import playback as xpmobile_playback
from camgate.protocols.xpmobile import samples as xpmobile_samples
from camgate.protocols.xpmobile import video as xpmobile_video
from camgate.recording import api as recording_api
from camgate.recording import playback_ws
from camgate.recording.service import RecordingService, RecordingsLock
from camgate.settings import HardwareDecoding, ServerSettings
from camgate.status import api as status_api
from camgate.status.models import LockoutStatus
from camgate.status.schema import STATUS_FILE
from camgate.status.service import StatusService
from camgate.views import api as views_api
from camgate.views.service import ViewService

log = logging.getLogger(__name__)

WEB_DIR = Path(__file__).parent / "web"
#: How often the running cameras are brought in line with the database (the CLI edits it).
RECONCILE_S = 2.0
#: Threads writing recordings: a GOP's write and the periodic fsync of each recorded stream.
RECORDING_THREADS = 4
#: The viewers' protocols that play recordings back: they need ``playback``, the others ``live``.
PLAYBACK_PROTOCOLS = frozenset({playback_ws.PROTOCOL, xpmobile_playback.PROTOCOL})

_SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; "
        "connect-src 'self' ws: wss:; style-src 'self'; script-src 'self'; object-src 'none'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}


async def _security_headers(
    request: Request, call_next: Callable[[Request], Awaitable[Response]]
) -> Response:
    response = await call_next(request)
    for name, value in _SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


async def _https_redirect(
    request: Request, call_next: Callable[[Request], Awaitable[Response]]
) -> Response:
    """With ``connectivity.https_redirect`` on, plain HTTP gets a 308 to the HTTPS port (the
    method and body are kept, so API clients follow it too)."""
    services = getattr(request.app.state, "services", None)
    if (
        request.url.scheme == "http"
        and isinstance(services, Services)
        and services.settings.tree.connectivity.https_redirect
    ):
        port = services.server.https_port
        if port is None:
            port = services.settings.tree.connectivity.https_port
        if port:
            target = request.url.replace(scheme="https", port=port)
            return RedirectResponse(str(target), status_code=308)
    return await call_next(request)


class _WebClientFiles(StaticFiles):
    """The web client's files, unless an administrator turned the web client off."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        services = getattr(scope["app"].state, "services", None)
        if (
            isinstance(services, Services)
            and not services.settings.tree.general.features.web_client
        ):
            return PlainTextResponse(
                "The web client is turned off on this server.", status_code=403
            )
        return await super().get_response(path, scope)


async def _reconcile_forever(svc: Services) -> None:
    while True:
        await asyncio.sleep(RECONCILE_S)
        try:
            await svc.cameras.reconcile()
            await svc.recordings.reconcile()
            await _revalidate_viewers(svc)
        except Exception:  # a failed round is logged and tried again
            log.exception("cannot bring the cameras in line with the database")


async def _revalidate_viewers(svc: Services) -> None:
    """Ends the streams that their viewer may no longer watch: the session ended (a new
    password, a removed user, ended by hand — also from the command line), the user's role
    lost the camera, or it lost the permission of the stream (``live``, or ``playback`` for
    the playback WebSocket and XProtect Mobile playback streams). Checked with the database
    every round, so within seconds."""
    users: dict[str, User | None] = {}
    for viewer in svc.viewers.viewers():
        if viewer.ended.is_set():
            continue
        if viewer.session_id not in users:
            users[viewer.session_id] = await svc.identity.session_user(viewer.session_id)
        user = users[viewer.session_id]
        if user is None:
            log.info("a stream of %s ended: the session ended", viewer.username)
            viewer.ended.set()
            continue
        needed = Permission.PLAYBACK if viewer.protocol in PLAYBACK_PROTOCOLS else Permission.LIVE
        if not user.may(needed):
            log.info("a stream of %s ended: the role lost %s", viewer.username, needed.value)
            viewer.refuse(REFUSALS[needed])
        elif not svc.can_view(user, viewer.camera_id):
            log.info("a stream of %s ended: the role lost the camera", viewer.username)
            viewer.refuse("your role may no longer view this camera")


async def _directory_ended(svc: Services, usernames: list[str]) -> None:
    """Audits the sessions that the directory's check ended (their streams end with the next
    revalidation of the viewers)."""
    for username in usernames:
        await svc.audit.record(SERVER, "session.end", username, reason="directory")


def create_app(
    settings: ServerSettings,
    *,
    clock: Clock | None = None,
    backoff: Callable[[int], float] = backoff_delay,
    cpu_percent: Callable[[], float] = psutil.cpu_percent,
    xpmobile_samples_dir: Path | None = None,
) -> FastAPI:
    """The camgate ASGI application. ``backoff`` (the reconnect policy) and ``cpu_percent`` (the
    load probe of the status sampler) are seams for tests. ``xpmobile_samples_dir``: a checkout
    of the XProtect Mobile web client library to serve (``--xpmobile-samples``)."""
    clock = clock or SystemClock()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with open_core(settings.data_dir, clock) as core:
            runtime = LiveRuntime(settings.cache_dir, backoff=backoff)
            viewers = ViewerRegistry()
            liveness = Liveness()
            limits = Limits(lambda: core.settings.tree.performance, clock.monotonic)
            # Decoding and JPEG encoding release the GIL: one worker per core does the work.
            pool = ThreadPoolExecutor(
                max_workers=os.cpu_count() or 2, thread_name_prefix="transcode"
            )
            lock = RecordingsLock(settings.recordings_dir)
            if not await asyncio.to_thread(lock.acquire):
                raise RuntimeError(
                    f"another camgate process records into {settings.recordings_dir}"
                )
            # Writes and fsyncs block: their own threads keep them clear of transcoding.
            recording_pool = ThreadPoolExecutor(
                max_workers=RECORDING_THREADS, thread_name_prefix="recording"
            )
            audit = AuditLog(core.sessions, clock)
            investigations_settings = core.settings.tree.investigations
            keys = await asyncio.to_thread(DataKeys, core.key, settings.data_dir)
            transcoders = TranscoderRegistry(
                pool,
                prefer_hardware=lambda: (
                    core.settings.tree.performance.hardware_decoding == HardwareDecoding.AUTO
                ),
            )
            recordings = RecordingService(
                core.sessions,
                clock,
                settings.recordings_dir,
                settings=lambda: core.settings.tree.recording,
                executor=recording_pool,
                runtime=runtime,
                segment_s=settings.segment_s,
                holds=lambda: svc.investigations.held(),
            )
            svc = Services(
                server=settings,
                clock=clock,
                identity=core.identity,
                cameras=CameraService(core.sessions, clock, core.key, runtime),
                runtime=runtime,
                hls=HlsOutputs(),
                viewers=viewers,
                status=StatusService(
                    clock,
                    viewers,
                    cpu_percent=cpu_percent,
                    level=lambda: limits.level.index,
                    hardware_decoding=transcoders.decoders.in_use,
                    transcoders=lambda: transcoders.running,
                    live_sessions=liveness.sessions,
                    sessions_timed_out=lambda: liveness.timed_out,
                    lockouts=lambda: [
                        LockoutStatus(lockout.kind, lockout.name, round(lockout.seconds_left))
                        for lockout in core.identity.lockouts()
                    ],
                    on_load=limits.observe,
                ),
                transcoders=transcoders,
                limits=limits,
                settings=core.settings,
                views=ViewService(
                    core.sessions,
                    clock,
                    can_view=lambda user, camera_id: svc.can_view(user, camera_id),
                    all_cameras_enabled=lambda: (
                        core.settings.tree.general.features.all_cameras_view
                    ),
                ),
                recordings=recordings,
                liveness=liveness,
                bookmarks=BookmarkService(
                    core.sessions,
                    clock,
                    can_view=lambda user, camera_id: svc.can_view(user, camera_id),
                    enabled=lambda: core.settings.tree.general.features.bookmarks,
                ),
                audit=audit,
                investigations=InvestigationService(
                    core.sessions,
                    clock,
                    # Fixed while the server runs: the command line changes it (and moves).
                    folder=investigations_settings.folder_in(settings.data_dir),
                    settings=lambda: core.settings.tree.investigations,
                    audit=audit,
                    can_view=lambda user, camera_id: svc.can_view(user, camera_id),
                    recordings=recordings,
                    keys=keys,
                ),
            )
            timeout = ClientTimeout(
                liveness,
                viewers,
                clock,
                timeout_s=lambda: core.settings.tree.connectivity.client_timeout_s,
                end_login=core.identity.session_went_silent,
            )
            await svc.recordings.recover()
            await svc.investigations.recover()
            await svc.cameras.reconcile()
            await svc.recordings.reconcile()
            app.state.services = svc
            background = [
                asyncio.create_task(_reconcile_forever(svc), name="camera-reconcile"),
                asyncio.create_task(svc.recordings.run_retention(), name="retention"),
                asyncio.create_task(
                    svc.investigations.run_retention(), name="investigation-retention"
                ),
                asyncio.create_task(
                    svc.audit.run_retention(
                        lambda: core.settings.tree.general.audit_retention_days
                    ),
                    name="audit-retention",
                ),
                asyncio.create_task(
                    svc.status.run(settings.data_dir / STATUS_FILE), name="status-sampler"
                ),
                asyncio.create_task(timeout.run(), name="client-timeout"),
                asyncio.create_task(
                    core.identity.run_directory_recheck(functools.partial(_directory_ended, svc)),
                    name="directory-recheck",
                ),
            ]
            try:
                yield
            finally:
                for task in background:
                    task.cancel()
                await asyncio.gather(*background, return_exceptions=True)
                await xpmobile_channel.aclose(app.state)
                await svc.hls.aclose()
                await svc.investigations.aclose()
                await svc.transcoders.aclose()
                # Not cancelling: a decoder freed with packets in flight hangs (PyAV 18.1).
                await asyncio.to_thread(pool.shutdown)
                await svc.recordings.aclose()
                await runtime.aclose()
                await asyncio.to_thread(recording_pool.shutdown)
                lock.release()
                del app.state.services

    app = FastAPI(
        title="camgate",
        version=__version__,
        summary="The mobile server of a video surveillance system.",
        openapi_url="/api/v1/openapi.json",
        docs_url="/api/v1/docs",
        redoc_url=None,
        lifespan=lifespan,
    )
    errors.install(app)
    app.middleware("http")(_security_headers)
    app.middleware("http")(_https_redirect)

    @app.get("/api/v1/health", tags=["health"], summary="Liveness; needs no authentication")
    async def health() -> dict[str, str]:
        return {"status": "ok", "version": __version__}

    app.include_router(identity_api.public_router)
    app.include_router(identity_api.router)
    app.include_router(cameras_api.router)
    app.include_router(live_api.router)
    app.include_router(jpeg_api.router)
    app.include_router(admin_api.router)
    app.include_router(views_api.router)
    app.include_router(recording_api.router)
    app.include_router(playback_ws.router)
    app.include_router(status_api.router)
    app.include_router(bookmarks_api.router)
    app.include_router(investigations_api.router)
    app.include_router(audit_api.router)
    app.include_router(xpmobile_api.router)
    app.include_router(xpmobile_investigations.router)
    app.include_router(xpmobile_video.router)
    if xpmobile_samples_dir is not None:
        app.mount(
            xpmobile_samples.PATH,
            xpmobile_samples.SampleFiles(xpmobile_samples_dir),
            name="xpmobile-samples",
        )
    app.mount("/", _WebClientFiles(directory=WEB_DIR, html=True), name="web")
    return app
