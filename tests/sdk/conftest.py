"""A real axt-control-plane on port 0 for the SDK tests, plus a lab agent registered through
the internal API (the way the gateway registers one), so sessions have an instance to target;
and, for the SDKs left without an endpoint, the same plane on HTTPS behind `axt proxy`."""

import json
import os
import re
import subprocess
import tempfile
import threading
import time
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BINARY = Path(os.environ.get("AXT_CONTROL_PLANE_BIN", ROOT / "target" / "debug" / "axt-control-plane"))
AXT = Path(os.environ.get("AXT_BIN", ROOT / "target" / "debug" / "axt"))
KEY_ID = "LTAIsdkTestKey0000000001"
SECRET = "sdk-test-secret-not-for-production"
INTERNAL_TOKEN = "sdk-test-internal-token"
REGION = "cn-hangzhou"
START_TIMEOUT = 30
PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "all_proxy", "no_proxy")

# Straight to the plane's internal API on loopback, whatever proxy a test has set for the SDKs.
DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))


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
        with DIRECT.open(req, timeout=10) as resp:
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


class Log:
    """A child's stderr, read line by line on a thread (so the child never blocks on a full
    pipe) and kept, so that a test may wait for a line or look back at all of them."""

    def __init__(self, stream):
        self.lines: list[str] = []
        self.ended = False
        self._changed = threading.Condition()
        threading.Thread(target=self._read, args=(stream,), daemon=True).start()

    def _read(self, stream):
        for line in stream:
            with self._changed:
                self.lines.append(line)
                self._changed.notify_all()
        with self._changed:
            self.ended = True
            self._changed.notify_all()

    def wait_for(self, pattern: str, timeout: float = START_TIMEOUT) -> re.Match | None:
        """The first line matching `pattern`, waiting for it at most `timeout` seconds; None if
        the stream ended or the time ran out first."""
        deadline = time.monotonic() + timeout
        seen = 0
        with self._changed:
            while True:
                for line in self.lines[seen:]:
                    if m := re.search(pattern, line):
                        return m
                seen = len(self.lines)
                left = deadline - time.monotonic()
                if self.ended or left <= 0:
                    return None
                self._changed.wait(left)

    def wait_ended(self, timeout: float) -> bool:
        with self._changed:
            return self._changed.wait_for(lambda: self.ended, timeout)

    def text(self) -> str:
        with self._changed:
            return "".join(self.lines)


def clean_env(**extra) -> dict:
    """The environment of a child: ours without any proxy (the children talk to loopback)."""
    env = dict(os.environ, **extra)
    for name in PROXY_VARIABLES:
        env.pop(name, None)
    return env


@contextmanager
def running(argv: list[str], env: dict):
    """A child with its stderr as a Log, ended by its own pid when the block ends."""
    proc = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    try:
        yield proc, Log(proc.stderr)
    finally:
        proc.kill()
        proc.wait(timeout=10)
        proc.stderr.close()


@contextmanager
def control_plane(data_dir: str, *extra: str):
    """A control plane in `data_dir` with the admin key and internal token of these tests,
    once it logged the address of its plain listener."""
    env = clean_env(RUST_LOG="info", AXT_ADMIN_ACCESS_KEY_ID=KEY_ID, AXT_ADMIN_ACCESS_KEY_SECRET=SECRET)
    argv = [str(BINARY), "--listen", "127.0.0.1:0", "--data-dir", data_dir,
            "--gateway-url", "wss://127.0.0.1:8443", "--internal-token", INTERNAL_TOKEN, *extra]
    with running(argv, env) as (_, log):
        # `listening addr=`: the plain listener (the HTTPS one logs `listening (HTTPS) addr=`).
        m = log.wait_for(r"listening addr=(\S+)")
        assert m, f"axt-control-plane did not start; its log:\n{log.text()}"
        yield Plane(m.group(1))


@pytest.fixture
def plane():
    """One control plane per test, in its own data directory, ended by its own pid."""
    with tempfile.TemporaryDirectory() as data_dir, control_plane(data_dir) as p:
        yield p


@dataclass
class LabNames:
    """The lab as the SDKs find it with no endpoint: a CONNECT proxy to set as HTTPS_PROXY,
    the lab CA that signed the plane's certificate for the public names, the admin AccessKey,
    and the plane itself (its plain listener, for the lab's own view and its internal API)."""

    proxy: str
    ca: str
    key_id: str
    secret: str
    plane: Plane
    proxy_log: Log

    def refusals(self) -> list[str]:
        """The proxy's refusals so far: a CONNECT off the allow-list, or anything but CONNECT."""
        return [line for line in self.proxy_log.lines if "refused" in line]


@pytest.fixture
def lab_names():
    """A control plane also serving HTTPS on port 0 with a certificate from a fresh lab CA for
    the public endpoint names of cn-hangzhou, and `axt proxy` on port 0 taking those names
    (port 443) there and refusing everything else. Nothing here sets a proxy for the session:
    tests set HTTPS_PROXY themselves, inside the test. When the test is over, the proxy must
    have refused nothing: every name an SDK resolved by itself was one of the lab's."""
    with tempfile.TemporaryDirectory() as tmp:
        data_dir, ca_dir, addr_file = (os.path.join(tmp, n) for n in ("data", "ca", "proxy-addr"))
        os.mkdir(data_dir)
        with control_plane(data_dir, "--https-listen", "127.0.0.1:0", "--ca-dir", ca_dir) as p:
            # Written when the HTTPS listener is bound, before the plain one logs its address.
            https_addr = Path(data_dir, "https-addr").read_text().strip()
            # debug: the proxy logs how every connection ended, refusals included.
            env = clean_env(RUST_LOG="warn,axt_cli::proxy=debug")
            argv = [str(AXT), "proxy", "--listen", "127.0.0.1:0", "--regions", REGION,
                    "--api", https_addr, "--addr-file", addr_file]
            with running(argv, env) as (proxy, log):
                # The address file is written before the proxy prints its first line.
                assert log.wait_for(r"listening on"), f"axt proxy did not start; its log:\n{log.text()}"
                lab = LabNames(f"http://{Path(addr_file).read_text().strip()}", os.path.join(ca_dir, "ca.pem"),
                               KEY_ID, SECRET, p, log)
                yield lab
                # Ended by SIGTERM, its log read to the end, so no refusal is missed.
                proxy.terminate()
                proxy.wait(timeout=10)
                assert log.wait_ended(10), "axt proxy's log did not end"
                assert lab.refusals() == [], f"the proxy refused a name: {log.text()}"
