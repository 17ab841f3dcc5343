"""The web client over HTTPS (port 8082's role): Chromium trusts camgate's self-signed
certificate only by its public key's fingerprint, as a user who checked `camgate cert show`
would, logs in, and gets a secure context and a Secure session cookie."""

from __future__ import annotations

import base64
import hashlib
import shutil
import ssl
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from playwright.sync_api import Error, Playwright, expect, sync_playwright

from tests.browser.conftest import ARGS, CHROMIUM
from tests.conftest import ADMIN, need
from tests.integration.test_serve import CAMGATE, started
from tests.support.server import free_port


@pytest.fixture
def playwright() -> Iterator[Playwright]:
    need(shutil.which(CHROMIUM) is not None, "Debian's chromium (make system-deps)")
    with sync_playwright() as running:
        yield running


@pytest.fixture
def https_port(tmp_path: Path) -> Iterator[int]:
    data = tmp_path / "d"
    add = ["user", "add", ADMIN[0], "--role", "administrator", "--password-stdin"]
    subprocess.run(
        [*CAMGATE, "--data-dir", str(data), *add],
        input=f"{ADMIN[1]}\n",
        text=True,
        check=True,
    )
    port = free_port()
    args = ["--data-dir", str(data), "serve", "--host", "127.0.0.1"]
    with started([*args, "--http-port", str(free_port()), "--https-port", str(port)]):
        yield port


def _spki_fingerprint(port: int) -> str:
    """What Chromium's --ignore-certificate-errors-spki-list takes: base64 of the SHA-256 of
    the certificate's public key."""
    pem = ssl.get_server_certificate(("127.0.0.1", port))
    key = x509.load_pem_x509_certificate(pem.encode()).public_key()
    spki = key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.b64encode(hashlib.sha256(spki).digest()).decode()


def test_the_web_client_over_https(playwright: Playwright, https_port: int) -> None:
    url = f"https://127.0.0.1:{https_port}/"
    # Without trusting it, the browser refuses the self-signed certificate...
    plain = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
    try:
        with pytest.raises(Error, match="ERR_CERT"):
            plain.new_page().goto(url)
    finally:
        plain.close()

    # ...and accepts it when its public key is the one the server's certificate has.
    pinned = [*ARGS, f"--ignore-certificate-errors-spki-list={_spki_fingerprint(https_port)}"]
    browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=pinned)
    try:
        context = browser.new_context()
        page = context.new_page()
        page.goto(url)
        form = page.locator("form#login")
        expect(form).to_be_visible(timeout=10_000)
        assert page.evaluate("() => window.isSecureContext")
        form.locator("input[name=username]").fill(ADMIN[0])
        form.locator("input[name=password]").fill(ADMIN[1])
        form.locator("button[type=submit]").click()
        expect(page.locator("#logout")).to_be_visible(timeout=10_000)
        cookies = {cookie["name"]: cookie for cookie in context.cookies()}
        assert cookies["camgate_session"]["secure"] is True
        assert cookies["camgate_session"]["httpOnly"] is True
    finally:
        browser.close()
