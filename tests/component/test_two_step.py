"""Two-step verification on a real database and a real SMTP server, with a clock the test moves:
right and wrong codes, attempts, expiry, new codes, the reconnection timeout, each code
composition, authenticator apps (codes computed with pyotp), and the mail server's failures."""

from __future__ import annotations

import datetime
import ipaddress
import ssl
import string
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pyotp
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from camgate.context import Core, open_core
from camgate.core.errors import CamgateError, ErrorKind
from camgate.identity.service import Login, SecondStep
from camgate.identity.twostep import SPECIAL, TwoStepMethod
from tests.support.clock import FakeClock
from tests.support.server import free_port
from tests.support.smtp import MAILER, MAILER_PASSWORD, SmtpServer, body_of, code_in

PASSWORD = "operator-password-1"
ADDRESS = "127.0.0.1"


@dataclass
class World:
    core: Core
    clock: FakeClock
    smtp: SmtpServer

    async def settings(self, **tab: object) -> None:
        await self.core.settings.patch({"two_step_verification": tab})

    async def login(self, username: str = "olivia", **options: str) -> Login | SecondStep:
        return await self.core.identity.login(username, PASSWORD, address=ADDRESS, **options)

    async def second_step(self, username: str = "olivia") -> SecondStep:
        step = await self.login(username)
        assert isinstance(step, SecondStep)
        return step


@pytest.fixture
async def world(tmp_path: Path, smtp: SmtpServer) -> AsyncIterator[World]:
    clock = FakeClock(1_800_000_000.0)
    async with open_core(tmp_path / "data", clock) as core:
        await core.identity.add_user("olivia", PASSWORD, "operator")
        await core.identity.update_user(
            "olivia", email="olivia@example.com", two_step=TwoStepMethod.EMAIL
        )
        world = World(core, clock, smtp)
        await world.settings(
            enabled=True,
            smtp={
                "server": "127.0.0.1",
                "port": smtp.port,
                "username": MAILER,
                "password": MAILER_PASSWORD,
                "sender": "camgate@example.com",
            },
        )
        yield world


async def test_the_right_emailed_code_logs_in(world: World) -> None:
    step = await world.second_step()
    assert step.method is TwoStepMethod.EMAIL
    assert step.sent_to == "o***@example.com"
    assert step.code_expires_in_s == 5 * 60
    assert step.attempts_left == 3
    message = world.smtp.mailbox.wait()
    assert message["To"] == "olivia@example.com"
    assert message["From"] == "camgate@example.com"
    assert message["Subject"] == "Your two-step verification code"
    code = code_in(message)
    assert len(code) == 6 and code.isdigit()  # the defaults: 6 digits
    login = await world.core.identity.verify_code(step.ticket, code)
    assert login.user.username == "olivia"
    principal = await world.core.identity.authenticate(login.token)
    assert principal.user.username == "olivia"
    assert world.smtp.mailbox.mechanisms  # it logged in to the mail server


async def test_a_ticket_serves_once(world: World) -> None:
    step = await world.second_step()
    code = code_in(world.smtp.mailbox.wait())
    await world.core.identity.verify_code(step.ticket, code)
    with pytest.raises(CamgateError) as refused:
        await world.core.identity.verify_code(step.ticket, code)
    assert refused.value.kind is ErrorKind.UNAUTHORIZED


async def test_wrong_codes_count_down_then_a_new_code_is_needed(world: World) -> None:
    await world.settings(code={"attempts": 2})
    step = await world.second_step()
    code = code_in(world.smtp.mailbox.wait())
    wrong = "000000" if code != "000000" else "111111"
    with pytest.raises(CamgateError) as first:
        await world.core.identity.verify_code(step.ticket, wrong)
    assert first.value.extra == {"reason": "wrong", "attempts_left": 1}
    assert "1 attempt left" in first.value.detail
    with pytest.raises(CamgateError) as second:
        await world.core.identity.verify_code(step.ticket, wrong)
    assert second.value.extra["attempts_left"] == 0
    assert "ask for a new one" in second.value.detail
    # The code is now spent: even the right one is refused.
    with pytest.raises(CamgateError) as spent:
        await world.core.identity.verify_code(step.ticket, code)
    assert spent.value.extra["reason"] == "spent"

    again = await world.core.identity.new_code(step.ticket)
    assert again.attempts_left == 2
    fresh = code_in(world.smtp.mailbox.wait(2))
    if fresh != code:  # the old code stops working (unless chance made them equal)
        with pytest.raises(CamgateError):
            await world.core.identity.verify_code(step.ticket, code)
    login = await world.core.identity.verify_code(step.ticket, fresh)
    assert login.user.username == "olivia"


