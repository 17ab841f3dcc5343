"""The administrators' audit log in the web client: the header link, the entries of audited
changes, a search kept in the address, the CSV download, user input shown as text, a phone,
and what other users get: a real server, Debian's Chromium."""

from __future__ import annotations

import csv
import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse
from zoneinfo import ZoneInfo

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Dialog, Locator, Page, expect

from camgate.identity.models import Permission
from tests.browser.test_web_client import log_in
from tests.conftest import ADMIN, OPERATOR
from tests.support.server import RunningServer, auth

pytestmark = pytest.mark.browser

#: A zone far from UTC (and from the machine's), so that local and UTC times cannot be mixed up.
ZONE = "Asia/Kolkata"
#: What the server answers anyone but an administrator.
REFUSAL = "administrators only"
#: The operator's permissions before and after ``allow_export``.
BEFORE = sorted(Permission.role_defaults())
AFTER = sorted({*BEFORE, "export"})
#: A server name that would run a script if the page took it as markup.
MARKUP = "<img src=x onerror=alert(1)>"


@pytest.fixture
def context(zoned_context: BrowserContext) -> BrowserContext:
    return zoned_context


@pytest.fixture
def desk(context: BrowserContext) -> Page:
    return context.new_page()


def patch_settings(server: RunningServer, token: str, patch: dict[str, Any]) -> None:
    response = httpx.patch(
        f"{server.base_url}/api/v1/settings",
        content=json.dumps(patch),
        headers={**auth(token), "Content-Type": "application/merge-patch+json"},
    )
    assert response.status_code == 200, response.text


def allow_export(server: RunningServer, token: str) -> None:
    response = httpx.put(
        f"{server.base_url}/api/v1/roles/operator/permissions",
        json={"permissions": AFTER},
        headers=auth(token),
    )
    assert response.status_code == 200, response.text


def compact(value: list[str]) -> str:
    """A list as the page writes it (JSON without spaces)."""
    return json.dumps(value, separators=(",", ":"))


def audit(server: RunningServer, token: str, **query: str) -> list[dict[str, Any]]:
    response = httpx.get(f"{server.base_url}/api/v1/audit", params=query, headers=auth(token))
    response.raise_for_status()
    entries: list[dict[str, Any]] = response.json()
    return entries


def entry(page: Page, action: str) -> Locator:
    return page.locator(f'#audit-list li.audit-entry[data-action="{action}"]')


def clock(iso: str) -> str:
    """The time of day an ISO 8601 moment is in the browser's zone, e.g. "02:25:49"."""
    moment = datetime.fromisoformat(iso.replace("Z", "+00:00")).astimezone(ZoneInfo(ZONE))
    return moment.strftime("%H:%M:%S")


def search_params(page: Page) -> dict[str, list[str]]:
    """The search the address holds (`#/audit?…`)."""
    fragment = urlparse(page.url).fragment
    assert fragment.startswith("/audit"), page.url
    return parse_qs(urlparse(fragment).query)


