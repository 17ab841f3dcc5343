"""``GET /api/v1/status`` and ``GET /metrics``: administrators (and their scrapers) only."""

from __future__ import annotations

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST

from camgate.api.deps import AdminPrincipal, ServicesDep
from camgate.status.metrics import render
from camgate.status.schema import StatusOut

router = APIRouter(tags=["status"])


@router.get("/api/v1/status", summary="The Server Status tab: load, bandwidth, active users")
async def get_status(_admin: AdminPrincipal, svc: ServicesDep) -> StatusOut:
    return StatusOut.of(svc.status.status())


@router.get(
    "/metrics",
    summary="The same figures for Prometheus (bearer token of an administrator)",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE_LATEST: {}}}},
)
async def metrics(_admin: AdminPrincipal, svc: ServicesDep) -> Response:
    return Response(render(svc.status.status), media_type=CONTENT_TYPE_LATEST)
