"""Two-step verification in the web client: an e-mailed code (read from a real SMTP server) with
a wrong try and a new code, and an authenticator app added by its QR code at the first login."""

from __future__ import annotations

import httpx
import pyotp
from playwright.sync_api import Browser, Page, expect

from tests.browser.test_web_client import log_in
from tests.conftest import ADMIN, OPERATOR
from tests.support.server import RunningServer, auth
from tests.support.smtp import MAILER, MAILER_PASSWORD, SmtpServer, code_in, smtp_settings


def _method(server: RunningServer, admin_token: str, smtp: SmtpServer, method: str) -> None:
    base = f"{server.base_url}/api/v1"
    tab = {
        "enabled": True,
        "smtp": smtp_settings(smtp),
    }
    patched = httpx.patch(
        f"{base}/settings", json={"two_step_verification": tab}, headers=auth(admin_token)
    )
    assert patched.status_code == 200, patched.text
    user = httpx.patch(
        f"{base}/users/{OPERATOR[0]}",
        json={"email": "olivia@example.com", "two_step": method},
        headers=auth(admin_token),
    )
    assert user.status_code == 200, user.text


def test_an_emailed_code_in_the_web_client(
    page: Page, server: RunningServer, admin_token: str, smtp: SmtpServer
) -> None:
    _method(server, admin_token, smtp, "email")
    log_in(page, server.base_url, *OPERATOR)
    form = page.locator("form#login-second-step")
    expect(form).to_be_visible(timeout=10_000)
    expect(form).to_contain_text("A code was e-mailed to o***@example.com")
    expect(form).to_contain_text("valid for 5 minutes")
    expect(page.locator("#login-code")).to_be_focused()
    first = code_in(smtp.mailbox.wait())

    page.locator("#login-code").fill("x" + first[1:])
    form.locator("button[type=submit]").click()
    expect(page.locator("#error")).to_have_text("Wrong code; 2 attempts left.")

    page.locator("#login-new-code").click()
    fresh = code_in(smtp.mailbox.wait(2))
    page.locator("#login-code").fill(fresh)
    form.locator("button[type=submit]").click()
    expect(page.locator("#logout")).to_be_visible(timeout=10_000)
    expect(page.locator("#error")).to_have_text("")


def test_back_returns_to_the_password(
    page: Page, server: RunningServer, admin_token: str, smtp: SmtpServer
) -> None:
    _method(server, admin_token, smtp, "email")
    log_in(page, server.base_url, *OPERATOR)
    form = page.locator("form#login-second-step")
    expect(form).to_be_visible(timeout=10_000)
    form.get_by_role("button", name="Back").click()
    expect(page.locator("form#login")).to_be_visible()
    expect(page.locator("form#login input[name=password]")).to_have_value("")


def test_an_authenticator_app_is_added_by_its_qr_code(
    page: Page, server: RunningServer, admin_token: str, smtp: SmtpServer
) -> None:
    _method(server, admin_token, smtp, "totp")
    log_in(page, server.base_url, *OPERATOR)
    form = page.locator("form#login-second-step")
    expect(form).to_be_visible(timeout=10_000)
    qr = page.locator("#login-totp-qr")
    expect(qr).to_be_visible()
    # The QR code is drawn (an image that loaded), and the key is shown to type by hand.
    page.wait_for_function(
        "() => { const i = document.querySelector('#login-totp-qr');"
        " return i && i.complete && i.naturalWidth > 0; }"
    )
    expect(page.locator("#login-new-code")).to_be_hidden()
    key = page.locator("#login-totp-key").inner_text().replace(" ", "")
    page.locator("#login-code").fill(pyotp.TOTP(key).now())
    form.locator("button[type=submit]").click()
    expect(page.locator("#logout")).to_be_visible(timeout=10_000)
    assert smtp.mailbox.messages == []


def test_an_administrator_sets_it_up_in_the_web_client(
    page: Page, browser: Browser, server: RunningServer, smtp: SmtpServer
) -> None:
    log_in(page, server.base_url, *ADMIN)
    expect(page.locator("#nav-performance")).to_have_text("Settings", timeout=10_000)
    page.locator("#nav-performance").click()
    page.locator(".settings-tabs").get_by_role("link", name="Two-step verification").click()
    form = page.locator("form#two-step-form")
    expect(page.locator("#smtp-port")).to_have_value("25", timeout=10_000)
    expect(page.locator("#code-length")).to_have_value("6")
    expect(page.locator("#code-digits")).to_be_checked()
    # The server's rules are shown when it refuses.
    page.locator("#code-digits").uncheck()
    form.locator("button[type=submit]").click()
    expect(page.locator("#two-step-error")).to_contain_text("composition")
    page.locator("#code-digits").check()
    page.locator("#two-step-enabled").check()
    page.locator("#smtp-server").fill("127.0.0.1")
    page.locator("#smtp-port").fill(str(smtp.port))
    page.locator("#smtp-sender").fill("camgate@example.com")
    page.locator("#smtp-username").fill(MAILER)
    page.locator("#smtp-password").fill(MAILER_PASSWORD)
    form.locator("button[type=submit]").click()
    expect(page.locator("#two-step-saved")).to_have_text("Saved")
    expect(page.locator("#smtp-password")).to_have_value("**********")

    row = page.locator(f'#two-step-users tr[data-user="{OPERATOR[0]}"]')
    row.locator("input[type=email]").fill("olivia@example.com")
    row.locator("select").select_option("email")
    row.get_by_role("button", name="Save").click()
    expect(row.locator("[role=status]")).to_have_text("Saved")

    # The operator's next login asks for the code the server e-mailed.
    context = browser.new_context()
    try:
        operator = context.new_page()
        log_in(operator, server.base_url, *OPERATOR)
        expect(operator.locator("form#login-second-step")).to_be_visible(timeout=10_000)
        operator.locator("#login-code").fill(code_in(smtp.mailbox.wait()))
        operator.locator("form#login-second-step button[type=submit]").click()
        expect(operator.locator("#logout")).to_be_visible(timeout=10_000)
    finally:
        context.close()
