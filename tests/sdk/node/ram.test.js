'use strict';
// RAM (2015-05-01) through the official Node Tea SDK (@alicloud/ram20150501), signature V3 and
// V1: users and their AccessKeys, policies and attachments, roles, groups — asserting the fields
// the SDK's models parsed. The twin of ../test_ram.py.

const test = require('node:test');
const assert = require('node:assert/strict');
const { default: Ram, ...ram } = require('@alicloud/ram20150501');
const { default: Ecs, ...ecs } = require('@alicloud/ecs20140526');
const { ALGORITHMS, refused, startPlane } = require('./plane');

const TRUST = JSON.stringify({ Statement: [{ Action: 'sts:AssumeRole', Effect: 'Allow',
  Principal: { RAM: ['acs:ram::1234567890123456:root'] } }], Version: '1' });

const allow = (action) => JSON.stringify({ Version: '1', Statement: [{ Effect: 'Allow', Action: action, Resource: '*' }] });

for (const [id, algorithm] of ALGORITHMS) {
  test(`users, keys, policies, roles and groups (${id})`, async (t) => {
    const plane = await startPlane(t);
    const client = new Ram(plane.config({ algorithm }));

    const user = (await client.createUser(new ram.CreateUserRequest({
      userName: 'alice', displayName: 'Alice', email: 'alice@example.com', comments: 'sdk' }))).body.user;
    assert.deepEqual([user.userName, user.displayName, user.email, user.comments], ['alice', 'Alice', 'alice@example.com', 'sdk']);
    assert.equal(user.userId.length, 16);
    assert.match(user.createDate, /Z$/);
    await refused(client.createUser(new ram.CreateUserRequest({ userName: 'alice' })), 409, 'EntityAlreadyExists.User');
    await refused(client.createUser(new ram.CreateUserRequest({ userName: 'al ice' })), 400, 'InvalidParameter.UserName.InvalidChars');
    await client.createUser(new ram.CreateUserRequest({ userName: 'bob' }));

    const key = (await client.createAccessKey(new ram.CreateAccessKeyRequest({ userName: 'alice' }))).body.accessKey;
    assert.match(key.accessKeyId, /^LTAI/);
    assert.equal(key.accessKeySecret.length, 30);
    assert.equal(key.status, 'Active');
    // The user's key signs calls: it has no policy yet, so ECS refuses it by RAM policy — never
    // by the key or its signature.
    const asAlice = new Ecs(plane.config({ key: key.accessKeyId, secret: key.accessKeySecret, algorithm }));
    await refused(asAlice.describeRegions(new ecs.DescribeRegionsRequest({})), 403, 'Forbidden.RAM');

    const policy = (await client.createPolicy(new ram.CreatePolicyRequest({
      policyName: 'Reader', policyDocument: allow('ecs:Describe*'), description: 'reads' }))).body.policy;
    assert.deepEqual([policy.policyName, policy.policyType, policy.defaultVersion, policy.description],
      ['Reader', 'Custom', 'v1', 'reads']);
    await refused(client.createPolicy(new ram.CreatePolicyRequest({ policyName: 'Bad', policyDocument: '{not json' })),
      400, 'MalformedPolicyDocument');
    await client.attachPolicyToUser(new ram.AttachPolicyToUserRequest({ policyType: 'Custom', policyName: 'Reader', userName: 'alice' }));
    await refused(client.attachPolicyToUser(new ram.AttachPolicyToUserRequest({
      policyType: 'Custom', policyName: 'Reader', userName: 'alice' })), 409, 'EntityAlreadyExists.User.Policy');
    const attached = (await client.listPoliciesForUser(new ram.ListPoliciesForUserRequest({ userName: 'alice' }))).body.policies.policy;
    assert.deepEqual(attached.map((p) => [p.policyName, p.policyType, p.defaultVersion, p.description]),
      [['Reader', 'Custom', 'v1', 'reads']]);
    assert.match(attached[0].attachDate, /Z$/);
    // Now the key may describe regions.
    const regions = (await asAlice.describeRegions(new ecs.DescribeRegionsRequest({}))).body.regions.region;
    assert.ok(regions.length > 0);

    const role = (await client.createRole(new ram.CreateRoleRequest({
      roleName: 'ECSAdmin', assumeRolePolicyDocument: TRUST, description: 'admins', maxSessionDuration: 7200 }))).body.role;
    assert.match(role.arn, /^acs:ram::\d+:role\/ecsadmin$/);
    assert.equal(role.roleId.length, 19);
    assert.deepEqual([role.roleName, role.maxSessionDuration, role.description], ['ECSAdmin', 7200, 'admins']);
    const gotRole = (await client.getRole(new ram.GetRoleRequest({ roleName: 'ECSAdmin' }))).body.role;
    assert.deepEqual([gotRole.roleId, gotRole.arn, gotRole.assumeRolePolicyDocument, gotRole.maxSessionDuration],
      [role.roleId, role.arn, TRUST, 7200]);
    await refused(client.getRole(new ram.GetRoleRequest({ roleName: 'Nobody' })), 404, 'EntityNotExist.Role');

    const group = (await client.createGroup(new ram.CreateGroupRequest({ groupName: 'devs', comments: 'team' }))).body.group;
    assert.deepEqual([group.groupName, group.comments], ['devs', 'team']);
    assert.match(group.createDate, /Z$/);
    await client.addUserToGroup(new ram.AddUserToGroupRequest({ groupName: 'devs', userName: 'alice' }));
    await refused(client.addUserToGroup(new ram.AddUserToGroupRequest({ groupName: 'devs', userName: 'alice' })),
      409, 'EntityAlreadyExists.User.Group');
    const groups = (await client.listGroupsForUser(new ram.ListGroupsForUserRequest({ userName: 'alice' }))).body.groups.group;
    assert.deepEqual(groups.map((g) => [g.groupName, g.comments]), [['devs', 'team']]);

    const page = (await client.listUsers(new ram.ListUsersRequest({ maxItems: 1 }))).body;
    assert.deepEqual(page.users.user.map((u) => [u.userName, u.userId]), [['alice', user.userId]]);
    assert.equal(page.isTruncated, true);
    assert.ok(page.marker);
    const rest = (await client.listUsers(new ram.ListUsersRequest({ maxItems: 1, marker: page.marker }))).body;
    assert.deepEqual(rest.users.user.map((u) => u.userName), ['bob']);
    assert.equal(rest.isTruncated, false);

    // DeleteUser refuses while anything hangs off the user; it goes once all is cleaned up.
    await refused(client.deleteUser(new ram.DeleteUserRequest({ userName: 'alice' })), 409, 'DeleteConflict.User.AccessKey');
    await client.deleteAccessKey(new ram.DeleteAccessKeyRequest({ userName: 'alice', userAccessKeyId: key.accessKeyId }));
    await client.detachPolicyFromUser(new ram.DetachPolicyFromUserRequest({ policyType: 'Custom', policyName: 'Reader', userName: 'alice' }));
    await client.removeUserFromGroup(new ram.RemoveUserFromGroupRequest({ groupName: 'devs', userName: 'alice' }));
    const deleted = await client.deleteUser(new ram.DeleteUserRequest({ userName: 'alice' }));
    assert.equal(deleted.statusCode, 200);
    assert.ok(deleted.body.requestId);
    await refused(client.getUser(new ram.GetUserRequest({ userName: 'alice' })), 404, 'EntityNotExist.User');
    await refused(client.deleteUser(new ram.DeleteUserRequest({ userName: 'alice' })), 404, 'EntityNotExist.User');
    const left = (await client.listUsers(new ram.ListUsersRequest({}))).body.users.user;
    assert.deepEqual(left.map((u) => u.userName), ['bob']);
  });
}
