"""Views: the built-in "All cameras" view and named layouts."""

from __future__ import annotations

import httpx

from tests.support.server import RunningServer, auth


def add_camera(server: RunningServer, token: str, name: str) -> str:
    response = httpx.post(
        f"{server.base_url}/api/v1/cameras",
        json={"name": name, "urls": ["synthetic:360p"]},
        headers=auth(token),
    )
    response.raise_for_status()
    camera_id: str = response.json()["id"]
    return camera_id


def test_views_for_admins_and_operators(
    server: RunningServer, admin_token: str, operator_token: str
) -> None:
    base = f"{server.base_url}/api/v1"
    a = add_camera(server, admin_token, "Cam A")
    b = add_camera(server, admin_token, "Cam B")
    views = httpx.get(f"{base}/views", headers=auth(admin_token)).json()
    assert views[0]["id"] == "all-cameras" and views[0]["builtin"]
    assert sorted(views[0]["camera_ids"]) == sorted([a, b])

    shared = httpx.post(
        f"{base}/views",
        json={"name": "Entrances", "camera_ids": [b, a], "columns": 2, "shared": True},
        headers=auth(admin_token),
    )
    assert shared.status_code == 201, shared.text
    view = shared.json()
    assert view["camera_ids"] == [b, a]  # the order is the layout

    # An operator sees the shared view with only the cameras their role allows.
    httpx.put(
        f"{base}/roles/operator/cameras", json={"camera_ids": [a]}, headers=auth(admin_token)
    ).raise_for_status()
    seen = httpx.get(f"{base}/views/{view['id']}", headers=auth(operator_token)).json()
    assert seen["camera_ids"] == [a]
    refused = httpx.post(
        f"{base}/views",
        json={"name": "Mine", "camera_ids": [a], "shared": True},
        headers=auth(operator_token),
    )
    assert refused.status_code == 403
    hidden_camera = httpx.post(
        f"{base}/views", json={"name": "Mine", "camera_ids": [b]}, headers=auth(operator_token)
    )
    assert hidden_camera.status_code == 404
    mine = httpx.post(
        f"{base}/views", json={"name": "Mine", "camera_ids": [a]}, headers=auth(operator_token)
    ).json()
    assert mine["mine"] and not mine["shared"]
    assert (
        httpx.patch(
            f"{base}/views/{view['id']}", json={"name": "x"}, headers=auth(operator_token)
        ).status_code
        == 403
    )
    # Private views stay private.
    admin_ids = [v["id"] for v in httpx.get(f"{base}/views", headers=auth(admin_token)).json()]
    assert mine["id"] not in admin_ids

    renamed = httpx.patch(
        f"{base}/views/{view['id']}",
        json={"name": "Doors", "columns": 3, "camera_ids": [a]},
        headers=auth(admin_token),
    )
    assert renamed.json()["name"] == "Doors" and renamed.json()["columns"] == 3
    assert httpx.delete(f"{base}/views/all-cameras", headers=auth(admin_token)).status_code == 403
    assert httpx.delete(f"{base}/views/{view['id']}", headers=auth(admin_token)).status_code == 204
    assert httpx.get(f"{base}/views/{view['id']}", headers=auth(admin_token)).status_code == 404


def test_all_cameras_view_toggle(server: RunningServer, admin_token: str) -> None:
    base = f"{server.base_url}/api/v1"
    add_camera(server, admin_token, "Cam A")
    httpx.patch(
        f"{base}/settings",
        json={"general": {"features": {"all_cameras_view": False}}},
        headers=auth(admin_token),
    ).raise_for_status()
    ids = [v["id"] for v in httpx.get(f"{base}/views", headers=auth(admin_token)).json()]
    assert "all-cameras" not in ids


def test_web_client_toggle(server: RunningServer, admin_token: str) -> None:
    assert httpx.get(server.base_url + "/").status_code == 200
    httpx.patch(
        f"{server.base_url}/api/v1/settings",
        json={"general": {"features": {"web_client": False}}},
        headers=auth(admin_token),
    ).raise_for_status()
    off = httpx.get(server.base_url + "/")
    assert off.status_code == 403 and "turned off" in off.text
    assert httpx.get(f"{server.base_url}/api/v1/health").status_code == 200


def test_invalid_views_are_refused(server: RunningServer, admin_token: str) -> None:
    base = f"{server.base_url}/api/v1/views"
    for body in [
        {"name": "", "camera_ids": []},
        {"name": "x", "camera_ids": [], "columns": 9},
        {"name": "x", "camera_ids": ["nope"]},
    ]:
        response = httpx.post(base, json=body, headers=auth(admin_token))
        assert response.status_code in (404, 422), body
