"""The permission matrix, generated from the route table: every route says who may use it (by
the dependencies it declares), and every route answers each role accordingly. A new route
that declares no rule fails here, before anyone can call it unchecked; so does a new route that
any logged-in user may use, until it is listed as such (``ANY_USER``) on purpose."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, APIWebSocketRoute

from camgate.api.deps import Require
from camgate.app import create_app
from camgate.identity.models import Permission
from camgate.settings import ServerSettings
from tests.support.server import RunningServer, auth

#: The rule each guarding dependency stands for; a ``Require`` stands for its permission.
RULES = {
    "current_principal": "user",
    "media_principal": "user",
    "websocket_principal": "user",
    "_turned_on": "user",  # bookmarks: while the feature is on (each route needs its permission)
    "_may_use": Permission.EXPORT.value,  # investigations: the Export permission
    "live_target": Permission.LIVE.value,  # a live stream: authenticates (a media token too)
}
#: Media routes that authenticate in their body (``media_principal``: they take ``?token=`` and
#: answer 401 before their parameters are validated), with the permission that body enforces.
CHECKED_IN_BODY = {
    ("WS", "/api/v1/cameras/{camera_id}/live"): "live",
    ("GET", "/api/v1/cameras/{camera_id}/hls/{stream_id}/init/{init_id}.mp4"): "live",
    ("GET", "/api/v1/cameras/{camera_id}/hls/{stream_id}/segment/{msn}.m4s"): "live",
    ("GET", "/api/v1/cameras/{camera_id}/hls/{stream_id}/part/{msn}.{index}.m4s"): "live",
    ("GET", "/api/v1/cameras/{camera_id}/live.mjpeg"): "live",
    ("GET", "/api/v1/cameras/{camera_id}/recordings"): "playback",
    ("GET", "/api/v1/cameras/{camera_id}/playback.json"): "playback",
    ("GET", "/api/v1/cameras/{camera_id}/playback.mp4"): "playback",
    ("WS", "/api/v1/cameras/{camera_id}/playback"): "playback",
    # The XProtect Mobile video channel: its key is a stream that RequestStream opened for a
    # session with the stream's permission, ended when the role loses it: ``live`` for a live
    # stream (test_xpmobile_live.py), ``playback`` for a playback one
    # (test_xpmobile_playback.py). One permission a route: the table says the first.
    ("WS", "/XProtectMobile/Video/{video_id}"): "live",
    ("WS", "/XProtectMobile/Video/{video_id}/"): "live",
}
PUBLIC = {
    ("GET", "/api/v1/health"),
    ("POST", "/api/v1/auth/login"),
    # The second step of a login (two-step verification): the first step's ticket is the key.
    ("POST", "/api/v1/auth/login/code"),
    ("POST", "/api/v1/auth/login/new-code"),
}
#: What any logged-in user may use, whatever their role's permissions: their own login and
#: sessions, the list of the cameras of their role (names and states) and their views.
ANY_USER = {
    ("POST", "/api/v1/auth/logout"),
    ("POST", "/api/v1/auth/keepalive"),
    ("GET", "/api/v1/auth/me"),
    ("GET", "/api/v1/sessions"),
    ("DELETE", "/api/v1/sessions/{session_id}"),
    ("GET", "/api/v1/cameras"),
    ("GET", "/api/v1/cameras/{camera_id}"),
    ("GET", "/api/v1/cameras/{camera_id}/recording"),
    ("GET", "/api/v1/views"),
    ("GET", "/api/v1/views/{view_id}"),
    ("POST", "/api/v1/views"),
    ("PATCH", "/api/v1/views/{view_id}"),
    ("DELETE", "/api/v1/views/{view_id}"),
}
DUMMY = "00000000-0000-0000-0000-00000000abcd"
#: Routes whose call would end the caller's own login midway through the matrix.
NOT_CALLED = {("POST", "/api/v1/auth/logout")}


def _guards(dependant: Dependant) -> Iterator[str]:
    for dependency in dependant.dependencies:
        if isinstance(dependency.call, Require):
            yield dependency.call.permission.value
        else:
            name = getattr(dependency.call, "__name__", "")
            if name in RULES:
                yield RULES[name]
        yield from _guards(dependency)


def rule_of(route: APIRoute | APIWebSocketRoute) -> str:
    """``public``, ``user`` (any logged-in user) or the one permission the route needs."""
    found = set(_guards(route.dependant))
    permissions = found - {"user"}
    assert len(permissions) <= 1, (route.path, permissions)
    if permissions:
        return permissions.pop()
    return "user" if found else "public"


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
    rules = {(method, path): rule for method, path, rule in table}
    undeclared = [route for route, rule in rules.items() if rule == "public"]
    assert sorted(undeclared) == sorted(PUBLIC), "a route without a rule"
    # Needing no permission is a decision per route.
    anyone = [route for route, rule in rules.items() if rule == "user"]
    assert sorted(anyone) == sorted(ANY_USER), "a route that needs no permission"
    assert set(rules.values()) - {"public", "user"} <= {p.value for p in Permission}
    # The contract's administrators-only routes stay so.
    for route in [
        ("GET", "/api/v1/settings"),
        ("PATCH", "/api/v1/settings"),
        ("GET", "/api/v1/status"),
        ("GET", "/api/v1/audit"),
        ("GET", "/api/v1/users"),
        ("GET", "/api/v1/roles"),
        ("PUT", "/api/v1/roles/{name}/permissions"),
        ("GET", "/api/v1/lockouts"),
        ("POST", "/api/v1/cameras"),
    ]:
        assert rules[route] == "administration", route
    # Each feature's routes need its permission.
    expected = {
        ("POST", "/api/v1/investigations/{investigation_id}/exports"): "export",
        ("GET", "/api/v1/cameras/{camera_id}/live.mp4"): "live",
        ("GET", "/api/v1/cameras/{camera_id}/live.m3u8"): "live",
        ("GET", "/api/v1/cameras/{camera_id}/snapshot.jpg"): "live",
        ("POST", "/api/v1/cameras/{camera_id}/media-token"): "live",
        ("GET", "/api/v1/cameras/{camera_id}/recordings/adjacent"): "playback",
        ("GET", "/api/v1/bookmarks"): "bookmarks_view",
        ("GET", "/api/v1/bookmarks/{bookmark_id}"): "bookmarks_view",
        ("POST", "/api/v1/bookmarks"): "bookmarks_create",
        ("PATCH", "/api/v1/bookmarks/{bookmark_id}"): "bookmarks_edit",
        ("DELETE", "/api/v1/bookmarks/{bookmark_id}"): "bookmarks_edit",
    }
    for route, rule in expected.items():
        assert rules[route] == rule, route


def _call(server: RunningServer, token: str, method: str, path: str) -> httpx.Response:
    # Numbers where the path wants them: a route that checks in its body validates them first.
    numbered = re.sub(r"\{(init_id|msn|index)\}", "0", path)
    url = server.base_url + re.sub(r"\{[^}]+\}", DUMMY, numbered)
    body: Any = {} if method in ("POST", "PUT", "PATCH") else None
    return httpx.request(method, url, json=body, headers=auth(token), timeout=30)


def _set_operator(server: RunningServer, admin_token: str, permissions: set[str]) -> None:
    response = httpx.put(
        f"{server.base_url}/api/v1/roles/operator/permissions",
        json={"permissions": sorted(permissions)},
        headers=auth(admin_token),
    )
    assert response.status_code == 200, response.text


@pytest.mark.parametrize(
    "held",
    [
        pytest.param({p.value for p in Permission.role_defaults()}, id="a-new-role"),
        pytest.param(set(), id="nothing"),
        pytest.param({"administration"}, id="administration-only"),
        pytest.param({p.value for p in Permission}, id="everything"),
    ],
)
def test_each_role_gets_what_its_rule_says(
    server: RunningServer, admin_token: str, operator_token: str, held: set[str]
) -> None:
    """As an operator holding ``held``: 403 exactly where the route needs a permission they
    lack; as the administrator: never 403; never a server error for either."""
    _set_operator(server, admin_token, held)
    settings = ServerSettings(data_dir=server.data_dir, https_port=0)
    for method, path, rule in routes(create_app(settings)):
        if method == "WS" or (method, path) in PUBLIC | NOT_CALLED:
            continue
        for token, refused in (
            (operator_token, rule != "user" and rule not in held),
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
