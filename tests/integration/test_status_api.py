"""The Server Status tab: API, Prometheus metrics and ``camgate status`` while people watch."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time

import httpx
import websockets

from tests.support.media_checks import wait_for_online
from tests.support.server import RunningServer, auth


def test_status_shows_who_watches_what(
    server: RunningServer, admin_token: str, operator_token: str
) -> None:
    base = server.base_url
    camera = httpx.post(
        f"{base}/api/v1/cameras",
        json={"name": "Cam A", "urls": ["synthetic:360p"]},
        headers=auth(admin_token),
    ).json()
    wait_for_online(base, admin_token, camera["id"])
    url = f"{server.ws_url}/api/v1/cameras/{camera['id']}/live?token={admin_token}"

    async def two_viewers() -> tuple[dict[str, object], str, str]:
        async with websockets.connect(url) as one, websockets.connect(url) as two:
            for ws in (one, two):
                for _ in range(5):
                    await ws.recv()
            await asyncio.sleep(5.5)  # one sampling period: rates and the status file
            async with httpx.AsyncClient() as client:
                status = (
                    await client.get(f"{base}/api/v1/status", headers=auth(admin_token))
                ).json()
                metrics = (await client.get(f"{base}/metrics", headers=auth(admin_token))).text
            cli = await asyncio.to_thread(
                subprocess.run,
                [sys.executable, "-m", "camgate.cli", "--data-dir", str(server.data_dir), "status"],
                capture_output=True,
                text=True,
                check=False,
                env={"COLUMNS": "200", "PATH": "/usr/bin:/bin"},
            )
            return status, metrics, cli.stdout

    status, metrics, printed = asyncio.run(two_viewers())
    assert set(status) >= {
        "active_since",
        "cpu_percent",
        "cpu_history",
        "bandwidth_out_kbps",
        "level",
        "hardware_decoding",
        "users",
    }
    assert status["level"] == 1
    # Every live session is a line, watching or not: the operator has logged in only.
    admin, operator = status["users"]  # type: ignore[misc]
    assert admin["user"] == "admin" and admin["state"] == "Logged in"
    assert operator["user"] == "olivia" and operator["state"] == "Logged in"
    assert operator["direct_video_streams"] == operator["transcoded_video_streams"] == 0
    assert admin["direct_video_streams"] == 2 and admin["transcoded_video_streams"] == 0
    assert admin["video_kBps"] > 10  # two 360p streams of about 60 kB/s each
    assert status["bandwidth_out_kbps"] > 80  # type: ignore[operator]
    assert status["cpu_history"]
    assert 'camgate_user_direct_video_streams{user="admin"} 2.0' in metrics
    assert "camgate_cpu_percent" in metrics
    assert "Active users" in printed and "admin" in printed

    time.sleep(0.5)
    after = httpx.get(f"{base}/api/v1/status", headers=auth(admin_token)).json()
    # The viewers left. (Only the admin's line is sure to be there: the operator has said
    # nothing since logging in, and on a busy machine this test can outlast the client timeout.)
    lines = {u["user"]: u["direct_video_streams"] for u in after["users"]}
    assert lines["admin"] == 0 and not any(lines.values())
    assert httpx.get(f"{base}/api/v1/status", headers=auth(operator_token)).status_code == 403
    assert httpx.get(f"{base}/metrics", headers=auth(operator_token)).status_code == 403


def test_cli_status_without_a_server(tmp_path) -> None:  # type: ignore[no-untyped-def]
    result = subprocess.run(
        [sys.executable, "-m", "camgate.cli", "--data-dir", str(tmp_path), "status"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1 and "not running" in result.stderr
