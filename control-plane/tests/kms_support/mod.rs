//! What the KMS tests share: KMS calls (V1, version 2016-01-20) by any client, keys made ready
//! to use, a RAM user held to a policy of its own, and a signature V4 signer as the KMS SDKs'
//! POP gateway plug-in signs.

#![allow(dead_code)]

use axt_proto::openapi::{v3, Params, KMS_VERSION, RAM_VERSION};
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;

use crate::common::*;

/// A KMS call by `client`.
pub async fn kms(client: &Client, action: &str, pairs: &[(&str, &str)]) -> (u16, Value) {
    let mut all = vec![("Version", KMS_VERSION)];
    all.extend_from_slice(pairs);
    client.call(action, &all).await
}

/// A KMS call that must succeed.
pub async fn kms_ok(client: &Client, action: &str, pairs: &[(&str, &str)]) -> Value {
    let (status, body) = kms(client, action, pairs).await;
    assert_eq!(status, 200, "{action}: {body}");
    body
}

/// A new key of `client`'s account in [`REGION`]; returns its KeyId.
pub async fn new_key(client: &Client) -> String {
    let created = kms_ok(client, "CreateKey", &[("RegionId", REGION)]).await;
    created["KeyMetadata"]["KeyId"].as_str().unwrap().to_owned()
}

/// A RAM call by the admin that must succeed.
pub async fn ram(plane: &TestPlane, action: &str, pairs: &[(&str, &str)]) -> Value {
    let mut all = vec![("Version", RAM_VERSION)];
    all.extend_from_slice(pairs);
    let (status, body) = plane.client().call(action, &all).await;
    assert_eq!(status, 200, "{action}: {body}");
    body
}

/// A RAM user with an AccessKey and only the policy of `statements`; returns its client.
pub async fn user_with(plane: &TestPlane, name: &str, statements: Value) -> Client {
    ram(plane, "CreateUser", &[("UserName", name)]).await;
    let key = ram(plane, "CreateAccessKey", &[("UserName", name)]).await;
    let document = json!({"Version": "1", "Statement": statements}).to_string();
    let policy = format!("{name}-policy");
    let pairs = [
        ("PolicyName", policy.as_str()),
        ("PolicyDocument", &document),
    ];
    ram(plane, "CreatePolicy", &pairs).await;
    let pairs = [
        ("UserName", name),
        ("PolicyType", "Custom"),
        ("PolicyName", &policy),
    ];
    ram(plane, "AttachPolicyToUser", &pairs).await;
    let text = |k: &str| key["AccessKey"][k].as_str().unwrap().to_owned();
    Client {
        key: text("AccessKeyId"),
        secret: text("AccessKeySecret"),
        ..plane.client()
    }
}

fn hmac(key: &[u8], message: &str) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).unwrap();
    mac.update(message.as_bytes());
    mac.finalize().into_bytes().to_vec()
}

/// A signature V4 (`ACS4-HMAC-SHA256`) KMS call, with all parameters in the query and an empty
/// form body, its credential scope naming `region` and the day `date` (`yyyymmdd`, today's
/// unless a test wants otherwise); `tamper` changes the signature after signing.
pub async fn kms_v4(
    client: &Client,
    action: &str,
    pairs: &[(&str, &str)],
    region: &str,
    date: Option<&str>,
    tamper: bool,
) -> (u16, Value) {
    let p: Params = params(pairs);
    let timestamp = now();
    let day = date.map_or_else(|| timestamp[..10].replace('-', ""), str::to_owned);
    let mut headers: Vec<(String, String)> = [
        ("content-type", "application/x-www-form-urlencoded"),
        ("host", &client.addr.to_string()),
        ("x-acs-action", action),
        ("x-acs-content-sha256", v3::EMPTY_BODY_SHA256),
        ("x-acs-date", &timestamp),
        ("x-acs-signature-nonce", &nonce()),
        ("x-acs-version", KMS_VERSION),
    ]
    .into_iter()
    .map(|(n, v)| (n.to_owned(), v.to_owned()))
    .collect();
    let signed: Vec<String> = headers.iter().map(|(n, _)| n.clone()).collect();
    let request = v3::canonical_request("POST", "/", &p, &headers, &signed, v3::EMPTY_BODY_SHA256);
    let to_sign = format!("ACS4-HMAC-SHA256\n{}", v3::sha256_hex(request.as_bytes()));
    let mut key = hmac(format!("aliyun_v4{}", client.secret).as_bytes(), &day);
    for part in [region, "Kms", "aliyun_v4_request"] {
        key = hmac(&key, part);
    }
    let mut signature = hex::encode(hmac(&key, &to_sign));
    if tamper {
        signature.replace_range(..1, if signature.starts_with('0') { "1" } else { "0" });
    }
    headers.push((
        "Authorization".into(),
        format!(
            "ACS4-HMAC-SHA256 Credential={}/{day}/{region}/Kms/aliyun_v4_request,SignedHeaders={},Signature={signature}",
            client.key,
            signed.join(";")
        ),
    ));
    client.send_query(reqwest::Method::POST, &p, &headers).await
}
