"""KMS through the real Tea SDK (alibabacloud-kms20160120), signed as it signs by default (V3,
ACS3-HMAC-SHA256) and with signature_version="v4" (ACS4-HMAC-SHA256, its POP gateway plug-in,
whose credential scope names the region): every action, the key-state table's refusals, and a
Mode Kms session through the ECS SDK with a key made here."""

import base64
import uuid

import pytest
from alibabacloud_ecs20140526 import models as ecs_models
from alibabacloud_ecs20140526.client import Client as EcsClient
from alibabacloud_kms20160120 import models
from alibabacloud_kms20160120.client import Client as KmsClient
from alibabacloud_tea_openapi import utils_models
from alibabacloud_tea_openapi.exceptions import ClientException
from darabonba.exceptions import UnretryableException
from Tea.exceptions import TeaException

from conftest import KEY_ID, REGION, SECRET

SIGNATURES = pytest.mark.parametrize("version", [None, "v4"], ids=["v3", "v4"])


def config(plane, region=REGION, version=None):
    kw = dict(access_key_id=KEY_ID, access_key_secret=SECRET, region_id=region, endpoint=plane.addr, protocol="http")
    if version:
        kw["signature_version"] = version
    return utils_models.Config(**kw)


def refused(call, status, code):
    """Runs `call`, which must be refused with `status` and `code`. Signed V3 the SDK raises a
    ClientException; signed V4 its POP gateway plug-in raises a bare TeaException, which the
    SDK's retry loop then wraps in an UnretryableException."""
    with pytest.raises((ClientException, UnretryableException)) as raised:
        call()
    error = raised.value
    if isinstance(error, UnretryableException):
        error = error.inner_exception
        assert isinstance(error, TeaException), error
    got = getattr(error, "status_code", None) or error.data["statusCode"]
    assert (got, error.code) == (status, code), error
    return error


@SIGNATURES
def test_a_key_lives_through_its_states(plane, version):
    kms = KmsClient(config(plane, version=version))
    meta = kms.create_key(models.CreateKeyRequest(description="lab key", key_spec="Aliyun_AES_256",
                                                  key_usage="ENCRYPT/DECRYPT", protection_level="SOFTWARE")).body.key_metadata
    assert (meta.key_state, meta.key_spec, meta.origin, meta.description) == ("Enabled", "Aliyun_AES_256", "Aliyun_KMS", "lab key")
    assert uuid.UUID(meta.key_id) and meta.arn.startswith(f"acs:kms:{REGION}:") and meta.arn.endswith(f":key/{meta.key_id}")
    assert meta.primary_key_version and meta.creation_date.endswith("Z")
    key_id = meta.key_id

    described = kms.describe_key(models.DescribeKeyRequest(key_id=key_id)).body.key_metadata
    assert (described.key_id, described.key_state) == (key_id, "Enabled")
    listed = kms.list_keys(models.ListKeysRequest(page_number=1, page_size=10)).body
    assert [(k.key_id, k.key_arn) for k in listed.keys.key] == [(key_id, meta.arn)]
    assert (listed.total_count, listed.page_number, listed.page_size) == (1, 1, 10)

    kms.disable_key(models.DisableKeyRequest(key_id=key_id))
    assert kms.describe_key(models.DescribeKeyRequest(key_id=key_id)).body.key_metadata.key_state == "Disabled"
    refused(lambda: kms.generate_data_key(models.GenerateDataKeyRequest(key_id=key_id)), 409, "Rejected.Disabled")
    kms.enable_key(models.EnableKeyRequest(key_id=key_id))

    kms.schedule_key_deletion(models.ScheduleKeyDeletionRequest(key_id=key_id, pending_window_in_days=7))
    pending = kms.describe_key(models.DescribeKeyRequest(key_id=key_id)).body.key_metadata
    assert pending.key_state == "PendingDeletion" and pending.delete_date.endswith("Z")
    refused(lambda: kms.encrypt(models.EncryptRequest(key_id=key_id, plaintext="x")), 409, "Rejected.PendingDeletion")
    refused(lambda: kms.enable_key(models.EnableKeyRequest(key_id=key_id)), 409, "Rejected.StateModifiedFailed")
    kms.cancel_key_deletion(models.CancelKeyDeletionRequest(key_id=key_id))
    assert kms.describe_key(models.DescribeKeyRequest(key_id=key_id)).body.key_metadata.key_state == "Enabled"

    refused(lambda: kms.describe_key(models.DescribeKeyRequest(key_id=str(uuid.uuid4()))), 404, "Forbidden.KeyNotFound")
    refused(lambda: kms.describe_key(models.DescribeKeyRequest(key_id="alias/lab")), 404, "Forbidden.AliasNotFound")
    refused(lambda: kms.create_key(models.CreateKeyRequest(protection_level="HSM")), 400, "Unsupported.ProtectionLevel")


