"""Permissions per feature (U2, ADR 0013), end to end on a real server with a recording
synthetic camera: each feature is allowed with its permission and refused (403, with the
reason) without it; open streams end within seconds when their role loses the permission;
a role given administration administers; the command line changes permissions; and a
database of an earlier version keeps what its roles could do."""

from __future__ import annotations

import asyncio
import json
import shutil
import sqlite3
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
import websockets

from camgate.api.deps import REFUSALS
from camgate.audit.models import CLI_ADDRESS
from camgate.context import open_core
from camgate.db.engine import migrate
from camgate.db.tables import RoleRow
from camgate.identity import store
from camgate.identity.models import Permission
from tests.conftest import ADMIN, OPERATOR, login
from tests.integration.test_cli import run
from tests.integration.test_revocation import WITHIN_S, watching
from tests.support.clock import FakeClock
from tests.support.media_checks import wait_for_online
from tests.support.server import RunningServer, add_user, auth, running_server

DEFAULTS = {p.value for p in Permission.role_defaults()}
EVERYTHING = {p.value for p in Permission}
#: Permissions with no feature in camgate yet: stored on roles, nothing to enforce.
STORED_ONLY = ["actions", "incoming_audio", "push_to_talk", "video_push"]


@dataclass(frozen=True)
class Site:
    server: RunningServer
    admin: str
    camera_id: str
    #: A moment inside the recordings.
    recorded_at: float
    #: A bookmark the operator made on the camera.
    bookmark_id: str

    @property
    def api(self) -> str:
        return f"{self.server.base_url}/api/v1"

    @property
    def camera(self) -> str:
        return f"{self.api}/cameras/{self.camera_id}"

    def ws(self, path: str, token: str, **params: object) -> str:
        query = urlencode({"token": token, **params})
        return f"{self.server.ws_url}/api/v1/cameras/{self.camera_id}/{path}?{query}"


def iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat()


def set_permissions(site: Site, permissions: set[str], role: str = "operator") -> httpx.Response:
    response = httpx.put(
        f"{site.api}/roles/{role}/permissions",
        json={"permissions": sorted(permissions)},
        headers=auth(site.admin),
    )
    assert response.status_code == 200, response.text
    return response


def recorded_from(site_api: str, token: str, camera_id: str, seconds: float) -> float:
    """Waits until ``seconds`` are recorded; the start of the recordings."""
    deadline = time.monotonic() + seconds + 30
    while time.monotonic() < deadline:
        body = httpx.get(f"{site_api}/cameras/{camera_id}/recordings", headers=auth(token)).json()
        intervals = body["intervals"]
        if intervals:
            start = datetime.fromisoformat(intervals[0]["start"]).timestamp()
            end = datetime.fromisoformat(intervals[-1]["end"]).timestamp()
            if end - start >= seconds:
                return start
        time.sleep(0.3)
    raise AssertionError("nothing was recorded")


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, clip_cache: Path) -> Iterator[Site]:
    data = tmp_path_factory.mktemp("features") / "data"
    data.mkdir()
    shutil.copytree(clip_cache, data / "cache")
    add_user(data, *ADMIN, "administrator")
    add_user(data, *OPERATOR, "operator")
    with running_server(data, backoff=lambda n: 0.2, segment_s=2) as server:
        api = f"{server.base_url}/api/v1"
        admin = login(server.base_url, *ADMIN)
        created = httpx.post(
            f"{api}/cameras", json={"name": "Gate", "urls": ["synthetic:360p"]}, headers=auth(admin)
        )
        camera_id = created.json()["id"]
        httpx.put(
            f"{api}/roles/operator/cameras", json={"camera_ids": [camera_id]}, headers=auth(admin)
        ).raise_for_status()
        wait_for_online(server.base_url, admin, camera_id)
        start = recorded_from(api, admin, camera_id, 3)
        operator = login(server.base_url, *OPERATOR)
        made = httpx.post(
            f"{api}/bookmarks",
            json={
                "camera_id": camera_id,
                "start": iso(start),
                "end": iso(start + 1),
                "headline": "Van at the gate",
            },
            headers=auth(operator),
        )
        assert made.status_code == 201, made.text
        yield Site(server, admin, camera_id, start + 1, made.json()["id"])


@pytest.fixture
def operator(site: Site) -> Iterator[str]:
    """The operator's token; their role is given its defaults back afterwards."""
    yield login(site.server.base_url, *OPERATOR)
    set_permissions(site, DEFAULTS)


