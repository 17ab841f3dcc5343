"""Bookmarks (P3) through the REST API of a running server."""

from __future__ import annotations

from typing import Any

import httpx

from tests.integration.test_views_api import add_camera
from tests.support.server import RunningServer, auth

OFF = "bookmarks are turned off on this server"


def _bookmark(
    base: str,
    token: str,
    camera_id: str,
    start: str,
    end: str,
    headline: str,
    description: str = "",
) -> dict[str, Any]:
    response = httpx.post(
        f"{base}/bookmarks",
        json={
            "camera_id": camera_id,
            "start": start,
            "end": end,
            "headline": headline,
            "description": description,
        },
        headers=auth(token),
    )
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def _headlines(base: str, token: str, **params: str | int) -> list[str]:
    response = httpx.get(f"{base}/bookmarks", params=params, headers=auth(token))
    assert response.status_code == 200, response.text
    return [b["headline"] for b in response.json()]


def test_create_read_change_delete(server: RunningServer, admin_token: str) -> None:
    base = f"{server.base_url}/api/v1"
    camera = add_camera(server, admin_token, "Cam A")
    made = _bookmark(
        base,
        admin_token,
        camera,
        "2026-11-25T12:00:00.123+02:00",
        "2026-11-25T12:05:00+02:00",
        "  Door forced ",
        "Back door, night shift",
    )
    assert made == {
        "id": made["id"],
        "camera_id": camera,
        "start": "2026-11-25T10:00:00.123Z",  # stored and given back in UTC
        "end": "2026-11-25T10:05:00.000Z",
        "headline": "Door forced",
        "description": "Back door, night shift",
        "user": "admin",
    }
    url = f"{base}/bookmarks/{made['id']}"
    assert httpx.get(url, headers=auth(admin_token)).json() == made
    assert [b["id"] for b in httpx.get(f"{base}/bookmarks", headers=auth(admin_token)).json()] == [
        made["id"]
    ]

    changed = httpx.patch(
        url,
        json={"headline": "Door forced open", "end": "2026-11-25T10:10:00Z"},
        headers=auth(admin_token),
    )
    assert changed.status_code == 200, changed.text
    assert changed.json() == {
        **made,
        "headline": "Door forced open",
        "end": "2026-11-25T10:10:00.000Z",
    }
    assert httpx.get(url, headers=auth(admin_token)).json()["headline"] == "Door forced open"
    # The merged span is what must hold: moving the start past the stored end is refused.
    late = httpx.patch(url, json={"start": "2026-11-25T11:00:00Z"}, headers=auth(admin_token))
    assert late.status_code == 422

    assert httpx.delete(url, headers=auth(admin_token)).status_code == 204
    assert httpx.get(url, headers=auth(admin_token)).status_code == 404
    assert httpx.delete(url, headers=auth(admin_token)).status_code == 404
    assert httpx.get(f"{base}/bookmarks", headers=auth(admin_token)).json() == []


