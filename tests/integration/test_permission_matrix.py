"""The permission matrix, generated from the route table: every route says who may use it (by
the dependencies it declares), and every route answers each role accordingly. A new route
that declares no rule fails here, before anyone can call it unchecked."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, APIWebSocketRoute

from camgate.app import create_app
from camgate.settings import ServerSettings
from tests.support.server import RunningServer, auth

#: The rule each guarding dependency stands for, strictest last.
RULES = {
    "current_principal": "user",
    "media_principal": "user",
    "websocket_principal": "user",
    "_turned_on": "user",  # bookmarks: any user, while the feature is on
    "_may_use": "export",  # investigations: the Export permission
    "require_admin": "admin",
    "live_target": "user",  # a live stream: authenticates (a media token too) for its camera
}
#: Media routes that authenticate in their body (``media_principal``: they take ``?token=``
#: and answer 401 before their parameters are validated), with the rule that body enforces.
CHECKED_IN_BODY = {
    ("WS", "/api/v1/cameras/{camera_id}/live"): "user",
    ("GET", "/api/v1/cameras/{camera_id}/hls/{stream_id}/init/{init_id}.mp4"): "user",
    ("GET", "/api/v1/cameras/{camera_id}/hls/{stream_id}/segment/{msn}.m4s"): "user",
    ("GET", "/api/v1/cameras/{camera_id}/hls/{stream_id}/part/{msn}.{index}.m4s"): "user",
    ("GET", "/api/v1/cameras/{camera_id}/live.mjpeg"): "user",
    ("GET", "/api/v1/cameras/{camera_id}/recordings"): "user",
    ("GET", "/api/v1/cameras/{camera_id}/playback.json"): "user",
    ("GET", "/api/v1/cameras/{camera_id}/playback.mp4"): "user",
    ("WS", "/api/v1/cameras/{camera_id}/playback"): "user",
}
STRICTNESS = ["public", "user", "export", "admin"]
PUBLIC = {("GET", "/api/v1/health"), ("POST", "/api/v1/auth/login")}
DUMMY = "00000000-0000-0000-0000-00000000abcd"
#: Routes whose call would end the caller's own login midway through the matrix.
NOT_CALLED = {("POST", "/api/v1/auth/logout")}


def _guards(dependant: Dependant) -> Iterator[str]:
    for dependency in dependant.dependencies:
        name = getattr(dependency.call, "__name__", "")
        if name in RULES:
            yield RULES[name]
        yield from _guards(dependency)


def rule_of(route: APIRoute | APIWebSocketRoute) -> str:
    found = ["public", *_guards(route.dependant)]
    return max(found, key=STRICTNESS.index)


def _flat(members: list[Any]) -> Iterator[Any]:
    """The routes, those of included routers too (FastAPI 0.165 keeps an included router as
    one entry; its routes carry their router's prefix and dependencies already)."""
    for route in members:
        included = getattr(route, "original_router", None)
        yield from _flat(included.routes) if included is not None else [route]


def routes(app: FastAPI) -> list[tuple[str, str, str]]:
    """(method, path, rule) of every API route; WebSockets as method ``WS``."""
    table = []
    for route in _flat(app.routes):
        if isinstance(route, APIRoute) and route.path.startswith("/api/"):
            for method in sorted(route.methods - {"HEAD"}):
                rule = CHECKED_IN_BODY.get((method, route.path), rule_of(route))
                table.append((method, route.path, rule))
        elif isinstance(route, APIWebSocketRoute):
            table.append(
                ("WS", route.path, CHECKED_IN_BODY.get(("WS", route.path), rule_of(route)))
            )
    return table


@pytest.fixture(scope="module")
def table(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[str, str, str]]:
    settings = ServerSettings(data_dir=tmp_path_factory.mktemp("matrix"), https_port=0)
    return routes(create_app(settings))


def test_every_route_declares_who_may_use_it(table: list[tuple[str, str, str]]) -> None:
    assert len(table) > 40
    undeclared = [(method, path) for method, path, rule in table if rule == "public"]
    assert sorted(undeclared) == sorted(PUBLIC), "a route without a rule"
    # The contract's administrators-only routes stay so.
    rules = {(method, path): rule for method, path, rule in table}
    for route in [
        ("GET", "/api/v1/settings"),
        ("PATCH", "/api/v1/settings"),
        ("GET", "/api/v1/status"),
        ("GET", "/api/v1/audit"),
        ("GET", "/api/v1/users"),
        ("GET", "/api/v1/lockouts"),
    ]:
        assert rules[route] == "admin", route
    assert rules[("POST", "/api/v1/investigations/{investigation_id}/exports")] == "export"


def _call(server: RunningServer, token: str, method: str, path: str) -> httpx.Response:
    url = server.base_url + re.sub(r"\{[^}]+\}", DUMMY, path)
    body: Any = {} if method in ("POST", "PUT", "PATCH") else None
    return httpx.request(method, url, json=body, headers=auth(token), timeout=30)


def test_each_role_gets_what_its_rule_says(
    server: RunningServer, admin_token: str, operator_token: str
) -> None:
    """As the operator (a user without Export): 403 exactly where the rule is stricter; as the
    administrator: never 403; and never a server error for either."""
    settings = ServerSettings(data_dir=server.data_dir, https_port=0)
    for method, path, rule in routes(create_app(settings)):
        if method == "WS" or (method, path) in PUBLIC | NOT_CALLED:
            continue
        for token, refused in (
            (operator_token, rule in ("admin", "export")),
            (admin_token, False),
        ):
            answer = _call(server, token, method, path)
            assert answer.status_code < 500, (method, path, answer.text)
            assert answer.status_code != 401, (method, path)
            assert (answer.status_code == 403) == refused, (
                method,
                path,
                rule,
                answer.status_code,
                answer.text,
            )
