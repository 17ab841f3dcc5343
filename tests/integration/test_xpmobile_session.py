"""The XProtect Mobile command channel on a running server, driven by a client written from the
protocol notes: connect and log in (both primes, both paddings, two-step verification, the
rate limit), keep alive and disconnect, browse the catalogue as a restricted operator and with
the "All cameras" view turned off, and take thumbnails."""

from __future__ import annotations

import base64
import io
import time
import uuid
from typing import Any

import httpx
import pyotp
import pytest
from PIL import Image

from camgate.protocols.xpmobile import api as xpmobile_api
from tests.conftest import ADMIN, OPERATOR, login
from tests.support.media_checks import wait_for_online
from tests.support.server import RunningServer, auth
from tests.support.smtp import SmtpServer, code_in, smtp_settings
from tests.support.xpmobile_client import (
    ALL_CAMERAS_VIEW,
    PATH,
    ROOT_FOLDER,
    Item,
    XpMobileClient,
    request_xml,
)


def _api(server: RunningServer) -> str:
    return f"{server.base_url}/api/v1"


def _patch_settings(server: RunningServer, token: str, patch: dict[str, Any]) -> None:
    answer = httpx.patch(f"{_api(server)}/settings", json=patch, headers=auth(token))
    assert answer.status_code == 200, answer.text


def _camera(server: RunningServer, token: str, name: str, url: str = "synthetic:360p") -> str:
    answer = httpx.post(
        f"{_api(server)}/cameras", json={"name": name, "urls": [url]}, headers=auth(token)
    )
    assert answer.status_code == 201, answer.text
    camera_id: str = answer.json()["id"]
    return camera_id


def _status_users(server: RunningServer, token: str) -> list[str]:
    status = httpx.get(f"{_api(server)}/status", headers=auth(token)).json()
    return sorted(line["user"] for line in status["users"])


def test_connect_and_log_in_with_both_primes_and_paddings(
    server: RunningServer, admin_token: str
) -> None:
    for bits, padding in ((1024, "ISO10126"), (2048, "PKCS7")):
        with XpMobileClient(server.base_url, prime_bits=bits, padding=padding) as client:
            connected = client.connect()
            assert connected.ok, connected
            assert uuid.UUID(connected.param("ConnectionId"))
            assert uuid.UUID(connected.param("ServerId"))
            assert connected.param("Timeout") == "30"
            assert connected.param("WebSocketSupport") == "Yes"
            assert connected.param("SecurityEnabled") == "Yes"
            assert connected.param("CHAPSupported") == "Yes"
            assert connected.param("ServerProductCode") == "camgate"
            wrong = client.log_in(OPERATOR[0], "not the password")
            assert wrong.error_code == 15 and wrong.result == "Error"
            right = client.log_in(*OPERATOR)
            assert right.ok, right
            assert right.param("Username") == OPERATOR[0]
            assert len(set(right.params["Challenge"])) == 100  # NumChallenges
            assert right.param("TranscodedStreamingAvailable") == "Yes"
            assert right.param("SupportsIncomingAudio") == "No"  # not served
            again = client.log_in(*OPERATOR)
            assert again.error_code == 23
            alive = client.command("LiveMessage")
            assert alive.ok and alive.param("CameraDefinitionsChanged") == "No"
            # The session is one of the Active users, like any other client's.
            assert _status_users(server, admin_token) == ["admin", OPERATOR[0]]
            sessions = httpx.get(
                f"{_api(server)}/sessions", params={"all": "true"}, headers=auth(admin_token)
            ).json()
            assert any(s["client"].startswith("XProtect Mobile WebClient") for s in sessions)
            assert client.command("Disconnect").ok
            gone = client.command("LiveMessage")
            assert gone.error_code == 12 and gone.error_string == "Wrong connection ID"
            assert _status_users(server, admin_token) == ["admin"]
    audit = httpx.get(f"{_api(server)}/audit", params={"q": "login"}, headers=auth(admin_token))
    actions = [entry["action"] for entry in audit.json() if entry["user"] == OPERATOR[0]]
    assert actions.count("login") == 2 and actions.count("login.failed") == 2
    logins = [e for e in audit.json() if e["action"] == "login" and e["user"] == OPERATOR[0]]
    assert all(e["details"] == {"protocol": "XProtect Mobile"} for e in logins)


