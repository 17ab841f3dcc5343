"""A client of the XProtect Mobile command channel, written from the protocol notes
(../shared/protocol/xprotect-mobile.md §2), not from any vendor code: it does its own
Diffie-Hellman, AES and XML, so that it checks camgate's adapter rather than mirroring it.
Only the two primes (public numbers) come from camgate."""

from __future__ import annotations

import base64
import hashlib
import secrets
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from typing import Any

import httpx
from cryptography.hazmat.primitives import padding as paddings
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from camgate.protocols.xpmobile.crypto import PRIMES

PATH = "/XProtectMobile/Communication"
SEPARATOR = b"\r\n\r\n"
NAMESPACES = (
    'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
    'xmlns:xsd="http://www.w3.org/2001/XMLSchema"'
)
ROOT_FOLDER = "1926418B-893E-4AD6-A258-FB4A9AB57453"
ALL_CAMERAS_VIEW = "bb16cc8f-a2c5-44f8-9d20-6e9ac57806f5"


def split_messages(body: bytes) -> list[bytes]:
    """The messages of an answer body: each ends with ``\\r\\n\\r\\n``."""
    assert body.endswith(SEPARATOR), body[-40:]
    return [part for part in body.split(SEPARATOR) if part]


def _attr(value: str) -> str:
    return (
        value.replace("&", "&amp;")
        .replace('"', "&quot;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace("\n", "&#10;")
    )


def request_xml(
    name: str, sequence_id: int, params: dict[str, Any], connection_id: str | None
) -> bytes:
    """A request as the notes spell it (§2)."""
    lines = []
    for key, value in params.items():
        for one in value if isinstance(value, list) else [value]:
            lines.append(f'<Param Name="{_attr(key)}" Value="{_attr(str(one))}" />')
    connection = f"<ConnectionId>{connection_id}</ConnectionId>" if connection_id else ""
    text = (
        f'<?xml version="1.0" encoding="utf-8"?><Communication {NAMESPACES}>{connection}'
        f'<Command SequenceId="{sequence_id}"><Type>Request</Type><Name>{name}</Name>'
        f"<InputParams>{''.join(lines)}</InputParams></Command></Communication>"
    )
    return text.encode() + SEPARATOR


@dataclass
class Item:
    type: str
    id: str
    name: str
    properties: dict[str, str]
    items: list[Item]


def _items(parent: ET.Element | None) -> list[Item]:
    found = []
    for element in parent if parent is not None else []:
        if element.tag != "Item":
            continue
        properties = element.find("Properties")
        found.append(
            Item(
                element.get("Type", ""),
                element.get("Id", ""),
                element.get("Name", ""),
                dict(properties.attrib) if properties is not None else {},
                _items(element.find("Items")),
            )
        )
    return found


@dataclass
class Answer:
    """The final (Response) message of an answer, and how many messages came before it."""

    kind: str
    name: str
    sequence_id: int
    result: str
    error_code: int
    error_string: str
    params: dict[str, list[str]]
    items: list[Item]
    sub_items: list[Item]
    thumbnail: str | None
    interim: int = 0
    raw: bytes = field(default=b"", repr=False)

    @property
    def ok(self) -> bool:
        return self.result == "OK"

    def param(self, name: str) -> str:
        return self.params[name][0]


def parse_answer(body: bytes) -> Answer:
    messages = split_messages(body)
    interim = 0
    for message in messages[:-1]:
        command = ET.fromstring(message).find("Command")
        assert command is not None and command.findtext("Type") == "Processing", message
        interim += 1
    root = ET.fromstring(messages[-1])
    assert root.tag == "Communication"
    command = root.find("Command")
    assert command is not None
    params: dict[str, list[str]] = {}
    for param in command.iterfind("OutputParams/Param"):
        params.setdefault(param.get("Name", ""), []).append(param.get("Value", ""))
    return Answer(
        kind=command.findtext("Type", ""),
        name=command.findtext("Name", ""),
        sequence_id=int(command.get("SequenceId", "-1")),
        result=command.findtext("Result", ""),
        error_code=int(command.findtext("ErrorCode", "0")),
        error_string=command.findtext("ErrorString", ""),
        params=params,
        items=_items(command.find("Items")),
        sub_items=_items(command.find("SubItems")),
        thumbnail=command.findtext("Thumbnail"),
        interim=interim,
        raw=body,
    )


def _little_endian_key(value: int) -> str:
    """§2.1: base64 of the little-endian bytes plus a 0x00 sign byte."""
    raw = value.to_bytes((value.bit_length() + 7) // 8, "little") + b"\x00"
    return base64.b64encode(raw).decode()


def _iso10126(data: bytes) -> bytes:
    count = 16 - len(data) % 16
    return data + secrets.token_bytes(count - 1) + bytes([count])


def _pkcs7(data: bytes) -> bytes:
    padder = paddings.PKCS7(128).padder()
    return padder.update(data) + padder.finalize()


class XpMobileClient:
    def __init__(
        self,
        base_url: str,
        *,
        prime_bits: int = 2048,
        padding: str = "ISO10126",
        processing_messages: bool = False,
        chap: bool = True,
    ) -> None:
        self.http = httpx.Client(base_url=base_url, timeout=30)
        self.prime_bits = prime_bits
        self.padding = padding
        self.processing_messages = processing_messages
        self.sequence = 0
        self.connection_id: str | None = None
        self._secret = secrets.randbits(160)
        self._prime = PRIMES[prime_bits]
        self._iv = b""
        self._key = b""
        self._shared = b""
        self.connected: dict[str, list[str]] = {}
        #: Whether LogIn asks for challenges (§2.1 CHAP), and those in hand, oldest first.
        self.chap = chap
        self.challenges: list[str] = []

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> XpMobileClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def send(self, body: bytes) -> httpx.Response:
        return self.http.post(PATH, content=body, headers={"Content-Type": "text/xml"})

    def answer_to(self, challenge: str) -> str:
        """§2.1: base64(SHA-512(UPPER(challenge + lower-case hex of the whole L)))."""
        text = (challenge + self._shared.hex()).upper().encode()
        return base64.b64encode(hashlib.sha512(text).digest()).decode()

    def _signed(self, name: str, params: dict[str, Any]) -> dict[str, Any]:
        """``params`` with a challenge and its answer, when the client holds challenges (and
        100 new ones asked for first when it is down to its last)."""
        if not self.challenges or "Challenge" in params:
            return params
        if len(self.challenges) == 1 and name != "RequestChallenges":
            # As the library does when it runs low: the server forgets any it still holds.
            refill = self.command("RequestChallenges", NumChallenges=100, Reset="Yes")
            assert refill.ok, refill
        challenge = self.challenges.pop(0)
        return {**params, "Challenge": challenge, "ChalAnswer": self.answer_to(challenge)}

    def command(self, name: str, **params: Any) -> Answer:
        params = self._signed(name, params)
        self.sequence += 1
        response = self.send(request_xml(name, self.sequence, params, self.connection_id))
        assert response.status_code == 200, response.text
        assert response.text.startswith("<?xml"), response.text[:80]
        answer = parse_answer(response.content)
        assert answer.kind == "Response" and answer.name == name
        assert answer.sequence_id == self.sequence
        if answer.ok:
            self.challenges += answer.params.get("Challenge", [])
        return answer

    def connect(self, **extra: Any) -> Answer:
        public = pow(2, self._secret, self._prime)
        params = {
            "PublicKey": _little_endian_key(public),
            "PrimeLength": self.prime_bits,
            "EncryptionPadding": self.padding,
            "ProcessingMessage": "Yes" if self.processing_messages else "No",
            **extra,
        }
        answer = self.command("Connect", **params)
        if answer.ok:
            self.connection_id = answer.param("ConnectionId")
            self.connected = answer.params
            server = int.from_bytes(base64.b64decode(answer.param("PublicKey")), "little")
            shared = pow(server, self._secret, self._prime)
            raw = shared.to_bytes((shared.bit_length() + 7) // 8, "little")
            self._iv, self._key, self._shared = raw[:16], raw[16:48], raw
        return answer

    def encrypt(self, text: str) -> str:
        data = text.encode()
        padded = _iso10126(data) if self.padding == "ISO10126" else _pkcs7(data)
        encryptor = Cipher(algorithms.AES(self._key), modes.CBC(self._iv)).encryptor()
        return base64.b64encode(encryptor.update(padded) + encryptor.finalize()).decode()

    def log_in(self, username: str, password: str, login_type: str = "Basic") -> Answer:
        return self.command(
            "LogIn",
            Username=self.encrypt(username),
            Password=self.encrypt(password),
            LoginType=login_type,
            ClientType="WebClient",
            SupportsResampling="Yes",
            **({"NumChallenges": 100} if self.chap else {}),
        )

    def session(self, username: str, password: str) -> XpMobileClient:
        """Connected and logged in (asserting both)."""
        connected = self.connect()
        assert connected.ok, connected
        logged_in = self.log_in(username, password)
        assert logged_in.ok, logged_in
        return self
