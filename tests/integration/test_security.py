"""Deny by default: every route but health and the login steps needs credentials."""

from __future__ import annotations

import asyncio
import re

import httpx
import pytest
import websockets

from tests.support.server import RunningServer

PUBLIC = {
    ("GET", "/api/v1/health"),
    ("POST", "/api/v1/auth/login"),
    # The second step of a login: its ticket is the credential (unknown tickets are 401, but
    # an empty body is 422 before that).
    ("POST", "/api/v1/auth/login/code"),
    ("POST", "/api/v1/auth/login/new-code"),
}
DUMMY = "00000000-0000-0000-0000-00000000abcd"


def _routes(base_url: str) -> list[tuple[str, str]]:
    spec = httpx.get(f"{base_url}/api/v1/openapi.json").json()
    routes = []
    for path, operations in spec["paths"].items():
        for method in operations:
            routes.append((method.upper(), re.sub(r"\{[^}]+\}", DUMMY, path)))
    hidden = [
        ("GET", f"/api/v1/cameras/{DUMMY}/hls/{DUMMY}/init/1.mp4"),
        ("GET", f"/api/v1/cameras/{DUMMY}/hls/{DUMMY}/segment/1.m4s"),
        ("GET", f"/api/v1/cameras/{DUMMY}/hls/{DUMMY}/part/1.0.m4s"),
    ]
    return routes + hidden


def test_openapi_lists_the_contract_paths(server: RunningServer) -> None:
    paths = httpx.get(f"{server.base_url}/api/v1/openapi.json").json()["paths"]
    for path in [
        "/api/v1/health",
        "/api/v1/auth/login",
        "/api/v1/auth/logout",
        "/api/v1/cameras",
        "/api/v1/cameras/{camera_id}/live.mp4",
        "/api/v1/cameras/{camera_id}/live.m3u8",
        "/api/v1/cameras/{camera_id}/snapshot.jpg",
        "/api/v1/settings",
    ]:
        assert path in paths


def test_every_route_without_credentials_is_401(server: RunningServer) -> None:
    routes = _routes(server.base_url)
    assert len(routes) > 15
    for method, path in routes:
        if (method, path) in PUBLIC:
            continue
        response = httpx.request(method, server.base_url + path, json={})
        assert response.status_code == 401, (method, path, response.status_code)


def test_every_route_with_a_forged_token_is_401(server: RunningServer) -> None:
    for method, path in _routes(server.base_url):
        if (method, path) in PUBLIC:
            continue
        response = httpx.request(
            method, server.base_url + path, json={}, headers={"Authorization": "Bearer forged"}
        )
        assert response.status_code == 401, (method, path)


def test_websocket_without_credentials_is_closed_with_4401(server: RunningServer) -> None:
    async def attempt() -> int | None:
        async with websockets.connect(f"{server.ws_url}/api/v1/cameras/{DUMMY}/live") as ws:
            with pytest.raises(websockets.ConnectionClosed) as closed:
                while True:
                    await ws.recv()
            return closed.value.rcvd.code if closed.value.rcvd else None

    assert asyncio.run(attempt()) == 4401


def test_unknown_camera_is_404_for_a_logged_in_user(
    server: RunningServer, admin_token: str
) -> None:
    for suffix in ["", "/snapshot.jpg", "/live.mp4", "/live.m3u8"]:
        response = httpx.get(
            f"{server.base_url}/api/v1/cameras/{DUMMY}{suffix}",
            headers={"Authorization": f"Bearer {admin_token}"},
        )
        assert response.status_code == 404, suffix


def test_web_client_pages_have_a_strict_csp(server: RunningServer) -> None:
    response = httpx.get(server.base_url + "/")
    assert response.status_code == 200
    assert "script-src 'self'" in response.headers["content-security-policy"]
    assert response.headers["x-content-type-options"] == "nosniff"
