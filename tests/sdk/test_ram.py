"""RAM (2015-05-01) through the real Tea SDK (alibabacloud-ram20150501): users and their
AccessKeys, groups, roles, custom policies and their versions, and attachments — with signature
V3 (the default) and V1 (signature_algorithm="v2") — asserting the fields the SDK's models parse."""

import json

import pytest
from alibabacloud_ecs20140526 import models as ecs_models
from alibabacloud_ecs20140526.client import Client as EcsClient
from alibabacloud_ram20150501 import models
from alibabacloud_ram20150501.client import Client
from alibabacloud_tea_openapi.exceptions import ClientException
from alibabacloud_tea_openapi.models import Config

from conftest import KEY_ID, REGION, SECRET

ALGORITHMS = pytest.mark.parametrize("algorithm", [None, "v2"], ids=["v3", "v1"])

TRUST = json.dumps({"Statement": [{"Action": "sts:AssumeRole", "Effect": "Allow",
                                   "Principal": {"RAM": ["acs:ram::1234567890123456:root"]}}], "Version": "1"})


def allow(action):
    return json.dumps({"Version": "1", "Statement": [{"Effect": "Allow", "Action": action, "Resource": "*"}]})


def config(plane, key=KEY_ID, secret=SECRET, algorithm=None):
    kw = dict(access_key_id=key, access_key_secret=secret, region_id=REGION, endpoint=plane.addr, protocol="http")
    if algorithm:
        kw["signature_algorithm"] = algorithm
    return Config(**kw)


def refused(call, status, code):
    with pytest.raises(ClientException) as e:
        call()
    assert (e.value.status_code, e.value.code) == (status, code), e.value.message
    assert e.value.request_id


@ALGORITHMS
def test_users_and_their_access_keys(plane, algorithm):
    ram = Client(config(plane, algorithm=algorithm))
    user = ram.create_user(models.CreateUserRequest(
        user_name="alice", display_name="Alice", email="alice@example.com", comments="sdk")).body.user
    assert (user.user_name, user.display_name, user.email, user.comments) == ("alice", "Alice", "alice@example.com", "sdk")
    assert len(user.user_id) == 16 and user.create_date.endswith("Z")
    refused(lambda: ram.create_user(models.CreateUserRequest(user_name="alice")), 409, "EntityAlreadyExists.User")
    refused(lambda: ram.create_user(models.CreateUserRequest(user_name="al ice")), 400, "InvalidParameter.UserName.InvalidChars")

    got = ram.get_user(models.GetUserRequest(user_name="alice")).body.user
    assert (got.user_id, got.update_date) == (user.user_id, got.create_date)
    refused(lambda: ram.get_user(models.GetUserRequest(user_name="nobody")), 404, "EntityNotExist.User")
    ram.create_user(models.CreateUserRequest(user_name="bob"))
    page = ram.list_users(models.ListUsersRequest(max_items=1)).body
    assert [u.user_name for u in page.users.user] == ["alice"] and page.is_truncated is True
    rest = ram.list_users(models.ListUsersRequest(max_items=1, marker=page.marker)).body
    assert [u.user_name for u in rest.users.user] == ["bob"] and rest.is_truncated is False

    key = ram.create_access_key(models.CreateAccessKeyRequest(user_name="alice")).body.access_key
    assert key.access_key_id.startswith("LTAI") and len(key.access_key_secret) == 30 and key.status == "Active"
    keys = ram.list_access_keys(models.ListAccessKeysRequest(user_name="alice")).body.access_keys.access_key
    assert [(k.access_key_id, k.status) for k in keys] == [(key.access_key_id, "Active")]
    # The user's key signs calls: the answer is never a refusal of the key or its signature.
    ecs = EcsClient(config(plane, key.access_key_id, key.access_key_secret, algorithm))
    try:
        assert ecs.describe_regions(ecs_models.DescribeRegionsRequest()).body.regions.region
    except ClientException as e:
        assert e.code in ("Forbidden.RAM", "NoPermission"), e.message

    refused(lambda: ram.delete_user(models.DeleteUserRequest(user_name="alice")), 409, "DeleteConflict.User.AccessKey")
    ram.delete_access_key(models.DeleteAccessKeyRequest(user_name="alice", user_access_key_id=key.access_key_id))
    refused(lambda: ram.delete_access_key(models.DeleteAccessKeyRequest(
        user_name="alice", user_access_key_id=key.access_key_id)), 404, "EntityNotExist.User.AccessKey")
    assert ram.list_access_keys(models.ListAccessKeysRequest(user_name="alice")).body.access_keys.access_key == []
    for name in ("alice", "bob"):
        ram.delete_user(models.DeleteUserRequest(user_name=name))
    refused(lambda: ram.delete_user(models.DeleteUserRequest(user_name="alice")), 404, "EntityNotExist.User")


