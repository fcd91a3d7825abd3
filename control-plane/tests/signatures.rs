//! Authentication over HTTP: both signature versions accepted, and every way a request can
//! fail authentication answered with the documented code and status.

mod common;

use axt_proto::openapi::{v1, v3, Credentials};
use common::*;
use reqwest::Method;

#[tokio::test]
async fn v1_and_v3_are_both_accepted_with_get_and_post() {
    let plane = TestPlane::start(&[]).await;
    let c = plane.client();
    let (status, body) = c.call("DescribeRegions", &[]).await;
    assert_eq!(status, 200, "{body}");
    assert!(body["RequestId"].as_str().unwrap().len() == 36);
    assert_eq!(body["Regions"]["Region"][0]["RegionId"], "cn-hangzhou");
    let (status, body) = c.call_v3("DescribeRegions", &[]).await;
    assert_eq!(status, 200, "{body}");
    let mut p = params(&[("Action", "DescribeRegions")]);
    v1::sign_request(
        "GET",
        &mut p,
        Credentials {
            access_key_id: KEY_ID,
            secret: SECRET,
        },
        &now(),
        &nonce(),
    );
    assert_eq!(c.send_query(Method::GET, &p, &[]).await.0, 200);
}

#[tokio::test]
async fn decoded_parameters_are_canonicalised_not_the_wire_text() {
    // The query goes out form-encoded (`+` for a space, raw `*`), the signature was computed
    // over RFC 3986 (`%20`, `%2A`): only a server that decodes first accepts it.
    let plane = TestPlane::start(&[]).await;
    let (status, body) = plane
        .client()
        .call(
            "CreateActivation",
            &[("RegionId", REGION), ("Description", "a b*c(d)!'~/+")],
        )
        .await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn parameters_in_a_form_body_are_signed_and_read() {
    let plane = TestPlane::start(&[]).await;
    let mut p = params(&[
        ("Action", "DescribeInstances"),
        ("RegionId", REGION),
        ("PageSize", "3"),
    ]);
    v1::sign_request(
        "POST",
        &mut p,
        Credentials {
            access_key_id: KEY_ID,
            secret: SECRET,
        },
        &now(),
        &nonce(),
    );
    let page_size = p.remove("PageSize").unwrap();
    let query: String = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(p.iter())
        .finish();
    let resp = reqwest::Client::new()
        .post(format!("http://{}/?{query}", plane.addr))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("PageSize={page_size}"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["PageSize"], 3, "{body}");
}

#[tokio::test]
async fn a_reused_nonce_is_refused() {
    let plane = TestPlane::start(&[]).await;
    let c = plane.client();
    let mut p = params(&[("Action", "DescribeRegions")]);
    v1::sign_request(
        "POST",
        &mut p,
        Credentials {
            access_key_id: KEY_ID,
            secret: SECRET,
        },
        &now(),
        "same-nonce",
    );
    assert_eq!(c.send_query(Method::POST, &p, &[]).await.0, 200);
    assert_error(
        &c.send_query(Method::POST, &p, &[]).await,
        400,
        "SignatureNonceUsed",
    );
}

#[tokio::test]
async fn a_timestamp_sixteen_minutes_off_is_expired() {
    let plane = TestPlane::start(&[]).await;
    let c = plane.client();
    for offset in [-16 * 60, 16 * 60] {
        let at = (chrono::Utc::now() + chrono::Duration::seconds(offset))
            .format(axt_proto::openapi::TIMESTAMP_FORMAT)
            .to_string();
        let mut p = params(&[("Action", "DescribeRegions")]);
        v1::sign_request(
            "POST",
            &mut p,
            Credentials {
                access_key_id: KEY_ID,
                secret: SECRET,
            },
            &at,
            &nonce(),
        );
        assert_error(
            &c.send_query(Method::POST, &p, &[]).await,
            400,
            "InvalidTimeStamp.Expired",
        );
    }
    let at = (chrono::Utc::now() - chrono::Duration::seconds(14 * 60))
        .format(axt_proto::openapi::TIMESTAMP_FORMAT)
        .to_string();
    let mut p = params(&[("Action", "DescribeRegions")]);
    v1::sign_request(
        "POST",
        &mut p,
        Credentials {
            access_key_id: KEY_ID,
            secret: SECRET,
        },
        &at,
        &nonce(),
    );
    assert_eq!(c.send_query(Method::POST, &p, &[]).await.0, 200);
}

#[tokio::test]
async fn an_unknown_key_is_not_found() {
    let plane = TestPlane::start(&[]).await;
    let mut c = plane.client();
    c.key = "LTAInobodyHasThisKey".into();
    assert_error(
        &c.call("DescribeRegions", &[]).await,
        404,
        "InvalidAccessKeyId.NotFound",
    );
    assert_error(
        &c.call_v3("DescribeRegions", &[]).await,
        404,
        "InvalidAccessKeyId.NotFound",
    );
}

#[tokio::test]
async fn a_wrong_signature_shows_the_servers_string_to_sign() {
    let plane = TestPlane::start(&[]).await;
    let mut c = plane.client();
    c.secret = "not-the-secret".into();
    let got = c.call("DescribeRegions", &[]).await;
    assert_error(&got, 400, "SignatureDoesNotMatch");
    let message = got.1["Message"].as_str().unwrap();
    assert!(
        message.contains("server string to sign is:POST&%2F&AccessKeyId%3DLTAIexampleTestKey"),
        "{message}"
    );
    let got = c.call_v3("DescribeRegions", &[]).await;
    assert_error(&got, 400, "SignatureDoesNotMatch");
    assert!(got.1["Message"]
        .as_str()
        .unwrap()
        .contains("server string to sign is:ACS3-HMAC-SHA256\n"));
}

#[tokio::test]
async fn a_v3_request_with_an_unsigned_acs_header_is_incomplete() {
    let plane = TestPlane::start(&[]).await;
    let c = plane.client();
    let p = params(&[]);
    let mut headers = v3::sign_request(
        "POST",
        &plane.addr.to_string(),
        "DescribeRegions",
        &p,
        Credentials {
            access_key_id: KEY_ID,
            secret: SECRET,
        },
        &now(),
        &nonce(),
    );
    headers.push(("x-acs-extra".into(), "smuggled".into()));
    assert_error(
        &c.send_query(Method::POST, &p, &headers).await,
        400,
        "IncompleteSignature",
    );
}

#[tokio::test]
async fn a_v3_body_that_does_not_match_its_hash_is_refused() {
    let plane = TestPlane::start(&[]).await;
    let p = params(&[]);
    let headers = v3::sign_request(
        "POST",
        &plane.addr.to_string(),
        "DescribeRegions",
        &p,
        Credentials {
            access_key_id: KEY_ID,
            secret: SECRET,
        },
        &now(),
        &nonce(),
    );
    let mut req = reqwest::Client::new()
        .post(format!("http://{}/", plane.addr))
        .body("tampered");
    for (n, v) in headers.iter().filter(|(n, _)| n != "host") {
        req = req.header(n, v);
    }
    let resp = req.send().await.unwrap();
    assert_eq!(resp.status(), 400);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["Code"], "SignatureDoesNotMatch");
}

