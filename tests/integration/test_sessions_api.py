"""Sessions: each user lists and ends their own logins, an administrator anyone's; an ended
session's open streams close at once."""

from __future__ import annotations

import threading
import time

import httpx

from tests.conftest import ADMIN, OPERATOR, login
from tests.support.media_checks import wait_for_online
from tests.support.server import RunningServer, auth


def test_sessions_are_listed_and_ended_with_their_streams(server: RunningServer) -> None:
    base = f"{server.base_url}/api/v1"
    admin = login(server.base_url, *ADMIN)
    phone = httpx.post(
        f"{base}/auth/login",
        json={"username": OPERATOR[0], "password": OPERATOR[1]},
        headers={"User-Agent": "Phone/1.0"},
    ).json()["token"]
    laptop = login(server.base_url, *OPERATOR)

    mine = httpx.get(f"{base}/sessions", headers=auth(laptop)).json()
    assert len(mine) == 2 and {s["user"] for s in mine} == {OPERATOR[0]}
    assert [s["current"] for s in mine].count(True) == 1
    listed_phone = next(s for s in mine if s["client"] == "Phone/1.0")
    assert not listed_phone["current"] and len(listed_phone["id"]) == 16
    assert phone not in str(mine)  # the token is never shown

    # Others' sessions: only for administrators.
    assert httpx.get(f"{base}/sessions?all=true", headers=auth(laptop)).status_code == 403
    everyone = httpx.get(f"{base}/sessions?all=true", headers=auth(admin)).json()
    admins = [s for s in everyone if s["user"] == ADMIN[0]]
    assert len(everyone) == 3 and len(admins) == 1
    refused = httpx.delete(f"{base}/sessions/{admins[0]['id']}", headers=auth(laptop))
    assert refused.status_code == 404

    # The phone is lost: the laptop ends its session, and the stream it was watching stops.
    camera = httpx.post(
        f"{base}/cameras", json={"name": "Gate", "urls": ["synthetic:360p"]}, headers=auth(admin)
    ).json()
    httpx.put(
        f"{base}/roles/operator/cameras", json={"camera_ids": [camera["id"]]}, headers=auth(admin)
    ).raise_for_status()
    wait_for_online(server.base_url, admin, camera["id"])
    ended = threading.Event()

    def watch() -> None:
        url = f"{base}/cameras/{camera['id']}/live.mp4?token={phone}"
        try:
            with httpx.stream("GET", url, timeout=30) as response:
                for _ in response.iter_bytes():
                    pass
        finally:
            ended.set()

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        status = httpx.get(f"{base}/status", headers=auth(admin)).json()
        if any(u["direct_video_streams"] for u in status["users"]):
            break
        time.sleep(0.2)
    gone = httpx.delete(f"{base}/sessions/{listed_phone['id']}", headers=auth(laptop))
    assert gone.status_code == 204
    assert ended.wait(10), "the ended session's stream went on"
    assert httpx.get(f"{base}/auth/me", headers=auth(phone)).status_code == 401
    assert httpx.get(f"{base}/auth/me", headers=auth(laptop)).status_code == 200
    (entry,) = httpx.get(f"{base}/audit", params={"q": "session.end"}, headers=auth(admin)).json()
    assert entry["user"] == OPERATOR[0] and entry["details"] == {"user": OPERATOR[0]}

    # An administrator ends anyone's.
    other = next(s for s in everyone if s["user"] == OPERATOR[0] and s["client"] != "Phone/1.0")
    assert httpx.delete(f"{base}/sessions/{other['id']}", headers=auth(admin)).status_code == 204
    assert httpx.get(f"{base}/auth/me", headers=auth(laptop)).status_code == 401
