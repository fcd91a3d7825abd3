"""The official Python SDKs with no endpoint at all, as they are used against the real cloud:
each resolves its product's public name by itself (ecs-cn-hangzhou.aliyuncs.com,
ram.aliyuncs.com, sts.cn-hangzhou.aliyuncs.com, kms.cn-hangzhou.aliyuncs.com), asks `axt proxy`
(HTTPS_PROXY) to CONNECT there, and so reaches the lab, trusting the lab CA the one way each
SDK takes it:

- Tea (alibabacloud-*): `Config(ca=<PEM file>)`. It reads neither SSL_CERT_FILE nor
  REQUESTS_CA_BUNDLE (darabonba hands requests its own `verify`).
- legacy (aliyun-python-sdk-core): `AcsClient(verify=<PEM file>)` or ALIBABA_CLOUD_CA_BUNDLE,
  and HTTPS asked for per request: it calls plain HTTP by default, which the proxy refuses.

What each call did is then read back on the plane's plain listener, the lab's own view."""

import json
import socket
import uuid

import pytest
from alibabacloud_ecs20140526 import models as ecs_models
from alibabacloud_ecs20140526.client import Client as EcsClient
from alibabacloud_kms20160120 import models as kms_models
from alibabacloud_kms20160120.client import Client as KmsClient
from alibabacloud_ram20150501 import models as ram_models
from alibabacloud_ram20150501.client import Client as RamClient
from alibabacloud_sts20150401.client import Client as StsClient
from alibabacloud_tea_openapi.models import Config
from aliyunsdkcore.client import AcsClient
from aliyunsdkcore.request import CommonRequest
from aliyunsdkecs.request.v20140526 import DescribeRegionsRequest
from darabonba.exceptions import UnretryableException

from conftest import PROXY_VARIABLES, REGION

LOOPBACK = {"127.0.0.1", "::1", "localhost"}

# The legacy SDK's vendored urllib3 warns about the ssl module's old API on every HTTPS call.
LEGACY = pytest.mark.filterwarnings("ignore::DeprecationWarning:aliyunsdkcore")


@pytest.fixture
def lab(lab_names, monkeypatch):
    """The lab behind HTTPS_PROXY, for this test only. Names are never resolved here: a client
    that tried to reach a public name directly, not through the proxy, fails at once."""
    for name in PROXY_VARIABLES + ("ALIBABA_CLOUD_CA_BUNDLE",):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTPS_PROXY", lab_names.proxy)
    real = socket.getaddrinfo

    def loopback_only(host, *args, **kwargs):
        name = host.decode() if isinstance(host, bytes) else host
        if name not in LOOPBACK:
            raise socket.gaierror(socket.EAI_NONAME, f"{name}: only loopback is reached in these tests")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", loopback_only)
    return lab_names


def public(lab, **extra):
    """What a user configures against the real cloud, plus the lab CA: no endpoint."""
    return Config(access_key_id=lab.key_id, access_key_secret=lab.secret, region_id=REGION, ca=lab.ca, **extra)


def own_view(lab):
    """The plane's plain listener, where the lab's state is read back."""
    return Config(access_key_id=lab.key_id, access_key_secret=lab.secret, region_id=REGION,
                  endpoint=lab.plane.addr, protocol="http")


def test_ecs_starts_a_session_at_its_public_name(lab):
    ecs = EcsClient(public(lab))
    assert ecs._endpoint == "ecs-cn-hangzhou.aliyuncs.com"
    regions = ecs.describe_regions(ecs_models.DescribeRegionsRequest()).body.regions.region
    assert REGION in [r.region_id for r in regions]

    act = ecs.create_activation(ecs_models.CreateActivationRequest(region_id=REGION)).body
    run = ecs.run_instances(ecs_models.RunInstancesRequest(region_id=REGION, amount=1)).body
    instance = run.instance_id_sets.instance_id_set[0]
    lab.plane.register_agent(act.activation_id, act.activation_code, claim=instance)
    started = ecs.start_terminal_session(
        ecs_models.StartTerminalSessionRequest(region_id=REGION, instance_id=[instance])).body
    # The lab's own gateway URL: the answer came from the lab.
    assert started.web_socket_url.startswith(f"wss://127.0.0.1:8443/session?sessionId={started.session_id}&")

    seen = EcsClient(own_view(lab)).describe_terminal_sessions(
        ecs_models.DescribeTerminalSessionsRequest(region_id=REGION)).body.sessions.session
    assert [s.session_id for s in seen] == [started.session_id]