def test_wrong_requests_get_the_protocols_error_codes(server: RunningServer) -> None:
    with XpMobileClient(server.base_url, prime_bits=1024, padding="PKCS7") as client:
        assert client.command("Connect", PrimeLength=1024).error_code == 13  # no PublicKey
        assert client.connect(PrimeLength=1536).error_code == 14
        assert client.connect(EncryptionPadding="ZEROS").error_code == 14
        assert client.connect(PublicKey="AQA=").error_code == 16  # the key 1: not in the group
        assert client.command("LiveMessage").error_code == 12  # not connected
        client.connection_id = str(uuid.uuid4())
        unknown = client.command("LiveMessage")
        assert unknown.error_code == 12 and unknown.error_string == "Wrong connection ID"
        assert client.connect().ok
        assert client.command("GetViews", ViewId=ROOT_FOLDER).error_code == 23  # log in first
        assert client.command("LogIn", Username="AAAA", Password="AAAA").error_code == 14
        assert client.command("LogIn", Password=client.encrypt("x")).error_code == 13
        external = client.log_in(*OPERATOR, login_type="External")
        assert external.error_code == 24
        assert client.command("TeleportCamera", CameraId="x").error_code == 1
        assert client.session(*OPERATOR)
        assert client.command("GetViews").error_code == 13
        assert client.command("GetViews", ViewId="all-cameras").error_code == 14

    malformed = httpx.post(f"{server.base_url}{PATH}", content=b"<Communication><Command>")
    assert malformed.status_code == 400 and malformed.text.startswith("<?xml")
    assert "<ErrorCode>11</ErrorCode>" in malformed.text and malformed.text.endswith("\r\n\r\n")
    huge = request_xml("Connect", 1, {"PublicKey": "A" * 70_000}, None)
    too_large = httpx.post(f"{server.base_url}{PATH}", content=huge)
    assert too_large.status_code == 413 and "<ErrorCode>43</ErrorCode>" in too_large.text
    assert httpx.get(f"{server.base_url}{PATH}").status_code in (404, 405)  # POST only


def test_chap_signs_every_request_after_login(server: RunningServer) -> None:
    with XpMobileClient(server.base_url) as client:
        assert client.session(*OPERATOR)
        assert len(client.challenges) == 100
        assert client.command("LiveMessage").ok  # signed by the client with its first one
        # Without a challenge, with a wrong answer, or a spent challenge: 19, nothing done.
        unsigned = client.command("LiveMessage", Challenge="", ChalAnswer="")
        assert unsigned.error_code == 19 and "missing" in unsigned.error_string
        first = client.challenges.pop(0)
        wrong = client.command("LiveMessage", Challenge=first, ChalAnswer=client.answer_to("x"))
        assert wrong.error_code == 19 and "wrong" in wrong.error_string
        again = client.command("LiveMessage", Challenge=first, ChalAnswer=client.answer_to(first))
        assert again.error_code == 19 and "spent" in again.error_string
        made_up = str(uuid.uuid4())
        unknown = client.command(
            "Disconnect", Challenge=made_up, ChalAnswer=client.answer_to(made_up)
        )
        assert unknown.error_code == 19
        assert client.command("LiveMessage").ok  # the connection is still there
        # More on request; a reset forgets those in hand; the unspent ones are bounded.
        assert client.command("RequestChallenges", NumChallenges=101).error_code == 14
        more = client.command("RequestChallenges", NumChallenges=100)
        assert more.ok and len(more.params["Challenge"]) == 100
        stale = client.challenges[:5]
        reset = client.command("RequestChallenges", NumChallenges=10, Reset="Yes")
        assert reset.ok and len(reset.params["Challenge"]) == 10
        client.challenges = reset.params["Challenge"]
        spent = client.command(
            "LiveMessage", Challenge=stale[0], ChalAnswer=client.answer_to(stale[0])
        )
        assert spent.error_code == 19
        counts = [len(client.command("RequestChallenges").params["Challenge"]) for _ in range(6)]
        assert counts == [100, 100, 100, 100, 95, 1], counts
        assert len(client.challenges) == 500
        # Down to its last one, the client asks for new ones with it (Reset, as the library
        # does) and goes on.
        client.challenges = client.challenges[-1:]
        assert client.command("GetViews", ViewId=ROOT_FOLDER).ok
        assert len(client.challenges) == 99
        assert client.command("Disconnect").ok
    # A client that asks for no challenges signs nothing and cannot ask for them later.
    with XpMobileClient(server.base_url, chap=False) as plain:
        assert plain.session(*OPERATOR) and not plain.challenges
        assert plain.command("LiveMessage").ok
        assert plain.command("RequestChallenges").error_code == 23
    # The reference client asks for them right after Connect, before LogIn; until LogIn a
    # connection holds at most 100 (anyone may connect).
    with XpMobileClient(server.base_url, chap=False) as early:
        assert early.connect().ok
        assert len(early.command("RequestChallenges", NumChallenges=50).params["Challenge"]) == 50
        assert len(early.command("RequestChallenges", NumChallenges=80).params["Challenge"]) == 50
        assert early.log_in(*OPERATOR).ok  # with no NumChallenges
        assert early.command("LiveMessage").ok
        assert early.command("LiveMessage", Challenge="", ChalAnswer="").error_code == 19