@dataclass(frozen=True)
class Answer:
    """What a use of a feature got: an HTTP status, or a WebSocket's close code right after
    its first message (0: it stayed open), and the reason given for a refusal."""

    code: int
    detail: str = ""

    @property
    def refused(self) -> bool:
        return self.code in (403, 4403)

    @property
    def allowed(self) -> bool:
        return self.code == 0 or 200 <= self.code < 400


def _answer(response: httpx.Response) -> Answer:
    problem = response.headers.get("content-type", "") == "application/problem+json"
    return Answer(response.status_code, response.json()["detail"] if problem else "")


def first_message(url: str) -> Answer:
    async def connect() -> Answer:
        async with websockets.connect(url) as ws:
            message = await asyncio.wait_for(ws.recv(), 10)
            try:
                await asyncio.wait_for(ws.recv(), 2)
            except websockets.ConnectionClosed:
                error = json.loads(message)
                assert error["type"] == "error" and error["reason"] == "forbidden", error
                return Answer(ws.close_code or 0, error["detail"])
            except TimeoutError:
                pass
            return Answer(0)

    return asyncio.run(connect())


#: A use of a feature, by the user with the token.
Use = Callable[["Site", str], Answer]


def _http(method: str, path: Callable[[Site], str], **kwargs: Any) -> Use:
    def use(site: Site, token: str) -> Answer:
        body = kwargs["json"](site) if "json" in kwargs else None
        headers = auth(token)
        if "range" in kwargs:
            headers["Range"] = kwargs["range"]
        return _answer(
            httpx.request(
                method, path(site), json=body, params=kwargs.get("params"), headers=headers
            )
        )

    return use


def _streamed(path: Callable[[Site], str]) -> Use:
    """A never-ending answer: only its head is read (and the body of a refusal)."""

    def use(site: Site, token: str) -> Answer:
        with httpx.stream("GET", path(site), headers=auth(token), timeout=15) as response:
            if response.status_code >= 400:
                response.read()
                return _answer(response)
            return Answer(response.status_code)

    return use


def _ws(path: str, **params: Callable[[Site], str]) -> Use:
    def use(site: Site, token: str) -> Answer:
        extra = {name: value(site) for name, value in params.items()}
        return first_message(site.ws(path, token, **extra))

    return use


USES: dict[Permission, list[tuple[str, Use]]] = {
    Permission.LIVE: [
        ("snapshot", _http("GET", lambda s: f"{s.camera}/snapshot.jpg")),
        ("HLS playlist", _http("GET", lambda s: f"{s.camera}/live.m3u8")),
        ("media token", _http("POST", lambda s: f"{s.camera}/media-token")),
        ("progressive MP4", _streamed(lambda s: f"{s.camera}/live.mp4")),
        ("MJPEG", _streamed(lambda s: f"{s.camera}/live.mjpeg")),
        ("WebSocket", _ws("live")),
    ],
    Permission.PLAYBACK: [
        ("timeline", _http("GET", lambda s: f"{s.camera}/recordings")),
        (
            "next recording",
            _http(
                "GET",
                lambda s: f"{s.camera}/recordings/adjacent",
                params={"time": "2026-01-01T00:00:00Z"},
            ),
        ),
        ("playback.json", _http("GET", lambda s: f"{s.camera}/playback.json")),
        (
            "playback.mp4",
            _http("GET", lambda s: f"{s.camera}/playback.mp4", range="bytes=0-99"),
        ),
        ("WebSocket", _ws("playback", start=lambda s: iso(s.recorded_at))),
    ],
    Permission.BOOKMARKS_VIEW: [
        ("list", _http("GET", lambda s: f"{s.api}/bookmarks")),
        ("one", _http("GET", lambda s: f"{s.api}/bookmarks/{s.bookmark_id}")),
    ],
    Permission.BOOKMARKS_CREATE: [
        (
            "create",
            _http(
                "POST",
                lambda s: f"{s.api}/bookmarks",
                json=lambda s: {
                    "camera_id": s.camera_id,
                    "start": iso(s.recorded_at),
                    "end": iso(s.recorded_at),
                    "headline": "Another one",
                },
            ),
        ),
    ],
    Permission.BOOKMARKS_EDIT: [
        (
            "change",
            _http(
                "PATCH",
                lambda s: f"{s.api}/bookmarks/{s.bookmark_id}",
                json=lambda s: {"description": "blue, no plates"},
            ),
        ),
    ],
    Permission.EXPORT: [
        ("investigations", _http("GET", lambda s: f"{s.api}/investigations")),
        ("formats", _http("GET", lambda s: f"{s.api}/exports/formats")),
    ],
    Permission.ADMINISTRATION: [
        ("settings", _http("GET", lambda s: f"{s.api}/settings")),
        ("users", _http("GET", lambda s: f"{s.api}/users")),
        ("roles", _http("GET", lambda s: f"{s.api}/roles")),
        ("status", _http("GET", lambda s: f"{s.api}/status")),
        ("audit", _http("GET", lambda s: f"{s.api}/audit")),
        ("lockouts", _http("GET", lambda s: f"{s.api}/lockouts")),
        ("recording status", _http("GET", lambda s: f"{s.api}/recording/status")),
    ],
}


