"""Sends two-step verification codes by e-mail (the manual's "Provider settings > Email")."""

from __future__ import annotations

import logging
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

import aiosmtplib

from camgate.identity.twostep import mail_text
from camgate.settings import Smtp

log = logging.getLogger(__name__)

#: The manual's default ports: 25 without SSL, 465 with SSL.
PLAIN_PORT = 25
SSL_PORT = 465
_TIMEOUT_S = 15.0


class MailError(Exception):
    """The code could not be sent; the words are for the administrator (no secrets)."""


def smtp_port(smtp: Smtp) -> int:
    """The port to use: 465 when SSL is on and the port was left at the plain default."""
    return SSL_PORT if smtp.use_ssl and smtp.port == PLAIN_PORT else smtp.port


def code_message(smtp: Smtp, to: str, code: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = smtp.sender
    message["To"] = to
    message["Subject"] = smtp.subject
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain=smtp.sender.partition("@")[2] or None)
    message.set_content(mail_text(smtp.text, code))
    return message


async def send_code(smtp: Smtp, to: str, code: str) -> None:
    if not smtp.server or not smtp.sender:
        raise MailError("two-step verification by e-mail needs an SMTP server and a sender")
    client = aiosmtplib.SMTP(
        hostname=smtp.server,
        port=smtp_port(smtp),
        use_tls=smtp.use_ssl,
        # Upgrades a plain connection when the server offers STARTTLS (and requires it when a
        # password is to be sent: see below).
        start_tls=None,
        timeout=_TIMEOUT_S,
    )
    try:
        async with client:
            await _log_in(client, smtp)
            await client.send_message(code_message(smtp, to, code))
    except (aiosmtplib.SMTPException, OSError) as error:
        log.warning("cannot send a verification code via %s: %s", smtp.server, error)
        raise MailError(f"the mail server {smtp.server} refused or failed: {error}") from error


async def _log_in(client: aiosmtplib.SMTP, smtp: Smtp) -> None:
    if not smtp.username:
        return
    password = smtp.password.get_secret_value()
    if smtp.use_spa:
        # Secure password authentication: a challenge and response, so the password never
        # crosses the wire, even on a connection without TLS. (Microsoft's NTLM flavour of SPA
        # is not offered; CRAM-MD5 is the standard one.)
        if "cram-md5" not in client.supported_auth_methods:
            raise MailError(f"{smtp.server} offers no secure password authentication")
        await client.auth_crammd5(smtp.username, password)
        return
    await client.login(smtp.username, password)
