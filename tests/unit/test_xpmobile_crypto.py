"""The XProtect Mobile session crypto: a client written here from the protocol notes (§2.1)
agrees with camgate on the key, with both primes; credentials it encrypts with either padding
come out as they went in."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import secrets

import pytest
from cryptography.hazmat.primitives import padding as paddings
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from camgate.protocols.xpmobile.crypto import (
    GENERATOR,
    PRIMES,
    CryptoError,
    KeyPair,
    Padding,
    SessionKey,
    decode_public_key,
    decrypt_text,
    encode_public_key,
    session_key,
    unpad_iso10126,
)

#: SHA-256 of each prime's upper-case hex, taken once the values were checked against the
#: protocol's documentation and its reference client: a slip in the constants fails here.
PRIME_DIGESTS = {
    1024: "7d25474e82f5b4ee76852e6ec207192e21cb4042879976cf6814bd03fe6a9643",
    2048: "f98e9e966a54acc8b6e3624b48ef140d6403e114a9b8893916e7183d4fca0969",
}


def _probably_prime(n: int, rounds: int = 20) -> bool:
    """Miller-Rabin."""
    if n % 2 == 0:
        return False
    d, r = n - 1, 0
    while d % 2 == 0:
        d //= 2
        r += 1
    for _ in range(rounds):
        x = pow(secrets.randbelow(n - 3) + 2, d, n)
        if x in (1, n - 1):
            continue
        for _ in range(r - 1):
            x = pow(x, 2, n)
            if x == n - 1:
                break
        else:
            return False
    return True


@pytest.mark.parametrize("bits", [1024, 2048])
def test_the_primes_are_the_documented_ones(bits: int) -> None:
    prime = PRIMES[bits]
    assert prime.bit_length() == bits
    assert _probably_prime(prime)
    digest = hashlib.sha256(f"{prime:X}".encode()).hexdigest()
    assert digest == PRIME_DIGESTS[bits]


def _client_key(public: int) -> str:
    """The notes: little-endian bytes, then one 0x00 sign byte, in base64."""
    return base64.b64encode(
        public.to_bytes((public.bit_length() + 7) // 8, "little") + b"\0"
    ).decode()


@pytest.mark.parametrize("bits", [1024, 2048])
def test_a_client_from_the_notes_agrees_on_the_key(bits: int) -> None:
    prime = PRIMES[bits]
    client_secret = secrets.randbits(160)
    client_public = pow(2, client_secret, prime)

    server = KeyPair.generate(bits)
    assert server.secret.bit_length() <= 160 and server.public == pow(
        GENERATOR, server.secret, prime
    )
    shared = server.shared_secret(decode_public_key(_client_key(client_public), prime))

    sent = base64.b64decode(encode_public_key(server.public))
    assert sent[-1] == 0 and len(sent) <= bits // 8 + 1
    client_shared = pow(int.from_bytes(sent, "little"), client_secret, prime)
    assert client_shared == shared
    raw = client_shared.to_bytes((client_shared.bit_length() + 7) // 8, "little")
    key = session_key(shared)
    assert (key.iv, key.key) == (raw[:16], raw[16:48])
    assert len(key.key) == 32 and "iv" not in repr(key)


def test_public_keys_round_trip_and_bad_ones_are_refused() -> None:
    prime = PRIMES[1024]
    for value in (2, 255, 256, prime - 2, secrets.randbelow(prime - 4) + 2):
        assert decode_public_key(encode_public_key(value), prime) == value
    for bad in (0, 1, prime - 1, prime, prime + 5):
        with pytest.raises(CryptoError):
            decode_public_key(encode_public_key(bad), prime)
    with pytest.raises(CryptoError):
        decode_public_key("not base64!", prime)
    with pytest.raises(CryptoError):
        decode_public_key("", prime)
    too_long = base64.b64encode(b"\x05" * (1024 // 8 + 2)).decode()
    with pytest.raises(CryptoError):
        decode_public_key(too_long, prime)
    with pytest.raises(CryptoError):
        KeyPair.generate(1536)


def _key() -> SessionKey:
    shared = secrets.token_bytes(128)
    return SessionKey(shared[:16], shared[16:48], shared)


def _encrypt(key: SessionKey, padded: bytes) -> str:
    encryptor = Cipher(algorithms.AES(key.key), modes.CBC(key.iv)).encryptor()
    return base64.b64encode(encryptor.update(padded) + encryptor.finalize()).decode()


def _iso10126(data: bytes) -> bytes:
    count = 16 - len(data) % 16
    return data + secrets.token_bytes(count - 1) + bytes([count])


def _pkcs7(data: bytes) -> bytes:
    padder = paddings.PKCS7(128).padder()
    return padder.update(data) + padder.finalize()


@pytest.mark.parametrize("text", ["olivia", "pässwörd ✓", "x" * 16, "y" * 47, "z"])
def test_credentials_round_trip_with_both_paddings(text: str) -> None:
    key = _key()
    data = text.encode()
    assert decrypt_text(_encrypt(key, _pkcs7(data)), key, Padding.PKCS7) == text
    for _ in range(20):  # the random padding bytes differ every time
        assert decrypt_text(_encrypt(key, _iso10126(data)), key, Padding.ISO10126) == text


def test_iso10126_is_undone_by_the_last_byte_only() -> None:
    # Padding bytes that PKCS7 would refuse: only the count matters.
    block = b"secret" + bytes([0, 99, 17, 255, 3, 1, 0, 42, 9]) + bytes([10])
    assert unpad_iso10126(block) == b"secret"
    assert unpad_iso10126(b"A" * 15 + bytes([1])) == b"A" * 15
    assert unpad_iso10126(bytes(range(16, 32)) + bytes([7] * 15 + [16])) == bytes(range(16, 32))
    for last in (0, 17, 255):
        with pytest.raises(CryptoError):
            unpad_iso10126(b"B" * 15 + bytes([last]))
    with pytest.raises(CryptoError):
        unpad_iso10126(b"short")


def test_bad_ciphertexts_are_refused() -> None:
    key = _key()
    with pytest.raises(CryptoError):
        decrypt_text("@@@", key, Padding.PKCS7)
    with pytest.raises(CryptoError):
        decrypt_text(base64.b64encode(b"12345").decode(), key, Padding.PKCS7)
    with pytest.raises(CryptoError):  # PKCS7 checks every padding byte
        decrypt_text(_encrypt(key, b"abc" + bytes([1, 2, 3] + [13] * 10)), key, Padding.PKCS7)
    with pytest.raises(CryptoError):  # not UTF-8
        decrypt_text(_encrypt(key, _iso10126(b"\xff\xfe")), key, Padding.ISO10126)
    other = _key()  # another connection's key: garbage, refused or not the text
    sealed = _encrypt(key, _pkcs7(b"olivia"))
    with contextlib.suppress(CryptoError):
        assert decrypt_text(sealed, other, Padding.PKCS7) != "olivia"


def test_a_tiny_shared_secret_is_refused() -> None:
    with pytest.raises(CryptoError):
        session_key(12345)