@pytest.mark.parametrize("permission", list(USES), ids=[p.value for p in USES])
def test_each_feature_needs_its_permission(
    site: Site, operator: str, permission: Permission
) -> None:
    # Everything but the one: each of its uses is refused, with the reason.
    set_permissions(site, EVERYTHING - {permission.value})
    for name, use in USES[permission]:
        answer = use(site, operator)
        assert answer.refused, (name, answer)
        assert answer.detail == REFUSALS[permission], (name, answer)
    # Only the one: each use is allowed.
    set_permissions(site, {permission.value})
    for name, use in USES[permission]:
        answer = use(site, operator)
        assert answer.allowed, (name, answer)


def test_permissions_without_a_feature_yet_are_stored_and_shown(site: Site, operator: str) -> None:
    granted = set_permissions(site, {"live", *STORED_ONLY}).json()
    assert granted["permissions"] == sorted({"live", *STORED_ONLY})
    me = httpx.get(f"{site.api}/auth/me", headers=auth(operator)).json()
    assert me["permissions"] == sorted({"live", *STORED_ONLY})
    admin_me = httpx.get(f"{site.api}/auth/me", headers=auth(site.admin)).json()
    assert admin_me["permissions"] == sorted(EVERYTHING)
    # Unknown names are refused; the built-in Administrator role cannot be changed.
    unknown = httpx.put(
        f"{site.api}/roles/operator/permissions",
        json={"permissions": ["fly"]},
        headers=auth(site.admin),
    )
    assert unknown.status_code == 422
    builtin = httpx.put(
        f"{site.api}/roles/administrator/permissions",
        json={"permissions": []},
        headers=auth(site.admin),
    )
    assert builtin.status_code == 422
    # Every change is audited, with the old and the new permissions.
    entries = httpx.get(
        f"{site.api}/audit", params={"q": "role.permissions"}, headers=auth(site.admin)
    ).json()
    assert entries[0]["details"]["new"] == sorted({"live", *STORED_ONLY})


def test_taking_a_permission_away_ends_its_open_streams(site: Site, operator: str) -> None:
    """Playback streams end when the role loses playback (live ones watch on); live ones end
    when it loses live, with the reason, within seconds."""

    async def scenario() -> tuple[int | None, str, int | None, str]:
        live_url = site.ws("live", operator)
        playback_url = site.ws("playback", operator, start=iso(site.recorded_at))
        async with (
            websockets.connect(live_url) as live,
            websockets.connect(playback_url) as playback,
        ):
            await asyncio.wait_for(live.recv(), 10)
            await asyncio.wait_for(playback.recv(), 10)
            await asyncio.to_thread(set_permissions, site, DEFAULTS - {"playback"})
            playback_code, playback_reason = await closed(playback)
            # Live goes on: it still receives video after playback has ended.
            await asyncio.wait_for(live.recv(), 10)
            await asyncio.to_thread(set_permissions, site, DEFAULTS - {"playback", "live"})
            live_code, live_reason = await closed(live)
        return playback_code, playback_reason, live_code, live_reason

    async def closed(ws: websockets.ClientConnection) -> tuple[int | None, str]:
        deadline = time.monotonic() + WITHIN_S
        with pytest.raises(websockets.ConnectionClosed):
            while time.monotonic() < deadline:
                await asyncio.wait_for(ws.recv(), WITHIN_S)
        return ws.close_code, ws.close_reason or ""

    playback_code, playback_reason, live_code, live_reason = asyncio.run(scenario())
    assert (playback_code, playback_reason) == (4403, REFUSALS[Permission.PLAYBACK])
    assert (live_code, live_reason) == (4403, REFUSALS[Permission.LIVE])

    # A live MP4 stream (HTTP) ends too.
    set_permissions(site, DEFAULTS)
    with watching(f"{site.camera}/live.mp4?token={operator}") as ended:
        time.sleep(1)
        assert not ended.is_set()
        set_permissions(site, DEFAULTS - {"live"})
        assert ended.wait(WITHIN_S), "the stream went on after the role lost live"


