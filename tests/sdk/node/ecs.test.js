'use strict';
// The official Node Tea SDK for ECS (@alicloud/ecs20140526) against the control plane, with
// signature V3 (the default) and V1 (signatureAlgorithm "v2"): the twin of ../test_tea_sdk.py.

const test = require('node:test');
const assert = require('node:assert/strict');
const { randomUUID } = require('node:crypto');
const { default: Ecs, ...ecs } = require('@alicloud/ecs20140526');
const { ClientError } = require('@alicloud/openapi-core');
const { ALGORITHMS, REGION, refused, startPlane } = require('./plane');

for (const [id, algorithm] of ALGORITHMS) {
  test(`a session from instance to end (${id})`, async (t) => {
    const plane = await startPlane(t);
    const client = new Ecs(plane.config({ algorithm }));

    const regions = (await client.describeRegions(new ecs.DescribeRegionsRequest({}))).body;
    assert.ok(regions.requestId);
    const region = regions.regions.region.find((r) => r.regionId === REGION);
    assert.ok(region, JSON.stringify(regions.regions));
    assert.equal(typeof region.localName, 'string');

    const act = (await client.createActivation(new ecs.CreateActivationRequest({
      regionId: REGION, instanceCount: 2, instanceName: 'sdk-node' }))).body;
    assert.ok(act.activationCode.startsWith('a-') && act.activationId, JSON.stringify(act));
    const run = await client.runInstances(new ecs.RunInstancesRequest({ regionId: REGION, amount: 1 }));
    assert.equal(run.statusCode, 200);
    const [instance] = run.body.instanceIdSets.instanceIdSet;
    assert.match(instance, /^i-/);
    await plane.registerAgent(act.activationId, act.activationCode, instance);

    const shown = (await client.describeInstances(new ecs.DescribeInstancesRequest({
      regionId: REGION, instanceIds: JSON.stringify([instance]) }))).body;
    assert.equal(shown.totalCount, 1);
    assert.deepEqual(shown.instances.instance.map((i) => [i.instanceId, i.status]), [[instance, 'Running']]);

    const clientToken = randomUUID();
    const request = new ecs.StartTerminalSessionRequest({ regionId: REGION, instanceId: [instance], portNumber: 22, clientToken });
    const first = (await client.startTerminalSession(request)).body;
    assert.match(first.sessionId, /^s-/);
    assert.ok(first.securityToken && first.requestId);
    assert.equal(first.webSocketUrl, `wss://127.0.0.1:8443/session?sessionId=${first.sessionId}&token=${first.securityToken}`);
    const again = (await client.startTerminalSession(request)).body;
    assert.equal(again.sessionId, first.sessionId);

    // EncryptionOptions goes out "shrunk", as one JSON text (StartTerminalSessionShrinkRequest),
    // signed whole: it arrives intact, refused only because no KMS key has that id.
    await refused(client.startTerminalSession(new ecs.StartTerminalSessionRequest({
      regionId: REGION, instanceId: [instance],
      encryptionOptions: new ecs.StartTerminalSessionRequestEncryptionOptions({ enabled: true, mode: 'Kms', KMSKeyId: 'key-abc 1/2+3*~' }),
    })), 403, 'InvalidParameter.EncryptionOptionsKMSKeyId');
    const encrypted = (await client.startTerminalSession(new ecs.StartTerminalSessionRequest({
      regionId: REGION, instanceId: [instance],
      encryptionOptions: new ecs.StartTerminalSessionRequestEncryptionOptions({ enabled: true, mode: 'Auto' }),
    }))).body;
    assert.notEqual(encrypted.sessionId, first.sessionId);

    const sessions = (await client.describeTerminalSessions(new ecs.DescribeTerminalSessionsRequest({
      regionId: REGION, maxResults: 1 }))).body;
    assert.deepEqual(sessions.sessions.session.map((s) => s.sessionId), [encrypted.sessionId]);
    assert.ok(sessions.nextToken);
    const rest = (await client.describeTerminalSessions(new ecs.DescribeTerminalSessionsRequest({
      regionId: REGION, maxResults: 10, nextToken: sessions.nextToken }))).body;
    const [listed] = rest.sessions.session;
    assert.deepEqual(rest.sessions.session.map((s) => s.sessionId), [first.sessionId]);
    assert.equal(listed.portNumber, 22);
    assert.match(listed.creationTime, /Z$/);
    const byId = (await client.describeTerminalSessions(new ecs.DescribeTerminalSessionsRequest({
      regionId: REGION, sessionId: first.sessionId }))).body;
    assert.deepEqual(byId.sessions.session.map((s) => s.sessionId), [first.sessionId]);

    const ended = await client.endTerminalSession(new ecs.EndTerminalSessionRequest({ regionId: REGION, sessionId: first.sessionId }));
    assert.equal(ended.statusCode, 200);
    assert.ok(ended.body.requestId);

    // Errors surface as the SDK's ClientError: code, statusCode, data (the answer's JSON).
    const missing = await refused(client.startTerminalSession(new ecs.StartTerminalSessionRequest({
      regionId: REGION, instanceId: ['i-doesnotexist'] })), 404, 'InvalidInstance.NotFound');
    assert.ok(missing instanceof ClientError);
    assert.equal(missing.data.Code, 'InvalidInstance.NotFound');
    assert.equal(typeof missing.data.Message, 'string');
    assert.ok(missing.data.HostId);
    await refused(client.startTerminalSession(new ecs.StartTerminalSessionRequest({
      regionId: REGION, instanceId: [instance, instance] })), 403, 'InstanceIds.ExceedLimit');
    await refused(client.endTerminalSession(new ecs.EndTerminalSessionRequest({
      regionId: REGION, sessionId: 's-doesnotexist' })), 404, 'InvalidSessionId.NotFound');
  });
}

test('a wrong secret is a signature mismatch', async (t) => {
  const plane = await startPlane(t);
  const client = new Ecs(plane.config({ secret: 'wrong' }));
  const e = await refused(client.describeRegions(new ecs.DescribeRegionsRequest({})), 400, 'SignatureDoesNotMatch');
  assert.match(e.message, /server string to sign is:ACS3-HMAC-SHA256/);
  assert.equal(e.data.Code, 'SignatureDoesNotMatch');
});

test('the session manager switch', async (t) => {
  const plane = await startPlane(t);
  const client = new Ecs(plane.config());
  const behaviour = (await client.describeUserBusinessBehavior(new ecs.DescribeUserBusinessBehaviorRequest({
    statusKey: 'sessionManagerStatus' }))).body;
  assert.equal(behaviour.statusValue, 'enabled');
});
