'use strict';
// The official Node Tea SDKs with no endpoint at all, as they are used against the real cloud:
// each resolves its product's public name by itself (ecs-cn-hangzhou.aliyuncs.com,
// ram.aliyuncs.com, sts.cn-hangzhou.aliyuncs.com) and reaches the lab through `axt proxy`,
// trusting the lab CA given as Config.ca (PEM text). The SDKs ignore Config.httpsProxy and
// HTTPS_PROXY, so the process tunnels for them (./tunnel.js). What each call did is read back
// on the plane's plain listener, the lab's own view. The twin of ../test_default_endpoints.py.

const test = require('node:test');
const assert = require('node:assert/strict');
const { default: Ecs, ...ecs } = require('@alicloud/ecs20140526');
const { default: Ram, ...ram } = require('@alicloud/ram20150501');
const { default: Sts } = require('@alicloud/sts20150401');
const { REGION, startLab } = require('./plane');
const tunnel = require('./tunnel');

/** The lab, with this process's HTTPS tunnelled through its proxy for the test `t` only. */
async function reach(t) {
  const lab = await startLab(t);
  const through = tunnel.install(lab.proxy);
  t.after(() => through.uninstall());
  return { lab, targets: through.targets };
}

test('ECS starts a session at its public name', async (t) => {
  const { lab, targets } = await reach(t);
  const client = new Ecs(lab.config());
  assert.equal(client._endpoint, 'ecs-cn-hangzhou.aliyuncs.com');
  const regions = (await client.describeRegions(new ecs.DescribeRegionsRequest({}))).body.regions.region;
  assert.ok(regions.some((r) => r.regionId === REGION), JSON.stringify(regions));

  const act = (await client.createActivation(new ecs.CreateActivationRequest({ regionId: REGION }))).body;
  const [instance] = (await client.runInstances(new ecs.RunInstancesRequest({ regionId: REGION, amount: 1 }))).body.instanceIdSets.instanceIdSet;
  await lab.plane.registerAgent(act.activationId, act.activationCode, instance);
  const started = (await client.startTerminalSession(new ecs.StartTerminalSessionRequest({ regionId: REGION, instanceId: [instance] }))).body;
  // The lab's own gateway URL: the answer came from the lab.
  assert.ok(started.webSocketUrl.startsWith(`wss://127.0.0.1:8443/session?sessionId=${started.sessionId}&`), started.webSocketUrl);

  const seen = (await new Ecs(lab.plane.config()).describeTerminalSessions(
    new ecs.DescribeTerminalSessionsRequest({ regionId: REGION }))).body.sessions.session;
  assert.deepEqual(seen.map((s) => s.sessionId), [started.sessionId]);
  assert.ok(targets.length > 0 && targets.every((to) => to === 'ecs-cn-hangzhou.aliyuncs.com:443'), targets.join());
});

test('RAM creates a user at its public name', async (t) => {
  const { lab, targets } = await reach(t);
  const client = new Ram(lab.config());
  assert.equal(client._endpoint, 'ram.aliyuncs.com');
  const made = (await client.createUser(new ram.CreateUserRequest({ userName: 'default-endpoint' }))).body.user;
  const listed = (await client.listUsers(new ram.ListUsersRequest({}))).body.users.user;
  assert.deepEqual(listed.map((u) => u.userName), ['default-endpoint']);
  const seen = (await new Ram(lab.plane.config()).getUser(new ram.GetUserRequest({ userName: 'default-endpoint' }))).body.user;
  assert.equal(seen.userId, made.userId);
  assert.ok(targets.length > 0 && targets.every((to) => to === 'ram.aliyuncs.com:443'), targets.join());
});

test('STS names the lab account at its public name', async (t) => {
  const { lab, targets } = await reach(t);
  const client = new Sts(lab.config());
  assert.equal(client._endpoint, 'sts.cn-hangzhou.aliyuncs.com');
  const me = (await client.getCallerIdentity()).body;
  assert.ok(me.requestId);
  const own = (await new Sts(lab.plane.config()).getCallerIdentity()).body;
  assert.deepEqual([me.identityType, me.accountId], ['Account', own.accountId]);
  assert.deepEqual(targets, ['sts.cn-hangzhou.aliyuncs.com:443']);
});

test('the SDKs take no proxy, neither Config.httpsProxy nor HTTPS_PROXY', async (t) => {
  const lab = await startLab(t);
  const saved = process.env.HTTPS_PROXY;
  process.env.HTTPS_PROXY = lab.proxy;
  t.after(() => { if (saved === undefined) delete process.env.HTTPS_PROXY; else process.env.HTTPS_PROXY = saved; });
  // Nothing tunnels here: the SDK looks the public name up itself, which is refused.
  t.after(tunnel.refuseLookups());
  const client = new Sts(lab.config({ httpsProxy: lab.proxy }));
  await assert.rejects(client.getCallerIdentity(), /sts\.cn-hangzhou\.aliyuncs\.com: only loopback is reached/);
});

test('through the proxy, the lab CA must come in Config.ca', async (t) => {
  const { lab, targets } = await reach(t);
  const client = new Sts(lab.config({ ca: undefined }));
  await assert.rejects(client.getCallerIdentity(), (e) => /certificate/.test(e.message));
  assert.deepEqual(targets, ['sts.cn-hangzhou.aliyuncs.com:443']);
});
