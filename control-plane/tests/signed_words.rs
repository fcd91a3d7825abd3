//! Only signed words count: the Action and Version a call runs come from what its signature
//! covers — V1's parameters, V3's signed headers — and an unsigned header that would steer the
//! call elsewhere is refused, so no one on the path to the plain-HTTP endpoint can turn one
//! signed call into another.

mod common;

use axt_proto::openapi::{v1, v3, Credentials, Params};
use common::*;
use reqwest::Method;

#[tokio::test]
async fn a_v1_call_steered_by_an_unsigned_action_header_is_refused_and_does_nothing() {
    let plane = TestPlane::start(&[]).await;
    let instance = plane.ready_instance().await;
    let c = plane.client();
    // Signed as DescribeRegions, with everything StartTerminalSession would need.
    let mut p = params(&[
        ("Action", "DescribeRegions"),
        ("RegionId", REGION),
        ("InstanceId.1", &instance),
    ]);
    let creds = Credentials {
        access_key_id: KEY_ID,
        secret: SECRET,
    };
    v1::sign_request("POST", &mut p, creds, &now(), &nonce());
    let forged = [("x-acs-action".to_owned(), "StartTerminalSession".to_owned())];
    let got = c.send_query(Method::POST, &p, &forged).await;
    assert_error(&got, 400, "IncompleteSignature");
    assert!(
        got.1["Message"].as_str().unwrap().contains("x-acs-action"),
        "{}",
        got.1
    );
    let (_, sessions) = c
        .call("DescribeTerminalSessions", &[("RegionId", REGION)])
        .await;
    assert_eq!(sessions["Sessions"]["Session"], serde_json::json!([]));

    let mut p = params(&[("Action", "DescribeRegions")]);
    v1::sign_request("POST", &mut p, creds, &now(), &nonce());
    let version = [("x-acs-version".to_owned(), "2016-03-14".to_owned())];
    assert_error(
        &c.send_query(Method::POST, &p, &version).await,
        400,
        "IncompleteSignature",
    );
    // Headers that repeat the signed words, as the Tea SDKs send them with V1, are fine.
    let mut p = params(&[("Action", "DescribeRegions")]);
    v1::sign_request("POST", &mut p, creds, &now(), &nonce());
    let agreeing = [
        ("x-acs-action".to_owned(), "DescribeRegions".to_owned()),
        ("x-acs-version".to_owned(), "2014-05-26".to_owned()),
    ];
    assert_eq!(c.send_query(Method::POST, &p, &agreeing).await.0, 200);
}

/// V3 headers of a call with `p` in its query that sign only `signed` of them; the action,
/// when given, travels in `x-acs-action` whether signed or not.
fn v3_signing_only(
    plane: &TestPlane,
    p: &Params,
    action: Option<&str>,
    signed: &[&str],
) -> Vec<(String, String)> {
    let (date, nonce) = (now(), nonce());
    let mut headers: Vec<(String, String)> = [
        ("host", plane.addr.to_string()),
        ("x-acs-content-sha256", v3::EMPTY_BODY_SHA256.to_owned()),
        ("x-acs-date", date),
        ("x-acs-signature-nonce", nonce),
        ("x-acs-version", axt_proto::openapi::API_VERSION.to_owned()),
    ]
    .into_iter()
    .map(|(n, v)| (n.to_owned(), v))
    .collect();
    if let Some(action) = action {
        headers.push(("x-acs-action".into(), action.into()));
    }
    let signed: Vec<String> = signed.iter().map(|s| s.to_string()).collect();
    let request = v3::canonical_request("POST", "/", p, &headers, &signed, v3::EMPTY_BODY_SHA256);
    let signature = v3::sign(SECRET, &v3::string_to_sign(&request));
    headers.push((
        "authorization".into(),
        format!(
            "{} Credential={KEY_ID},SignedHeaders={},Signature={signature}",
            v3::ALGORITHM,
            signed.join(";")
        ),
    ));
    headers
}

#[tokio::test]
async fn a_v3_action_must_be_a_signed_header() {
    let plane = TestPlane::start(&[]).await;
    let c = plane.client();
    let all = [
        "host",
        "x-acs-action",
        "x-acs-content-sha256",
        "x-acs-date",
        "x-acs-signature-nonce",
        "x-acs-version",
    ];
    let none = params(&[]);
    let headers = v3_signing_only(&plane, &none, Some("DescribeRegions"), &all);
    assert_eq!(c.send_query(Method::POST, &none, &headers).await.0, 200);
    let but_action: Vec<&str> = all.into_iter().filter(|h| *h != "x-acs-action").collect();
    let unsigned = v3_signing_only(&plane, &none, Some("DescribeRegions"), &but_action);
    let got = c.send_query(Method::POST, &none, &unsigned).await;
    assert_error(&got, 400, "IncompleteSignature");
    assert!(
        got.1["Message"].as_str().unwrap().contains("x-acs-action"),
        "{}",
        got.1
    );
    // A signed Action parameter does not stand in for the header: V3 names it there only.
    let in_query = params(&[("Action", "DescribeRegions")]);
    let absent = v3_signing_only(&plane, &in_query, None, &but_action);
    let got = c.send_query(Method::POST, &in_query, &absent).await;
    assert_error(&got, 400, "IncompleteSignature");
    assert!(
        got.1["Message"].as_str().unwrap().contains("x-acs-action"),
        "{}",
        got.1
    );
}
