'use strict';
// A real axt-control-plane on port 0 for the Node SDK tests (the twin of ../conftest.py), plus a
// lab agent registered through the internal API (the way the gateway registers one), so sessions
// have an instance to target. Not a test file: `node --test` picks up only `*.test.js`.

const { spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { $OpenApiUtil } = require('@alicloud/openapi-core');

const ROOT = path.resolve(__dirname, '..', '..', '..');
const BINARY = process.env.AXT_CONTROL_PLANE_BIN || path.join(ROOT, 'target', 'debug', 'axt-control-plane');
const KEY_ID = 'LTAIsdkTestKey0000000001';
const SECRET = 'sdk-test-secret-not-for-production';
const INTERNAL_TOKEN = 'sdk-test-internal-token';
const REGION = 'cn-hangzhou';
const START_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 10_000;

// Signature V3 (ACS3-HMAC-SHA256, the Node Tea default) and V1 (HMAC-SHA1: signatureAlgorithm "v2").
const ALGORITHMS = [['v3', undefined], ['v1', 'v2']];

class Plane {
  constructor(child, addr, dataDir) {
    this.child = child;
    this.addr = addr;
    this.dataDir = dataDir;
  }

  /** A Tea Config for this plane: only the endpoint (and protocol) differ from the real cloud. */
  config({ key = KEY_ID, secret = SECRET, token, algorithm } = {}) {
    const options = { accessKeyId: key, accessKeySecret: secret, regionId: REGION, endpoint: this.addr, protocol: 'http' };
    if (token) options.securityToken = token;
    if (algorithm) options.signatureAlgorithm = algorithm;
    return new $OpenApiUtil.Config(options);
  }

  async internal(pathname, body) {
    const resp = await fetch(`http://${this.addr}/internal/v1${pathname}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${INTERNAL_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(10_000),
    });
    const text = await resp.text();
    if (!resp.ok) throw new Error(`internal ${pathname}: HTTP ${resp.status}: ${text}`);
    return JSON.parse(text);
  }

  /** Registers an agent as the gateway would for axt-agent, then heart-beats once through a
   * gateway that holds its kick channel. Every field of the internal contract is present. */
  async registerAgent(activationId, code, claim, version = '2.4.3.100') {
    const reg = await this.internal('/agents/register', {
      activationId, activationCode: code,
      publicKey: '-----BEGIN PUBLIC KEY-----\n', machineId: 'm-sdk', regionId: REGION,
      instanceName: '', hostname: 'sdk-host', intranetIp: '', osType: 'linux',
      osVersion: '', agentVersion: version, claimInstanceId: claim ?? null,
      sourceIp: '127.0.0.1',
    });
    await this.internal('/agents/heartbeat', {
      instanceId: reg.instanceId, agentVersion: version,
      gatewayId: 'gw-sdk', gatewayBoot: 'boot-sdk', kickLink: 1,
    });
    return reg.instanceId;
  }

  /** Kills the child this test spawned (by its pid, nothing else) and removes its data dir. */
  async stop() {
    const child = this.child;
    if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      let timer;
      await Promise.race([exited, new Promise((resolve) => { timer = setTimeout(resolve, STOP_TIMEOUT_MS); })]);
      clearTimeout(timer);
    }
    fs.rmSync(this.dataDir, { recursive: true, force: true });
  }
}

/** One control plane for the test `t`, in its own data directory, ended by its own pid when the
 * test ends. Resolves once the plane logged the address it bound (`addr=…`). */
async function startPlane(t) {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'axt-sdk-node-'));
  const env = { ...process.env, RUST_LOG: 'info', AXT_ADMIN_ACCESS_KEY_ID: KEY_ID, AXT_ADMIN_ACCESS_KEY_SECRET: SECRET };
  for (const proxy of ['HTTP_PROXY', 'HTTPS_PROXY', 'http_proxy', 'https_proxy']) delete env[proxy];
  const child = spawn(BINARY, [
    '--listen', '127.0.0.1:0', '--data-dir', dataDir,
    '--gateway-url', 'wss://127.0.0.1:8443', '--internal-token', INTERNAL_TOKEN,
  ], { env, stdio: ['ignore', 'ignore', 'pipe'] });
  const plane = new Plane(child, null, dataDir);
  t.after(() => plane.stop());

  let log = '';
  child.stderr.setEncoding('utf8');
  plane.addr = await new Promise((resolve, reject) => {
    let done = false;
    const finish = (fn, value) => { if (!done) { done = true; clearTimeout(timer); fn(value); } };
    const timer = setTimeout(
      () => finish(reject, new Error(`axt-control-plane did not start within ${START_TIMEOUT_MS} ms; its log:\n${log}`)),
      START_TIMEOUT_MS);
    child.stderr.on('data', (chunk) => {
      // The log is kept (bounded) for the start-up error; it is drained all along so that the
      // plane never blocks on a full pipe.
      if (done) return;
      log += chunk;
      const complete = log.slice(0, log.lastIndexOf('\n') + 1);
      const m = /addr=(\S+)/.exec(complete);
      if (m) finish(resolve, m[1]);
      else if (log.length > 1 << 20) log = log.slice(-(1 << 16));
    });
    child.once('error', (e) => finish(reject, new Error(`cannot run ${BINARY}: ${e.message}`)));
    child.once('exit', (code, signal) =>
      finish(reject, new Error(`axt-control-plane exited (${code ?? signal}) before listening; its log:\n${log}`)));
  });
  return plane;
}

/** Awaits `promise`, which must reject with the SDK's error of this HTTP status and code. */
async function refused(promise, statusCode, code) {
  let error;
  try {
    await promise;
  } catch (e) {
    error = e;
  }
  if (!error) throw new Error(`expected ${statusCode} ${code}, the call succeeded`);
  if (error.statusCode !== statusCode || error.code !== code) {
    throw new Error(`expected ${statusCode} ${code}, got ${error.statusCode} ${error.code}: ${error.message}`, { cause: error });
  }
  if (!error.requestId || error.data?.RequestId !== error.requestId) {
    throw new Error(`the error carries no RequestId: ${JSON.stringify(error.data)}`);
  }
  return error;
}

module.exports = { ALGORITHMS, KEY_ID, REGION, SECRET, refused, startPlane };
