"""Cross-site request forgery: what another site can make a logged-in browser send is refused.

A page elsewhere can submit a form (urlencoded, multipart or text/plain bodies) with the user's
cookie, or try a script's request that needs a CORS preflight. The session cookie is SameSite=
Strict (browsers do not send it from other sites at all); besides, every state change takes a
JSON body (a form cannot send one) and no CORS header lets another origin in."""

from __future__ import annotations

import httpx

from tests.conftest import ADMIN
from tests.support.server import RunningServer, auth

FORGED = '{"username": "eve", "password": "eve-password-1", "role": "administrator"}'
FORM_TYPES = ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x")


def test_forms_from_another_site_change_nothing(server: RunningServer) -> None:
    base = f"{server.base_url}/api/v1"
    login = httpx.post(f"{base}/auth/login", json={"username": ADMIN[0], "password": ADMIN[1]})
    cookie = login.headers["set-cookie"].lower()
    assert "samesite=strict" in cookie and "httponly" in cookie

    for content_type in FORM_TYPES:
        for method, path, body in [
            ("POST", "/users", FORGED),
            ("PATCH", "/settings", '{"general": {"server_name": "owned"}}'),
            ("PUT", "/roles/operator/permissions", '{"permissions": ["export"]}'),
        ]:
            forged = httpx.request(
                method,
                f"{base}{path}",
                content=body,
                headers={"Content-Type": content_type, "Origin": "https://evil.example"},
                cookies=login.cookies,
            )
            assert forged.status_code in (415, 422), (content_type, path, forged.status_code)

    token = login.json()["token"]
    users = httpx.get(f"{base}/users", headers=auth(token)).json()
    assert "eve" not in {user["username"] for user in users}
    settings = httpx.get(f"{base}/settings", headers=auth(token)).json()
    assert settings["general"]["server_name"] == "camgate"

    # A script elsewhere would need a CORS preflight: nothing lets another origin in.
    preflight = httpx.options(
        f"{base}/users",
        headers={
            "Origin": "https://evil.example",
            "Access-Control-Request-Method": "DELETE",
        },
    )
    assert "access-control-allow-origin" not in preflight.headers
