//! A minimal signed OpenAPI client for test set-up (the CLI's own client is what the stories
//! exercise; this one only prepares them).

use std::net::SocketAddr;

use axt_proto::openapi::{v1, Credentials, Params, TIMESTAMP_FORMAT};
use serde_json::Value;

/// Calls the control plane with signature V1.
#[derive(Clone)]
pub struct Api {
    http: reqwest::Client,
    addr: SocketAddr,
    key: String,
    secret: String,
}

impl Api {
    pub fn new(addr: SocketAddr, key: &str, secret: &str) -> Self {
        Self {
            // Never through a proxy: the lab is on this machine (loopback or a test namespace).
            http: reqwest::Client::builder().no_proxy().build().unwrap(),
            addr,
            key: key.into(),
            secret: secret.into(),
        }
    }

    /// One call; returns the HTTP status and the JSON body.
    pub async fn call(&self, action: &str, pairs: &[(&str, &str)]) -> (u16, Value) {
        let mut params: Params = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        params.insert("Action".into(), action.into());
        let now = chrono::Utc::now().format(TIMESTAMP_FORMAT).to_string();
        let nonce = uuid::Uuid::new_v4().simple().to_string();
        v1::sign_request(
            "POST",
            &mut params,
            Credentials {
                access_key_id: &self.key,
                secret: &self.secret,
            },
            &now,
            &nonce,
        );
        let query: String = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(params.iter())
            .finish();
        let resp = self
            .http
            .post(format!("http://{}/?{query}", self.addr))
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap())
    }
}
