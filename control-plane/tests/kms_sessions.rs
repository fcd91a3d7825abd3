//! Sessions encrypted with a KMS key: StartTerminalSession wants an Enabled key of the account
//! and vouches for the agent's identity key; the spec tells the agent; and the internal
//! DecryptDataKey gives an agent its session's data key, and nothing else.

mod common;
mod kms_support;

use axt_gateway::control_plane::CpError;
use axt_proto::{
    internal::{ChannelSpecRequest, DecryptDataKey, OpenChannel, RecordChannel, RefusalCode},
    status::ConnectionStatus,
};
use base64::{engine::general_purpose::STANDARD, Engine as _};
use common::*;
use kms_support::*;
use serde_json::{json, Value};

/// The PEM every agent of these tests registered with (common::registration).
const AGENT_PEM: &str = "-----BEGIN PUBLIC KEY-----\ntest\n-----END PUBLIC KEY-----\n";

/// StartTerminalSession on `instance` with these EncryptionOptions.
async fn start(plane: &TestPlane, instance: &str, options: Value) -> (u16, Value) {
    let text = options.to_string();
    let pairs = [
        ("RegionId", REGION),
        ("InstanceId.1", instance),
        ("EncryptionOptions", text.as_str()),
    ];
    plane.client().call("StartTerminalSession", &pairs).await
}

fn kms_mode(key: &str) -> Value {
    json!({"Enabled": true, "Mode": "Kms", "KMSKeyId": key})
}

