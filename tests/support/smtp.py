"""A real SMTP server on loopback (aiosmtpd) that keeps what it receives, for the tests to read."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import ssl
import threading
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

#: The account the tests' mail server asks for (the ``smtp`` fixture of tests/conftest.py).
MAILER = "mailer"
MAILER_PASSWORD = "smtp-secret-password-1"


@dataclass
class Mailbox:
    """What the server received, and the account it accepts (when it asks for one)."""

    username: str = ""
    password: str = ""
    messages: list[EmailMessage] = field(default_factory=list)
    #: The AUTH mechanisms clients used.
    mechanisms: list[str] = field(default_factory=list)
    _arrived: threading.Condition = field(default_factory=threading.Condition)

    async def handle_DATA(self, _server: SMTP, _session: Session, envelope: Envelope) -> str:
        assert isinstance(envelope.content, bytes)
        message = message_from_bytes(envelope.content, policy=default)
        assert isinstance(message, EmailMessage)
        with self._arrived:
            self.messages.append(message)
            self._arrived.notify_all()
        return "250 OK"

    async def auth_CRAM__MD5(self, server: SMTP, _args: list[str]) -> AuthResult:
        challenge = f"<{secrets.token_hex(8)}@camgate-test>".encode()
        answer = await server.challenge_auth(challenge)
        if not isinstance(answer, bytes):
            return AuthResult(success=False, handled=False)
        username, _, digest = answer.decode().partition(" ")
        expected = hmac.new(self.password.encode(), challenge, hashlib.md5).hexdigest()
        ok = username == self.username and hmac.compare_digest(digest, expected)
        if ok:
            self.mechanisms.append("CRAM-MD5")
        return AuthResult(success=ok, handled=False)

    def authenticate(
        self, _server: SMTP, _session: Session, _envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        ok = (
            isinstance(data, LoginPassword)
            and data.login.decode() == self.username
            and data.password.decode() == self.password
        )
        if ok:
            self.mechanisms.append(mechanism)
        return AuthResult(success=ok)

    def wait(self, count: int = 1, timeout: float = 10.0) -> EmailMessage:
        """The ``count``-th message, waiting for it to arrive."""
        with self._arrived:
            if not self._arrived.wait_for(lambda: len(self.messages) >= count, timeout):
                raise AssertionError(f"no message #{count} arrived within {timeout} s")
            return self.messages[count - 1]


def body_of(message: EmailMessage) -> str:
    part = message.get_body(("plain",))
    assert part is not None
    text: str = part.get_content()
    return text


def code_in(message: EmailMessage, length: int = 6) -> str:
    """The code at the end of the default text "Your code is {0}."."""
    found = re.search(rf"code is (\S{{{length}}})\.", body_of(message))
    assert found, body_of(message)
    return found.group(1)


class SmtpServer:
    """aiosmtpd in its own thread on 127.0.0.1; implicit TLS when given a context."""

    def __init__(
        self,
        port: int,
        *,
        username: str = "",
        password: str = "",
        tls: ssl.SSLContext | None = None,
        offer_cram_md5: bool = True,
    ) -> None:
        self.port = port
        self.mailbox = Mailbox(username, password)
        options: dict[str, Any] = {"auth_require_tls": False}
        if username:
            options["authenticator"] = self.mailbox.authenticate
        if not offer_cram_md5:
            options["auth_exclude_mechanism"] = ["CRAM-MD5"]
        self._controller = Controller(
            self.mailbox,
            hostname="127.0.0.1",
            port=port,
            ssl_context=tls,
            **options,
        )

    def start(self) -> None:
        self._controller.start()

    def stop(self) -> None:
        self._controller.stop()


def smtp_settings(server: SmtpServer) -> dict[str, Any]:
    """The ``two_step_verification.smtp`` settings that send through ``server`` as MAILER."""
    return {
        "server": "127.0.0.1",
        "port": server.port,
        "username": MAILER,
        "password": MAILER_PASSWORD,
        "sender": "camgate@example.com",
    }