@ALGORITHMS
def test_policies_versions_and_attachments(plane, algorithm):
    ram = Client(config(plane, algorithm=algorithm))
    refused(lambda: ram.create_policy(models.CreatePolicyRequest(policy_name="Bad", policy_document="{not json")),
            400, "MalformedPolicyDocument")
    policy = ram.create_policy(models.CreatePolicyRequest(
        policy_name="Reader", policy_document=allow("ecs:Describe*"), description="reads")).body.policy
    assert (policy.policy_name, policy.policy_type, policy.default_version, policy.description) == \
        ("Reader", "Custom", "v1", "reads")
    v2 = ram.create_policy_version(models.CreatePolicyVersionRequest(
        policy_name="Reader", policy_document=allow("ecs:DescribeRegions"), set_as_default=True)).body.policy_version
    assert (v2.version_id, v2.is_default_version, v2.policy_document) == ("v2", True, allow("ecs:DescribeRegions"))
    got = ram.get_policy(models.GetPolicyRequest(policy_name="Reader", policy_type="Custom")).body
    assert (got.policy.default_version, got.default_policy_version.version_id) == ("v2", "v2")
    assert got.default_policy_version.policy_document == allow("ecs:DescribeRegions")
    refused(lambda: ram.get_policy(models.GetPolicyRequest(policy_name="Nope", policy_type="Custom")),
            404, "EntityNotExist.Policy")

    custom = ram.list_policies(models.ListPoliciesRequest(policy_type="Custom")).body
    assert [(p.policy_name, p.policy_type, p.attachment_count) for p in custom.policies.policy] == [("Reader", "Custom", 0)]
    system = ram.list_policies(models.ListPoliciesRequest(policy_type="System", max_items=1000)).body.policies.policy
    assert system and all(p.policy_type == "System" for p in system)

    ram.create_user(models.CreateUserRequest(user_name="dev"))
    ram.create_group(models.CreateGroupRequest(group_name="devs", comments="team"))
    ram.add_user_to_group(models.AddUserToGroupRequest(group_name="devs", user_name="dev"))
    role = ram.create_role(models.CreateRoleRequest(
        role_name="ECSAdmin", assume_role_policy_document=TRUST, max_session_duration=7200)).body.role
    assert role.arn.endswith(":role/ecsadmin") and len(role.role_id) == 19 and role.max_session_duration == 7200
    got_role = ram.get_role(models.GetRoleRequest(role_name="ECSAdmin")).body.role
    assert (got_role.role_id, got_role.assume_role_policy_document) == (role.role_id, TRUST)
    refused(lambda: ram.create_role(models.CreateRoleRequest(role_name="Bad", assume_role_policy_document=allow("ecs:*"))),
            400, "MalformedPolicyDocument")

    ram.attach_policy_to_user(models.AttachPolicyToUserRequest(policy_type="Custom", policy_name="Reader", user_name="dev"))
    refused(lambda: ram.attach_policy_to_user(models.AttachPolicyToUserRequest(
        policy_type="Custom", policy_name="Reader", user_name="dev")), 409, "EntityAlreadyExists.User.Policy")
    ram.attach_policy_to_group(models.AttachPolicyToGroupRequest(policy_type="System", policy_name=system[0].policy_name, group_name="devs"))
    ram.attach_policy_to_role(models.AttachPolicyToRoleRequest(policy_type="Custom", policy_name="Reader", role_name="ECSAdmin"))
    attached = ram.list_policies_for_user(models.ListPoliciesForUserRequest(user_name="dev")).body.policies.policy
    assert [(p.policy_name, p.policy_type, p.default_version) for p in attached] == [("Reader", "Custom", "v2")]
    assert attached[0].attach_date.endswith("Z")

    refused(lambda: ram.delete_policy(models.DeletePolicyRequest(policy_name="Reader")), 409, "DeleteConflict.Policy.User")
    refused(lambda: ram.delete_role(models.DeleteRoleRequest(role_name="ECSAdmin")), 409, "DeleteConflict.Role.Policy")
    ram.detach_policy_from_user(models.DetachPolicyFromUserRequest(policy_type="Custom", policy_name="Reader", user_name="dev"))
    refused(lambda: ram.detach_policy_from_user(models.DetachPolicyFromUserRequest(
        policy_type="Custom", policy_name="Reader", user_name="dev")), 404, "EntityNotExist.User.Policy")
    assert ram.list_policies_for_user(models.ListPoliciesForUserRequest(user_name="dev")).body.policies.policy == []
    ram.detach_policy_from_role(models.DetachPolicyFromRoleRequest(policy_type="Custom", policy_name="Reader", role_name="ECSAdmin"))
    ram.delete_role(models.DeleteRoleRequest(role_name="ECSAdmin"))
    refused(lambda: ram.get_role(models.GetRoleRequest(role_name="ECSAdmin")), 404, "EntityNotExist.Role")
    # Its other versions go with it when asked: CascadingDelete.
    refused(lambda: ram.delete_policy(models.DeletePolicyRequest(policy_name="Reader")), 409, "DeleteConflict.Policy.Version")
    ram.delete_policy(models.DeletePolicyRequest(policy_name="Reader", cascading_delete=True))
    refused(lambda: ram.get_policy(models.GetPolicyRequest(policy_name="Reader", policy_type="Custom")), 404, "EntityNotExist.Policy")
