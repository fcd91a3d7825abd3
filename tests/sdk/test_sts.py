"""STS through the real Tea SDK (alibabacloud-sts20150401): GetCallerIdentity, AssumeRole by a
RAM user, and ECS calls signed with the resulting temporary credentials (Config.security_token),
with signature V3 (the default) and V1 (signature_algorithm="v2")."""

import json
from datetime import datetime, timezone

import pytest
from alibabacloud_ecs20140526 import models as ecs_models
from alibabacloud_ecs20140526.client import Client as EcsClient
from alibabacloud_sts20150401 import models as sts_models
from alibabacloud_sts20150401.client import Client as StsClient
from alibabacloud_tea_openapi import utils_models
from alibabacloud_tea_openapi.client import Client as OpenApiClient
from alibabacloud_tea_openapi.exceptions import ClientException
from darabonba.runtime import RuntimeOptions

from conftest import KEY_ID, REGION, SECRET

ALGORITHMS = pytest.mark.parametrize("algorithm", [None, "v2"], ids=["v3", "v1"])


def config(plane, key, secret, token=None, algorithm=None):
    kw = dict(access_key_id=key, access_key_secret=secret, region_id=REGION, endpoint=plane.addr, protocol="http")
    if token:
        kw["security_token"] = token
    if algorithm:
        kw["signature_algorithm"] = algorithm
    return utils_models.Config(**kw)


def ram(plane, action, **query):
    """A RAM call (2015-05-01) by the admin, through the SDK's generic client, as
    alibabacloud-ram20150501 would send it: this file needs no RAM SDK of its own."""
    client = OpenApiClient(config(plane, KEY_ID, SECRET))
    params = utils_models.Params(
        action=action, version="2015-05-01", protocol="HTTPS", pathname="/", method="POST",
        auth_type="AK", style="RPC", req_body_type="formData", body_type="json")
    return client.call_api(params, utils_models.OpenApiRequest(query=query), RuntimeOptions())["body"]


def trust_account(account):
    """A trust policy naming the account root: every RAM user and role of the account."""
    return json.dumps({"Version": "1", "Statement": [{
        "Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"RAM": [f"acs:ram::{account}:root"]}}]})


@ALGORITHMS
def test_the_account_knows_itself_and_may_not_assume_roles(plane, algorithm):
    sts = StsClient(config(plane, KEY_ID, SECRET, algorithm=algorithm))
    me = sts.get_caller_identity().body
    assert me.identity_type == "Account"
    assert me.arn == f"acs:ram::{me.account_id}:root"
    assert me.user_id == me.principal_id == me.account_id and me.role_id is None

    with pytest.raises(ClientException) as refused:
        sts.assume_role(sts_models.AssumeRoleRequest(
            role_arn=f"acs:ram::{me.account_id}:role/anyrole", role_session_name="admin"))
    assert (refused.value.status_code, refused.value.code) == (403, "NoPermission")


@ALGORITHMS
def test_a_user_assumes_a_role_and_calls_ecs_with_the_credentials(plane, algorithm):
    account = StsClient(config(plane, KEY_ID, SECRET)).get_caller_identity().body.account_id
    ram(plane, "CreateUser", UserName="alice")
    key = ram(plane, "CreateAccessKey", UserName="alice")["AccessKey"]
    # The real STS requires sts:AssumeRole of the caller, and the role's policies decide what
    # its sessions may do: both are attached, so this holds with authorization on.
    ram(plane, "AttachPolicyToUser", UserName="alice", PolicyType="System", PolicyName="AliyunSTSAssumeRoleAccess")
    role = ram(plane, "CreateRole", RoleName="LabOperator", AssumeRolePolicyDocument=trust_account(account))["Role"]
    ram(plane, "AttachPolicyToRole", RoleName="LabOperator", PolicyType="System", PolicyName="AdministratorAccess")

    alice = StsClient(config(plane, key["AccessKeyId"], key["AccessKeySecret"], algorithm=algorithm))
    assert alice.get_caller_identity().body.identity_type == "RAMUser"
    answer = alice.assume_role(sts_models.AssumeRoleRequest(
        role_arn=f"acs:ram::{account}:role/laboperator", role_session_name="alice-sdk", duration_seconds=900)).body
    creds = answer.credentials
    assert creds.access_key_id.startswith("STS.") and creds.security_token
    expires = datetime.strptime(creds.expiration, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
    assert 880 <= (expires - datetime.now(timezone.utc)).total_seconds() <= 900
    assert answer.assumed_role_user.arn == f"acs:ram::{account}:assumed-role/laboperator/alice-sdk"
    assert answer.assumed_role_user.assumed_role_id == f"{role['RoleId']}:alice-sdk"

    session = config(plane, creds.access_key_id, creds.access_key_secret, creds.security_token, algorithm)
    me = StsClient(session).get_caller_identity().body
    assert (me.identity_type, me.arn, me.role_id) == ("AssumedRoleUser", answer.assumed_role_user.arn, role["RoleId"])
    assert me.principal_id == answer.assumed_role_user.assumed_role_id and me.user_id is None
    regions = EcsClient(session).describe_regions(ecs_models.DescribeRegionsRequest()).body
    assert REGION in [r.region_id for r in regions.regions.region]

    # Without its SecurityToken the credential is refused, as the real gateway refuses it.
    bare = config(plane, creds.access_key_id, creds.access_key_secret, algorithm=algorithm)
    with pytest.raises(ClientException) as refused:
        StsClient(bare).get_caller_identity()
    assert (refused.value.status_code, refused.value.code) == (400, "MissingSecurityToken")
