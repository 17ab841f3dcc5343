from __future__ import annotations

import httpx

from tests.support.server import RunningServer

SECTIONS = {
    "general",
    "directory",
    "connectivity",
    "performance",
    "investigations",
    "video_push",
    "notifications",
    "two_step_verification",
    "recording",
}


def test_settings_tree_patch_and_validation(server: RunningServer, admin_token: str) -> None:
    headers = {"Authorization": f"Bearer {admin_token}"}
    url = f"{server.base_url}/api/v1/settings"
    tree = httpx.get(url, headers=headers).json()
    assert set(tree) == SECTIONS
    assert tree["connectivity"]["http_port"] == 8081
    assert tree["recording"] == {"min_free_mb": 1024}
    refused = httpx.patch(url, json={"recording": {"min_free_mb": -1}}, headers=headers)
    assert refused.status_code == 422

    refused = httpx.patch(
        url, json={"two_step_verification": {"code": {"length": 9}}}, headers=headers
    )
    assert refused.status_code == 422
    assert "length" in refused.json()["detail"]
    levels = {"performance": {"level2": {"enabled": True, "max_fps": 40}}}
    refused = httpx.patch(url, json=levels, headers=headers)
    assert refused.status_code == 422
    assert "strictly" in refused.json()["detail"] or "lower" in refused.json()["detail"]

    changed = httpx.patch(
        url,
        json={
            "general": {"server_name": "HQ"},
            "two_step_verification": {"smtp": {"password": "hunter22"}},
            "directory": {"bind_password": "swordfish9"},
        },
        headers={**headers, "Content-Type": "application/merge-patch+json"},
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["general"]["server_name"] == "HQ"
    assert changed.json()["two_step_verification"]["smtp"]["password"] == "**********"
    assert changed.json()["directory"]["bind_password"] == "**********"
    again = httpx.get(url, headers=headers).json()
    assert again["general"]["server_name"] == "HQ"
    assert "hunter22" not in httpx.get(url, headers=headers).text
    assert "swordfish9" not in httpx.get(url, headers=headers).text
    # The masked value sent back keeps the stored password.
    httpx.patch(url, json=again, headers=headers).raise_for_status()
    database = (server.data_dir / "camgate.db").read_bytes()
    assert b"hunter22" not in database and b"swordfish9" not in database