def test_audit_log_lists_searches_and_downloads_the_changes(
    desk: Page, server: RunningServer, admin_token: str, tmp_path: Path
) -> None:
    patch_settings(server, admin_token, {"general": {"server_name": "Harbour"}})
    allow_export(server, admin_token)
    made = audit(server, admin_token)
    [role] = [e for e in made if e["action"] == "role.permissions"]
    [settings] = [e for e in made if e["action"] == "settings.change"]

    log_in(desk, server.base_url, *ADMIN)
    link = desk.locator("#nav-audit")
    expect(link).to_be_visible(timeout=10_000)
    expect(link).to_have_accessible_name("Audit")
    link.click()
    expect(desk.locator("#audit-view")).to_be_visible()
    expect(link).to_have_attribute("aria-current", "page")
    expect(desk.locator("#audit-title")).to_have_text("Audit log")

    # Both changes, with who made them, from where, when (local time) and what changed.
    changed = entry(desk, "settings.change")
    expect(changed).to_have_count(1, timeout=10_000)
    expect(changed.locator(".audit-details li")).to_have_text(
        ["general.server_name: camgate → Harbour"]
    )
    expect(changed.locator(".audit-user")).to_have_text("admin")
    expect(changed.locator(".audit-address")).to_have_text("127.0.0.1")
    expect(changed.locator(".audit-target")).to_have_text("settings")
    expect(changed.locator("time")).to_have_attribute("datetime", settings["time"])
    expect(changed.locator("time")).to_contain_text(clock(settings["time"]))
    permissions = entry(desk, "role.permissions")
    expect(permissions).to_have_count(1)
    expect(permissions.locator(".audit-details li")).to_have_text(
        [f"{compact(BEFORE)} → {compact(AFTER)}", "role: operator"]
    )
    expect(permissions.locator(".audit-target")).to_have_text(role["target"])
    # The latest first, as the server sends them (logins are audited too).
    ids = desk.locator("#audit-list > li").evaluate_all(
        "(items) => items.map((i) => i.dataset.auditId)"
    )
    assert ids == [str(e["id"]) for e in audit(server, admin_token)]
    expect(desk.locator("#audit-count")).to_have_text(f"{len(ids)} entries.")

    # Words: only the role's entry, and the address keeps the search.
    desk.locator("#audit-q").fill("role")
    desk.locator("#audit-search button[type=submit]").click()
    expect(desk.locator("#audit-list > li")).to_have_count(1)
    expect(permissions).to_have_count(1)
    expect(desk.locator("#audit-count")).to_have_text("1 entry.")
    assert search_params(desk) == {"q": ["role"]}
    desk.reload()
    expect(desk.locator("#audit-q")).to_have_value("role", timeout=10_000)
    expect(desk.locator("#audit-count")).to_have_text("1 entry.")
    expect(permissions).to_have_count(1)

    # The CSV holds the same search.
    csv_link = desk.locator("#audit-csv")
    expect(csv_link).to_have_attribute("download", "camgate-audit.csv")
    with desk.expect_download() as caught:
        csv_link.click()
    assert caught.value.suggested_filename == "camgate-audit.csv"
    saved = tmp_path / "audit.csv"
    caught.value.save_as(saved)
    with saved.open(newline="", encoding="utf-8") as file:
        rows = list(csv.reader(file))
    assert rows[0] == ["time", "user", "address", "action", "target", "details"]
    assert rows[1:] == [
        [
            role["time"],
            "admin",
            "127.0.0.1",
            "role.permissions",
            role["target"],
            json.dumps({"new": AFTER, "old": BEFORE, "role": "operator"}),
        ]
    ]

    # From and To are local times; after the entries nothing matches.
    desk.locator("#audit-q").fill("")
    desk.locator("#audit-user").fill("admin")
    desk.locator("#audit-from").fill("2099-01-01T05:30:00")
    desk.locator("#audit-search button[type=submit]").click()
    expect(desk.locator("#audit-count")).to_have_text("No entries match.")
    expect(desk.locator("#audit-list > li")).to_have_count(0)
    assert search_params(desk) == {"user": ["admin"], "start": ["2099-01-01T00:00:00.000Z"]}
    with desk.expect_download() as caught:
        csv_link.click()
    caught.value.save_as(saved)
    assert saved.read_text(encoding="utf-8").splitlines() == [
        "time,user,address,action,target,details"
    ]
    # "Back" from another page returns to the same search.
    desk.locator("#nav-status").click()
    expect(desk.locator("#status-view")).to_be_visible()
    desk.go_back()
    expect(desk.locator("#audit-from")).to_have_value(re.compile(r"^2099-01-01T05:30"))
    expect(desk.locator("#audit-user")).to_have_value("admin")
    expect(desk.locator("#audit-count")).to_have_text("No entries match.")


