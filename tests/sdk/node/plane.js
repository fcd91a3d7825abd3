'use strict';
// A real axt-control-plane on port 0 for the Node SDK tests (the twin of ../conftest.py), plus a
// lab agent registered through the internal API (the way the gateway registers one), so sessions
// have an instance to target; and, for the SDKs left without an endpoint, the same plane on
// HTTPS behind `axt proxy`. Not a test file: `node --test` picks up only `*.test.js`.

const { spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { $OpenApiUtil } = require('@alicloud/openapi-core');

const ROOT = path.resolve(__dirname, '..', '..', '..');
const BINARY = process.env.AXT_CONTROL_PLANE_BIN || path.join(ROOT, 'target', 'debug', 'axt-control-plane');
const AXT = process.env.AXT_BIN || path.join(ROOT, 'target', 'debug', 'axt');
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
    await this.child.stop();
    fs.rmSync(this.dataDir, { recursive: true, force: true });
  }
}

/** A child of this test: `file` run with `args`, its stderr drained all along (so that it never
 * blocks on a full pipe), kept (bounded) for error messages, and handed line by line to
 * `onLine`. Ended by its own pid, nothing else. */
class Child {
  constructor(file, args, env, onLine = () => {}) {
    this.file = file;
    this.log = '';
    this.process = spawn(file, args, { env, stdio: ['ignore', 'ignore', 'pipe'] });
    this.exited = new Promise((resolve) => this.process.once('close', resolve));
    // Reported by waitFor; this listener only keeps a failed spawn from throwing.
    this.process.on('error', () => {});
    let partial = '';
    this.process.stderr.setEncoding('utf8');
    this.process.stderr.on('data', (chunk) => {
      this.log += chunk;
      if (this.log.length > 1 << 20) this.log = this.log.slice(-(1 << 16));
      const lines = (partial + chunk).split('\n');
      partial = lines.pop();
      for (const line of lines) onLine(line);
    });
  }

  /** Resolves with the first match of `pattern` in a complete line of the log; rejects when
   * the child ends or cannot run first, or after START_TIMEOUT_MS. */
  waitFor(pattern) {
    const name = path.basename(this.file);
    return new Promise((resolve, reject) => {
      let done = false;
      const finish = (fn, value) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        this.process.stderr.removeListener('data', check);
        fn(value);
      };
      const timer = setTimeout(
        () => finish(reject, new Error(`${name} did not start within ${START_TIMEOUT_MS} ms; its log:\n${this.log}`)),
        START_TIMEOUT_MS);
      const check = () => {
        const m = pattern.exec(this.log.slice(0, this.log.lastIndexOf('\n') + 1));
        if (m) finish(resolve, m);
      };
      this.process.stderr.on('data', check);
      this.process.once('error', (e) => finish(reject, new Error(`cannot run ${this.file}: ${e.message}`)));
      this.exited.then((code) => finish(reject, new Error(`${name} exited (${code}) before it was ready; its log:\n${this.log}`)));
      check();
    });
  }

  /** Sends `signal` to the child (by its pid) and waits, bounded, for it to end. */
  async stop(signal = 'SIGKILL') {
    const child = this.process;
    if (child.pid === undefined) return; // never ran
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    let timer;
    await Promise.race([this.exited, new Promise((resolve) => { timer = setTimeout(resolve, STOP_TIMEOUT_MS); })]);
    clearTimeout(timer);
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
}

/** Our environment for a child, without any proxy: the children talk to loopback. */
function childEnv(extra) {
  const env = { ...process.env, ...extra };
  for (const proxy of ['HTTP_PROXY', 'HTTPS_PROXY', 'ALL_PROXY', 'NO_PROXY', 'http_proxy', 'https_proxy', 'all_proxy', 'no_proxy']) {
    delete env[proxy];
  }
  return env;
}

/** One control plane for the test `t`, in its own data directory, ended by its own pid when the
 * test ends, with `extra` arguments. Resolves once the plane logged the address of its plain
 * listener (`listening addr=…`; the HTTPS one logs `listening (HTTPS) addr=…`). */
async function startPlane(t, extra = []) {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'axt-sdk-node-'));
  const env = childEnv({ RUST_LOG: 'info', AXT_ADMIN_ACCESS_KEY_ID: KEY_ID, AXT_ADMIN_ACCESS_KEY_SECRET: SECRET });
  const child = new Child(BINARY, [
    '--listen', '127.0.0.1:0', '--data-dir', dataDir,
    '--gateway-url', 'wss://127.0.0.1:8443', '--internal-token', INTERNAL_TOKEN, ...extra,
  ], env);
  const plane = new Plane(child, null, dataDir);
  t.after(() => plane.stop());
  plane.addr = (await child.waitFor(/listening addr=(\S+)/))[1];
  return plane;
}

/** The lab as the SDKs find it with no endpoint, for the test `t`: a control plane also serving
 * HTTPS (port 0) with a certificate from a fresh lab CA for the public endpoint names of
 * REGION, and `axt proxy` (port 0) taking those names, port 443, there and refusing everything
 * else. Nothing here sets a proxy for the process. When the test ends the proxy is stopped and
 * must have refused nothing: every name an SDK resolved by itself was one of the lab's. */
async function startLab(t) {
  const caDir = fs.mkdtempSync(path.join(os.tmpdir(), 'axt-sdk-node-ca-'));
  t.after(() => fs.rmSync(caDir, { recursive: true, force: true }));
  const plane = await startPlane(t, ['--https-listen', '127.0.0.1:0', '--ca-dir', caDir]);
  // Written when the HTTPS listener is bound, before the plain one logs its address.
  const httpsAddr = fs.readFileSync(path.join(plane.dataDir, 'https-addr'), 'utf8').trim();
  const addrFile = path.join(caDir, 'proxy-addr');
  const refusals = [];
  // debug: the proxy logs how every connection ended, refusals included.
  const proxy = new Child(AXT, [
    'proxy', '--listen', '127.0.0.1:0', '--regions', REGION, '--api', httpsAddr, '--addr-file', addrFile,
  ], childEnv({ RUST_LOG: 'warn,axt_cli::proxy=debug' }), (line) => { if (line.includes('refused')) refusals.push(line); });
  t.after(async () => {
    // Ended by SIGTERM and read to the end of its log, so that no refusal is missed.
    await proxy.stop('SIGTERM');
    if (refusals.length) throw new Error(`the proxy refused a name:\n${refusals.join('\n')}`);
  });
  // The address file is written before the proxy prints its first line.
  await proxy.waitFor(/listening on/);
  const caFile = path.join(caDir, 'ca.pem');
  return {
    plane,
    proxy: `http://${fs.readFileSync(addrFile, 'utf8').trim()}`,
    caFile,
    refusals,
    /** What a user configures against the real cloud, plus the lab CA: no endpoint. The Node
     * SDKs take `ca` as PEM text, not as a file name. */
    config(extraOptions = {}) {
      return new $OpenApiUtil.Config({
        accessKeyId: KEY_ID, accessKeySecret: SECRET, regionId: REGION,
        ca: fs.readFileSync(caFile, 'utf8'), ...extraOptions,
      });
    },
  };
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

module.exports = { ALGORITHMS, KEY_ID, REGION, SECRET, refused, startLab, startPlane };