async def test_an_expired_code_needs_a_new_one(world: World) -> None:
    await world.settings(code={"expiry_min": 1})
    step = await world.second_step()
    code = code_in(world.smtp.mailbox.wait())
    world.clock.t += 61
    with pytest.raises(CamgateError) as expired:
        await world.core.identity.verify_code(step.ticket, code)
    assert expired.value.extra["reason"] == "expired"
    assert "expired" in expired.value.detail
    await world.core.identity.new_code(step.ticket)
    login = await world.core.identity.verify_code(step.ticket, code_in(world.smtp.mailbox.wait(2)))
    assert login.user.username == "olivia"


async def test_within_the_expiry_the_code_still_works(world: World) -> None:
    step = await world.second_step()
    code = code_in(world.smtp.mailbox.wait())
    world.clock.t += 5 * 60 - 1
    assert (await world.core.identity.verify_code(step.ticket, code)).user.username == "olivia"


async def test_wrong_codes_lock_the_account_out(world: World) -> None:
    await world.settings(code={"attempts": 10})
    step = await world.second_step()
    code = code_in(world.smtp.mailbox.wait())
    wrong = "000000" if code != "000000" else "111111"
    refusals = []
    for _ in range(6):
        with pytest.raises(CamgateError) as refused:
            await world.core.identity.verify_code(step.ticket, wrong)
        refusals.append(refused.value.kind)
    assert refusals == [ErrorKind.UNAUTHORIZED] * 5 + [ErrorKind.RATE_LIMITED]
    # Not even the right code, nor a new login with the right password, until it is lifted.
    with pytest.raises(CamgateError) as locked:
        await world.core.identity.verify_code(step.ticket, code)
    assert locked.value.kind is ErrorKind.RATE_LIMITED
    with pytest.raises(CamgateError) as again:
        await world.login()
    assert again.value.kind is ErrorKind.RATE_LIMITED
    assert {lockout.kind for lockout in world.core.identity.lockouts()} == {"user", "address"}


async def test_the_reconnection_timeout_spares_the_code_after_a_lost_connection(
    world: World,
) -> None:
    step = await world.second_step()
    login = await world.core.identity.verify_code(step.ticket, code_in(world.smtp.mailbox.wait()))
    assert login.reconnect_token
    session_id = (await world.core.identity.authenticate(login.token)).session_id
    # The client goes silent (the client timeout ends its session) and comes back in time.
    await world.core.identity.session_went_silent(session_id)
    world.clock.t += 3 * 60 - 1
    again = await world.login(reconnect_token=login.reconnect_token)
    assert isinstance(again, Login)
    assert again.reconnect_token and again.reconnect_token != login.reconnect_token

    # Too late: the code is asked for again.
    session_id = (await world.core.identity.authenticate(again.token)).session_id
    await world.core.identity.session_went_silent(session_id)
    world.clock.t += 3 * 60 + 1
    assert isinstance(await world.login(reconnect_token=again.reconnect_token), SecondStep)


async def test_a_logout_or_another_user_gets_no_reconnection(world: World) -> None:
    step = await world.second_step()
    login = await world.core.identity.verify_code(step.ticket, code_in(world.smtp.mailbox.wait()))
    await world.core.identity.add_user("oscar", PASSWORD, "operator")
    await world.core.identity.update_user(
        "oscar", email="oscar@example.com", two_step=TwoStepMethod.EMAIL
    )
    assert isinstance(await world.login("oscar", reconnect_token=login.reconnect_token), SecondStep)
    session_id = (await world.core.identity.authenticate(login.token)).session_id
    await world.core.identity.end_session(session_id)  # a logout is deliberate
    assert isinstance(await world.login(reconnect_token=login.reconnect_token), SecondStep)


async def test_a_reconnection_timeout_of_zero_offers_no_reconnection(world: World) -> None:
    await world.settings(code={"reconnection_timeout_min": 0})
    step = await world.second_step()
    login = await world.core.identity.verify_code(step.ticket, code_in(world.smtp.mailbox.wait()))
    assert login.reconnect_token == ""


