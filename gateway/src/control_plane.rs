//! The gateway's client of the control plane's internal API: one typed `call` per request of
//! `axt_proto::internal`, which the control plane's handlers answer with the same types.

use std::time::Duration;

use axt_proto::internal::{Call, Refusal, BASE};

/// A call the control plane refused, or could not answer.
#[derive(Debug, thiserror::Error)]
pub enum CpError {
    /// The control plane answered with a refusal.
    #[error(transparent)]
    Refused(#[from] Refusal),
    /// The control plane is unreachable, or answered something that is not the contract.
    #[error("control plane unavailable: {0}")]
    Unavailable(String),
}

/// Client of the internal API; cheap to clone.
#[derive(Clone)]
pub struct ControlPlane {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl ControlPlane {
    /// A client for the control plane at `base` (e.g. `http://127.0.0.1:8080`).
    pub fn new(base: &str, token: String) -> Self {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap_or_default();
        Self {
            http,
            base: format!("{}{BASE}", base.trim_end_matches('/')),
            token,
        }
    }

    /// Makes one call: its answer, or why there is none.
    pub async fn call<C: Call>(&self, request: &C) -> Result<C::Answer, CpError> {
        let unavailable = |e: reqwest::Error| CpError::Unavailable(e.to_string());
        let response = self
            .http
            .post(format!("{}{}", self.base, C::ROUTE))
            .bearer_auth(&self.token)
            .json(request)
            .send()
            .await
            .map_err(unavailable)?;
        let ok = response.status().is_success();
        let body = response.bytes().await.map_err(unavailable)?;
        let garbled = |e: serde_json::Error| {
            CpError::Unavailable(format!("{} answered outside the contract: {e}", C::ROUTE))
        };
        if ok {
            serde_json::from_slice(&body).map_err(garbled)
        } else {
            Err(CpError::Refused(
                serde_json::from_slice(&body).map_err(garbled)?,
            ))
        }
    }
}
