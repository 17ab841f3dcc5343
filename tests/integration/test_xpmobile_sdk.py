"""Optional: the protocol's reference client library (Milestone's ``mipsdkmobile-web``, MIT)
against a running camgate. Skipped unless ``XPMOBILE_SDK_DIR`` names a checkout of it and Node
is installed; nothing of the library is part of camgate (this test reads it from that folder).

For now its own session crypto: its Diffie-Hellman (``Lib/security/DiffieHellman.js`` with its
BigInt and CryptoJS files) makes the client key and encrypts the credentials, with both primes
and both paddings, and camgate logs the user in; its frame parsers (``ItemHeaderParser.js``,
``VideoHeaderParser.js``) read the video channel's frames as camgate writes them. The sample
pages in headless Chromium follow with live streaming (a later step of issue 7)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from camgate.protocols.xpmobile.frames import (
    Events,
    Frame,
    LiveEvent,
    SizeInfo,
    StreamInfo,
    encode,
)
from tests.conftest import OPERATOR
from tests.support.server import RunningServer
from tests.support.xpmobile_client import XpMobileClient

SDK_DIR = os.environ.get("XPMOBILE_SDK_DIR", "")
SECURITY = Path(SDK_DIR) / "Lib" / "security"
SECURITY_FILES = ("BigInt.js", "Base64.js", "AES.js", "ISO10126.js", "DiffieHellman.js")
PARSER_FILES = ("ItemHeaderParser.js", "VideoHeaderParser.js")

#: Runs the library's files in a Node sandbox with the few globals they expect; prints the
#: client's public key, reads the server's, prints the encrypted user name and password.
HARNESS = r"""
const fs = require("fs"), vm = require("vm"), readline = require("readline");
const [folder, bits, padding] = process.argv.slice(-3);
const sandbox = { window: { Uint8Array }, XPMobileSDK: { library: {} },
                  XPMobileSDKSettings: { primeLength: Number(bits),
                                         defaultEncryptionPadding: padding } };
vm.createContext(sandbox);
for (const name of %FILES%)
  vm.runInContext(fs.readFileSync(folder + "/" + name, "utf8"), sandbox, { filename: name });
vm.runInContext("var dh = new XPMobileSDK.library.DiffieHellman();", sandbox);
console.log(JSON.stringify({ publicKey: vm.runInContext("dh.createPublicKey()", sandbox) }));
const lines = readline.createInterface({ input: process.stdin });
lines.once("line", (line) => {
  Object.assign(sandbox, JSON.parse(line));
  const out = vm.runInContext(
    "dh.setServerPublicKey(serverKey); [dh.encodeString(username), dh.encodeString(password)]",
    sandbox);
  console.log(JSON.stringify({ username: out[0], password: out[1] }));
  lines.close();
});
""".replace("%FILES%", json.dumps(SECURITY_FILES))


def _missing() -> str:
    """Why the test cannot run here ("" when it can)."""
    if not SDK_DIR:
        return "XPMOBILE_SDK_DIR does not name the reference client library"
    if not all((SECURITY / name).is_file() for name in SECURITY_FILES):
        return f"no Lib/security/{{{','.join(SECURITY_FILES)}}} in {SDK_DIR}"
    if not all((Path(SDK_DIR) / "Lib" / name).is_file() for name in PARSER_FILES):
        return f"no Lib/{{{','.join(PARSER_FILES)}}} in {SDK_DIR}"
    if shutil.which("node") is None:
        return "Node is not installed"
    return ""


# Decided before the server starts: a skip costs nothing.
pytestmark = pytest.mark.skipif(bool(_missing()), reason=_missing() or "runs")


@pytest.mark.parametrize(
    ("bits", "padding"), [(2048, "Iso10126"), (1024, "Iso10126"), (2048, "Pkcs7"), (1024, "Pkcs7")]
)
def test_the_reference_library_logs_in(server: RunningServer, bits: int, padding: str) -> None:
    with subprocess.Popen(
        ["node", "-e", HARNESS, str(SECURITY), str(bits), padding],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    ) as node:
        assert node.stdin is not None and node.stdout is not None
        client_key = json.loads(node.stdout.readline())["publicKey"]
        with XpMobileClient(server.base_url, prime_bits=bits, padding=padding.upper()) as client:
            connected = client.connect(PublicKey=client_key)
            assert connected.ok, connected
            secrets = {
                "serverKey": connected.param("PublicKey"),
                "username": OPERATOR[0],
                "password": OPERATOR[1],
            }
            node.stdin.write(json.dumps(secrets) + "\n")
            node.stdin.flush()
            encrypted = json.loads(node.stdout.readline())
            logged_in = client.command(
                "LogIn",
                Username=encrypted["username"],
                Password=encrypted["password"],
                LoginType="Basic",
            )
            assert logged_in.ok, logged_in
            assert logged_in.param("Username") == OPERATOR[0]
    assert node.returncode == 0


#: Runs the library's frame parsers on a frame given in hexadecimal; prints what the parsed
#: frame holds.
PARSER_HARNESS = r"""
const fs = require("fs"), vm = require("vm");
const [folder, hex] = process.argv.slice(-2);
const sandbox = { XPMobileSDK: { library: {} }, Blob };
vm.createContext(sandbox);
for (const name of %FILES%)
  vm.runInContext(fs.readFileSync(folder + "/" + name, "utf8"), sandbox, { filename: name });
