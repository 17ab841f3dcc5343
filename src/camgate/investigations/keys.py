"""The keys an investigations folder is used with: its data key, unwrapped with the server's
own key (so that the server works unattended), and the server's signing key."""

from __future__ import annotations

import base64
import threading
from pathlib import Path

from camgate.core.secrets import ServerKey
from camgate.investigations import protection
from camgate.investigations.signing import SigningKey

_CONTEXT = "investigations/data-key"
SIGNING_KEY_FILE = "signing.key"


class NoKeyring(Exception):
    """The folder has no data protection keyring yet (no password set, nor turned off)."""


class ServerSealer:
    """Seals the data key with the server's own key: the copy the running server unwraps."""

    def __init__(self, key: ServerKey) -> None:
        self._key = key

    def seal(self, secret: bytes) -> str:
        return self._key.seal(base64.b64encode(secret).decode(), context=_CONTEXT)

    def unseal(self, sealed: str) -> bytes:
        return base64.b64decode(self._key.unseal(sealed, context=_CONTEXT))


class DataKeys:
    def __init__(self, key: ServerKey, data_dir: Path) -> None:
        self.sealer = ServerSealer(key)
        self.signer = SigningKey.load_or_create(data_dir / SIGNING_KEY_FILE)
        self._lock = threading.Lock()
        self._cache: dict[Path, bytes] = {}

    def data_key(self, folder: Path) -> bytes:
        """The folder's data key (blocking: reads the keyring the first time)."""
        with self._lock:
            found = self._cache.get(folder)
            if found is None:
                if protection.state(folder) is None:
                    raise NoKeyring(str(folder))
                found = self._cache[folder] = protection.data_key(folder, self.sealer)
            return found
