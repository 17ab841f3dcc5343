"""A role given administration administers, but gives nobody more than it has (ADR 0013)."""

from __future__ import annotations

import httpx

from tests.conftest import ADMIN, OPERATOR, login
from tests.support.server import RunningServer, auth


def test_a_delegated_administrator_cannot_escalate(server: RunningServer, admin_token: str) -> None:
    base = f"{server.base_url}/api/v1"
    granted = httpx.put(
        f"{base}/roles/operator/permissions",
        json={"permissions": ["live", "playback", "bookmarks_view", "administration"]},
        headers=auth(admin_token),
    )
    assert granted.status_code == 200, granted.text
    olivia = auth(login(server.base_url, *OPERATOR))

    # Administering works...
    assert httpx.get(f"{base}/users", headers=olivia).status_code == 200
    assert httpx.get(f"{base}/sessions", params={"all": "true"}, headers=olivia).status_code == 200
    made = httpx.post(
        f"{base}/users",
        json={"username": "oscar", "password": "oscar-password-1", "role": "operator"},
        headers=olivia,
    )
    assert made.status_code == 201, made.text
    assert httpx.patch(f"{base}/users/oscar", json={"two_step": "email"}, headers=olivia).is_success
    assert httpx.put(f"{base}/groups/staff", json={"role": "operator"}, headers=olivia).is_success

    # ...granting beyond one's own role does not.
    refusals = [
        httpx.put(
            f"{base}/roles/operator/permissions",
            json={"permissions": ["live", "export", "administration"]},
            headers=olivia,
        ),
        httpx.post(
            f"{base}/users",
            json={"username": "mallory", "password": "mallory-password-1", "role": "administrator"},
            headers=olivia,
        ),
        httpx.patch(f"{base}/users/{ADMIN[0]}", json={"two_step": "no_login"}, headers=olivia),
        httpx.delete(f"{base}/users/{ADMIN[0]}", headers=olivia),
        httpx.put(f"{base}/groups/staff", json={"role": "administrator"}, headers=olivia),
        httpx.put(f"{base}/groups/admins", json={"role": "administrator"}, headers=olivia),
    ]
    assert [r.status_code for r in refusals] == [403] * len(refusals), [r.text for r in refusals]
    assert "own role" in refusals[0].json()["detail"]
    # The built-in Administrator role's groups are not the delegate's to touch either.
    assert httpx.put(
        f"{base}/groups/admins", json={"role": "administrator"}, headers=auth(admin_token)
    ).is_success
    assert httpx.delete(f"{base}/groups/admins", headers=olivia).status_code == 403
    users = {u["username"] for u in httpx.get(f"{base}/users", headers=olivia).json()}
    assert "mallory" not in users and ADMIN[0] in users