def test_repeated_wrong_passwords_lock_the_account_out(
    server: RunningServer, admin_token: str
) -> None:
    with XpMobileClient(server.base_url) as client:
        assert client.connect().ok
        codes = [client.log_in(OPERATOR[0], f"wrong-{n}").error_code for n in range(5)]
        assert codes == [15] * 5
        locked = client.log_in(*OPERATOR)  # even the right password, while locked out
        assert locked.error_code == 61
    lockouts = httpx.get(f"{_api(server)}/lockouts", headers=auth(admin_token)).json()
    assert {lockout["kind"] for lockout in lockouts} == {"user", "address"}


def enable_two_step(server: RunningServer, token: str, smtp: SmtpServer, method: str) -> None:
    _patch_settings(
        server,
        token,
        {
            "two_step_verification": {
                "enabled": True,
                "smtp": smtp_settings(smtp),
            }
        },
    )
    user = httpx.patch(
        f"{_api(server)}/users/{OPERATOR[0]}",
        json={"email": "olivia@example.com", "two_step": method},
        headers=auth(token),
    )
    assert user.status_code == 200, user.text


def test_two_step_verification_by_email(
    server: RunningServer, admin_token: str, smtp: SmtpServer
) -> None:
    enable_two_step(server, admin_token, smtp, "email")
    mailbox = smtp.mailbox
    with XpMobileClient(server.base_url) as client:
        assert client.connect().ok
        step = client.log_in(*OPERATOR)
        assert step.error_code == 34
        assert step.param("SecondStepAuthenticationProvider") == "Email"
        first = code_in(mailbox.wait(1))
        # The first request after LogIn: the code LogIn sent is the one (no second e-mail).
        assert client.command("RequestSecondStepAuthenticationPin").ok
        assert client.command("GetViews", ViewId=ROOT_FOLDER).error_code == 23
        wrong = client.command("VerifySecondStepAuthenticationPin", SecondStepAuthenticationPin="x")
        assert wrong.error_code == 36
        assert len(mailbox.messages) == 1
        # Asked again: a new code, and the first one is spent.
        assert client.command("RequestSecondStepAuthenticationPin").ok
        second = code_in(mailbox.wait(2))
        if first != second:
            stale = client.command(
                "VerifySecondStepAuthenticationPin", SecondStepAuthenticationPin=first
            )
            assert stale.error_code == 36
        done = client.command(
            "VerifySecondStepAuthenticationPin", SecondStepAuthenticationPin=second
        )
        assert done.ok, done
        assert done.param("Username") == OPERATOR[0]
        assert len(done.params["Challenge"]) == 100  # those LogIn asked for
        assert client.command("GetViews", ViewId=ROOT_FOLDER).ok
        assert client.command("LiveMessage", Challenge="", ChalAnswer="").error_code == 19
        assert client.command("RequestSecondStepAuthenticationPin").error_code == 23

    # A code whose attempts are used up is expired (37); a new one completes the login.
    _patch_settings(server, admin_token, {"two_step_verification": {"code": {"attempts": 1}}})
    with XpMobileClient(server.base_url, prime_bits=1024) as client:
        assert client.connect().ok
        assert client.log_in(*OPERATOR).error_code == 34
        third = code_in(mailbox.wait(3))
        spent = client.command(
            "VerifySecondStepAuthenticationPin", SecondStepAuthenticationPin=third[::-1] + "x"
        )
        assert spent.error_code == 37
        assert client.command("RequestSecondStepAuthenticationPin").ok
        fourth = code_in(mailbox.wait(4))
        done = client.command(
            "VerifySecondStepAuthenticationPin", SecondStepAuthenticationPin=fourth
        )
        assert done.ok, done
    failed = httpx.get(
        f"{_api(server)}/audit", params={"q": "verification code"}, headers=auth(admin_token)
    ).json()
    assert len(failed) >= 2


