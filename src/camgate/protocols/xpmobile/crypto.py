"""The session crypto of the XProtect Mobile protocol: a Diffie-Hellman exchange at Connect,
whose shared secret keys the AES-256-CBC encryption of the LogIn credentials.

Pure functions; ``pow()`` for the exchange, ``cryptography`` for AES. The wire conventions
(docs/ref/xpmobile.md, "Session crypto"):

- Public keys travel as base64 of the integer's **little-endian** bytes followed by one
  ``0x00`` byte (the sign byte of a .NET ``BigInteger``); a reader ignores it.
- The shared secret S as little-endian bytes L (minimal length): IV = L[0:16], key = L[16:48].
- Padding: PKCS7, or ISO 10126 (random bytes, then the count), which is undone by the last
  byte alone, since the bytes before it are random.
- CHAP: the answer to a challenge is base64(SHA-512(UPPER(challenge + hex(L)))), hex(L) the
  lower-case hex of the whole of L.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from enum import StrEnum

from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes


def _hex(words: str) -> int:
    return int("".join(words.split()), 16)


#: The 1024-bit prime that Milestone's protocol documentation gives for ``PrimeLength=1024``
#: (mobile_logon.html; the server's default). It is the modulus p of the 1024-bit DSA
#: parameters that the JDK has long shipped as its defaults.
PRIME_1024 = _hex(
    """
    F488FD58 4E49DBCD 20B49DE4 9107366B 336C380D 451D0F7C 88B31C7C 5B2D8EF6
    F3C923C0 43F0A55B 188D8EBB 558CB85D 38D334FD 7C175743 A31D186C DE33212C
    B52AFF3C E1B12940 18118D7C 84A70A72 D686C403 19C80729 7ACA950C D9969FAB
    D00A509B 0246D308 3D66A45D 419F9C7C BD894B22 1926BAAB A25EC355 E92F78C7
    """
)
#: RFC 5114 section 2.3: the 2048-bit MODP group with a 256-bit prime order subgroup, its p
#: (the web client library's choice, ``PrimeLength=2048``).
PRIME_2048 = _hex(
    """
    87A8E61D B4B6663C FFBBD19C 65195999 8CEEF608 660DD0F2 5D2CEED4 435E3B00
    E00DF8F1 D61957D4 FAF7DF45 61B2AA30 16C3D911 34096FAA 3BF4296D 830E9A7C
    209E0C64 97517ABD 5A8A9D30 6BCF67ED 91F9E672 5B4758C0 22E0B1EF 4275BF7B
    6C5BFC11 D45F9088 B941F54E B1E59BB8 BC39A0BF 12307F5C 4FDB70C5 81B23F76
    B63ACAE1 CAA6B790 2D525267 35488A0E F13C6D9A 51BFA4AB 3AD83477 96524D8E
    F6A167B5 A41825D9 67E144E5 14056425 1CCACB83 E6B486F6 B3CA3F79 71506026
    C0B857F6 89962856 DED4010A BD0BE621 C3A3960A 54E710C3 75F26375 D7014103
    A4B54330 C198AF12 6116D227 6E11715F 693877FA D7EF09CA DB094AE9 1E1A1597
    """
)
PRIMES = {1024: PRIME_1024, 2048: PRIME_2048}
#: The protocol's generator, with either prime.
GENERATOR = 2
#: Bits of the server's secret exponent (the clients use as many).
SECRET_BITS = 160
#: IV and AES-256 key: the first 48 bytes of the shared secret.
_IV_BYTES = 16
_KEY_BYTES = 32
_BLOCK = 16


class CryptoError(ValueError):
    """A key, ciphertext or padding that does not fit the protocol."""


class Padding(StrEnum):
    """``EncryptionPadding`` of Connect (the clients send it upper-case)."""

    PKCS7 = "PKCS7"
    ISO10126 = "ISO10126"


def encode_public_key(value: int) -> str:
    """Base64 of ``value``'s little-endian bytes and a ``0x00`` sign byte."""
    raw = value.to_bytes(max(1, (value.bit_length() + 7) // 8), "little")
    return base64.b64encode(raw + b"\x00").decode("ascii")


def decode_public_key(text: str, prime: int) -> int:
    """A peer's public key, checked to be a usable element of the group (not 0, 1 or p-1)."""
    try:
        raw = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError) as error:
        raise CryptoError("the public key is not base64") from error
    # The key's bytes, a sign byte, and nothing more.
    if not raw or len(raw) > (prime.bit_length() + 7) // 8 + 1:
        raise CryptoError("the public key does not fit the prime")
    value = int.from_bytes(raw, "little")
    if not 2 <= value <= prime - 2:
        raise CryptoError("the public key is not in the group")
    return value


@dataclass(frozen=True, slots=True)
class KeyPair:
    """One side of the exchange: its secret exponent and the public key it sends."""

    prime: int
    secret: int
    public: int

    @classmethod
    def generate(cls, prime_bits: int) -> KeyPair:
        prime = PRIMES.get(prime_bits)
        if prime is None:
            raise CryptoError(f"no {prime_bits}-bit prime; 1024 or 2048")
        secret = 0
        while secret < 2:
            secret = secrets.randbits(SECRET_BITS)
        return cls(prime, secret, pow(GENERATOR, secret, prime))

    def shared_secret(self, peer_public: int) -> int:
        return pow(peer_public, self.secret, self.prime)


@dataclass(frozen=True, slots=True)
class SessionKey:
    """What the shared secret keys: the IV and the AES-256 key of the credentials, and the
    answers to CHAP challenges (``shared``: the whole of L)."""

    iv: bytes
    key: bytes
    shared: bytes

    def __repr__(self) -> str:
        return "SessionKey(***)"


def session_key(shared_secret: int) -> SessionKey:
    """IV = L[0:16], key = L[16:48] of the shared secret's minimal little-endian bytes L."""
    raw = shared_secret.to_bytes((shared_secret.bit_length() + 7) // 8, "little")
    if len(raw) < _IV_BYTES + _KEY_BYTES:
        # A secret this small happens with a chance of about 2^-640 for honest peers.
        raise CryptoError("the shared secret is too short")
    return SessionKey(raw[:_IV_BYTES], raw[_IV_BYTES : _IV_BYTES + _KEY_BYTES], raw)


def challenge_answer(challenge: str, key: SessionKey) -> str:
    """``ChalAnswer``: what only the two ends of the exchange can make from a challenge."""
    text = (challenge + key.shared.hex()).upper()
    return base64.b64encode(hashlib.sha512(text.encode("ascii")).digest()).decode("ascii")


def answer_is_right(challenge: str, answer: str, key: SessionKey) -> bool:
    """Whether ``answer`` is ``challenge``'s, compared in constant time."""
    return hmac.compare_digest(challenge_answer(challenge, key), answer.strip())


def unpad_iso10126(data: bytes) -> bytes:
    """ISO 10126: the last byte counts the padding; the bytes before it are random."""
    if not data or len(data) % _BLOCK:
        raise CryptoError("the plaintext is not whole blocks")
    count = data[-1]
    if not 1 <= count <= _BLOCK:
        raise CryptoError("bad padding")
    return data[:-count]


def unpad_pkcs7(data: bytes) -> bytes:
    unpadder = padding.PKCS7(_BLOCK * 8).unpadder()
    try:
        return unpadder.update(data) + unpadder.finalize()
    except ValueError as error:
        raise CryptoError("bad padding") from error


def decrypt_text(ciphertext: str, key: SessionKey, scheme: Padding) -> str:
    """A credential the client encrypted: base64 AES-256-CBC ciphertext of UTF-8 text."""
    try:
        data = base64.b64decode(ciphertext.strip(), validate=True)
    except (binascii.Error, ValueError) as error:
        raise CryptoError("the ciphertext is not base64") from error
    if not data or len(data) % _BLOCK:
        raise CryptoError("the ciphertext is not whole AES blocks")
    decryptor = Cipher(algorithms.AES(key.key), modes.CBC(key.iv)).decryptor()
    plain = decryptor.update(data) + decryptor.finalize()
    unpadded = unpad_pkcs7(plain) if scheme is Padding.PKCS7 else unpad_iso10126(plain)
    try:
        return unpadded.decode("utf-8")
    except UnicodeDecodeError as error:
        raise CryptoError("the plaintext is not UTF-8") from error
