"""The current Tea SDK (alibabacloud-ecs20140526) against the control plane: signature V3 by
default, and V1 with signature_algorithm="v2"."""

import uuid

import pytest
from alibabacloud_ecs20140526 import models
from alibabacloud_ecs20140526.client import Client
from alibabacloud_tea_openapi.exceptions import ClientException
from alibabacloud_tea_openapi.models import Config

from conftest import KEY_ID, REGION, SECRET


def client(plane, algorithm):
    kw = dict(access_key_id=KEY_ID, access_key_secret=SECRET, region_id=REGION, endpoint=plane.addr, protocol="http")
    if algorithm:
        kw["signature_algorithm"] = algorithm
    return Client(Config(**kw))


@pytest.mark.parametrize("algorithm", [None, "v2"], ids=["v3", "v1"])
def test_a_session_from_activation_to_end(plane, algorithm):
    ecs = client(plane, algorithm)

    act = ecs.create_activation(models.CreateActivationRequest(region_id=REGION, instance_count=2, instance_name="sdk")).body
    assert act.activation_code.startswith("a-") and act.activation_id
    run = ecs.run_instances(models.RunInstancesRequest(region_id=REGION, amount=1)).body
    instance = run.instance_id_sets.instance_id_set[0]
    plane.register_agent(act.activation_id, act.activation_code, claim=instance)

    status = ecs.describe_cloud_assistant_status(
        models.DescribeCloudAssistantStatusRequest(region_id=REGION, instance_id=[instance])).body
    entry = status.instance_cloud_assistant_status_set.instance_cloud_assistant_status[0]
    assert (entry.instance_id, entry.cloud_assistant_status, entry.support_session_manager) == (instance, "true", True)
    assert entry.cloud_assistant_version == "2.4.3.100"

    token = str(uuid.uuid4())
    request = models.StartTerminalSessionRequest(region_id=REGION, instance_id=[instance], port_number=22, client_token=token)
    first = ecs.start_terminal_session(request).body
    assert first.session_id.startswith("s-")
    assert first.web_socket_url == f"wss://127.0.0.1:8443/session?sessionId={first.session_id}&token={first.security_token}"
    again = ecs.start_terminal_session(request).body
    assert again.session_id == first.session_id

    # EncryptionOptions goes out as one JSON text, signed whole: it arrives intact, and is refused
    # only because no KMS key has that id (test_kms.py makes one); Mode Auto needs none.
    with pytest.raises(ClientException) as no_key:
        ecs.start_terminal_session(models.StartTerminalSessionRequest(
            region_id=REGION, instance_id=[instance],
            encryption_options=models.StartTerminalSessionRequestEncryptionOptions(enabled=True, mode="Kms", kmskey_id="key-abc 1/2+3*~"),
        ))
    assert (no_key.value.status_code, no_key.value.code) == (403, "InvalidParameter.EncryptionOptionsKMSKeyId")
    encrypted = ecs.start_terminal_session(models.StartTerminalSessionRequest(
        region_id=REGION, instance_id=[instance],
        encryption_options=models.StartTerminalSessionRequestEncryptionOptions(enabled=True, mode="Auto"),
    )).body
    assert encrypted.session_id != first.session_id

    with pytest.raises(ClientException) as refused:
        ecs.start_terminal_session(models.StartTerminalSessionRequest(region_id=REGION, instance_id=[instance, instance]))
    assert (refused.value.status_code, refused.value.code) == (403, "InstanceIds.ExceedLimit")
    assert refused.value.request_id

    sessions = ecs.describe_terminal_sessions(models.DescribeTerminalSessionsRequest(region_id=REGION, max_results=1)).body
    assert [s.session_id for s in sessions.sessions.session] == [encrypted.session_id]
    assert sessions.next_token
    rest = ecs.describe_terminal_sessions(models.DescribeTerminalSessionsRequest(
        region_id=REGION, max_results=10, next_token=sessions.next_token)).body
    assert [s.session_id for s in rest.sessions.session] == [first.session_id]
    assert rest.sessions.session[0].port_number == 22

    ecs.end_terminal_session(models.EndTerminalSessionRequest(region_id=REGION, session_id=first.session_id))
    with pytest.raises(ClientException) as missing:
        ecs.end_terminal_session(models.EndTerminalSessionRequest(region_id=REGION, session_id="s-doesnotexist"))
    assert (missing.value.status_code, missing.value.code) == (404, "InvalidSessionId.NotFound")


def test_a_wrong_secret_is_a_signature_mismatch(plane):
    ecs = Client(Config(access_key_id=KEY_ID, access_key_secret="wrong", region_id=REGION, endpoint=plane.addr, protocol="http"))
    with pytest.raises(ClientException) as refused:
        ecs.describe_regions(models.DescribeRegionsRequest())
    assert (refused.value.status_code, refused.value.code) == (400, "SignatureDoesNotMatch")
    assert "server string to sign is:ACS3-HMAC-SHA256" in refused.value.message


def test_the_session_manager_switch(plane):
    ecs = client(plane, None)
    behaviour = ecs.describe_user_business_behavior(models.DescribeUserBusinessBehaviorRequest(status_key="sessionManagerStatus"))
    assert behaviour.body.status_value == "enabled"