def test_two_step_verification_with_an_authenticator_app(
    server: RunningServer, admin_token: str, smtp: SmtpServer
) -> None:
    enable_two_step(server, admin_token, smtp, "totp")
    with XpMobileClient(server.base_url) as client:
        assert client.connect().ok
        # Adding camgate to the app needs its QR code: the web client shows it, not this protocol.
        assert client.log_in(*OPERATOR).error_code == 25
    api = _api(server)
    step = httpx.post(f"{api}/auth/login", json={"username": OPERATOR[0], "password": OPERATOR[1]})
    app = pyotp.TOTP(step.json()["enrolment"]["secret"])
    enrolled = httpx.post(
        f"{api}/auth/login/code", json={"ticket": step.json()["ticket"], "code": app.now()}
    )
    assert enrolled.status_code == 200
    with XpMobileClient(server.base_url) as client:
        assert client.connect().ok
        step_answer = client.log_in(*OPERATOR)
        assert step_answer.error_code == 34
        assert step_answer.param("SecondStepAuthenticationProvider") == "Authenticator"
        assert client.command("RequestSecondStepAuthenticationPin").ok  # nothing to send
        code = app.at(time.time() + 30)  # the next step: the last one was used to enrol
        done = client.command("VerifySecondStepAuthenticationPin", SecondStepAuthenticationPin=code)
        assert done.ok, done
    assert smtp.mailbox.messages == []


def _cameras(item: Item) -> list[str]:
    return [child.name for child in item.items if child.type == "Camera"]


def _folders(client: XpMobileClient) -> dict[str, Item]:
    answer = client.command("GetAllViewsAndCameras")
    assert answer.ok, answer
    (root,) = answer.items
    assert root.type == "Folder" and root.id.upper() == ROOT_FOLDER
    return {folder.name: folder for folder in root.items}


def test_the_catalogue_follows_the_role_and_the_all_cameras_toggle(
    server: RunningServer, admin_token: str
) -> None:
    door = _camera(server, admin_token, "Door")
    yard = _camera(server, admin_token, "Yard")
    api = _api(server)
    restricted = httpx.put(
        f"{api}/roles/operator/cameras", json={"camera_ids": [door]}, headers=auth(admin_token)
    )
    assert restricted.status_code == 200
    lobby = httpx.post(
        f"{api}/views",
        json={"name": "Lobby", "camera_ids": [door, yard], "shared": True},
        headers=auth(admin_token),
    )
    assert lobby.status_code == 201
    operator = login(server.base_url, *OPERATOR)
    mine = httpx.post(
        f"{api}/views", json={"name": "Mine", "camera_ids": [door]}, headers=auth(operator)
    )
    assert mine.status_code == 201

    with XpMobileClient(server.base_url).session(*OPERATOR) as client:
        folders = _folders(client)
        assert list(folders) == ["All cameras", "Shared views", "Private views"]
        # Where the web client's samples look: items[0].Items[0].Items[0].Items.
        all_view = folders["All cameras"].items[0]
        assert all_view.type == "View" and all_view.id == ALL_CAMERAS_VIEW
        assert _cameras(all_view) == ["Door"]
        assert all_view.items[0].properties["Live"] == "Yes"
        assert _cameras(folders["Shared views"].items[0]) == ["Door"]  # Yard is not theirs
        assert folders["Private views"].items[0].name == "Mine"

        top = client.command("GetViews", ViewId=ROOT_FOLDER)
        assert [i.name for i in top.sub_items] == ["All cameras", "Shared views", "Private views"]
        assert all(i.type == "Folder" for i in top.sub_items)
        listed = client.command("GetViews", ViewId=ALL_CAMERAS_VIEW.upper())
        assert [(i.type, i.id, i.name) for i in listed.sub_items] == [("Camera", door, "Door")]
        assert client.command("GetViews", ViewId=str(uuid.uuid4())).error_code == 21

        capabilities = client.command("GetCapabilities", CameraId=door.upper())
        assert capabilities.ok
        assert {k: v[0] for k, v in capabilities.params.items()} == {
            "Live": "Yes",
            "Playback": "Yes",
            "PTZ": "No",
            "Preset": "No",
        }
        assert client.command("GetCapabilities", CameraId=yard).error_code == 20
        assert client.command("GetCapabilities", CameraId=str(uuid.uuid4())).error_code == 20
        assert client.command("GetThumbnail", CameraId=yard).error_code == 20
        assert client.command("LiveMessage").param("ViewDefinitionsChanged") == "No"

        # The administrator turns the "All cameras" view off.
        _patch_settings(server, admin_token, {"general": {"features": {"all_cameras_view": False}}})
        changed = client.command("LiveMessage")
        assert changed.param("FolderDefinitionsChanged") == "Yes"
        assert changed.param("ViewDefinitionsChanged") == "Yes"
        assert client.command("LiveMessage").param("ViewDefinitionsChanged") == "No"  # told once
        assert list(_folders(client)) == ["Shared views", "Private views"]
        assert client.command("GetViews", ViewId=ALL_CAMERAS_VIEW).error_code == 24

        # The role loses live video: its cameras say so, and thumbnails are refused.
        taken = httpx.put(
            f"{api}/roles/operator/permissions",
            json={"permissions": ["playback"]},
            headers=auth(admin_token),
        )
        assert taken.status_code == 200
        assert client.command("LiveMessage").param("CameraDefinitionsChanged") == "Yes"
        assert client.command("GetCapabilities", CameraId=door).param("Live") == "No"
        assert client.command("GetThumbnail", CameraId=door).error_code == 25