def test_values_are_shown_as_text_never_as_markup(
    desk: Page, server: RunningServer, admin_token: str
) -> None:
    patch_settings(server, admin_token, {"general": {"server_name": MARKUP}})
    dialogs: list[str] = []

    def seen(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    desk.on("dialog", seen)
    log_in(desk, server.base_url, *ADMIN)
    expect(desk.locator("#nav-audit")).to_be_visible(timeout=10_000)
    desk.evaluate("() => { location.hash = '#/audit?q=server_name'; }")
    changed = entry(desk, "settings.change")
    expect(changed.locator(".audit-details li")).to_have_text(
        [f"general.server_name: camgate → {MARKUP}"], timeout=10_000
    )
    assert desk.locator("#audit-view img").count() == 0
    desk.wait_for_timeout(500)  # an image that failed would have run its handler by now
    assert dialogs == []


def test_other_users_get_no_link_and_the_server_refusal(
    desk: Page, server: RunningServer, admin_token: str
) -> None:
    allow_export(server, admin_token)  # the operator gets a header of their own
    log_in(desk, server.base_url, *OPERATOR)
    expect(desk.locator("#nav-investigations")).to_be_visible(timeout=10_000)
    expect(desk.locator("#admin-nav")).to_be_hidden()
    expect(desk.locator("#nav-audit")).to_be_hidden()

    desk.evaluate("() => { location.hash = '#/audit?q=role'; }")
    expect(desk.locator("#audit-count")).to_have_text(REFUSAL, timeout=10_000)
    expect(desk.locator("#audit-search")).to_be_hidden()
    expect(desk.locator("#audit-csv")).to_be_hidden()
    expect(desk.locator("#audit-list > li")).to_have_count(0)
    expect(desk.locator("#audit-back")).to_be_visible()
    assert desk.evaluate("() => fetch('/api/v1/audit.csv').then((r) => r.status)") == 403


def test_the_audit_log_fits_a_phone(
    browser: Browser, server: RunningServer, admin_token: str
) -> None:
    patch_settings(server, admin_token, {"general": {"server_name": "x" * 100}})  # one long word
    context = browser.new_context(
        viewport={"width": 360, "height": 740}, is_mobile=True, has_touch=True
    )
    phone = context.new_page()
    try:
        log_in(phone, server.base_url, *ADMIN)
        link = phone.locator("#nav-audit")
        expect(link).to_be_visible(timeout=10_000)
        expect(link).to_have_accessible_name("Audit")
        link.tap()
        expect(entry(phone, "settings.change")).to_have_count(1, timeout=10_000)
        layout = phone.evaluate(
            """() => {
                 const box = (selector) => document.querySelector(selector).getBoundingClientRect();
                 return {scroll: document.documentElement.scrollWidth, inner: innerWidth,
                         header: box('.topbar').height, audit: box('#nav-audit').right,
                         logout: box('#logout').left,
                         entries: Math.max(...[...document.querySelectorAll('.audit-entry')]
                                    .map((e) => e.getBoundingClientRect().right)),
                         search: box('#audit-search').right};
               }"""
        )
        assert layout["scroll"] <= layout["inner"], layout  # nothing sticks out sideways
        assert layout["header"] < 80, layout  # one row
        # The administrators' links beside the button, not under it or scrolled away (the
        # Investigations icon after them may scroll sideways on so narrow a phone).
        assert layout["audit"] <= layout["logout"], layout
        assert max(layout["entries"], layout["search"]) <= layout["inner"], layout
    finally:
        context.close()


def test_times_in_the_address_are_utc_and_the_fields_local(
    desk: Page, server: RunningServer, admin_token: str
) -> None:
    """A link sent to a colleague names UTC moments: the fields show them in local time."""
    patch_settings(server, admin_token, {"general": {"server_name": "Harbour"}})
    [changed] = [e for e in audit(server, admin_token) if e["action"] == "settings.change"]
    at = datetime.fromisoformat(changed["time"].replace("Z", "+00:00"))
    start = at.replace(microsecond=0).astimezone(UTC)
    log_in(desk, server.base_url, *ADMIN)
    expect(desk.locator("#nav-audit")).to_be_visible(timeout=10_000)
    query = f"start={start.isoformat().replace('+00:00', 'Z')}&q=settings"
    desk.evaluate("(hash) => { location.hash = hash; }", f"#/audit?{query}")
    expect(entry(desk, "settings.change")).to_have_count(1, timeout=10_000)
    shown = start.astimezone(ZoneInfo(ZONE)).strftime("%Y-%m-%dT%H:%M")
    expect(desk.locator("#audit-from")).to_have_value(re.compile(f"^{shown}"))
    expect(desk.locator("#audit-q")).to_have_value("settings")