@pytest.mark.parametrize(
    ("composition", "alphabet"),
    [
        ({"digits": True}, string.digits),
        ({"digits": False, "upper": True}, string.ascii_uppercase),
        ({"digits": False, "lower": True}, string.ascii_lowercase),
        ({"digits": False, "special": True}, SPECIAL),
        (
            {"upper": True, "lower": True, "digits": True, "special": True},
            string.ascii_letters + string.digits + SPECIAL,
        ),
    ],
)
async def test_each_code_composition(
    world: World, composition: dict[str, bool], alphabet: str
) -> None:
    await world.settings(
        code={"length": 4, "composition": composition}, smtp={"text": "Code: {0} (camgate)"}
    )
    step = await world.second_step()
    body = body_of(world.smtp.mailbox.wait()).strip()
    assert body.startswith("Code: ") and body.endswith(" (camgate)")
    code = body.removeprefix("Code: ").removesuffix(" (camgate)")
    assert len(code) == 4
    assert set(code) <= set(alphabet)
    assert (await world.core.identity.verify_code(step.ticket, code)).user.username == "olivia"


async def test_without_the_placeholder_the_code_is_added_at_the_end(world: World) -> None:
    await world.settings(smtp={"text": "Here is your camgate code:"})
    step = await world.second_step()
    body = body_of(world.smtp.mailbox.wait()).strip()
    assert body.startswith("Here is your camgate code: ")
    code = body.rsplit(" ", 1)[1]
    assert (await world.core.identity.verify_code(step.ticket, code)).user.username == "olivia"


async def test_no_login_keeps_the_user_out_even_with_the_right_password(world: World) -> None:
    await world.core.identity.update_user("olivia", two_step=TwoStepMethod.NO_LOGIN)
    with pytest.raises(CamgateError) as refused:
        await world.login()
    assert refused.value.kind is ErrorKind.FORBIDDEN
    # Also with two-step verification off: "no login" was set to keep someone out.
    await world.settings(enabled=False)
    with pytest.raises(CamgateError):
        await world.login()


async def test_with_the_tab_off_or_no_method_the_password_is_enough(world: World) -> None:
    await world.settings(enabled=False)
    assert isinstance(await world.login(), Login)
    await world.settings(enabled=True)
    await world.core.identity.update_user("olivia", two_step=TwoStepMethod.NONE)
    assert isinstance(await world.login(), Login)
    assert world.smtp.mailbox.messages == []


async def test_a_user_without_an_address_is_told_to_ask_the_administrator(world: World) -> None:
    await world.core.identity.update_user("olivia", email="")
    with pytest.raises(CamgateError) as refused:
        await world.login()
    assert refused.value.kind is ErrorKind.FORBIDDEN
    assert "e-mail address" in refused.value.detail


async def test_a_mail_server_that_is_down_is_a_clear_error(world: World) -> None:
    await world.settings(smtp={"port": free_port()})
    with pytest.raises(CamgateError) as refused:
        await world.login()
    assert refused.value.kind is ErrorKind.UNAVAILABLE
    assert "could not be sent" in refused.value.detail


async def test_a_wrong_mail_password_is_a_clear_error(world: World) -> None:
    await world.settings(smtp={"password": "not-the-smtp-password"})
    with pytest.raises(CamgateError) as refused:
        await world.login()
    assert refused.value.kind is ErrorKind.UNAVAILABLE


async def test_secure_password_authentication_uses_cram_md5(world: World) -> None:
    await world.settings(smtp={"use_spa": True})
    step = await world.second_step()
    assert world.smtp.mailbox.mechanisms == ["CRAM-MD5"]
    code = code_in(world.smtp.mailbox.wait())
    assert (await world.core.identity.verify_code(step.ticket, code)).user.username == "olivia"


async def test_without_spa_on_the_server_the_password_is_not_sent(tmp_path: Path) -> None:
    plain = SmtpServer(free_port(), username=MAILER, password=MAILER_PASSWORD, offer_cram_md5=False)
    plain.start()
    try:
        async with open_core(tmp_path / "data", FakeClock()) as core:
            await core.identity.add_user("olivia", PASSWORD, "operator")
            await core.identity.update_user(
                "olivia", email="olivia@example.com", two_step=TwoStepMethod.EMAIL
            )
            await core.settings.patch(
                {
                    "two_step_verification": {
                        "enabled": True,
                        "smtp": {
                            "server": "127.0.0.1",
                            "port": plain.port,
                            "username": MAILER,
                            "password": MAILER_PASSWORD,
                            "use_spa": True,
                            "sender": "camgate@example.com",
                        },
                    }
                }
            )
            with pytest.raises(CamgateError) as refused:
                await core.identity.login("olivia", PASSWORD, address=ADDRESS)
            assert refused.value.kind is ErrorKind.UNAVAILABLE
            assert plain.mailbox.mechanisms == [] and plain.mailbox.messages == []
    finally:
        plain.stop()