/// The refusal code of a call that must be refused.
fn refused<T: std::fmt::Debug>(result: Result<T, CpError>) -> RefusalCode {
    match result {
        Err(CpError::Refused(refusal)) => refusal.code,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[tokio::test]
async fn a_kms_session_wants_an_enabled_key_and_vouches_for_the_agent() {
    let plane = TestPlane::start(&[]).await;
    let admin = plane.client();
    let instance = plane.ready_instance().await;
    let key = new_key(&admin).await;
    let code = "InvalidParameter.EncryptionOptionsKMSKeyId";
    let unknown = start(
        &plane,
        &instance,
        kms_mode("1234abcd-12ab-34cd-56ef-1234567890ab"),
    )
    .await;
    assert_error(&unknown, 403, code);
    assert_error(
        &start(&plane, &instance, kms_mode("alias/lab")).await,
        403,
        code,
    );
    kms_ok(&admin, "DisableKey", &[("KeyId", &key)]).await;
    assert_error(&start(&plane, &instance, kms_mode(&key)).await, 403, code);
    kms_ok(&admin, "EnableKey", &[("KeyId", &key)]).await;

    let (status, answer) = start(&plane, &instance, kms_mode(&key)).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["AxtlabAgentPublicKey"], AGENT_PEM);
    let account = plane.shared.store.admin_account().await.unwrap();
    let arn = format!("acs:kms:{REGION}:{account}:key/{key}");
    let (status, answer) = start(&plane, &instance, kms_mode(&arn)).await;
    assert_eq!(status, 200, "{answer}");
    let (_, auto) = start(&plane, &instance, json!({"Enabled": true})).await;
    assert_eq!(auto["AxtlabAgentPublicKey"], AGENT_PEM);
    let (_, plain) = start(&plane, &instance, json!({"Enabled": false})).await;
    assert!(plain.get("AxtlabAgentPublicKey").is_none(), "{plain}");
    // Another account's key, by ARN, is none of this account's.
    let foreign = format!("acs:kms:{REGION}:1111222233334444:key/{key}");
    assert_error(
        &start(&plane, &instance, kms_mode(&foreign)).await,
        403,
        code,
    );
}

/// Opens a channel of a new session on `instance` with `options`, as a gateway would.
async fn channel(plane: &TestPlane, instance: &str, options: Value) -> String {
    let (status, s) = start(plane, instance, options).await;
    assert_eq!(status, 200, "{s}");
    let open = OpenChannel {
        session_id: s["SessionId"].as_str().unwrap().into(),
        token: s["SecurityToken"].as_str().unwrap().into(),
        client_ip: "127.0.0.1".into(),
        gateway_id: GATEWAY_ID.into(),
        gateway_boot: "boot-1".into(),
        instance_id: None,
    };
    plane.gateway().call(&open).await.unwrap().channel_id
}

#[tokio::test]
async fn an_agent_gets_the_data_key_of_its_own_kms_session_only() {
    let plane = TestPlane::start(&[]).await;
    let (admin, cp) = (plane.client(), plane.gateway());
    let instance = plane.ready_instance().await;
    let (key, other) = (new_key(&admin).await, new_key(&admin).await);
    let channel_id = channel(&plane, &instance, kms_mode(&key)).await;

    // The agent learns from its spec that the session is encrypted, as the stock agent reads it.
    let pulled = cp
        .call(&ChannelSpecRequest {
            channel_id: channel_id.clone(),
        })
        .await
        .unwrap();
    let spec = serde_json::to_value(&pulled.spec).unwrap();
    let expected = json!({"enabled": true, "mode": "Kms", "kmsKeyId": key});
    assert_eq!(spec["encryptionOptions"], expected);

    let generated = kms_ok(&admin, "GenerateDataKey", &[("KeyId", &key)]).await;
    let blob = generated["CiphertextBlob"].as_str().unwrap().to_owned();
    let ask = |channel: &str, instance: &str, blob: &str| DecryptDataKey {
        channel_id: channel.into(),
        instance_id: instance.into(),
        ciphertext_blob: blob.into(),
    };
    let data_key = cp.call(&ask(&channel_id, &instance, &blob)).await.unwrap();
    assert_eq!(
        data_key.plaintext_base64,
        generated["Plaintext"].as_str().unwrap()
    );

    // Not this instance's channel, or no channel at all.
    let (a, b) = (
        ask(&channel_id, "i-someoneelse", &blob),
        ask("c-none", &instance, &blob),
    );
    assert_eq!(refused(cp.call(&a).await), RefusalCode::ChannelNotFound);
    assert_eq!(refused(cp.call(&b).await), RefusalCode::ChannelNotFound);
    // Another key's blob, an altered one, no blob.
    let theirs = kms_ok(&admin, "GenerateDataKey", &[("KeyId", &other)]).await;
    let theirs = theirs["CiphertextBlob"].as_str().unwrap();
    let mut altered = STANDARD.decode(&blob).unwrap();
    *altered.last_mut().unwrap() ^= 1;
    for bad in [theirs, &STANDARD.encode(altered), "garbage"] {
        let result = cp.call(&ask(&channel_id, &instance, bad)).await;
        assert_eq!(refused(result), RefusalCode::DataKeyRefused, "{bad}");
    }
    // Only while the key is enabled.
    kms_ok(&admin, "DisableKey", &[("KeyId", &key)]).await;
    let result = cp.call(&ask(&channel_id, &instance, &blob)).await;
    assert_eq!(refused(result), RefusalCode::DataKeyRefused);
    kms_ok(&admin, "EnableKey", &[("KeyId", &key)]).await;
    cp.call(&ask(&channel_id, &instance, &blob)).await.unwrap();
    // Only while the channel is live.
    let second = channel(&plane, &instance, kms_mode(&key)).await;
    cp.call(&ask(&second, &instance, &blob)).await.unwrap();
    let ended = RecordChannel::status(&second, ConnectionStatus::Terminated);
    cp.call(&ended).await.unwrap();
    let result = cp.call(&ask(&second, &instance, &blob)).await;
    assert_eq!(refused(result), RefusalCode::ChannelNotFound);
    // Not once the session is ended (its connections end with it, or a moment later).
    let session_id = pulled.session_id.clone();
    let end = [("RegionId", REGION), ("SessionId", session_id.as_str())];
    let (status, body) = admin.call("EndTerminalSession", &end).await;
    assert_eq!(status, 200, "{body}");
    let result = cp.call(&ask(&channel_id, &instance, &blob)).await;
    let code = refused(result);
    assert!(
        matches!(
            code,
            RefusalCode::SessionEnded | RefusalCode::ChannelNotFound
        ),
        "{code:?}"
    );

    // Never for a session encrypted otherwise, nor for an unencrypted one, whose spec is as
    // it always was.
    let auto = channel(&plane, &instance, json!({"Enabled": true, "Mode": "Auto"})).await;
    let result = cp.call(&ask(&auto, &instance, &blob)).await;
    assert_eq!(refused(result), RefusalCode::DataKeyRefused);
    let plain = channel(&plane, &instance, json!({"Enabled": false})).await;
    let result = cp.call(&ask(&plain, &instance, &blob)).await;
    assert_eq!(refused(result), RefusalCode::DataKeyRefused);
    let pulled = cp
        .call(&ChannelSpecRequest { channel_id: plain })
        .await
        .unwrap();
    let spec = serde_json::to_value(&pulled.spec).unwrap();
    assert!(spec.get("encryptionOptions").is_none(), "{spec}");
    let pulled = cp
        .call(&ChannelSpecRequest { channel_id: auto })
        .await
        .unwrap();
    let spec = serde_json::to_value(&pulled.spec).unwrap();
    assert_eq!(spec["encryptionOptions"]["mode"], "Auto");
}
