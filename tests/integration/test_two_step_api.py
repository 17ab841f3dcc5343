"""Two-step verification through the HTTP API of a running server, with a real SMTP server:
the administrator sets it up, the user logs in with an e-mailed code or an authenticator app,
and neither codes nor the mail password reach the log files."""

from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pyotp

from camgate.context import open_core
from camgate.core.clock import SystemClock
from tests.conftest import OPERATOR
from tests.integration.test_serve import CAMGATE, started
from tests.support.server import RunningServer, auth, free_port
from tests.support.smtp import MAILER_PASSWORD, SmtpServer, code_in, smtp_settings


def _tab(smtp: SmtpServer) -> dict[str, Any]:
    return {
        "two_step_verification": {
            "enabled": True,
            "smtp": smtp_settings(smtp),
        }
    }


def _set_up(base: str, admin_token: str, smtp: SmtpServer, method: str) -> None:
    patched = httpx.patch(f"{base}/settings", json=_tab(smtp), headers=auth(admin_token))
    assert patched.status_code == 200, patched.text
    assert patched.json()["two_step_verification"]["smtp"]["password"] != MAILER_PASSWORD
    user = httpx.patch(
        f"{base}/users/{OPERATOR[0]}",
        json={"email": "olivia@example.com", "two_step": method},
        headers=auth(admin_token),
    )
    assert user.status_code == 200, user.text
    assert user.json()["two_step"] == method and user.json()["email"] == "olivia@example.com"


def _password_step(base: str) -> dict[str, Any]:
    answer = httpx.post(
        f"{base}/auth/login", json={"username": OPERATOR[0], "password": OPERATOR[1]}
    )
    assert answer.status_code == 202, answer.text
    assert "token" not in answer.json() and "camgate_session" not in answer.cookies
    step: dict[str, Any] = answer.json()
    return step


def test_an_emailed_code_completes_the_login(
    server: RunningServer, admin_token: str, smtp: SmtpServer
) -> None:
    base = f"{server.base_url}/api/v1"
    _set_up(base, admin_token, smtp, "email")
    step = _password_step(base)
    assert step["method"] == "email" and step["sent_to"] == "o***@example.com"
    assert step["attempts_left"] == 3 and step["enrolment"] is None
    code = code_in(smtp.mailbox.wait())

    wrong = httpx.post(
        f"{base}/auth/login/code", json={"ticket": step["ticket"], "code": "x" + code[1:]}
    )
    assert wrong.status_code == 401
    assert wrong.headers["content-type"] == "application/problem+json"
    assert wrong.json()["attempts_left"] == 2 and wrong.json()["reason"] == "wrong"

    renewed = httpx.post(f"{base}/auth/login/new-code", json={"ticket": step["ticket"]})
    assert renewed.status_code == 202 and renewed.json()["attempts_left"] == 3
    code = code_in(smtp.mailbox.wait(2))
    done = httpx.post(f"{base}/auth/login/code", json={"ticket": step["ticket"], "code": code})
    assert done.status_code == 200, done.text
    assert done.json()["user"]["username"] == OPERATOR[0]
    assert done.json()["reconnect_token"]
    assert "camgate_session" in done.cookies
    me = httpx.get(f"{base}/auth/me", headers=auth(done.json()["token"]))
    assert me.status_code == 200 and me.json()["two_step"] == "email"

    changes = httpx.get(
        f"{base}/audit", params={"q": "user.update"}, headers=auth(admin_token)
    ).json()
    assert changes[0]["details"]["two_step"] == {"old": None, "new": "email"}
    failed = httpx.get(f"{base}/audit", params={"q": "login.failed"}, headers=auth(admin_token))
    assert len(failed.json()) == 1


def test_an_unknown_ticket_and_bad_bodies_are_refused_clearly(server: RunningServer) -> None:
    base = f"{server.base_url}/api/v1"
    unknown = httpx.post(f"{base}/auth/login/code", json={"ticket": "nope", "code": "123456"})
    assert unknown.status_code == 401 and "log in again" in unknown.json()["detail"]
    assert httpx.post(f"{base}/auth/login/code", json={"ticket": "x"}).status_code == 422
    assert httpx.post(f"{base}/auth/login/new-code", json={"ticket": "x"}).status_code == 401


def test_an_authenticator_app_enrols_and_logs_in(
    server: RunningServer, admin_token: str, smtp: SmtpServer
) -> None:
    base = f"{server.base_url}/api/v1"
    _set_up(base, admin_token, smtp, "totp")
    step = _password_step(base)
    assert step["method"] == "totp" and step["enrolment"]["qr_svg"].startswith("<svg")
    app = pyotp.TOTP(step["enrolment"]["secret"])
    done = httpx.post(f"{base}/auth/login/code", json={"ticket": step["ticket"], "code": app.now()})
    assert done.status_code == 200, done.text
    assert done.json()["user"]["totp_enrolled"] is True

    # A lost phone: the administrator resets it; the next login enrols a new app.
    reset = httpx.delete(f"{base}/users/{OPERATOR[0]}/totp", headers=auth(admin_token))
    assert reset.status_code == 204
    again = _password_step(base)
    assert again["enrolment"]["secret"] != step["enrolment"]["secret"]
    assert (
        httpx.delete(f"{base}/users/{OPERATOR[0]}/totp", headers=auth(admin_token)).status_code
        == 404
    )
    assert smtp.mailbox.messages == []


def test_only_administrators_set_users_methods(server: RunningServer, operator_token: str) -> None:
    base = f"{server.base_url}/api/v1"
    denied = httpx.patch(
        f"{base}/users/{OPERATOR[0]}", json={"two_step": "none"}, headers=auth(operator_token)
    )
    assert denied.status_code == 403
    bad = httpx.patch(f"{base}/users/{OPERATOR[0]}", json={"email": "not an address"})
    assert bad.status_code in (401, 422)


def test_codes_and_the_mail_password_never_reach_the_log_files(
    tmp_path: Path, smtp: SmtpServer
) -> None:
    data = tmp_path / "d"
    password = "a rather secret password"
    subprocess.run(
        [*CAMGATE, "--data-dir", str(data), "user", "add", "alice", "--password-stdin"],
        input=f"{password}\n",
        text=True,
        check=True,
    )

    async def set_up() -> None:
        async with open_core(data, SystemClock()) as core:
            tab = _tab(smtp)
            # Letters and digits: a code that no timestamp or port in the log matches by chance.
            composition = {"upper": True, "lower": True, "digits": True}
            tab["two_step_verification"]["code"] = {"composition": composition}
            await core.settings.patch(tab)
            await core.identity.update_user("alice", email="alice@example.com", two_step="email")

    asyncio.run(set_up())
    port = free_port()
    args = ["--data-dir", str(data), "serve", "--host", "127.0.0.1", "--http-port", str(port)]
    with started([*args, "--https-port", "0"]):
        base = f"http://127.0.0.1:{port}/api/v1"
        step = httpx.post(f"{base}/auth/login", json={"username": "alice", "password": password})
        assert step.status_code == 202
        code = code_in(smtp.mailbox.wait())
        ticket = step.json()["ticket"]
        httpx.post(f"{base}/auth/login/code", json={"ticket": ticket, "code": code[::-1] + "9"})
        done = httpx.post(f"{base}/auth/login/code", json={"ticket": ticket, "code": code})
        assert done.status_code == 200
    written = "".join(p.read_text() for p in (data / "logs").iterdir())
    assert "waiting for the email code" in written and "login of alice" in written
    for secret in (password, MAILER_PASSWORD, code, ticket, done.json()["token"]):
        assert secret not in written
