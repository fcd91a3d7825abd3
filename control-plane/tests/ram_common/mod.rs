//! What the RAM tests share: signed RAM calls (V1, Version 2015-05-01), a trust policy, and
//! the control plane's database opened beside it.

#![allow(dead_code)]

use axt_proto::openapi::RAM_VERSION;
use serde_json::Value;

use crate::common::{Client, TestPlane};

/// A V1-signed RAM call (the Version parameter says which product).
pub async fn ram(c: &Client, action: &str, pairs: &[(&str, &str)]) -> (u16, Value) {
    let mut p = vec![("Version", RAM_VERSION)];
    p.extend_from_slice(pairs);
    c.call(action, &p).await
}

/// A RAM call that must succeed; its body.
pub async fn ok(c: &Client, action: &str, pairs: &[(&str, &str)]) -> Value {
    let (status, body) = ram(c, action, pairs).await;
    assert_eq!(status, 200, "{action}: {body}");
    assert!(body["RequestId"].is_string(), "{body}");
    body
}

/// A trust policy that lets account 1234567890123456 assume the role.
pub const TRUST: &str = r#"{"Statement":[{"Action":"sts:AssumeRole","Effect":"Allow","Principal":{"RAM":["acs:ram::1234567890123456:root"]}}],"Version":"1"}"#;

/// The control plane's database, opened beside it.
pub async fn raw_db(plane: &TestPlane) -> sqlx::SqliteConnection {
    use sqlx::Connection as _;
    let path = plane.dir.path().join(axt_control_plane::store::DB_FILE);
    sqlx::SqliteConnection::connect(&format!("sqlite://{}", path.display()))
        .await
        .unwrap()
}
