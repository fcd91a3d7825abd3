"""The legacy SDK (aliyun-python-sdk-core + aliyun-python-sdk-ecs), signature V1, as older
tools and aliyun-cli's generation of clients call the API."""

import json
import uuid

import pytest
from aliyunsdkcore.acs_exception.exceptions import ServerException
from aliyunsdkcore.client import AcsClient
from aliyunsdkecs.request.v20140526 import (
    CreateActivationRequest,
    DescribeCloudAssistantStatusRequest,
    DescribeTerminalSessionsRequest,
    EndTerminalSessionRequest,
    RunInstancesRequest,
    StartTerminalSessionRequest,
)

from conftest import KEY_ID, REGION, SECRET


def send(plane, request):
    host, port = plane.addr.rsplit(":", 1)
    client = AcsClient(KEY_ID, SECRET, REGION, port=int(port))
    request.set_endpoint(host)
    # EndTerminalSessionRequest hard-codes https; the lab endpoint here is plain http.
    request.set_protocol_type("http")
    return json.loads(client.do_action_with_exception(request))


def test_a_session_from_activation_to_end(plane):
    act = send(plane, CreateActivationRequest.CreateActivationRequest())
    run = RunInstancesRequest.RunInstancesRequest()
    run.set_Amount(1)
    instance = send(plane, run)["InstanceIdSets"]["InstanceIdSet"][0]
    plane.register_agent(act["ActivationId"], act["ActivationCode"], claim=instance)

    status_req = DescribeCloudAssistantStatusRequest.DescribeCloudAssistantStatusRequest()
    status_req.set_InstanceIds([instance])
    status = send(plane, status_req)["InstanceCloudAssistantStatusSet"]["InstanceCloudAssistantStatus"][0]
    assert (status["CloudAssistantStatus"], status["SupportSessionManager"]) == ("true", True)

    start = StartTerminalSessionRequest.StartTerminalSessionRequest()
    start.set_InstanceIds([instance])
    start.set_PortNumber(22)
    start.set_ClientToken(str(uuid.uuid4()))
    first = send(plane, start)
    again = send(plane, start)  # same ClientToken, same parameters
    assert first["SessionId"] == again["SessionId"]

    encrypted = StartTerminalSessionRequest.StartTerminalSessionRequest()
    encrypted.set_InstanceIds([instance])
    # Signed and parsed intact, refused only because no KMS key has that id; Mode Auto needs none.
    encrypted.set_EncryptionOptions({"Enabled": True, "Mode": "Kms", "KMSKeyId": "key-abc 1/2+3*~"})
    with pytest.raises(ServerException) as no_key:
        send(plane, encrypted)
    assert (no_key.value.get_http_status(), no_key.value.get_error_code()) == (403, "InvalidParameter.EncryptionOptionsKMSKeyId")
    encrypted.set_EncryptionOptions({"Enabled": True, "Mode": "Auto"})
    assert send(plane, encrypted)["SessionId"].startswith("s-")

    two = StartTerminalSessionRequest.StartTerminalSessionRequest()
    two.set_InstanceIds([instance, instance])
    with pytest.raises(ServerException) as refused:
        send(plane, two)
    assert (refused.value.get_http_status(), refused.value.get_error_code()) == (403, "InstanceIds.ExceedLimit")

    listed = send(plane, DescribeTerminalSessionsRequest.DescribeTerminalSessionsRequest())
    assert first["SessionId"] in [s["SessionId"] for s in listed["Sessions"]["Session"]]

    end = EndTerminalSessionRequest.EndTerminalSessionRequest()
    end.set_SessionId(first["SessionId"])
    send(plane, end)
    end.set_SessionId("s-doesnotexist")
    with pytest.raises(ServerException) as missing:
        send(plane, end)
    assert (missing.value.get_http_status(), missing.value.get_error_code()) == (404, "InvalidSessionId.NotFound")


def test_a_wrong_secret_is_reported_by_the_sdk(plane):
    host, port = plane.addr.rsplit(":", 1)
    client = AcsClient(KEY_ID, "wrong-secret", REGION, port=int(port))
    req = DescribeCloudAssistantStatusRequest.DescribeCloudAssistantStatusRequest()
    req.set_endpoint(host)
    req.set_protocol_type("http")
    with pytest.raises(ServerException) as refused:
        client.do_action_with_exception(req)
    # The SDK recognises its own string to sign in our message and names the real cause.
    assert (refused.value.get_http_status(), refused.value.get_error_code()) == (400, "InvalidAccessKeySecret")