def test_thumbnails_are_jpegs_of_the_asked_size(
    server: RunningServer, admin_token: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    door = _camera(server, admin_token, "Door")
    gone = _camera(server, admin_token, "Gone", "rtsp://127.0.0.1:9/none")
    wait_for_online(server.base_url, admin_token, door)
    with XpMobileClient(server.base_url).session(*ADMIN) as client:
        sized = client.command(
            "GetThumbnail", CameraId=door, DestWidth=320, DestHeight=180, ComprLevel=60
        )
        assert sized.ok and sized.thumbnail
        picture = Image.open(io.BytesIO(base64.b64decode(sized.thumbnail)))
        assert picture.format == "JPEG" and picture.size == (320, 180)
        whole = client.command("GetThumbnail", CameraId=door)
        assert Image.open(io.BytesIO(base64.b64decode(whole.thumbnail or ""))).size == (640, 360)
        assert client.command("GetThumbnail", CameraId=door, ComprLevel=0).error_code == 14
        assert client.command("GetThumbnail", CameraId=door, DestWidth="wide").error_code == 14
        assert client.command("GetThumbnail", CameraId=gone).error_code == 17
        assert client.command("GetThumbnail").error_code == 13

    # A command that takes long is preceded by Processing messages, for clients that want them.
    monkeypatch.setattr(xpmobile_api, "PROCESSING_AFTER_S", 0.0)
    with XpMobileClient(server.base_url, processing_messages=True).session(*ADMIN) as client:
        answer = client.command("GetThumbnail", CameraId=door, DestWidth=160, DestHeight=90)
        assert answer.ok and answer.interim >= 1
    with XpMobileClient(server.base_url, processing_messages=False).session(*ADMIN) as client:
        assert client.command("GetThumbnail", CameraId=door).interim == 0


def test_a_session_ends_with_the_client_timeout_or_a_logout_elsewhere(
    server: RunningServer, admin_token: str
) -> None:
    _patch_settings(server, admin_token, {"connectivity": {"client_timeout_s": 2}})
    with XpMobileClient(server.base_url).session(*OPERATOR) as client:
        assert client.connected["Timeout"] == ["2"]
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:  # keep-alives past the timeout: still logged in
            assert client.command("LiveMessage").ok
            time.sleep(0.5)
        time.sleep(4.5)  # silent for longer than the timeout
        assert client.command("LiveMessage").error_code == 12
        assert client.command("GetViews", ViewId=ROOT_FOLDER).error_code == 12

    admin_token = login(server.base_url, *ADMIN)  # the first one went silent too
    _patch_settings(server, admin_token, {"connectivity": {"client_timeout_s": 30}})
    with XpMobileClient(server.base_url).session(*OPERATOR) as client:
        api = _api(server)
        sessions = httpx.get(f"{api}/sessions", params={"all": "true"}, headers=auth(admin_token))
        theirs = [s for s in sessions.json() if s["user"] == OPERATOR[0]]
        assert len(theirs) == 1
        ended = httpx.delete(f"{api}/sessions/{theirs[0]['id']}", headers=auth(admin_token))
        assert ended.status_code == 204
        assert client.command("GetAllViewsAndCameras").error_code == 12
