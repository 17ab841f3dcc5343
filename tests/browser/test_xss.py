"""Markup typed into the web client's forms (or sent to the API) comes back as text on every
screen that shows it: camera, view, bookmark and investigation names, the server's name, the
login page's messages. The page's Content-Security-Policy would stop inline scripts anyway; this
checks the first line of defence, that no markup is ever inserted."""

from __future__ import annotations

import datetime

import httpx
from playwright.sync_api import Page, expect

from tests.browser.test_web_client import log_in
from tests.conftest import ADMIN
from tests.support.server import RunningServer, auth

MARKUP = '<img src="x" data-injected onerror="window.injected=1">'
#: What the page must never contain: an element made from MARKUP.
INJECTED = "[data-injected]"


def _no_markup(page: Page) -> None:
    assert page.locator(INJECTED).count() == 0
    assert page.evaluate("() => window.injected === undefined")


def _post(server: RunningServer, token: str, path: str, body: dict[str, object]) -> str:
    answer = httpx.post(f"{server.base_url}/api/v1/{path}", json=body, headers=auth(token))
    assert answer.status_code == 201, answer.text
    made: str = answer.json()["id"]
    return made


def test_names_from_users_are_shown_as_text(
    page: Page, server: RunningServer, admin_token: str
) -> None:
    camera = _post(
        server, admin_token, "cameras", {"name": f"Gate {MARKUP}", "urls": ["synthetic:360p"]}
    )
    _post(server, admin_token, "views", {"name": f"View {MARKUP}", "camera_ids": [camera]})
    now = datetime.datetime.now(datetime.UTC).replace(microsecond=0)
    start, end = now - datetime.timedelta(minutes=2), now - datetime.timedelta(minutes=1)
    _post(
        server,
        admin_token,
        "bookmarks",
        {
            "camera_id": camera,
            "start": start.isoformat(),
            "end": end.isoformat(),
            "headline": f"Mark {MARKUP}",
            "description": MARKUP,
        },
    )
    httpx.patch(
        f"{server.base_url}/api/v1/settings",
        json={"general": {"server_name": f"HQ {MARKUP}"}},
        headers=auth(admin_token),
    ).raise_for_status()

    log_in(page, server.base_url, *ADMIN)
    expect(page.locator("#grid .tile-name").first).to_contain_text(f"Gate {MARKUP}", timeout=10_000)
    expect(page.locator("select#view-select")).to_contain_text(f"View {MARKUP}")
    _no_markup(page)
    page.goto(f"{server.base_url}/#/bookmarks")
    expect(page.get_by_text(f"Mark {MARKUP}")).to_be_visible(timeout=10_000)
    _no_markup(page)
    page.goto(f"{server.base_url}/#/camera/{camera}")
    expect(page.get_by_text(f"Gate {MARKUP}").first).to_be_visible(timeout=10_000)
    _no_markup(page)


def test_the_login_pages_messages_are_text(page: Page, server: RunningServer) -> None:
    log_in(page, server.base_url, MARKUP.replace(" ", ""), "whatever it is")
    expect(page.locator("#error")).to_have_text("Wrong user name or password.")
    _no_markup(page)