#[tokio::test]
async fn unknown_actions_missing_parameters_and_unsigned_calls() {
    let plane = TestPlane::start(&[]).await;
    let c = plane.client();
    assert_error(
        &c.call("DescribeNothing", &[]).await,
        404,
        "InvalidAction.NotFound",
    );
    assert_error(
        &c.call_v3("DescribeNothing", &[]).await,
        404,
        "InvalidAction.NotFound",
    );
    let got = c.call("DescribeInstances", &[]).await;
    assert_error(&got, 400, "MissingRegionId");
    assert_eq!(got.1["Message"], "RegionId is mandatory for this action.");
    assert_error(
        &c.call("EndTerminalSession", &[("RegionId", REGION)]).await,
        400,
        "MissingSessionId",
    );
    let unsigned = c
        .send_query(Method::POST, &params(&[("Action", "DescribeRegions")]), &[])
        .await;
    assert_error(&unsigned, 400, "MissingSignature");
    let put = reqwest::Client::new()
        .put(format!("http://{}/", plane.addr))
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 403);
    assert_eq!(
        put.headers()["content-type"],
        "application/json;charset=utf-8"
    );
}

#[tokio::test]
async fn another_version_is_refused() {
    let plane = TestPlane::start(&[]).await;
    let c = plane.client();
    assert_error(
        &c.call("DescribeRegions", &[("Version", "2016-03-14")])
            .await,
        400,
        "InvalidVersion",
    );
}
