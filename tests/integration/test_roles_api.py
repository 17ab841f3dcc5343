"""Roles made and deleted by administrators: the defaults a new role gets, the built-in roles
that stay, a role still held by users, and the audit of it all."""

from __future__ import annotations

import httpx

from camgate.identity.models import Permission
from tests.conftest import OPERATOR, login
from tests.support.server import RunningServer, auth


def test_roles_are_added_used_and_removed(server: RunningServer, admin_token: str) -> None:
    base = f"{server.base_url}/api/v1"
    headers = auth(admin_token)
    made = httpx.post(f"{base}/roles", json={"name": "Guards"}, headers=headers)
    assert made.status_code == 201, made.text
    guards = made.json()
    assert guards["permissions"] == sorted(Permission.role_defaults())
    assert guards["camera_ids"] == [] and guards["all_cameras"] is False
    again = httpx.post(f"{base}/roles", json={"name": "Guards"}, headers=headers)
    assert again.status_code == 409
    assert httpx.post(f"{base}/roles", json={"name": ""}, headers=headers).status_code == 422

    httpx.post(
        f"{base}/users",
        json={"username": "gus", "password": "gus-password-1", "role": "Guards"},
        headers=headers,
    ).raise_for_status()
    httpx.put(f"{base}/groups/night", json={"role": "Guards"}, headers=headers).raise_for_status()
    held = httpx.delete(f"{base}/roles/Guards", headers=headers)
    assert held.status_code == 409 and "1 user(s)" in held.json()["detail"]
    httpx.delete(f"{base}/users/gus", headers=headers).raise_for_status()
    assert httpx.delete(f"{base}/roles/Guards", headers=headers).status_code == 204
    # Its directory group keeps its method but loses the role.
    groups = httpx.get(f"{base}/groups", headers=headers).json()
    assert groups == [{"name": "night", "role": None, "two_step": "none"}]

    builtin = httpx.delete(f"{base}/roles/administrator", headers=headers)
    assert builtin.status_code == 409 and "built-in" in builtin.json()["detail"]
    assert httpx.delete(f"{base}/roles/nobody", headers=headers).status_code == 404
    actions = [e["action"] for e in httpx.get(f"{base}/audit", headers=headers).json()]
    assert "role.add" in actions and "role.remove" in actions


def test_a_delegated_administrator_makes_roles_within_its_own(
    server: RunningServer, admin_token: str
) -> None:
    base = f"{server.base_url}/api/v1"
    httpx.put(
        f"{base}/roles/operator/permissions",
        json={"permissions": ["live", "administration"]},
        headers=auth(admin_token),
    ).raise_for_status()
    olivia = auth(login(server.base_url, *OPERATOR))
    made = httpx.post(f"{base}/roles", json={"name": "Lookouts"}, headers=olivia)
    assert made.status_code == 201, made.text
    assert made.json()["permissions"] == ["live"]  # the defaults her role has
    everywhere = httpx.post(
        f"{base}/roles", json={"name": "Everywhere", "all_cameras": True}, headers=olivia
    )
    assert everywhere.status_code == 403
    assert httpx.delete(f"{base}/roles/operator", headers=olivia).status_code == 403
    assert httpx.delete(f"{base}/roles/Lookouts", headers=olivia).status_code == 204
