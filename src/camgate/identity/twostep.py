"""Two-step verification: codes, logins waiting for their code, and reconnection grants.

Pure rules and bounded in-memory state; sending mail and reading users is the service's job.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import string
from collections import OrderedDict
from dataclasses import dataclass
from enum import StrEnum

from camgate.settings import CodeComposition

#: The manual's "special characters (!@#...)": ones that survive e-mail, SMS and being read
#: aloud, without quotes, backslashes or spaces.
SPECIAL = "!@#$%&*+-=?"
#: Logins waiting for their code, and reconnection grants: each bounded, the oldest dropped.
MAX_PENDING = 10_000
#: A login waiting for its code may ask for new codes for this long, then starts again.
TICKET_S = 30 * 60.0
#: A reconnection grant never outlives a day, whatever happened to its session.
GRANT_MAX_S = 24 * 3600.0


class TwoStepMethod(StrEnum):
    """What a user must do after the password (the manual's "verification method")."""

    NO_LOGIN = "no_login"
    NONE = "none"
    EMAIL = "email"
    #: Beyond the manual: a code from an authenticator app (RFC 6238).
    TOTP = "totp"


#: When a user's groups say different things, the strictest wins.
_STRICTNESS = [TwoStepMethod.NONE, TwoStepMethod.EMAIL, TwoStepMethod.TOTP, TwoStepMethod.NO_LOGIN]


def strictest(methods: list[TwoStepMethod]) -> TwoStepMethod:
    return max(methods, key=_STRICTNESS.index, default=TwoStepMethod.NONE)


def effective_method(
    own: TwoStepMethod | None, groups: list[TwoStepMethod], *, enabled: bool
) -> TwoStepMethod:
    """The method a login must pass: the user's own, else the strictest of their directory
    groups'. "No login" holds even while two-step verification is off: it was set to keep
    someone out."""
    method = own if own is not None else strictest(groups)
    if method is TwoStepMethod.NO_LOGIN or enabled:
        return method
    return TwoStepMethod.NONE


def code_alphabet(composition: CodeComposition) -> str:
    return "".join(
        chars
        for chosen, chars in (
            (composition.upper, string.ascii_uppercase),
            (composition.lower, string.ascii_lowercase),
            (composition.digits, string.digits),
            (composition.special, SPECIAL),
        )
        if chosen
    )


def make_code(length: int, composition: CodeComposition) -> str:
    alphabet = code_alphabet(composition)
    return "".join(secrets.choice(alphabet) for _ in range(length))


def mail_text(template: str, code: str) -> str:
    """The e-mail's text: the code in place of ``{0}``, or added at the end when it is missing
    (as the manual says)."""
    if "{0}" in template:
        return template.replace("{0}", code)
    return f"{template.rstrip()} {code}".lstrip()


def masked_address(address: str) -> str:
    """Enough of an e-mail address for its owner to recognise it, not enough to learn it."""
    local, at, domain = address.partition("@")
    if not at:
        return "***"
    return f"{local[:1]}***@{domain}"


def _digest(ticket: str) -> str:
    return hashlib.sha256(ticket.encode()).hexdigest()


class CodeCheck(StrEnum):
    RIGHT = "right"
    WRONG = "wrong"
    #: The code's time is up: a new code is needed.
    EXPIRED = "expired"
    #: Every attempt is used up: a new code is needed.
    SPENT = "spent"


@dataclass(slots=True)
class Challenge:
    """A login whose password was right, waiting for its second step."""

    user_id: str
    method: TwoStepMethod
    address: str
    client: str
    #: The limiter's keys, charged for each wrong code.
    keys: tuple[str, ...]
    #: Where an e-mailed code went ("" for TOTP).
    email: str = ""
    #: The e-mailed code ("" for TOTP, whose codes the user's app makes).
    code: str = ""
    code_expires_at: float = 0.0
    attempts_left: int = 0
    #: A TOTP secret being enrolled by this login (saved when its first code is right).
    enrolling: str = ""
    #: When the whole login gives up (new codes may be asked for until then).
    expires_at: float = 0.0
    #: New e-mailed codes asked for so far.
    new_codes: int = 0

    def new_code(self, code: str, now: float, expiry_s: float, attempts: int) -> None:
        self.code = code
        self.code_expires_at = now + expiry_s
        self.attempts_left = attempts

    def check(self, matches: bool, now: float) -> CodeCheck:
        """Counts an attempt; an e-mailed code is refused after its expiry or its attempts."""
        if self.method is TwoStepMethod.EMAIL and now > self.code_expires_at:
            return CodeCheck.EXPIRED
        if self.attempts_left <= 0:
            return CodeCheck.SPENT
        if matches:
            return CodeCheck.RIGHT
        self.attempts_left -= 1
        return CodeCheck.WRONG


def same_code(given: str, expected: str) -> bool:
    return bool(expected) and hmac.compare_digest(given.strip().encode(), expected.encode())


class Challenges:
    """Logins waiting for their code, by ticket (kept hashed, like session tokens)."""

    def __init__(self) -> None:
        self._open: OrderedDict[str, Challenge] = OrderedDict()

    def open(self, challenge: Challenge) -> str:
        ticket = secrets.token_urlsafe(24)
        if len(self._open) >= MAX_PENDING:
            self._open.popitem(last=False)
        self._open[_digest(ticket)] = challenge
        return ticket

    def get(self, ticket: str, now: float) -> Challenge | None:
        digest = _digest(ticket)
        challenge = self._open.get(digest)
        if challenge is not None and now > challenge.expires_at:
            del self._open[digest]
            return None
        return challenge

    def close(self, ticket: str) -> None:
        self._open.pop(_digest(ticket), None)

    def forget_user(self, user_id: str) -> None:
        """A removed user, or a new password: their waiting logins end too."""
        for digest in [d for d, c in self._open.items() if c.user_id == user_id]:
            del self._open[digest]


@dataclass(slots=True)
class Grant:
    """Lets a client that passed two-step verification reconnect without it, for a while after
    its session ended by going silent (the manual's reconnection timeout)."""

    user_id: str
    session_id: str
    issued_at: float
    #: When the session went silent; None while it stands.
    silent_since: float | None = None


class ReconnectGrants:
    def __init__(self) -> None:
        self._grants: OrderedDict[str, Grant] = OrderedDict()

    def issue(self, user_id: str, session_id: str, now: float) -> str:
        token = secrets.token_urlsafe(24)
        if len(self._grants) >= MAX_PENDING:
            self._grants.popitem(last=False)
        self._grants[_digest(token)] = Grant(user_id, session_id, now)
        return token

    def went_silent(self, session_id: str, now: float) -> None:
        for grant in self._grants.values():
            if grant.session_id == session_id:
                grant.silent_since = now

    def revoke_session(self, session_id: str) -> None:
        """A logout or an ended session: deliberate, so no reconnecting without the code."""
        for digest in [d for d, g in self._grants.items() if g.session_id == session_id]:
            del self._grants[digest]

    def revoke_user(self, user_id: str) -> None:
        for digest in [d for d, g in self._grants.items() if g.user_id == user_id]:
            del self._grants[digest]

    def take(self, token: str, user_id: str, now: float, timeout_s: float) -> bool:
        """Whether ``token`` lets ``user_id`` skip the code now; a grant serves once (the new
        login gets its own)."""
        digest = _digest(token)
        grant = self._grants.get(digest)
        if grant is None or grant.user_id != user_id:
            return False
        del self._grants[digest]
        if now - grant.issued_at > GRANT_MAX_S:
            return False
        if grant.silent_since is None:
            return True
        return now - grant.silent_since <= timeout_s
