"""``camgate serve`` and ``camgate demo`` as a user runs them: real processes, HTTP and HTTPS."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import hashes

from camgate.context import open_core
from camgate.core.clock import SystemClock
from tests.support.media_checks import wait_for_online
from tests.support.server import free_port
from tests.unit.test_tls import make

CAMGATE = [sys.executable, "-m", "camgate.cli"]


@contextmanager
def started(args: list[str]) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """Runs camgate until its banner names the URL; yields the process and what it printed."""
    process = subprocess.Popen(
        [*CAMGATE, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
    )
    assert process.stdout is not None
    printed = ""
    deadline = time.monotonic() + 120
    last_line = "stop with" if "demo" in args else "running"
    while last_line not in printed:
        line = process.stdout.readline()
        assert line and time.monotonic() < deadline, f"camgate did not start: {printed}"
        printed += line
    try:
        yield process, printed
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            raise


def test_serve_listens_on_http_and_https(tmp_path: Path) -> None:
    http_port, https_port = free_port(), free_port()
    args = ["--data-dir", str(tmp_path / "d"), "serve", "--host", "127.0.0.1"]
    args += ["--http-port", str(http_port), "--https-port", str(https_port)]
    with started(args) as (process, printed):
        assert f"http://127.0.0.1:{http_port}/" in printed
        assert httpx.get(f"http://127.0.0.1:{http_port}/api/v1/health").status_code == 200
        assert (
            httpx.get(f"https://127.0.0.1:{https_port}/api/v1/health", verify=False).status_code
            == 200
        )
        pem = ssl.get_server_certificate(("127.0.0.1", https_port))
        names = x509.load_pem_x509_certificate(pem.encode()).extensions.get_extension_for_class(
            x509.SubjectAlternativeName
        )
        assert "localhost" in names.value.get_values_for_type(x509.DNSName)
    assert process.returncode == 0


def test_demo_prints_credentials_that_work(tmp_path: Path) -> None:
    port = free_port()
    args = [
        "--data-dir",
        str(tmp_path / "d"),
        "demo",
        "--http-port",
        str(port),
        "--https-port",
        "0",
    ]
    with started(args) as (_, printed):
        assert f"http://127.0.0.1:{port}/" in printed
        match = re.search(r"log in as (\S+) with password (\S+)", printed)
        assert match, printed
        base = f"http://127.0.0.1:{port}"
        login = httpx.post(
            f"{base}/api/v1/auth/login", json={"username": match[1], "password": match[2]}
        )
        assert login.status_code == 200
        token = login.json()["token"]
        cameras = httpx.get(f"{base}/api/v1/cameras", headers={"Authorization": f"Bearer {token}"})
        assert sorted(c["name"] for c in cameras.json()) == ["Front door", "Lobby", "Parking lot"]
        assert all(len(c["streams"]) == 3 for c in cameras.json())
        front = next(c for c in cameras.json() if c["name"] == "Front door")
        online = wait_for_online(base, token, front["id"], timeout=90)
        sizes = {(s["width"], s["height"]) for s in online["streams"] if s["status"] == "online"}  # type: ignore[union-attr]
        assert (1920, 1080) in sizes
    # A second start keeps the data and tells the same password.
    with started(args) as (_, again):
        assert match[2] in again


def test_a_port_in_use_is_a_clear_error(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        args = ["serve", "--host", "127.0.0.1", "--http-port", str(port), "--https-port", "0"]
        result = subprocess.run(
            [*CAMGATE, "--data-dir", str(tmp_path / "d"), *args],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert result.returncode == 1
    assert "cannot listen" in result.stderr and "in use" in result.stderr


def test_an_installed_certificate_is_served_and_http_redirects_to_https(tmp_path: Path) -> None:
    data = tmp_path / "d"
    cert, key, _ = make(["camgate.test", "127.0.0.1"])
    (tmp_path / "c.pem").write_bytes(cert)
    (tmp_path / "k.pem").write_bytes(key)
    cli = [*CAMGATE, "--data-dir", str(data), "cert"]
    wrong = subprocess.run(
        [*cli, "install", str(tmp_path / "c.pem"), str(tmp_path / "k.pem"), "--host", "other"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert wrong.returncode == 2 and "does not cover 'other'" in wrong.stderr
    installed = subprocess.run(
        [
            *cli,
            "install",
            str(tmp_path / "c.pem"),
            str(tmp_path / "k.pem"),
            "--host",
            "camgate.test",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "installed" in installed.stdout
    shown = subprocess.run([*cli, "show"], capture_output=True, text=True, check=True).stdout
    fingerprint = re.search(r"SHA-256:\s+(\S+)", shown)
    assert fingerprint is not None and "camgate.test" in shown

    async def redirect_on() -> None:
        async with open_core(data, SystemClock()) as core:
            await core.settings.patch({"connectivity": {"https_redirect": True}})

    asyncio.run(redirect_on())
    http_port, https_port = free_port(), free_port()
    args = ["--data-dir", str(data), "serve", "--host", "127.0.0.1"]
    args += ["--http-port", str(http_port), "--https-port", str(https_port)]
    with started(args):
        # The client trusts the server by the fingerprint `camgate cert show` printed.
        pem = ssl.get_server_certificate(("127.0.0.1", https_port))
        served = x509.load_pem_x509_certificate(pem.encode())
        digest = served.fingerprint(hashes.SHA256()).hex().upper()
        assert ":".join(digest[i : i + 2] for i in range(0, 64, 2)) == fingerprint.group(1)
        answer = httpx.get(f"http://127.0.0.1:{http_port}/api/v1/health?x=1")
        assert answer.status_code == 308
        assert answer.headers["location"] == f"https://127.0.0.1:{https_port}/api/v1/health?x=1"
        context = ssl.create_default_context(cadata=pem)
        secure = httpx.get(f"https://127.0.0.1:{https_port}/api/v1/health", verify=context)
        assert secure.status_code == 200


def test_the_server_writes_a_daily_log_file_without_secrets(tmp_path: Path) -> None:
    data = tmp_path / "d"
    password = "a rather secret password"
    subprocess.run(
        [*CAMGATE, "--data-dir", str(data), "user", "add", "alice", "--password-stdin"],
        input=f"{password}\n",
        text=True,
        check=True,
    )
    port = free_port()
    args = ["--data-dir", str(data), "serve", "--host", "127.0.0.1", "--http-port", str(port)]
    with started([*args, "--https-port", "0"]):
        login = f"http://127.0.0.1:{port}/api/v1/auth/login"
        assert httpx.post(login, json={"username": "alice", "password": password}).is_success
        wrong = httpx.post(login, json={"username": "alice", "password": password + "!"})
        assert wrong.status_code == 401
    logs = [*CAMGATE, "--data-dir", str(data), "logs"]
    folder = subprocess.run([*logs, "--folder"], capture_output=True, text=True, check=True)
    assert Path(folder.stdout.strip()) == data / "logs"
    printed = subprocess.run(logs, capture_output=True, text=True, check=True).stdout
    assert "login of alice from 127.0.0.1" in printed
    assert "failed login as 'alice' from 127.0.0.1" in printed
    # Secrets never reach a log file: neither the password nor the session token.
    written = "".join(p.read_text() for p in (data / "logs").iterdir())
    assert written == printed
    assert password not in written and "token" not in written.lower()
