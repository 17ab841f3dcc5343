"""CHAP of the XProtect Mobile protocol: the answer to a challenge, and the challenges one
connection holds (single use, an hour, bounded)."""

from __future__ import annotations

import pytest

from camgate.protocols.xpmobile.chap import ChallengeError, Challenges
from camgate.protocols.xpmobile.crypto import (
    GENERATOR,
    PRIME_1024,
    SessionKey,
    challenge_answer,
    session_key,
)

#: Two fixed secret exponents, as two ends of an exchange with the 1024-bit prime.
CLIENT_SECRET = 0x1234567890ABCDEF1234567890ABCDEF12345678
SERVER_SECRET = 0x0FEDCBA9876543210FEDCBA9876543210FEDCBA9
CHALLENGE = "3f2504e0-4f89-41d3-9a0c-0305e82c3301"
#: The reference client library's own answer to CHALLENGE with that exchange's secret (its
#: CryptoJS SHA-512 over the upper-cased challenge and the secret's hex, run in Node).
LIBRARY_ANSWER = (
    "Kj9mw8uut7pbP6LnQoMrAJPnWdUDIBO7QgZFhVf1WjS3qLfDllhDsMzuDP6Md5x8hHK7RkJE40pj02C9FuzfEQ=="
)


def _key() -> SessionKey:
    shared = pow(pow(GENERATOR, CLIENT_SECRET, PRIME_1024), SERVER_SECRET, PRIME_1024)
    return session_key(shared)


def test_the_challenge_answer_is_the_reference_clients() -> None:
    key = _key()
    assert challenge_answer(CHALLENGE, key) == LIBRARY_ANSWER
    # Upper-cased before hashing: the challenge's case does not matter.
    assert challenge_answer(CHALLENGE.upper(), key) == LIBRARY_ANSWER
    other = session_key(
        pow(pow(GENERATOR, CLIENT_SECRET + 1, PRIME_1024), SERVER_SECRET, PRIME_1024)
    )
    assert challenge_answer(CHALLENGE, other) != LIBRARY_ANSWER


def test_a_challenge_is_spent_once_with_the_right_answer() -> None:
    key = _key()
    challenges = Challenges()
    issued = challenges.issue(3, now=0.0)
    assert len(set(issued)) == 3 and len(challenges) == 3
    first, second, third = issued
    challenges.spend(first, challenge_answer(first, key), key, now=1.0)
    with pytest.raises(ChallengeError, match="unknown or spent"):
        challenges.spend(first, challenge_answer(first, key), key, now=2.0)
    with pytest.raises(ChallengeError, match="wrong"):
        challenges.spend(second, challenge_answer(third, key), key, now=2.0)
    # A wrong answer spent it too: nobody gets a second guess.
    with pytest.raises(ChallengeError, match="unknown or spent"):
        challenges.spend(second, challenge_answer(second, key), key, now=2.0)
    with pytest.raises(ChallengeError, match="not one of"):
        challenges.spend("not a guid", "x", key, now=2.0)
    challenges.spend(third.upper(), challenge_answer(third, key), key, now=3.0)
    assert len(challenges) == 0


def test_challenges_end_after_an_hour() -> None:
    key = _key()
    challenges = Challenges(ttl_s=3600.0)
    early, late = challenges.issue(1, now=0.0), challenges.issue(1, now=1000.0)
    with pytest.raises(ChallengeError, match="out of date"):
        challenges.spend(early[0], challenge_answer(early[0], key), key, now=3600.0)
    challenges.spend(late[0], challenge_answer(late[0], key), key, now=4599.0)


def test_the_unspent_challenges_are_bounded() -> None:
    challenges = Challenges(limit=150)
    assert len(challenges.issue(100, now=0.0)) == 100
    assert len(challenges.issue(100, now=1.0)) == 50  # as many as there is room for
    assert challenges.issue(1, now=2.0) == []
    # Ended ones make room; a reset forgets the unspent ones.
    assert len(challenges.issue(100, now=3600.5)) == 100
    assert len(challenges.issue(100, now=3601.0, reset=True)) == 100
    assert len(challenges) == 100