def _tls_files(folder: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(ADDRESS))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "smtp.pem", folder / "smtp.key"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


async def test_ssl_verifies_the_mail_servers_certificate(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cert_path, key_path = _tls_files(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_path, key_path)
    secure = SmtpServer(free_port(), username=MAILER, password=MAILER_PASSWORD, tls=context)
    secure.start()
    try:
        async with open_core(tmp_path / "data", FakeClock()) as core:
            await core.identity.add_user("olivia", PASSWORD, "operator")
            await core.identity.update_user(
                "olivia", email="olivia@example.com", two_step=TwoStepMethod.EMAIL
            )
            smtp = {
                "server": ADDRESS,
                "port": secure.port,
                "use_ssl": True,
                "username": MAILER,
                "password": MAILER_PASSWORD,
                "sender": "camgate@example.com",
            }
            await core.settings.patch({"two_step_verification": {"enabled": True, "smtp": smtp}})
            # A certificate nobody vouches for is refused...
            with pytest.raises(CamgateError) as refused:
                await core.identity.login("olivia", PASSWORD, address=ADDRESS)
            assert refused.value.kind is ErrorKind.UNAVAILABLE
            assert secure.mailbox.messages == []
            # ...and accepted once its issuer is trusted.
            monkeypatch.setenv("SSL_CERT_FILE", str(cert_path))
            step = await core.identity.login("olivia", PASSWORD, address=ADDRESS)
            assert isinstance(step, SecondStep)
            code = code_in(secure.mailbox.wait())
            login = await core.identity.verify_code(step.ticket, code)
            assert login.user.username == "olivia"
    finally:
        secure.stop()


# --- authenticator apps ----------------------------------------------------------------------


async def test_an_authenticator_app_is_enrolled_at_the_first_login(world: World) -> None:
    await world.core.identity.update_user("olivia", two_step=TwoStepMethod.TOTP)
    step = await world.second_step()
    assert step.method is TwoStepMethod.TOTP and step.enrolment is not None
    assert step.enrolment.uri.startswith("otpauth://totp/camgate:olivia?")
    assert step.enrolment.qr_svg.startswith("<svg")
    app = pyotp.TOTP(step.enrolment.secret)
    with pytest.raises(CamgateError):
        await world.core.identity.verify_code(step.ticket, "12345")
    login = await world.core.identity.verify_code(step.ticket, app.at(world.clock.now()))
    assert login.user.totp_enrolled

    # The next login asks for a code from the app, without enrolling again.
    world.clock.t += 30
    again = await world.second_step()
    assert again.enrolment is None
    assert (await world.core.identity.verify_code(again.ticket, app.at(world.clock.now()))).token
    assert world.smtp.mailbox.messages == []  # nothing e-mailed for an app


async def test_an_authenticator_code_serves_once_and_drift_is_tolerated(world: World) -> None:
    await world.core.identity.update_user("olivia", two_step=TwoStepMethod.TOTP)
    step = await world.second_step()
    assert step.enrolment is not None
    app = pyotp.TOTP(step.enrolment.secret)
    code = app.at(world.clock.now())
    await world.core.identity.verify_code(step.ticket, code)
    replay = await world.second_step()
    with pytest.raises(CamgateError):
        await world.core.identity.verify_code(replay.ticket, code)
    # A code of the next step (a phone 30 s ahead) is accepted; two steps away is not.
    with pytest.raises(CamgateError):
        await world.core.identity.verify_code(replay.ticket, app.at(world.clock.now() + 60))
    assert await world.core.identity.verify_code(replay.ticket, app.at(world.clock.now() + 30))


async def test_a_reset_authenticator_is_enrolled_again(world: World) -> None:
    await world.core.identity.update_user("olivia", two_step=TwoStepMethod.TOTP)
    step = await world.second_step()
    assert step.enrolment is not None
    await world.core.identity.verify_code(
        step.ticket, pyotp.TOTP(step.enrolment.secret).at(world.clock.now())
    )
    await world.core.identity.reset_totp("olivia")
    again = await world.second_step()
    assert again.enrolment is not None and again.enrolment.secret != step.enrolment.secret


async def test_the_secret_is_sealed_in_the_database(world: World) -> None:
    await world.core.identity.update_user("olivia", two_step=TwoStepMethod.TOTP)
    step = await world.second_step()
    assert step.enrolment is not None
    await world.core.identity.verify_code(
        step.ticket, pyotp.TOTP(step.enrolment.secret).at(world.clock.now())
    )
    database = (world.core.data_dir / "camgate.db").read_bytes()
    assert step.enrolment.secret.encode() not in database
