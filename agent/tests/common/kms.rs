//! The test server's `/luban/api/v1/kms/decrypt`: the data keys a test set answer, every other
//! blob is refused, and every call is recorded as an [`Event::KmsDecrypt`].

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use axum::{
    extract::{Query, State},
    http::HeaderMap,
    Json,
};

use super::luban::{Event, Shared};

/// Blob → plaintext (base64).
#[derive(Clone, Default)]
pub struct DataKeys(Arc<Mutex<HashMap<String, String>>>);

impl DataKeys {
    pub fn set(&self, blob: &str, plaintext: &str) {
        self.0
            .lock()
            .unwrap()
            .insert(blob.to_owned(), plaintext.to_owned());
    }

    fn get(&self, blob: &str) -> Option<String> {
        self.0.lock().unwrap().get(blob).cloned()
    }
}

pub(super) async fn decrypt(
    State(s): State<Shared>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    Json(body): Json<serde_json::Value>,
) -> Json<serde_json::Value> {
    assert_eq!(headers["content-type"], "application/json; charset=utf-8");
    let blob = body["ciphertextBlob"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let answer = match s.data_keys.get(&blob) {
        Some(plaintext) => serde_json::json!({"code": 200, "plaintext": plaintext}),
        None => serde_json::json!({"code": 403, "errMsg": "not a data key of this session"}),
    };
    let _ = s.events.send(Event::KmsDecrypt {
        channel: query.get("channelId").cloned().unwrap_or_default(),
        blob,
        headers,
    });
    Json(answer)
}
