"""The protocol's error codes, and camgate's errors mapped to them: exactly once, here."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from enum import IntEnum

from camgate.core.errors import CamgateError, ErrorKind


class ErrorCode(IntEnum):
    """``<ErrorCode>`` values the protocol's clients know (docs/ref/xpmobile.md)."""

    NOT_IMPLEMENTED = 1
    NOT_FULLY_IMPLEMENTED = 2
    BAD_COMMAND_TYPE = 10
    BAD_COMMAND_KIND = 11
    WRONG_ID = 12
    MISSING_INPUT_PARAMETER = 13
    WRONG_INPUT_PARAMETER = 14
    INVALID_CREDENTIALS = 15
    INCORRECT_PUBLIC_KEY = 16
    SURVEILLANCE_SERVER_DOWN = 17
    INVALID_LICENSE = 18
    SECURITY_ERROR = 19
    UNKNOWN_CAMERA_ID = 20
    UNKNOWN_ITEM_ID = 21
    NO_PRESETS_AVAILABLE = 22
    NOT_ALLOWED_IN_THIS_STATE = 23
    FEATURE_IS_DISABLED = 24
    INSUFFICIENT_USER_RIGHTS = 25
    TOO_MANY_SESSIONS = 26
    NO_RECORDINGS_FOUND = 32
    SECOND_STEP_AUTHENTICATION_REQUIRED = 34
    SECOND_STEP_AUTHENTICATION_ENABLED_USERS_ONLY = 35
    SECOND_STEP_AUTHENTICATION_CODE_ERROR = 36
    SECOND_STEP_AUTHENTICATION_CODE_EXPIRED = 37
    INPUT_PARAMETER_TOO_LONG = 43
    ACCOUNT_LOCKED_OUT = 61


#: The ``ErrorString`` of code 12: the clients also recognise a gone session by these words.
WRONG_CONNECTION_ID = "Wrong connection ID"


class CommandError(Exception):
    """A refusal: answered ``<Result>Error</Result>`` with its code, words and out-params."""

    def __init__(self, code: ErrorCode, text: str, params: Sequence[tuple[str, str]] = ()) -> None:
        super().__init__(text)
        self.code = code
        self.text = WRONG_CONNECTION_ID if code is ErrorCode.WRONG_ID else text
        self.params = tuple(params)


def wrong_connection() -> CommandError:
    return CommandError(ErrorCode.WRONG_ID, WRONG_CONNECTION_ID)


#: What each kind of camgate error means to a client of the protocol, unless the command says
#: otherwise: a refused session token is a gone connection (12), a missing thing an unknown item.
_CODES = {
    ErrorKind.NOT_FOUND: ErrorCode.UNKNOWN_ITEM_ID,
    ErrorKind.UNAUTHORIZED: ErrorCode.WRONG_ID,
    ErrorKind.FORBIDDEN: ErrorCode.INSUFFICIENT_USER_RIGHTS,
    ErrorKind.INVALID: ErrorCode.WRONG_INPUT_PARAMETER,
    ErrorKind.CONFLICT: ErrorCode.NOT_ALLOWED_IN_THIS_STATE,
    ErrorKind.UNAVAILABLE: ErrorCode.SURVEILLANCE_SERVER_DOWN,
    ErrorKind.RATE_LIMITED: ErrorCode.ACCOUNT_LOCKED_OUT,
}


def refusal(
    error: CamgateError, overrides: Mapping[ErrorKind, ErrorCode] | None = None
) -> CommandError:
    """``error`` as the protocol's refusal; ``overrides`` are a command's own meanings (LogIn:
    unauthorized is wrong credentials, 15)."""
    code = (overrides or {}).get(error.kind, _CODES[error.kind])
    return CommandError(code, error.detail)