def test_ram_creates_a_user_at_its_public_name(lab):
    ram = RamClient(public(lab))
    assert ram._endpoint == "ram.aliyuncs.com"
    made = ram.create_user(ram_models.CreateUserRequest(user_name="default-endpoint")).body.user
    assert [u.user_name for u in ram.list_users(ram_models.ListUsersRequest()).body.users.user] == ["default-endpoint"]
    seen = RamClient(own_view(lab)).get_user(ram_models.GetUserRequest(user_name="default-endpoint")).body.user
    assert seen.user_id == made.user_id


def test_sts_names_the_lab_account_at_its_public_name(lab):
    sts = StsClient(public(lab))
    assert sts._endpoint == "sts.cn-hangzhou.aliyuncs.com"
    me = sts.get_caller_identity().body
    assert me.request_id
    assert (me.identity_type, me.account_id) == ("Account", StsClient(own_view(lab)).get_caller_identity().body.account_id)


@pytest.mark.parametrize("version", [None, "v4"], ids=["v3", "v4"])
def test_kms_creates_a_key_at_its_public_name(lab, version):
    # KMS signs through its POP gateway plug-in, which resolves the endpoint once more itself.
    kms = KmsClient(public(lab, **({"signature_version": version} if version else {})))
    assert kms._endpoint == "kms.cn-hangzhou.aliyuncs.com"
    key = kms.create_key(kms_models.CreateKeyRequest()).body.key_metadata
    assert key.arn.startswith(f"acs:kms:{REGION}:")
    assert [k.key_id for k in kms.list_keys(kms_models.ListKeysRequest()).body.keys.key] == [key.key_id]
    seen = KmsClient(own_view(lab)).describe_key(kms_models.DescribeKeyRequest(key_id=key.key_id)).body.key_metadata
    assert seen.arn == key.arn


def test_tea_trusts_only_the_ca_of_its_config(lab, monkeypatch):
    """The variables that OpenSSL and requests read do not reach the Tea SDK: without
    Config(ca=…) the lab's certificate is refused even when they name the lab CA."""
    monkeypatch.setenv("SSL_CERT_FILE", lab.ca)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", lab.ca)
    bare = Config(access_key_id=lab.key_id, access_key_secret=lab.secret, region_id=REGION)
    with pytest.raises(UnretryableException, match="CERTIFICATE_VERIFY_FAILED"):
        StsClient(bare).get_caller_identity()


@LEGACY
def test_the_legacy_sdk_resolves_ecs_from_its_own_table(lab):
    client = AcsClient(lab.key_id, lab.secret, REGION, verify=lab.ca)
    request = DescribeRegionsRequest.DescribeRegionsRequest()
    request.set_protocol_type("https")
    # From the endpoint data bundled with the SDK: no call to the Location service.
    assert client._resolve_endpoint(request) == "ecs-cn-hangzhou.aliyuncs.com"
    regions = json.loads(client.do_action_with_exception(request))["Regions"]["Region"]
    assert REGION in [r["RegionId"] for r in regions]


@LEGACY
@pytest.mark.parametrize("product,version,action,name", [
    ("Ecs", "2014-05-26", "DescribeInstances", "ecs-cn-hangzhou.aliyuncs.com"),
    ("Ram", "2015-05-01", "ListUsers", "ram.aliyuncs.com"),
    ("Sts", "2015-04-01", "GetCallerIdentity", "sts.aliyuncs.com"),
    ("Kms", "2016-01-20", "ListKeys", "kms.cn-hangzhou.aliyuncs.com"),
], ids=["ecs", "ram", "sts", "kms"])
def test_a_legacy_common_request_takes_the_ca_from_the_environment(lab, monkeypatch, product, version, action, name):
    monkeypatch.setenv("ALIBABA_CLOUD_CA_BUNDLE", lab.ca)
    client = AcsClient(lab.key_id, lab.secret, REGION)
    request = CommonRequest(product=product, version=version, action_name=action)
    request.set_protocol_type("https")
    request.set_method("POST")
    assert client._resolve_endpoint(request) == name
    answer = json.loads(client.do_action_with_exception(request))
    assert uuid.UUID(answer["RequestId"])
