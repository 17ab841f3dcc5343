"""The server's own key: seals stored secrets and signs short-lived media tokens."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

_KEY_BYTES = 32
_NONCE_BYTES = 12


class ServerKey:
    """A 256-bit key kept in the data folder with owner-only permissions."""

    def __init__(self, key: bytes) -> None:
        if len(key) != _KEY_BYTES:
            raise ValueError("server key must be 32 bytes")
        self._seal_key = hashlib.sha256(b"camgate-seal\0" + key).digest()
        self._sign_key = hashlib.sha256(b"camgate-sign\0" + key).digest()

    @classmethod
    def load_or_create(cls, path: Path) -> ServerKey:
        if path.exists():
            return cls(path.read_bytes())
        key = secrets.token_bytes(_KEY_BYTES)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(key)
        return cls(key)

    def seal(self, plaintext: str, *, context: str) -> str:
        """Encrypt a secret for storage; ``context`` binds it to where it is stored."""
        nonce = secrets.token_bytes(_NONCE_BYTES)
        sealed = AESGCM(self._seal_key).encrypt(nonce, plaintext.encode(), context.encode())
        return base64.urlsafe_b64encode(nonce + sealed).decode()

    def unseal(self, token: str, *, context: str) -> str:
        raw = base64.urlsafe_b64decode(token.encode())
        nonce, sealed = raw[:_NONCE_BYTES], raw[_NONCE_BYTES:]
        return AESGCM(self._seal_key).decrypt(nonce, sealed, context.encode()).decode()

    def sign(self, message: bytes) -> bytes:
        return hmac.new(self._sign_key, message, hashlib.sha256).digest()

    def verify(self, message: bytes, signature: bytes) -> bool:
        return hmac.compare_digest(self.sign(message), signature)
