"""Brute force against a running server: 429 with Retry-After, the lockout listed for the
administrator, lifted by them."""

from __future__ import annotations

import httpx

from tests.conftest import OPERATOR
from tests.support.server import RunningServer, auth


def test_a_locked_out_account_is_listed_and_lifted(server: RunningServer, admin_token: str) -> None:
    base = f"{server.base_url}/api/v1"
    wrong = {"username": OPERATOR[0], "password": "not the password"}
    answers = [httpx.post(f"{base}/auth/login", json=wrong) for _ in range(6)]
    assert [a.status_code for a in answers] == [401] * 5 + [429]
    assert int(answers[-1].headers["retry-after"]) > 0
    right = {"username": OPERATOR[0], "password": OPERATOR[1]}
    assert httpx.post(f"{base}/auth/login", json=right).status_code == 429

    locked = httpx.get(f"{base}/lockouts", headers=auth(admin_token)).json()
    assert {(lockout["kind"], lockout["name"]) for lockout in locked} == {
        ("user", OPERATOR[0]),
        ("address", "127.0.0.1"),
    }
    status = httpx.get(f"{base}/status", headers=auth(admin_token)).json()
    assert {(lockout["kind"], lockout["name"]) for lockout in status["lockouts"]} == {
        ("user", OPERATOR[0]),
        ("address", "127.0.0.1"),
    }
    for kind, name in (("user", OPERATOR[0].upper()), ("address", "127.0.0.1")):
        lifted = httpx.delete(f"{base}/lockouts/{kind}/{name}", headers=auth(admin_token))
        assert lifted.status_code == 204
    assert (
        httpx.delete(f"{base}/lockouts/user/nobody", headers=auth(admin_token)).status_code == 404
    )
    assert httpx.get(f"{base}/lockouts", headers=auth(admin_token)).json() == []
    assert httpx.get(f"{base}/status", headers=auth(admin_token)).json()["lockouts"] == []
    assert httpx.post(f"{base}/auth/login", json=right).status_code == 200
    entries = httpx.get(f"{base}/audit", params={"q": "lockout"}, headers=auth(admin_token))
    assert len(entries.json()) == 2
