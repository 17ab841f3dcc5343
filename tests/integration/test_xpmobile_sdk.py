"""Optional: the protocol's reference client library (Milestone's ``mipsdkmobile-web``, MIT)
against a running camgate. Skipped unless ``XPMOBILE_SDK_DIR`` names a checkout of it and Node
is installed; nothing of the library is part of camgate (this test reads it from that folder).

For now its own session crypto: its Diffie-Hellman (``Lib/security/DiffieHellman.js`` with its
BigInt and CryptoJS files) makes the client key and encrypts the credentials, with both primes
and both paddings, and camgate logs the user in. The sample pages in headless Chromium follow
with live streaming (a later step of issue 7)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import OPERATOR
from tests.support.server import RunningServer
from tests.support.xpmobile_client import XpMobileClient

SDK_DIR = os.environ.get("XPMOBILE_SDK_DIR", "")
SECURITY = Path(SDK_DIR) / "Lib" / "security"
SECURITY_FILES = ("BigInt.js", "Base64.js", "AES.js", "ISO10126.js", "DiffieHellman.js")

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
