"""A real axt-control-plane on port 0 for the SDK tests, plus a lab agent registered through
the internal API (the way the gateway registers one), so sessions have an instance to target."""

import json
import os
import re
import subprocess
import tempfile
import threading
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BINARY = Path(os.environ.get("AXT_CONTROL_PLANE_BIN", ROOT / "target" / "debug" / "axt-control-plane"))
KEY_ID = "LTAIsdkTestKey0000000001"
SECRET = "sdk-test-secret-not-for-production"
INTERNAL_TOKEN = "sdk-test-internal-token"
REGION = "cn-hangzhou"


class Plane:
    """A running control plane: its address and helpers that play the gateway's part."""

    def __init__(self, addr: str):
        self.addr = addr

    def internal(self, path: str, body: dict) -> dict:
        req = urllib.request.Request(
            f"http://{self.addr}/internal/v1{path}",
            data=json.dumps(body).encode(),
            headers={"authorization": f"Bearer {INTERNAL_TOKEN}", "content-type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(req, timeout=10) as resp:
            return json.loads(resp.read())

    def register_agent(self, activation_id: str, code: str, claim: str | None, version: str = "2.4.3.100") -> str:
        """Registers an agent as the gateway would for axt-agent, then heart-beats once through a
        gateway that holds its kick channel. Every field of the internal contract is present."""
        reg = self.internal("/agents/register", {
            "activationId": activation_id, "activationCode": code,
            "publicKey": "-----BEGIN PUBLIC KEY-----\n", "machineId": "m-sdk", "regionId": REGION,
            "instanceName": "", "hostname": "sdk-host", "intranetIp": "", "osType": "linux",
            "osVersion": "", "agentVersion": version, "claimInstanceId": claim,
            "sourceIp": "127.0.0.1",
        })
        self.internal("/agents/heartbeat", {
            "instanceId": reg["instanceId"], "agentVersion": version,
            "gatewayId": "gw-sdk", "gatewayBoot": "boot-sdk", "kickLink": 1,
        })
        return reg["instanceId"]


@pytest.fixture
def plane():
    """One control plane per test, in its own data directory, ended by its own pid."""
    with tempfile.TemporaryDirectory() as data_dir:
        env = dict(os.environ, RUST_LOG="info", AXT_ADMIN_ACCESS_KEY_ID=KEY_ID, AXT_ADMIN_ACCESS_KEY_SECRET=SECRET)
        for proxy in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
            env.pop(proxy, None)
        proc = subprocess.Popen(
            [str(BINARY), "--listen", "127.0.0.1:0", "--data-dir", data_dir,
             "--gateway-url", "wss://127.0.0.1:8443", "--internal-token", INTERNAL_TOKEN],
            env=env, stderr=subprocess.PIPE, text=True,
        )
        found = threading.Event()
        addr = []

        def read_log():
            for line in proc.stderr:
                m = re.search(r"addr=(\S+)", line)
                if m and not addr:
                    addr.append(m.group(1))
                    found.set()

        threading.Thread(target=read_log, daemon=True).start()
        try:
            assert found.wait(timeout=30), "axt-control-plane did not start"
            yield Plane(addr[0])
        finally:
            proc.kill()
            proc.wait(timeout=10)
