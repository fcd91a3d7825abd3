'use strict';
// STS (2015-04-01) and authorization through the official Node Tea SDKs, signature V3 and V1:
// GetCallerIdentity, AssumeRole by a RAM user, and ECS calls signed with the temporary
// credentials (Config.securityToken), which the role's policies allow or refuse. The twin of
// ../test_sts.py.

const test = require('node:test');
const assert = require('node:assert/strict');
const { default: Sts, ...sts } = require('@alicloud/sts20150401');
const { default: Ram, ...ram } = require('@alicloud/ram20150501');
const { default: Ecs, ...ecs } = require('@alicloud/ecs20140526');
const { ALGORITHMS, REGION, refused, startPlane } = require('./plane');

/** A trust policy naming the account root: every RAM user and role of the account. */
const trustAccount = (account) => JSON.stringify({ Version: '1', Statement: [{
  Effect: 'Allow', Action: 'sts:AssumeRole', Principal: { RAM: [`acs:ram::${account}:root`] } }] });

for (const [id, algorithm] of ALGORITHMS) {
  test(`the account knows itself and may not assume roles (${id})`, async (t) => {
    const plane = await startPlane(t);
    const client = new Sts(plane.config({ algorithm }));
    const me = (await client.getCallerIdentity()).body;
    assert.equal(me.identityType, 'Account');
    assert.match(me.accountId, /^\d+$/);
    assert.equal(me.arn, `acs:ram::${me.accountId}:root`);
    assert.deepEqual([me.userId, me.principalId, me.roleId], [me.accountId, me.accountId, undefined]);
    await refused(client.assumeRole(new sts.AssumeRoleRequest({
      roleArn: `acs:ram::${me.accountId}:role/anyrole`, roleSessionName: 'admin' })), 403, 'NoPermission');
  });

  test(`a user assumes a read-only role: ECS reads pass, sessions are refused (${id})`, async (t) => {
    const plane = await startPlane(t);
    const admin = new Ram(plane.config({ algorithm }));
    const adminEcs = new Ecs(plane.config({ algorithm }));
    const account = (await new Sts(plane.config({ algorithm })).getCallerIdentity()).body.accountId;

    // An instance with an agent, where the account's own sessions start.
    const act = (await adminEcs.createActivation(new ecs.CreateActivationRequest({ regionId: REGION, instanceCount: 1 }))).body;
    const [instance] = (await adminEcs.runInstances(new ecs.RunInstancesRequest({ regionId: REGION, amount: 1 }))).body.instanceIdSets.instanceIdSet;
    await plane.registerAgent(act.activationId, act.activationCode, instance);
    const startSession = () => new ecs.StartTerminalSessionRequest({ regionId: REGION, instanceId: [instance] });
    assert.match((await adminEcs.startTerminalSession(startSession())).body.sessionId, /^s-/);

    await admin.createUser(new ram.CreateUserRequest({ userName: 'alice' }));
    const key = (await admin.createAccessKey(new ram.CreateAccessKeyRequest({ userName: 'alice' }))).body.accessKey;
    await admin.attachPolicyToUser(new ram.AttachPolicyToUserRequest({
      userName: 'alice', policyType: 'System', policyName: 'AliyunSTSAssumeRoleAccess' }));
    const role = (await admin.createRole(new ram.CreateRoleRequest({
      roleName: 'ECSReader', assumeRolePolicyDocument: trustAccount(account) }))).body.role;
    assert.equal(role.arn, `acs:ram::${account}:role/ecsreader`);
    await admin.attachPolicyToRole(new ram.AttachPolicyToRoleRequest({
      roleName: 'ECSReader', policyType: 'System', policyName: 'AliyunECSReadOnlyAccess' }));

    const alice = new Sts(plane.config({ key: key.accessKeyId, secret: key.accessKeySecret, algorithm }));
    const aliceIs = (await alice.getCallerIdentity()).body;
    assert.deepEqual([aliceIs.identityType, aliceIs.accountId], ['RAMUser', account]);
    const answer = (await alice.assumeRole(new sts.AssumeRoleRequest({
      roleArn: role.arn, roleSessionName: 'alice-sdk', durationSeconds: 900 }))).body;
    const creds = answer.credentials;
    assert.match(creds.accessKeyId, /^STS\./);
    assert.ok(creds.accessKeySecret && creds.securityToken);
    const left = (Date.parse(creds.expiration) - Date.now()) / 1000;
    assert.match(creds.expiration, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    assert.ok(left >= 880 && left <= 900, `${creds.expiration} is ${left} s away`);
    assert.equal(answer.assumedRoleUser.arn, `acs:ram::${account}:assumed-role/ecsreader/alice-sdk`);
    assert.equal(answer.assumedRoleUser.assumedRoleId, `${role.roleId}:alice-sdk`);

    const session = plane.config({ key: creds.accessKeyId, secret: creds.accessKeySecret, token: creds.securityToken, algorithm });
    const me = (await new Sts(session).getCallerIdentity()).body;
    assert.deepEqual([me.identityType, me.arn, me.roleId, me.principalId],
      ['AssumedRoleUser', answer.assumedRoleUser.arn, role.roleId, answer.assumedRoleUser.assumedRoleId]);

    // AliyunECSReadOnlyAccess: ecs:Describe* is allowed...
    const asRole = new Ecs(session);
    const shown = (await asRole.describeInstances(new ecs.DescribeInstancesRequest({ regionId: REGION }))).body;
    assert.deepEqual(shown.instances.instance.map((i) => i.instanceId), [instance]);
    // ...ecs:StartTerminalSession is not: Forbidden.RAM with the AccessDeniedDetail, which the
    // Node SDK hands over both in the answer (`data`) and parsed out (`accessDeniedDetail`).
    const denied = await refused(asRole.startTerminalSession(startSession()), 403, 'Forbidden.RAM');
    const detail = denied.data.AccessDeniedDetail;
    assert.ok(detail, JSON.stringify(denied.data));
    assert.deepEqual(denied.accessDeniedDetail, detail);
    assert.equal(detail.AuthAction, 'ecs:StartTerminalSession');
    assert.equal(detail.AuthPrincipalType, 'AssumedRoleUser');
    assert.equal(detail.AuthPrincipalOwnerId, account);
    assert.equal(detail.NoPermissionType, 'ImplicitDeny');
    assert.equal(detail.PolicyType, 'AccountLevelIdentityBasedPolicy');
    assert.ok(detail.EncodedDiagnosticMessage);

    // Without its SecurityToken the credential is refused, as the real gateway refuses it.
    const bare = plane.config({ key: creds.accessKeyId, secret: creds.accessKeySecret, algorithm });
    await refused(new Sts(bare).getCallerIdentity(), 400, 'MissingSecurityToken');
  });
}