def test_search(server: RunningServer, admin_token: str, operator_token: str) -> None:
    base = f"{server.base_url}/api/v1"
    a = add_camera(server, admin_token, "Cam A")
    b = add_camera(server, admin_token, "Cam B")
    httpx.put(
        f"{base}/roles/operator/cameras", json={"camera_ids": [a, b]}, headers=auth(admin_token)
    ).raise_for_status()
    _bookmark(base, admin_token, a, "2026-11-25T08:00:00Z", "2026-11-25T09:00:00Z", "Delivery")
    _bookmark(
        base,
        admin_token,
        b,
        "2026-11-25T10:00:00Z",
        "2026-11-25T10:00:00Z",
        "Visitor",
        "Left by the back DOOR",
    )
    _bookmark(base, operator_token, a, "2026-11-25T11:00:00Z", "2026-11-25T12:00:00Z", "Door open")
    _bookmark(base, operator_token, b, "2026-11-24T23:00:00Z", "2026-11-25T07:00:00Z", "100%_sure")

    newest_first = ["Door open", "Visitor", "Delivery", "100%_sure"]
    assert _headlines(base, admin_token) == newest_first
    assert _headlines(base, operator_token) == newest_first
    assert _headlines(base, admin_token, limit=2) == newest_first[:2]
    assert (
        httpx.get(
            f"{base}/bookmarks", params={"limit": 1001}, headers=auth(admin_token)
        ).status_code
        == 422
    )

    # Text: either field, any case; LIKE wildcards in the text are plain characters.
    assert _headlines(base, admin_token, q="door") == ["Door open", "Visitor"]
    assert _headlines(base, admin_token, q="%_") == ["100%_sure"]
    assert _headlines(base, admin_token, q="_") == ["100%_sure"]
    assert _headlines(base, admin_token, q="nothing like it") == []

    assert _headlines(base, admin_token, camera_id=b) == ["Visitor", "100%_sure"]
    assert _headlines(base, admin_token, camera_id="no-such-camera") == []
    assert _headlines(base, admin_token, mine="true") == ["Visitor", "Delivery"]
    assert _headlines(base, operator_token, mine="true") == ["Door open", "100%_sure"]
    assert _headlines(base, operator_token, mine="true", camera_id=a, q="DOOR") == ["Door open"]

    # Time: overlapping the half-open window [start, end).
    window = {"start": "2026-11-25T08:30:00Z", "end": "2026-11-25T10:00:00Z"}
    assert _headlines(base, admin_token, **window) == ["Delivery"]  # Visitor is at its end
    window = {"start": "2026-11-25T11:00:00+01:00", "end": "2026-11-25T11:00:00Z"}
    assert _headlines(base, admin_token, **window) == ["Visitor"]  # a moment inside
    assert _headlines(base, admin_token, start="2026-11-25T09:00:00Z") == ["Door open", "Visitor"]
    assert _headlines(base, admin_token, end="2026-11-25T08:00:00Z") == ["100%_sure"]
    # One that started the day before still counts (the longest span reaches back a day).
    assert _headlines(
        base, admin_token, start="2026-11-25T06:00:00Z", end="2026-11-25T07:00:00Z"
    ) == ["100%_sure"]
    for params in [
        {"start": "2026-11-25T08:30:00"},  # no time zone
        {"start": "2026-11-25T10:00:00Z", "end": "2026-11-25T09:00:00Z"},
    ]:
        refused = httpx.get(f"{base}/bookmarks", params=params, headers=auth(admin_token))
        assert refused.status_code == 422, params