const bytes = Buffer.from(hex, "hex");
sandbox.data = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length);
const f = vm.runInContext("new XPMobileSDK.library.VideoHeaderParser(data)", sandbox);
console.log(JSON.stringify({
  uuid: f.uuid, timestamp: f.timestamp.getTime(), frameNumber: f.frameNumber,
  dataSize: f.dataSize, headerSize: f.headerSize, sizeInfo: f.sizeInfo,
  live: [f.currentLiveEvents, f.changedLiveEvents], stream: f.stream, type: f.type,
  data: Buffer.from(f.data).toString("hex") }));
""".replace("%FILES%", json.dumps(PARSER_FILES))


def test_the_reference_library_parses_camgates_frames() -> None:
    video_id = "6f9619ff-8b86-d011-b42d-00c04fc964ff"
    frame = Frame(
        video_id,
        1_700_000_000_123,
        42,
        b"\xff\xd8 a picture \xff\xd9",
        size=SizeInfo(1920, 1080, (480, 270, 1440, 810), 640, 360, 1_500_000),
        live_events=Events(LiveEvent.LIVE_FEED, LiveEvent.LIVE_FEED),
        stream_info=StreamInfo("JPEG", key_frame=True, profile=100, level=40),
    )
    node = subprocess.run(
        ["node", "-e", PARSER_HARNESS, str(Path(SDK_DIR) / "Lib"), encode(frame).hex()],
        capture_output=True,
        text=True,
        check=True,
    )
    parsed = json.loads(node.stdout)
    assert parsed["uuid"] == video_id
    assert (parsed["timestamp"], parsed["frameNumber"]) == (1_700_000_000_123, 42)
    assert parsed["headerSize"] == 36 + 48 + 8 + 52 and parsed["dataSize"] == 15
    size = parsed["sizeInfo"]
    assert size["sourceSize"] == {"width": 1920, "height": 1080}
    assert size["sourceCrop"] == {
        "left": 480,
        "top": 270,
        "right": 1440,
        "bottom": 810,
        "width": 960,
        "height": 540,
    }
    assert size["destinationSize"]["width"] == 640 and size["destinationSize"]["height"] == 360
    assert size["destinationSize"]["resampling"] == 1_500_000
    assert parsed["live"] == [1, 1]
    stream = parsed["stream"]
    assert stream["dataType"] == "JPEG" and stream["hasKeyFrame"] is True
    assert (stream["headerSize"], stream["profile"], stream["level"]) == (52, 100, 40)
    assert parsed["type"] == 1  # ItemHeaderParser.Type.Frame: shown as a JPEG
    assert bytes.fromhex(parsed["data"]) == frame.payload