def test_a_role_given_administration_administers(site: Site, operator: str) -> None:
    set_permissions(site, DEFAULTS | {"administration"})
    headers = auth(operator)
    assert httpx.get(f"{site.api}/settings", headers=headers).status_code == 200
    renamed = httpx.patch(
        f"{site.api}/settings",
        content=json.dumps({"general": {"server_name": "Depot"}}),
        headers={**headers, "Content-Type": "application/merge-patch+json"},
    )
    assert renamed.status_code == 200, renamed.text
    users = httpx.get(f"{site.api}/users", headers=headers).json()
    assert {u["username"] for u in users} >= {ADMIN[0], OPERATOR[0]}
    # Administrators change and delete anyone's bookmarks (with bookmarks_edit).
    theirs = httpx.post(
        f"{site.api}/bookmarks",
        json={
            "camera_id": site.camera_id,
            "start": iso(site.recorded_at),
            "end": iso(site.recorded_at),
            "headline": "The administrator's",
        },
        headers=auth(site.admin),
    ).json()
    changed = httpx.patch(
        f"{site.api}/bookmarks/{theirs['id']}", json={"headline": "Seen"}, headers=headers
    )
    assert changed.status_code == 200
    set_permissions(site, DEFAULTS)
    again = httpx.patch(
        f"{site.api}/bookmarks/{theirs['id']}", json={"headline": "Again"}, headers=headers
    )
    assert again.status_code == 403
    assert again.json()["detail"] == "only its creator or an administrator changes a bookmark"
    assert (
        httpx.get(f"{site.api}/settings", headers=headers).json()["detail"]
        == (REFUSALS[Permission.ADMINISTRATION])
    )
    httpx.patch(
        f"{site.api}/settings",
        content=json.dumps({"general": {"server_name": "camgate"}}),
        headers={**auth(site.admin), "Content-Type": "application/merge-patch+json"},
    ).raise_for_status()


def test_the_command_line_adds_and_removes_permissions(site: Site, operator: str) -> None:
    changed = run(
        site.server.data_dir,
        "role",
        "permissions",
        "operator",
        "--add",
        "export",
        "--remove",
        "live",
    )
    assert changed.returncode == 0, changed.stderr
    expected = sorted((DEFAULTS | {"export"}) - {"live"})
    assert ", ".join(expected) in " ".join(changed.stdout.split())  # the terminal may wrap
    me = httpx.get(f"{site.api}/auth/me", headers=auth(operator)).json()
    assert me["permissions"] == expected
    both = run(site.server.data_dir, "role", "permissions", "operator", "live", "--add", "export")
    assert both.returncode == 2 and "either" in both.stderr
    exactly = run(site.server.data_dir, "role", "permissions", "operator", "live", "playback")
    assert exactly.returncode == 0, exactly.stderr
    roles = httpx.get(f"{site.api}/roles", headers=auth(site.admin)).json()
    assert next(r for r in roles if r["name"] == "operator")["permissions"] == ["live", "playback"]
    entries = httpx.get(
        f"{site.api}/audit", params={"q": "role.permissions"}, headers=auth(site.admin)
    ).json()
    assert entries[0]["address"] == CLI_ADDRESS
    assert entries[0]["details"]["new"] == ["live", "playback"]


def test_the_default_of_a_new_role_is_spelled_out_right() -> None:
    assert json.dumps(sorted(Permission.role_defaults())) == RoleRow.DEFAULT_PERMISSIONS


async def test_a_database_of_an_earlier_version_keeps_what_its_roles_could_do(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    database = data / "camgate.db"
    migrate(database, "0007")
    with sqlite3.connect(database) as db:
        db.execute(
            "INSERT INTO roles (id, name, builtin, administrator, all_cameras, permissions) "
            "VALUES ('guards-id', 'guards', 0, 0, 1, '[\"export\"]')"
        )
        before = dict(db.execute("SELECT name, permissions FROM roles").fetchall())
    assert before["operator"] == "[]"
    async with open_core(data, FakeClock()) as core:  # migrates to the newest
        roles = {role.name: role for role in await core.identity.roles()}
        # A role made from now on starts with what every role could do before.
        async with core.sessions() as db:
            await store.add_role(db, "lookouts-id", "lookouts", all_cameras=False)
            await db.commit()
            lookouts = await store.role_by_name(db, "lookouts")
    defaults = Permission.role_defaults()
    assert roles["operator"].permissions == defaults
    assert roles["guards"].permissions == defaults | {Permission.EXPORT}
    assert roles["administrator"].administrator
    assert lookouts is not None and lookouts.permissions == defaults
    for role in (roles["operator"], roles["guards"]):
        assert Permission.ADMINISTRATION not in role.permissions
