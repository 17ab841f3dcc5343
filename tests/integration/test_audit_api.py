"""The audit log through the API: administrative changes with their old and new values,
searched by words, user and time, and exported as CSV."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta

import httpx

from camgate.audit.api import spreadsheet_safe
from tests.support.server import RunningServer, auth


def test_changes_are_searchable_and_exported_as_csv(
    server: RunningServer, admin_token: str, operator_token: str
) -> None:
    base = f"{server.base_url}/api/v1"
    changed = httpx.patch(
        f"{base}/settings",
        json={"general": {"server_name": "Harbour"}},
        headers={**auth(admin_token), "Content-Type": "application/merge-patch+json"},
    )
    assert changed.status_code == 200
    httpx.put(
        f"{base}/roles/operator/permissions",
        json={"permissions": ["export"]},
        headers=auth(admin_token),
    ).raise_for_status()

    (entry,) = httpx.get(
        f"{base}/audit", params={"q": "settings"}, headers=auth(admin_token)
    ).json()
    assert entry["user"] == "admin" and entry["address"] == "127.0.0.1"
    assert entry["details"] == {"general.server_name": {"old": "camgate", "new": "Harbour"}}
    mine = httpx.get(f"{base}/audit", params={"user": "ADMIN"}, headers=auth(admin_token)).json()
    # The latest first; the fixtures' logins came before.
    assert [e["action"] for e in mine] == ["role.permissions", "settings.change", "login"]
    later = (datetime.now(UTC) + timedelta(minutes=1)).isoformat()
    nothing = httpx.get(f"{base}/audit", params={"start": later}, headers=auth(admin_token))
    assert nothing.json() == []
    both = httpx.get(f"{base}/audit", params={"q": "role export"}, headers=auth(admin_token))
    assert [e["action"] for e in both.json()] == ["role.permissions"]

    exported = httpx.get(f"{base}/audit.csv", headers=auth(admin_token))
    assert exported.headers["content-type"].startswith("text/csv")
    assert "attachment" in exported.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert [r["action"] for r in rows] == ["role.permissions", "settings.change", "login", "login"]
    assert json.loads(rows[0]["details"])["new"] == ["export"]

    for path in ("audit", "audit.csv"):
        assert httpx.get(f"{base}/{path}", headers=auth(operator_token)).status_code == 403
    assert httpx.get(f"{base}/audit").status_code == 401

    # A failed login is recorded with the name typed, never the password typed.
    refused = httpx.post(
        f"{base}/auth/login", json={"username": "mallory", "password": "guess-one-two"}
    )
    assert refused.status_code == 401
    (failed,) = httpx.get(
        f"{base}/audit", params={"q": "login.failed"}, headers=auth(admin_token)
    ).json()
    assert failed["target"] == "mallory" and "guess-one-two" not in str(failed)


def test_a_cell_that_would_start_a_formula_is_kept_as_text() -> None:
    assert spreadsheet_safe("=HYPERLINK(1)") == "'=HYPERLINK(1)"
    assert spreadsheet_safe("-1") == "'-1"
    assert spreadsheet_safe("alice") == "alice"


def test_users_roles_and_cameras_are_audited_with_old_and_new_values(
    server: RunningServer, admin_token: str
) -> None:
    base = f"{server.base_url}/api/v1"
    headers = auth(admin_token)
    camera = httpx.post(
        f"{base}/cameras",
        json={"name": "Yard", "urls": ["rtsp://viewer:secret-pw@127.0.0.1:9/yard"]},
        headers=headers,
    ).json()
    mask = {"x": 0.1, "y": 0.1, "width": 0.2, "height": 0.2}
    httpx.put(
        f"{base}/cameras/{camera['id']}/privacy-masks", json={"masks": [mask]}, headers=headers
    ).raise_for_status()
    httpx.put(
        f"{base}/roles/operator/cameras", json={"camera_ids": [camera["id"]]}, headers=headers
    ).raise_for_status()
    httpx.post(
        f"{base}/users",
        json={"username": "gus", "password": "gus-password-1", "role": "operator"},
        headers=headers,
    ).raise_for_status()
    httpx.delete(f"{base}/users/gus", headers=headers).raise_for_status()
    httpx.delete(f"{base}/cameras/{camera['id']}", headers=headers).raise_for_status()

    entries = httpx.get(f"{base}/audit", headers=headers).json()
    by_action = {entry["action"]: entry for entry in entries}
    added = by_action["camera.add"]
    assert added["target"] == camera["id"] and added["details"]["name"] == "Yard"
    assert by_action["camera.privacy_masks"]["details"]["old"] == []
    assert by_action["camera.privacy_masks"]["details"]["new"] == [mask]
    assert by_action["role.cameras"]["details"] == {
        "role": "operator",
        "old": [],
        "new": [camera["id"]],
    }
    assert by_action["user.add"]["details"] == {"user": "gus", "role": "operator"}
    assert by_action["user.remove"]["target"] == "gus"
    assert by_action["camera.remove"]["details"] == {"name": "Yard"}
    # Camera credentials never reach the audit log.
    assert "secret-pw" not in httpx.get(f"{base}/audit.csv", headers=headers).text
