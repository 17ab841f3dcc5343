"""The pure rules of two-step verification: methods, codes, the e-mail text, tickets, grants."""

from __future__ import annotations

import string

from hypothesis import given
from hypothesis import strategies as st

from camgate.identity import twostep
from camgate.identity.twostep import (
    GRANT_MAX_S,
    MAX_PENDING,
    Challenge,
    Challenges,
    CodeCheck,
    ReconnectGrants,
    TwoStepMethod,
    effective_method,
    mail_text,
    make_code,
    masked_address,
)
from camgate.settings import CodeComposition

NONE, EMAIL, TOTP, NO_LOGIN = (
    TwoStepMethod.NONE,
    TwoStepMethod.EMAIL,
    TwoStepMethod.TOTP,
    TwoStepMethod.NO_LOGIN,
)


def test_the_users_own_method_wins_over_the_groups() -> None:
    assert effective_method(NONE, [EMAIL, NO_LOGIN], enabled=True) is NONE
    assert effective_method(EMAIL, [], enabled=True) is EMAIL


def test_the_strictest_group_method_applies_to_a_user_without_one() -> None:
    assert effective_method(None, [], enabled=True) is NONE
    assert effective_method(None, [NONE, EMAIL], enabled=True) is EMAIL
    assert effective_method(None, [TOTP, EMAIL], enabled=True) is TOTP
    assert effective_method(None, [EMAIL, NO_LOGIN, NONE], enabled=True) is NO_LOGIN


def test_with_the_tab_off_only_no_login_holds() -> None:
    assert effective_method(EMAIL, [], enabled=False) is NONE
    assert effective_method(TOTP, [], enabled=False) is NONE
    assert effective_method(NO_LOGIN, [], enabled=False) is NO_LOGIN
    assert effective_method(None, [NO_LOGIN], enabled=False) is NO_LOGIN


@given(
    length=st.integers(4, 6),
    kinds=st.sets(st.sampled_from(["upper", "lower", "digits", "special"]), min_size=1),
)
def test_codes_have_the_length_and_the_composition(length: int, kinds: set[str]) -> None:
    composition = CodeComposition(**{kind: kind in kinds for kind in CodeComposition.model_fields})
    allowed = {
        "upper": string.ascii_uppercase,
        "lower": string.ascii_lowercase,
        "digits": string.digits,
        "special": twostep.SPECIAL,
    }
    code = make_code(length, composition)
    assert len(code) == length
    assert set(code) <= set("".join(allowed[kind] for kind in kinds))


def test_the_code_goes_in_place_of_the_placeholder_or_at_the_end() -> None:
    assert mail_text("Your code is {0}.", "123456") == "Your code is 123456."
    assert mail_text("{0} is your code; again: {0}", "AB12") == "AB12 is your code; again: AB12"
    assert mail_text("Your camgate code:", "123456") == "Your camgate code: 123456"
    assert mail_text("", "123456") == "123456"
    # Other braces are text, not a format string.
    assert mail_text("{1} {name} {0}", "9") == "{1} {name} 9"


def test_addresses_are_masked() -> None:
    assert masked_address("olivia@example.com") == "o***@example.com"
    assert masked_address("nonsense") == "***"


def test_an_emailed_code_expires_and_runs_out_of_attempts() -> None:
    challenge = Challenge("u", EMAIL, "127.0.0.1", "", ())
    challenge.new_code("123456", now=100.0, expiry_s=60.0, attempts=2)
    assert challenge.check(False, 110.0) is CodeCheck.WRONG
    assert challenge.check(False, 110.0) is CodeCheck.WRONG
    assert challenge.check(True, 110.0) is CodeCheck.SPENT
    challenge.new_code("654321", now=120.0, expiry_s=60.0, attempts=2)
    assert challenge.check(True, 181.0) is CodeCheck.EXPIRED
    assert challenge.check(True, 180.0) is CodeCheck.RIGHT


def test_tickets_are_bounded_and_expire() -> None:
    challenges = Challenges()
    first = challenges.open(Challenge("u0", EMAIL, "", "", (), expires_at=10.0))
    for n in range(MAX_PENDING):
        challenges.open(Challenge(f"u{n + 1}", EMAIL, "", "", (), expires_at=10.0))
    assert challenges.get(first, 0.0) is None  # the oldest made room
    last = challenges.open(Challenge("x", EMAIL, "", "", (), expires_at=10.0))
    assert challenges.get(last, 10.0) is not None
    assert challenges.get(last, 10.1) is None


def test_a_grant_serves_once_within_the_timeout_after_silence() -> None:
    grants = ReconnectGrants()
    token = grants.issue("u", "s", now=0.0)
    grants.went_silent("s", now=100.0)
    assert not grants.take(token, "someone else", 101.0, 180.0)
    assert grants.take(token, "u", 280.0, 180.0)
    assert not grants.take(token, "u", 281.0, 180.0)  # served once

    late = grants.issue("u", "s3", now=0.0)
    grants.went_silent("s3", now=100.0)
    assert not grants.take(late, "u", 281.0, 180.0)


def test_a_grant_never_outlives_a_day() -> None:
    grants = ReconnectGrants()
    token = grants.issue("u", "s", now=0.0)
    assert not grants.take(token, "u", GRANT_MAX_S + 1, 180.0)


def test_a_deliberate_end_revokes_grants() -> None:
    grants = ReconnectGrants()
    by_session = grants.issue("u", "s", now=0.0)
    by_user = grants.issue("u", "t", now=0.0)
    grants.revoke_session("s")
    assert not grants.take(by_session, "u", 1.0, 180.0)
    grants.revoke_user("u")
    assert not grants.take(by_user, "u", 1.0, 180.0)