@SIGNATURES
def test_data_keys_and_ciphertexts_round_trip(plane, version):
    kms = KmsClient(config(plane, version=version))
    key_id = kms.create_key(models.CreateKeyRequest()).body.key_metadata.key_id
    other = kms.create_key(models.CreateKeyRequest()).body.key_metadata.key_id

    data_key = kms.generate_data_key(models.GenerateDataKeyRequest(key_id=key_id)).body
    assert data_key.key_id == key_id and len(base64.b64decode(data_key.plaintext)) == 32
    opened = kms.decrypt(models.DecryptRequest(ciphertext_blob=data_key.ciphertext_blob)).body
    assert (opened.key_id, opened.key_version_id, opened.plaintext) == (key_id, data_key.key_version_id, data_key.plaintext)
    short = kms.generate_data_key(models.GenerateDataKeyRequest(key_id=key_id, key_spec="AES_128")).body
    assert len(base64.b64decode(short.plaintext)) == 16
    sized = kms.generate_data_key(models.GenerateDataKeyRequest(key_id=key_id, number_of_bytes=64)).body
    assert len(base64.b64decode(sized.plaintext)) == 64

    # The SDK sends EncryptionContext as one JSON text; Decrypt needs an equal one.
    context = {"app": "lab", "note": "a b/+*~"}
    sealed = kms.encrypt(models.EncryptRequest(key_id=key_id, plaintext="hello wörld", encryption_context=context)).body
    assert sealed.key_id == key_id
    back = kms.decrypt(models.DecryptRequest(ciphertext_blob=sealed.ciphertext_blob, encryption_context=context)).body
    assert back.plaintext == "hello wörld"
    refused(lambda: kms.decrypt(models.DecryptRequest(ciphertext_blob=sealed.ciphertext_blob)), 400, "InvalidParameter")

    # A blob is bound to its key: renamed to another key, it does not open there.
    raw = bytearray(base64.b64decode(data_key.ciphertext_blob))
    raw[:36] = other.encode()
    renamed = base64.b64encode(bytes(raw)).decode()
    refused(lambda: kms.decrypt(models.DecryptRequest(ciphertext_blob=renamed)), 400, "InvalidParameter")
    kms.disable_key(models.DisableKeyRequest(key_id=key_id))
    refused(lambda: kms.decrypt(models.DecryptRequest(ciphertext_blob=data_key.ciphertext_blob)), 409, "Rejected.Disabled")


def test_the_v4_scope_names_the_region(plane):
    shanghai = KmsClient(config(plane, region="cn-shanghai", version="v4"))
    meta = shanghai.create_key(models.CreateKeyRequest()).body.key_metadata
    assert meta.arn.startswith("acs:kms:cn-shanghai:")
    # Keys are regional: the default region (V3 names none) does not have it.
    hangzhou = KmsClient(config(plane))
    assert hangzhou.list_keys(models.ListKeysRequest()).body.total_count == 0
    refused(lambda: hangzhou.describe_key(models.DescribeKeyRequest(key_id=meta.key_id)), 404, "Forbidden.KeyNotFound")


def test_a_kms_session_needs_an_enabled_key_of_the_account(plane):
    ecs = EcsClient(config(plane))
    kms = KmsClient(config(plane))
    act = ecs.create_activation(ecs_models.CreateActivationRequest(region_id=REGION)).body
    run = ecs.run_instances(ecs_models.RunInstancesRequest(region_id=REGION, amount=1)).body
    instance = run.instance_id_sets.instance_id_set[0]
    plane.register_agent(act.activation_id, act.activation_code, claim=instance)
    key_id = kms.create_key(models.CreateKeyRequest()).body.key_metadata.key_id

    def start(key):
        options = ecs_models.StartTerminalSessionRequestEncryptionOptions(enabled=True, mode="Kms", kmskey_id=key)
        request = ecs_models.StartTerminalSessionRequest(region_id=REGION, instance_id=[instance], encryption_options=options)
        return ecs.start_terminal_session(request).body

    assert start(key_id).session_id.startswith("s-")
    code = "InvalidParameter.EncryptionOptionsKMSKeyId"
    refused(lambda: start(str(uuid.uuid4())), 403, code)
    kms.disable_key(models.DisableKeyRequest(key_id=key_id))
    error = refused(lambda: start(key_id), 403, code)
    assert "Disabled" in error.message