def test_permissions(server: RunningServer, admin_token: str, operator_token: str) -> None:
    base = f"{server.base_url}/api/v1"
    a = add_camera(server, admin_token, "Cam A")
    b = add_camera(server, admin_token, "Cam B")
    # The operator role sees only the cameras granted to it.
    httpx.put(
        f"{base}/roles/operator/cameras", json={"camera_ids": [a]}, headers=auth(admin_token)
    ).raise_for_status()
    on_a = _bookmark(base, admin_token, a, "2026-11-25T08:00:00Z", "2026-11-25T08:01:00Z", "On A")
    on_b = _bookmark(base, admin_token, b, "2026-11-25T09:00:00Z", "2026-11-25T09:01:00Z", "On B")
    theirs = _bookmark(
        base, operator_token, a, "2026-11-25T10:00:00Z", "2026-11-25T10:01:00Z", "Theirs"
    )
    assert theirs["user"] == "olivia"

    # A bookmark on a camera the operator may not view does not exist for them.
    assert _headlines(base, operator_token) == ["Theirs", "On A"]
    assert _headlines(base, operator_token, camera_id=b) == []
    hidden = f"{base}/bookmarks/{on_b['id']}"
    assert httpx.get(hidden, headers=auth(operator_token)).status_code == 404
    assert (
        httpx.patch(hidden, json={"headline": "x"}, headers=auth(operator_token)).status_code == 404
    )
    assert httpx.delete(hidden, headers=auth(operator_token)).status_code == 404
    new = {"start": "2026-11-25T08:00:00Z", "end": "2026-11-25T08:01:00Z", "headline": "x"}
    not_viewable = httpx.post(
        f"{base}/bookmarks", json={**new, "camera_id": b}, headers=auth(operator_token)
    )
    assert not_viewable.status_code == 404
    missing = httpx.post(
        f"{base}/bookmarks", json={**new, "camera_id": "no-such-camera"}, headers=auth(admin_token)
    )
    assert missing.status_code == 404

    # Only the creator changes a bookmark, or an administrator any.
    admins = f"{base}/bookmarks/{on_a['id']}"
    assert httpx.get(admins, headers=auth(operator_token)).json() == on_a
    assert (
        httpx.patch(admins, json={"headline": "x"}, headers=auth(operator_token)).status_code == 403
    )
    assert httpx.delete(admins, headers=auth(operator_token)).status_code == 403
    assert httpx.get(admins, headers=auth(admin_token)).json()["headline"] == "On A"
    own = f"{base}/bookmarks/{theirs['id']}"
    mine = httpx.patch(own, json={"description": "seen it"}, headers=auth(operator_token))
    assert mine.status_code == 200 and mine.json()["description"] == "seen it"
    by_admin = httpx.patch(own, json={"headline": "Checked"}, headers=auth(admin_token))
    assert by_admin.status_code == 200
    assert by_admin.json()["headline"] == "Checked" and by_admin.json()["user"] == "olivia"
    assert httpx.delete(own, headers=auth(admin_token)).status_code == 204
    assert httpx.get(f"{base}/bookmarks", headers=auth(operator_token)).status_code == 200
    assert httpx.get(f"{base}/bookmarks").status_code == 401


def test_invalid_bookmarks_and_the_toggle(server: RunningServer, admin_token: str) -> None:
    base = f"{server.base_url}/api/v1"
    camera = add_camera(server, admin_token, "Cam A")
    good = {
        "camera_id": camera,
        "start": "2026-11-25T10:00:00Z",
        "end": "2026-11-25T10:01:00Z",
        "headline": "Fine",
    }
    for change in [
        {"start": "2026-11-25T10:00:00"},  # no time zone
        {"end": "2026-11-25T10:01:00"},
        {"end": "2026-11-25T09:59:59Z"},  # ends before it starts
        {"end": "2026-11-26T10:00:01Z"},  # longer than a day
        {"headline": ""},
        {"headline": "   "},
        {"headline": "h" * 101},
        {"description": "d" * 2001},
    ]:
        refused = httpx.post(
            f"{base}/bookmarks", json={**good, **change}, headers=auth(admin_token)
        )
        assert refused.status_code == 422, change
    day = _bookmark(
        base, admin_token, camera, "2026-11-25T10:00:00Z", "2026-11-26T10:00:00Z", "Day"
    )
    url = f"{base}/bookmarks/{day['id']}"
    assert (
        httpx.patch(url, json={"end": "2026-11-25T10:00:00"}, headers=auth(admin_token)).status_code
        == 422
    )
    assert httpx.get(f"{base}/bookmarks/nope", headers=auth(admin_token)).status_code == 404

    def turn(on: bool) -> None:
        httpx.patch(
            f"{base}/settings",
            json={"general": {"features": {"bookmarks": on}}},
            headers=auth(admin_token),
        ).raise_for_status()

    turn(False)
    for method, path, body in [
        ("GET", "/bookmarks", None),
        ("POST", "/bookmarks", good),
        ("POST", "/bookmarks", {"headline": ""}),  # the toggle answers before validation
        ("GET", f"/bookmarks/{day['id']}", None),
        ("PATCH", f"/bookmarks/{day['id']}", {"headline": "x"}),
        ("DELETE", f"/bookmarks/{day['id']}", None),
    ]:
        off = httpx.request(method, base + path, json=body, headers=auth(admin_token))
        assert off.status_code == 403, (method, path)
        assert off.json()["detail"] == OFF
    turn(True)
    assert httpx.get(url, headers=auth(admin_token)).json() == day
